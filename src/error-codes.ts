// One table of mailgate's stable error codes: what each means at the edges — the HTTP status the
// admin API answers with, and the SMTP reply a submission client gets. Pure; imports nothing.

export interface ErrorMeaning {
  http: number;
  /** Basic and enhanced code for SMTP clients, when the error can reach one. */
  smtp?: readonly [number, string];
}

export const ERROR_CODES = {
  // Submission (the queue's SubmitError): what an app sees over SMTP and over the API.
  NO_RECIPIENTS: { http: 400, smtp: [554, '5.5.1'] },
  TOO_MANY_RECIPIENTS: { http: 400, smtp: [452, '4.5.3'] },
  INVALID_RECIPIENT: { http: 400, smtp: [553, '5.1.3'] },
  INVALID_SENDER: { http: 400, smtp: [553, '5.1.7'] },
  BODY_GONE: { http: 410 },
  // The admin API.
  UNAUTHORIZED: { http: 401 },
  FORBIDDEN: { http: 403 },
  NOT_FOUND: { http: 404, smtp: [550, '5.1.0'] },
  INVALID: { http: 400 },
  /** A query parameter or body field the route does not take (a misspelt filter must not look like a match). */
  UNKNOWN_PARAMETER: { http: 400 },
  TOO_LARGE: { http: 413 },
  UNSUPPORTED_MEDIA_TYPE: { http: 415 },
  INTERNAL: { http: 500 },
  INVALID_ADDRESS: { http: 400 },
  INVALID_SETTINGS: { http: 400 },
  INVALID_SHIPMENT: { http: 400 },
  INVALID_URL: { http: 400 },
  PRIVATE_HOST: { http: 400 },
  NO_FILE: { http: 400 },
  UNREADABLE_FILE: { http: 400 },
  UNSUPPORTED_FILE: { http: 400 },
  READ_ONLY: { http: 409 },
  CONFLICT: { http: 409 },
  BUSY: { http: 409 },
  MESSAGES_QUEUED: { http: 409 },
  NOT_QUEUED: { http: 409 },
  SUPPRESSED: { http: 409 },
  ON_OTHER_NODE: { http: 409 },
  TRACKING_DISABLED: { http: 409 },
  QUOTA_EXCEEDED: { http: 429 },
  TOO_MANY_FAILED_LOGINS: { http: 429 },
} as const satisfies Record<string, ErrorMeaning>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/** The HTTP status of a code (400 for a code the table does not know). */
export function httpStatusFor(code: string): number {
  return isErrorCode(code) ? ERROR_CODES[code].http : 400;
}

/** The SMTP reply for a code: "452 4.5.3 <message>" as [code, text] (550 5.5.0 when the table has none). */
export function smtpReplyFor(code: string, message: string): [number, string] {
  const smtp = isErrorCode(code) ? (ERROR_CODES[code] as ErrorMeaning).smtp : undefined;
  return smtp ? [smtp[0], `${smtp[1]} ${message}`] : [550, `5.5.0 ${message}`];
}
