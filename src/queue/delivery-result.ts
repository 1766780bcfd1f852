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
  /** The server the transaction went to (for the delivery log line); absent when none was reached or chosen. */
  relay?: RelayPoint;
  /** What the SMTP client measured of the transaction, ms: MAIL/RCPT round trips, and DATA up to the final reply. */
  timing?: { envelopeMs: number; messageMs: number };
}

/** A server as the delivery log names it: `host[address]:port`. */
export interface RelayPoint {
  host: string;
  /** The IP address connected to (for an upstream given by name: the address its pool's last connection reached). */
  address?: string;
  port: number;
}
