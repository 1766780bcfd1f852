// Feedback reports: RFC 5965 ARF (every Original-Rcpt-To and Removal-Recipient, not one joined
// string), the older complaint mails that predate it (a provider's "complaint about message from
// IP" with the message attached), and RFC 6591 authentication-failure reports, which are reports,
// not complaints: they say nothing about the recipient's wishes. Pure.
import { findAddresses } from './addresses.js';
import type { Extracted, Failure } from './failure.js';
import { MAX_RECIPIENTS } from './failure.js';
import { originalHeader, partText, type MailView } from './message.js';
import { fieldGroups } from './report-dsn.js';

/** Feedback types that are a person's complaint or opt-out (RFC 5965, RFC 6650 and the registry). */
const COMPLAINT_TYPES = new Set(['abuse', 'fraud', 'virus', 'other', 'opt-out', 'optout', 'complaint', 'unsubscribe']);
/** Feedback types that report on authentication or say the mail was wanted: recorded, never suppressing. */
const REPORT_TYPES = new Set(['auth-failure', 'dkim', 'spf', 'dmarc', 'not-spam', 'notspam']);

/** A feedback type as a short token (the field is free text on the wire). */
export function feedbackTypeOf(value: string | undefined): string {
  const v = (value ?? '').trim().toLowerCase().split(/[\s;]/)[0] ?? '';
  return /^[a-z][a-z0-9-]{0,30}$/.test(v) ? v : 'other';
}

function addresses(value: string | undefined): string[] {
  return value ? findAddresses(value, MAX_RECIPIENTS).map((a) => a.address.toLowerCase()) : [];
}

function failuresFor(recipients: string[], feedbackType: string, sourceIp?: string): Failure[] {
  const report = REPORT_TYPES.has(feedbackType);
  const stated = { class: report ? ('report' as const) : ('complaint' as const), reason: COMPLAINT_TYPES.has(feedbackType) || report ? feedbackType : 'other', feedbackType };
  const base = { diagnostic: `feedback report: ${feedbackType}`, stated, ...(sourceIp ? { remoteMta: sourceIp } : {}) };
  return recipients.length > 0 ? recipients.map((recipient) => ({ recipient, ...base })) : [{ ...base }];
}

export function readFeedback(view: MailView): Extracted | undefined {
  const part = view.parts.find((p) => p.type === 'message/feedback-report');
  if (part || view.reportType === 'feedback-report') {
    const fields = new Map<string, string>();
    for (const g of part ? fieldGroups(partText(part)) : []) for (const [k, v] of g) fields.set(k, fields.has(k) ? `${fields.get(k)} ${v}` : v);
    const feedbackType = feedbackTypeOf(fields.get('feedback-type') ?? 'abuse');
    let recipients = [...new Set([...addresses(fields.get('original-rcpt-to')), ...addresses(fields.get('removal-recipient'))])];
    if (recipients.length === 0) recipients = addresses(originalHeader(view, 'to')).slice(0, 1);
    const ip = /^[0-9a-f.:]{3,45}$/i.exec((fields.get('source-ip') ?? '').trim())?.[0];
    return { kind: 'arf', failures: failuresFor(recipients, feedbackType, ip) };
  }
  // Complaint mails from before ARF: a provider's "complaint about message from …" with the message attached.
  const subject = view.subject;
  const from = view.header('from') ?? '';
  if (view.original && /complaint|abuse report|spam report|feedback ?loop|\bfbl\b/i.test(subject) && /staff@hotmail|abuse|complaint|feedback|fbl|scomp|postmaster/i.test(from)) {
    const to = view.header('x-hmxmroriginalrecipient') ?? originalHeader(view, 'to');
    return { kind: 'arf', failures: failuresFor(addresses(to).slice(0, 1), 'abuse') };
  }
  return undefined;
}
