// What a delivery attempt reports back to the queue, per recipient.
import type { SmtpReply } from '../queue/types.js';

export type Outcome = 'delivered' | 'deferred' | 'failed';

export interface RecipientResult {
  recipient: string;
  outcome: Outcome;
  reply: SmtpReply;
  /** Upstream name, plus the MX host for direct delivery ("direct/mx1.example.net"). */
  upstream: string;
  /** Stable error code for deferrals and failures (UPSTREAM_REJECTED, UPSTREAM_UNREACHABLE, …). */
  code?: string;
}
