// Builds the e-mails the tracking worker sends (buyer notices, the shop admin's daily report) as MIME
// streams for submit(): nodemailer's MailComposer does the encoding; the Message-ID is ours and fixed per
// notice, so a restart can tell whether the notice is already queued.
import type { Readable } from 'node:stream';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';

export interface ComposedMail {
  from: { address: string; name?: string };
  to: string[];
  subject: string;
  text: string;
  html?: string;
  messageId: string;
  /** The shop's order reference (X-Order-Id), so the notice is found by it like the shop's own mail. */
  reference?: string;
  category: string;
  date: number;
  /** Files to attach (the daily report's CSV). */
  attachments?: Array<{ filename: string; content: string; contentType: string }>;
}

export function composeMail(m: ComposedMail): Readable {
  return new MailComposer({
    from: m.from.name ? { name: m.from.name, address: m.from.address } : m.from.address,
    to: m.to,
    subject: m.subject,
    text: m.text,
    ...(m.html ? { html: m.html } : {}),
    ...(m.attachments ? { attachments: m.attachments } : {}),
    messageId: m.messageId,
    date: new Date(m.date),
    headers: { 'X-Mailgate-Category': m.category, ...(m.reference ? { 'X-Order-Id': m.reference } : {}) },
  }).compile().createReadStream();
}

/** The fixed Message-ID of one notice (or report): the same on every attempt. */
export function noticeMessageId(parts: string[], hostname: string): string {
  return `<${parts.map((p) => p.toLowerCase().replace(/[^a-z0-9_-]/g, '-')).join('.')}@${hostname}>`;
}
