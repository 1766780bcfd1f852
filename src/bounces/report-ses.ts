// Amazon SES notifications (bounce, complaint, delivery), as SES sends them by e-mail or wrapped
// in an SNS message: JSON in the text. Each bounced recipient's status and diagnostic are read as
// any other; SES's own bounce sub-type says more when the remote server said little. Pure.
import type { Extracted, Failure } from './failure.js';
import { MAX_RECIPIENTS, oneLine } from './failure.js';
import { feedbackTypeOf } from './report-feedback.js';
import type { MailView } from './message.js';

interface SesRecipient { emailAddress?: string; action?: string; status?: string; diagnosticCode?: string }
interface SesEvent {
  notificationType?: string;
  eventType?: string;
  Message?: string;
  bounce?: { bounceType?: string; bounceSubType?: string; bouncedRecipients?: SesRecipient[]; reportingMTA?: string };
  complaint?: { complainedRecipients?: SesRecipient[]; complaintFeedbackType?: string; complaintSubType?: string | null };
  delivery?: { recipients?: string[] };
}

function jsonIn(text: string): SesEvent | undefined {
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start < 0 || end <= start || end - start > 2_000_000) return undefined;
  try {
    const value = JSON.parse(text.slice(start, end + 1)) as SesEvent;
    if (typeof value.Message === 'string' && value.Message.trimStart().startsWith('{')) return jsonIn(value.Message);
    return typeof value === 'object' && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

export function readSes(view: MailView): Extracted | undefined {
  const head = view.text.slice(0, 4000);
  if (!/\\?"(notificationType|eventType)\\?"\s*:/.test(head)) return undefined;
  const event = jsonIn(view.text);
  const type = (event?.notificationType ?? event?.eventType ?? '').toLowerCase();
  if (!event || !type) return undefined;
  if (type === 'bounce' && event.bounce) {
    const permanent = /^permanent$/i.test(event.bounce.bounceType ?? '');
    const sub = event.bounce.bounceSubType ?? '';
    const failures: Failure[] = (event.bounce.bouncedRecipients ?? []).slice(0, MAX_RECIPIENTS).flatMap((r) => {
      const recipient = r.emailAddress?.toLowerCase().replace(/^.*<|>.*$/g, '');
      if (!recipient?.includes('@')) return [];
      const diagnostic = oneLine(r.diagnosticCode ?? `${event.bounce!.bounceType ?? ''} ${sub}`);
      return [{
        recipient,
        ...(r.status ? { status: r.status } : {}),
        action: r.action ?? (permanent ? 'failed' : 'delayed'),
        diagnostic,
        context: `${diagnostic}\n${sub === 'NoEmail' ? 'no such user' : sub === 'MailboxFull' ? 'mailbox full' : sub === 'MessageTooLarge' ? 'message too large' : sub === 'ContentRejected' || sub === 'AttachmentRejected' ? 'content rejected' : ''}`,
        ...(sub === 'NoEmail' && permanent ? { authoritative: true } : {}),
        ...(!permanent ? { warning: true } : {}),
        ...(event.bounce!.reportingMTA ? { remoteMta: event.bounce!.reportingMTA.replace(/^dsn;\s*/i, '') } : {}),
      }];
    });
    return { kind: 'notification', failures };
  }
  if (type === 'complaint' && event.complaint) {
    const feedbackType = feedbackTypeOf(event.complaint.complaintFeedbackType ?? 'abuse');
    const notSpam = feedbackType === 'not-spam';
    return {
      kind: 'notification',
      failures: (event.complaint.complainedRecipients ?? []).slice(0, MAX_RECIPIENTS).flatMap((r) => (r.emailAddress?.includes('@') ? [{
        recipient: r.emailAddress.toLowerCase(), diagnostic: `complaint: ${feedbackType}`,
        stated: { class: notSpam ? ('report' as const) : ('complaint' as const), reason: feedbackType, feedbackType },
      }] : [])),
    };
  }
  // Deliveries, sends, opens: nothing failed.
  return { kind: 'none', failures: [] };
}
