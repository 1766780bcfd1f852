// RCPT TO paths that smtp-server's own parser refuses before mailgate sees them — a space in the
// address, a domain that is not a host name — would get smtp-server's bare `501 Error: Bad recipient
// address syntax` and never reach the shop's error log. On a connection handed to
// takeUnparsableRecipients such a path goes to mailgate's recipient check instead (refusals.ts: the
// error log entry and `553 5.1.3`), like every other address refused for its syntax.
// Relies on smtp-server 3.21's handler_RCPT and _parseAddressCommand (pinned in package.json;
// test/smtp-refusals.test.ts notices a change). Imports nothing of mailgate's.
import type { SMTPServerSession } from 'smtp-server';

interface RcptInternals {
  session: SMTPServerSession;
  handler_RCPT(command: Buffer, callback: () => void): void;
  _parseAddressCommand(name: string, command: Buffer): { address?: string } | false;
  send(code: number, data?: string): void;
}

/** Checks a path smtp-server could not parse; `reply` gets the refusal (an error with `responseCode`). */
export type UnparsableRecipientCheck = (path: string, session: SMTPServerSession, reply: (err: Error) => void) => void;

/**
 * The path an RCPT TO command names: between its angle brackets (the last `>`, as an address with a
 * space in it has words after the first), or its first word without them. undefined for another
 * command or an empty path (`<>`, which smtp-server answers itself). Pure.
 */
export function rcptPath(command: string): string | undefined {
  const m = /^\s*rcpt\s+to\s*:\s*(.*?)\s*$/is.exec(command);
  if (!m) return undefined;
  const rest = m[1]!;
  const end = rest.lastIndexOf('>');
  const path = rest.startsWith('<') ? rest.slice(1, end > 0 ? end : undefined) : rest.split(/\s+/)[0]!;
  return path.trim() === '' ? undefined : path;
}

/** Sends the RCPT paths smtp-server cannot parse on `connection` to `check` (after MAIL FROM; before it, smtp-server answers). */
export function takeUnparsableRecipients(connection: unknown, check: UnparsableRecipientCheck): void {
  const c = connection as RcptInternals;
  const original = c.handler_RCPT;
  c.handler_RCPT = function handleRcpt(command: Buffer, callback: () => void): void {
    const parsed = c._parseAddressCommand('rcpt to', command);
    const path = parsed && parsed.address ? undefined : c.session.envelope.mailFrom ? rcptPath(command.toString('utf8')) : undefined;
    // A path that parses alone failed for its parameters (a control character in ORCPT, say): smtp-server's answer.
    const pathAlone = path === undefined ? undefined : c._parseAddressCommand('rcpt to', Buffer.from(`RCPT TO:<${path}>`));
    if (path === undefined || (pathAlone && pathAlone.address)) return original.call(c, command, callback);
    check(path, c.session, (err) => {
      c.send((err as Error & { responseCode?: number }).responseCode ?? 553, err.message);
      callback();
    });
  };
}
