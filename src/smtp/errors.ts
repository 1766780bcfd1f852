// SMTP replies as errors smtp-server understands (responseCode + text).

export function smtpError(code: number, text: string): Error & { responseCode: number } {
  const err = new Error(text) as Error & { responseCode: number };
  err.responseCode = code;
  return err;
}

/** 452 4.3.1: the data directory is (nearly) full; the client keeps the message and tries again later. */
export function insufficientStorage(): Error & { responseCode: number } {
  return smtpError(452, '4.3.1 Insufficient system storage, please try again later');
}
