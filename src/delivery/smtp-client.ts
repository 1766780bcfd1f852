// One SMTP transaction through a nodemailer transport (pooled), reported per recipient:
// the upstream's exact reply for each address, so one rejected recipient never fails the others.
import type { Readable } from 'node:stream';
import type { Transporter } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import { judgeError, outcomeOf, parseReply, type SmtpClientError } from './reply.js';
import type { RecipientResult } from './types.js';

export type SmtpTransport = Transporter<SMTPPool.SentMessageInfo>;

export interface Envelope {
  from: string;
  to: string[];
}

/** Sends `body` to `envelope.to` in one transaction; never throws, every recipient gets a result. */
export async function sendTransaction(
  transport: SmtpTransport,
  envelope: Envelope,
  body: Readable | Buffer,
  upstream: string,
): Promise<RecipientResult[]> {
  try {
    const info = await transport.sendMail({ envelope: { from: envelope.from, to: envelope.to }, raw: body });
    const delivered = parseReply(String(info.response ?? '250 OK'), 250);
    const rejected = indexRejections((info as { rejectedErrors?: SmtpClientError[] }).rejectedErrors);
    return envelope.to.map((rcpt) => {
      const err = rejected.get(rcpt.toLowerCase());
      if (!err) return { recipient: rcpt, outcome: outcomeOf(delivered.code), reply: delivered, upstream };
      return recipientRejected(rcpt, err, upstream);
    });
  } catch (e) {
    if (!Buffer.isBuffer(body)) body.destroy();
    const err = e as SmtpClientError;
    const rejected = indexRejections(err.rejectedErrors);
    if (rejected.size > 0) {
      // Every recipient was refused at RCPT time, each with its own reply.
      return envelope.to.map((rcpt) => {
        const r = rejected.get(rcpt.toLowerCase());
        return r ? recipientRejected(rcpt, r, upstream) : { recipient: rcpt, ...judgeError(err, upstream), upstream };
      });
    }
    const verdict = judgeError(err, upstream);
    return envelope.to.map((recipient) => ({ recipient, ...verdict, upstream }));
  }
}

function indexRejections(errors: SmtpClientError[] | undefined): Map<string, SmtpClientError> {
  const map = new Map<string, SmtpClientError>();
  for (const e of errors ?? []) if (e.recipient) map.set(e.recipient.toLowerCase(), e);
  return map;
}

function recipientRejected(recipient: string, err: SmtpClientError, upstream: string): RecipientResult {
  const reply = parseReply(err.response ?? err.message, err.responseCode ?? 550);
  const outcome = outcomeOf(reply.code) === 'delivered' ? 'failed' : outcomeOf(reply.code);
  return { recipient, outcome, reply, upstream, code: outcome === 'failed' ? 'UPSTREAM_REJECTED' : 'UPSTREAM_DEFERRED' };
}
