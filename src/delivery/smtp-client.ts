// One SMTP transaction through a nodemailer transport (pooled), reported per recipient:
// the upstream's exact reply for each address, so one rejected recipient never fails the others.
import type { Readable } from 'node:stream';
import { domainToASCII } from 'node:url';
import type { Transporter } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import { commandOf, judgeError, outcomeOf, parseReply, refusalOutcome, type SmtpClientError } from './reply.js';
import type { RecipientResult, RelayPoint } from '../queue/delivery-result.js';

export type SmtpTransport = Transporter<SMTPPool.SentMessageInfo>;

export interface Envelope {
  from: string;
  to: string[];
}

/**
 * Sends `body` to `envelope.to` in one transaction; never throws, every recipient gets a result.
 * `relay()` names the server reached (asked after the transaction, when the connection is known).
 */
export async function sendTransaction(
  transport: SmtpTransport,
  envelope: Envelope,
  body: Readable | Buffer,
  upstream: string,
  relay: () => RelayPoint | undefined = () => undefined,
): Promise<RecipientResult[]> {
  const results = await transact(transport, envelope, body, upstream);
  const point = relay();
  return point ? results.map((r) => ({ ...r, relay: point })) : results;
}

async function transact(transport: SmtpTransport, envelope: Envelope, body: Readable | Buffer, upstream: string): Promise<RecipientResult[]> {
  try {
    const info = await transport.sendMail({ envelope: { from: envelope.from, to: envelope.to }, raw: body });
    const sent = info as { envelopeTime?: number; messageTime?: number };
    const timing = { envelopeMs: sent.envelopeTime ?? 0, messageMs: sent.messageTime ?? 0 };
    const delivered = parseReply(String(info.response ?? '250 OK'), 250);
    const rejected = indexRejections((info as { rejectedErrors?: SmtpClientError[] }).rejectedErrors);
    const accepted = new Set((info.accepted ?? []).map((a) => wireForm(String(a))));
    return envelope.to.map((rcpt) => {
      const err = rejected.get(wireForm(rcpt));
      if (err) return recipientRejected(rcpt, err, upstream);
      // Delivered only when the server accepted exactly this address; anything unmatched is retried, never assumed sent.
      if (accepted.has(wireForm(rcpt)) || (envelope.to.length === 1 && accepted.size === 1 && rejected.size === 0)) {
        return { recipient: rcpt, outcome: outcomeOf(delivered.code), reply: delivered, upstream, timing };
      }
      return { recipient: rcpt, outcome: 'deferred', upstream, code: 'UPSTREAM_UNCONFIRMED', reply: { code: 451, enhanced: '4.3.0', text: `the upstream's answer did not confirm ${rcpt}` } };
    });
  } catch (e) {
    if (!Buffer.isBuffer(body)) body.destroy();
    const err = e as SmtpClientError;
    const rejected = indexRejections(err.rejectedErrors);
    if (rejected.size > 0) {
      // Every recipient was refused at RCPT time, each with its own reply.
      return envelope.to.map((rcpt) => {
        const r = rejected.get(wireForm(rcpt));
        return r ? recipientRejected(rcpt, r, upstream) : { recipient: rcpt, ...judgeError(err, upstream), upstream };
      });
    }
    const verdict = judgeError(err, upstream);
    return envelope.to.map((recipient) => ({ recipient, ...verdict, upstream }));
  }
}

/** An address as nodemailer puts it on the wire: IDN domain in ASCII (punycode), lower case, no quotes. */
export function wireForm(address: string): string {
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at).replace(/^"(.*)"$/, '$1');
  const domain = address.slice(at + 1);
  let ascii = domain;
  try {
    ascii = domainToASCII(domain) || domain;
  } catch {
    // keep as written
  }
  return `${local}@${ascii}`.toLowerCase();
}

function indexRejections(errors: SmtpClientError[] | undefined): Map<string, SmtpClientError> {
  const map = new Map<string, SmtpClientError>();
  for (const e of errors ?? []) if (e.recipient) map.set(wireForm(e.recipient), e);
  return map;
}

function recipientRejected(recipient: string, err: SmtpClientError, upstream: string): RecipientResult {
  const reply = { ...parseReply(err.response ?? err.message, err.responseCode ?? 550), command: commandOf(err.command) ?? 'RCPT' };
  const outcome = outcomeOf(reply.code) === 'delivered' ? 'failed' : refusalOutcome(reply);
  return { recipient, outcome, reply, upstream, code: outcome === 'failed' ? 'UPSTREAM_REJECTED' : 'UPSTREAM_DEFERRED' };
}
