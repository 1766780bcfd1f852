// What a delivery attempt reports back to the queue, per recipient: the port the scheduler's
// deliverer fills (delivery/ classifies the reply; the queue only applies it). Pure data.
import type { SmtpReply } from '../store/records.js';

export type Outcome = 'delivered' | 'deferred' | 'failed';

export interface RecipientResult {
  recipient: string;
  outcome: Outcome;
  reply: SmtpReply;
  /** Upstream name, plus the MX host for direct delivery ("direct/mx1.example.net"). */
  upstream: string;
  /** Stable error code for deferrals and failures (UPSTREAM_REJECTED, UPSTREAM_UNREACHABLE, …). */
  code?: string;
  /** The bounce classifier's verdict on a refusal (hard/soft/policy…, user-unknown, mailbox-full…). */
  class?: string;
  reason?: string;
}
