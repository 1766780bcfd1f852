// One log line per recipient and delivery attempt, in Postfix's shape so operators can grep it:
//   QUEUEID: to=<anna@example.com>, relay=mx1.example.com[192.0.2.7]:25, delay=1.2,
//   delays=0.9/0.21/0.03/0.06, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4Q2…)
// delay is seconds from acceptance to the end of this attempt; delays splits it into what mailgate
// can measure itself (Postfix's own split differs in b and c, see the README's "Logs" section):
//   a  in the queue before this attempt (waiting for its turn, and earlier attempts and retry waits)
//   b  this attempt before the SMTP transaction: lane slot, MX lookup, a free or new pooled connection
//      (connect, greeting, EHLO, STARTTLS when the connection is new)
//   c  the envelope: MAIL FROM and RCPT TO round trips
//   d  the message: DATA, the body streamed (signed on the way) and the server's final reply
// c and d are 0 when the transaction did not get that far. The same values go into JSON keys. Pure.
import type { QueueEvent, SmtpReply } from '../store/records.js';
import type { RecipientResult } from './delivery-result.js';

const STATUS: Record<string, string> = { delivered: 'sent', deferred: 'deferred', failed: 'bounced', expired: 'expired' };

/** The line's fields; the queue id goes in the logger's `msgId`, as on every line about a message. */
export interface DeliveryLogFields {
  to: string;
  relay: string;
  /** Seconds, from acceptance to the end of the attempt. */
  delay: number;
  /** a/b/c/d in seconds (see the file's header). */
  delays: string;
  dsn: string;
  status: string;
  reply: string;
  upstream?: string;
}

export interface AttemptTimes {
  acceptedAt: number;
  startedAt: number;
  endedAt: number;
}

/** The fields and the Postfix-style line for one recipient's outcome. */
export function deliveryLogLine(event: QueueEvent, result: RecipientResult | undefined, times: AttemptTimes): { fields: DeliveryLogFields; line: string } {
  const c = result?.timing?.envelopeMs ?? 0;
  const d = result?.timing?.messageMs ?? 0;
  const attempt = Math.max(0, times.endedAt - times.startedAt);
  const parts = [times.startedAt - times.acceptedAt, Math.max(0, attempt - c - d), c, d].map((ms) => seconds(Math.max(0, ms)));
  const relay = result?.relay ? `${result.relay.host}[${result.relay.address ?? result.relay.host}]:${result.relay.port}` : 'none';
  const fields: DeliveryLogFields = {
    to: event.recipient,
    relay,
    delay: seconds(Math.max(0, times.endedAt - times.acceptedAt)),
    delays: parts.join('/'),
    dsn: dsnOf(event.reply, event.type),
    status: STATUS[event.type] ?? event.type,
    reply: replyText(event.reply, event.type),
    ...(event.upstream ? { upstream: event.upstream } : {}),
  };
  const line = `${event.msgId}: to=<${fields.to}>, relay=${fields.relay}, delay=${fields.delay}, delays=${fields.delays}, dsn=${fields.dsn}, status=${fields.status} (${fields.reply})`;
  return { fields, line };
}

/** The enhanced status code, or one made from the reply's class (x.0.0); expiry without a reply is 4.4.7 as in Postfix. */
export function dsnOf(reply: SmtpReply | undefined, type: string): string {
  if (reply?.enhanced) return reply.enhanced;
  if (reply && reply.code >= 200 && reply.code < 600) return `${Math.floor(reply.code / 100)}.0.0`;
  return type === 'expired' ? '4.4.7' : '4.0.0';
}

function replyText(reply: SmtpReply | undefined, type: string): string {
  const said = reply ? `${reply.code}${reply.enhanced ? ` ${reply.enhanced}` : ''} ${reply.text}`.replace(/[\r\n]+/g, ' ').trim() : '';
  if (type === 'expired') return said ? `message expired in the queue; last reply: ${said}` : 'message expired in the queue';
  return said;
}

/** Milliseconds as seconds with at most two decimals (0.004 → 0, 1.234 → 1.23). */
function seconds(ms: number): number {
  return Math.round(ms / 10) / 100;
}
