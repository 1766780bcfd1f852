// Retry policy as pure functions: the delay before the next attempt, and how one attempt's
// per-recipient results change a message record (deferred, failed, expired, done).
import type { RecipientResult } from './delivery-result.js';
import type { MessageRecord, QueueEvent } from '../store/records.js';

/** The delivery stage's verdict on a refusal (it classifies the reply), so failures and bounces read alike. */
function verdict(res: RecipientResult): { class: string; reason: string } {
  return { class: res.class ?? 'soft', reason: res.reason ?? 'temporary' };
}

export interface RetryPolicy {
  /** Delays in ms before attempt 2, 3, …; the last one repeats. */
  retrySchedule: number[];
  maxAge: number;
}

/** Delay after the given (1-based) failed attempt, with ±10% jitter so retries do not arrive in lockstep. */
export function retryDelay(attempt: number, schedule: number[], random: () => number = Math.random): number {
  const base = schedule[Math.min(Math.max(attempt, 1), schedule.length) - 1] ?? 60_000;
  return Math.round(base * (0.9 + 0.2 * random()));
}

/** Applies one attempt's results to a record; returns the new record and the events to log. */
export function applyAttempt(
  record: MessageRecord,
  results: RecipientResult[],
  now: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): { record: MessageRecord; events: QueueEvent[] } {
  const attempts = record.attempts + 1;
  const expiresAt = record.createdAt + policy.maxAge;
  const byRecipient = new Map(results.map((r) => [r.recipient, r]));
  const events: QueueEvent[] = [];
  const recipients = record.recipients.map((r) => {
    const res = byRecipient.get(r.address);
    if (!res || r.status === 'delivered' || r.status === 'failed') return r;
    const base = { time: now, msgId: record.id, tenant: record.tenant, recipient: r.address, upstream: res.upstream, reply: res.reply, attempt: attempts };
    const updated = { ...r, attempts: r.attempts + 1, lastReply: res.reply, lastUpstream: res.upstream, updatedAt: now };
    if (res.outcome === 'delivered') {
      events.push({ ...base, type: 'delivered', latencyMs: now - record.createdAt });
      return { ...updated, status: 'delivered' as const };
    }
    if (res.outcome === 'failed') {
      events.push({ ...base, type: 'failed', code: res.code ?? 'UPSTREAM_REJECTED', ...verdict(res) });
      return { ...updated, status: 'failed' as const };
    }
    if (now >= expiresAt) {
      events.push({ ...base, type: 'expired', code: 'MESSAGE_EXPIRED', class: 'soft', reason: 'expired' });
      return { ...updated, status: 'failed' as const };
    }
    events.push({ ...base, type: 'deferred', code: res.code ?? 'UPSTREAM_DEFERRED', ...verdict(res), ...(r.status === 'deferred' ? { repeated: true } : {}) });
    return { ...updated, status: 'deferred' as const };
  });
  const pending = recipients.some((r) => r.status === 'queued' || r.status === 'deferred');
  const dueAt = pending ? Math.min(now + retryDelay(attempts, policy.retrySchedule, random), expiresAt) : 0;
  return { record: { ...record, attempts, recipients, dueAt, state: pending ? 'queued' : 'done' }, events };
}

/** Records that a message expired before it could be attempted again (e.g. after a long outage). */
export function expire(record: MessageRecord, now: number): { record: MessageRecord; events: QueueEvent[] } {
  const events: QueueEvent[] = [];
  const recipients = record.recipients.map((r) => {
    if (r.status === 'delivered' || r.status === 'failed') return r;
    events.push({
      time: now, type: 'expired', msgId: record.id, tenant: record.tenant, recipient: r.address,
      upstream: r.lastUpstream, reply: r.lastReply, code: 'MESSAGE_EXPIRED', class: 'soft', reason: 'expired',
    });
    return { ...r, status: 'failed' as const, updatedAt: now };
  });
  return { record: { ...record, recipients, dueAt: 0, state: 'done' }, events };
}
