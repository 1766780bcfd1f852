// SMTP replies as errors smtp-server understands (responseCode + text).

export function smtpError(code: number, text: string): Error & { responseCode: number } {
  const err = new Error(text) as Error & { responseCode: number };
  err.responseCode = code;
  return err;
}
