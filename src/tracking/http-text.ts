// Reading the HTTP answers of carriers and phone gateways for messages a shop admin sees: the
// Retry-After header, secrets kept out of quoted text, and a one-line excerpt of a body.

/** Milliseconds to wait from a Retry-After header (delta-seconds or an HTTP date, RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * Replaces every secret in `text` with "***" (an answer may echo what it was sent). Secrets shorter
 * than 4 characters are left alone: replacing them would garble the text and hide nothing.
 */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const secret of secrets) if (secret && secret.length >= 4) out = out.split(secret).join('***');
  return out;
}

/** One line of at most `max` characters, whitespace collapsed: for quoting an answer in a message. */
export function excerpt(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
