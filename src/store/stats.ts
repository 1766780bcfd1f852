// Delivery statistics: which events count as what, and the counter rows they add to. Kept as
// counters per bucket (an hour for the totals, a day per recipient domain and per upstream), written
// by the engines in the same transaction as the events, so a 30-day chart reads a few hundred rows
// and never the events themselves. Pure functions; the engines keep the rows.
import type { QueueEvent } from './records.js';

export const STAT_COUNTERS = ['accepted', 'delivered', 'deferred', 'bouncedHard', 'bouncedSoft', 'complained', 'suppressed', 'failed'] as const;
export type StatCounter = (typeof STAT_COUNTERS)[number];
export type StatCounts = Record<StatCounter, number>;

export const HOUR_MS = 3600_000;
export const DAY_MS = 24 * HOUR_MS;

/** What a row counts by: everything, one recipient domain, one upstream (or MX host). */
export type StatDimension = 'all' | 'domain' | 'upstream';

/** One counter to add one to: the tenant's row of `dim` (value `value`) in the bucket starting at `bucket`. */
export interface StatIncrement {
  tenant: string;
  dim: StatDimension;
  value: string;
  bucket: number;
  counter: StatCounter;
}

/** Which counter an event adds to; undefined for events that are not counted (a repeated deferral, an auto-reply, …). */
export function counterOf(e: QueueEvent): StatCounter | undefined {
  switch (e.type) {
    case 'accepted': return 'accepted';
    case 'delivered': return 'delivered';
    case 'deferred': return e.repeated ? undefined : 'deferred';
    // An operator's delete is no outcome of delivery: not counted (it would raise the bounce rate).
    case 'failed': return e.code === 'RECIPIENT_SUPPRESSED' || e.code === 'RECIPIENT_UNSUBSCRIBED' ? 'suppressed' : e.code === 'DELETED_BY_ADMIN' ? undefined : 'failed';
    case 'expired': return 'failed';
    case 'bounced': return e.class === 'hard' ? 'bouncedHard' : 'bouncedSoft';
    case 'complained': return 'complained';
    default: return undefined;
  }
}

/** UTC start of the hour or day `time` falls in. */
export const bucketOf = (time: number, size: number) => Math.floor(time / size) * size;

/** The counters one event adds to (none for uncounted events and the operator's own entries). */
export function statIncrements(e: QueueEvent): StatIncrement[] {
  const counter = counterOf(e);
  if (!counter || e.tenant.startsWith('.')) return [];
  const at = e.recipient.lastIndexOf('@');
  const domain = at >= 0 ? e.recipient.slice(at + 1).toLowerCase() : '';
  const day = bucketOf(e.time, DAY_MS);
  return [
    { tenant: e.tenant, dim: 'all', value: '', bucket: bucketOf(e.time, HOUR_MS), counter },
    ...(domain ? [{ tenant: e.tenant, dim: 'domain' as const, value: domain.slice(0, 253), bucket: day, counter }] : []),
    // A bounce or complaint names the reporting server (the recipient's side), not an upstream of ours.
    ...(e.upstream && e.type !== 'bounced' && e.type !== 'complained' ? [{ tenant: e.tenant, dim: 'upstream' as const, value: e.upstream.slice(0, 253), bucket: day, counter }] : []),
  ];
}

export const zeroCounts = (): StatCounts => ({ accepted: 0, delivered: 0, deferred: 0, bouncedHard: 0, bouncedSoft: 0, complained: 0, suppressed: 0, failed: 0 });

export function addCounts(into: StatCounts, more: Partial<StatCounts>): StatCounts {
  for (const c of STAT_COUNTERS) into[c] += more[c] ?? 0;
  return into;
}
