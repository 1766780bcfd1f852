// Reads a message that came back to the bounce domain and says what it is: a feedback report, a
// provider's JSON notification, an RFC 3464 DSN, a bounce in plain words, an auto-reply, or none
// of those — with one entry per failed recipient (class, reason, status, diagnostic) and what
// identifies the original message (Message-ID, X-Order-Id / X-Reference) for when the VERP token
// is missing. Readers are tried in that order; a bounce forwarded as an attachment is read inside.
// Never throws for bad input; the same answer for CRLF, LF and CR-only line ends. Pure.
import { findAddresses } from './addresses.js';
import { classifyFailure, type BounceClass, type SmtpCommand } from './classify.js';
import { MAX_RECIPIENTS, type Extracted, type Failure } from './failure.js';
import { originalHeader, readMail, type MailView } from './message.js';
import { headerText } from './mime-parts.js';
import { readAutoReply } from './report-auto.js';
import { readDsn } from './report-dsn.js';
import { readFeedback } from './report-feedback.js';
import { readSes } from './report-ses.js';
import { readTextBounce } from './report-text.js';

export { MAX_RECIPIENTS };

export interface BouncedRecipient {
  /** Lower case; absent when the report names no recipient (the VERP token then says who). */
  recipient?: string;
  class: BounceClass;
  reason: string;
  status?: string;
  action?: string;
  replyCode?: number;
  command?: SmtpCommand;
  remoteMta?: string;
  diagnostic?: string;
  feedbackType?: string;
}

export type BounceKind = Extracted['kind'];

export interface OriginalRef {
  messageId?: string;
  orderId?: string;
  reference?: string;
  to?: string;
  from?: string;
}

export interface BounceReport {
  kind: BounceKind;
  recipients: BouncedRecipient[];
  original: OriginalRef;
  subject?: string;
  from?: string;
  /** Recipients past MAX_RECIPIENTS, counted but not listed. */
  omittedRecipients?: number;
}

/** Any mix of CRLF, LF and CR-only line ends becomes CRLF. */
export function normalizeLineEnds(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  if (!/\r(?!\n)|(?<!\r)\n/.test(text)) return raw;
  return Buffer.from(text.replace(/\r\n|\r|\n/g, '\r\n'), 'latin1');
}

function originalRef(view: MailView): OriginalRef {
  const field = (name: string) => originalHeader(view, name)?.trim().slice(0, 998) || undefined;
  const messageId = field('message-id');
  const to = findAddresses(field('to') ?? '', 1)[0]?.address.toLowerCase();
  const from = findAddresses(field('from') ?? '', 1)[0]?.address.toLowerCase();
  return {
    ...(messageId ? { messageId: /<[^<>\s]+>/.exec(messageId)?.[0] ?? messageId } : {}),
    ...(field('x-order-id') ? { orderId: field('x-order-id') } : {}),
    ...(field('x-reference') ? { reference: field('x-reference') } : {}),
    ...(to ? { to } : {}),
    ...(from ? { from } : {}),
  };
}

function verdict(f: Failure): BouncedRecipient {
  const c = f.stated ?? classifyFailure({
    ...(f.status ? { status: f.status } : {}),
    ...(f.replyCode ? { replyCode: f.replyCode } : {}),
    ...(f.action ? { action: f.action } : {}),
    ...(f.command ? { command: f.command } : {}),
    ...(f.warning ? { warning: true } : {}),
    ...(f.authoritative ? { authoritative: true } : {}),
    diagnostic: f.context ? `${f.diagnostic}\n${f.context}` : f.diagnostic,
  });
  return {
    ...(f.recipient ? { recipient: f.recipient } : {}),
    class: c.class,
    reason: c.reason,
    ...(f.status ? { status: f.status } : {}),
    ...(f.action ? { action: f.action } : f.warning ? { action: 'delayed' } : {}),
    ...(f.replyCode ? { replyCode: f.replyCode } : {}),
    ...(f.command ? { command: f.command } : {}),
    ...(f.remoteMta ? { remoteMta: f.remoteMta } : {}),
    ...(f.diagnostic ? { diagnostic: f.diagnostic } : {}),
    ...(f.stated?.feedbackType ? { feedbackType: f.stated.feedbackType } : {}),
  };
}

function extract(view: MailView, own: Set<string>): Extracted | undefined {
  return readFeedback(view) ?? readSes(view) ?? readDsn(view) ?? readTextBounce(view, own) ?? readAutoReply(view);
}

/** Parses one message synchronously. `ownAddresses` (the VERP recipient, the system sender) are never taken for a bounced recipient. */
export function parseBounceSync(raw: Buffer, ownAddresses: Iterable<string> = []): BounceReport {
  const view = readMail(raw);
  const own = new Set([...ownAddresses].map((a) => a.toLowerCase()));
  let found = extract(view, own);
  if (!found || found.failures.length === 0) {
    // A bounce forwarded as an attachment (by a person or a helpdesk): read the attached message.
    const attached = view.parts.find((p) => p.type === 'message/rfc822' && p.body.length < 5 * 1024 * 1024);
    if (attached && !found) {
      const inner = readMail(attached.body);
      const innerFound = extract(inner, own);
      if (innerFound && innerFound.failures.length > 0) found = innerFound;
    }
  }
  const result = found ?? { kind: 'none' as const, failures: [] };
  const recipients = result.failures.map(verdict).filter((r) => r.class !== 'none');
  const subject = view.subject || undefined;
  const from = headerText(view.header('from')) ? view.from : undefined;
  return {
    kind: recipients.length > 0 ? result.kind : 'none',
    recipients,
    original: originalRef(view),
    ...(subject ? { subject } : {}),
    ...(from ? { from } : {}),
    ...(result.omitted ? { omittedRecipients: result.omitted } : {}),
  };
}

/** Parses one message (the async form the processor and the parsing thread call). */
export async function parseBounce(raw: Buffer, ownAddresses: Iterable<string> = []): Promise<BounceReport> {
  return parseBounceSync(raw, ownAddresses);
}
