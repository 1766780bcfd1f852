// TLS sessions as the TLS reports (RFC 8460) count them: per UTC day, recipient (policy) domain and
// everything a report line tells apart (policy, result, hosts, addresses, reason code). The one
// grouping both engines use, so they count alike. Pure. Imports: the record shapes.
import { createHash } from 'node:crypto';
import type { TlsSession } from './records.js';

/** One counter: sessions of one day and domain that a report shows on the same line. */
export interface TlsSessionCount extends Omit<TlsSession, 'time'> {
  /** UTC day, YYYY-MM-DD. */
  day: string;
  count: number;
}

/** The UTC day of a time, YYYY-MM-DD (the report period of RFC 8460 §4.1). */
export function utcDay(time: number): string {
  return new Date(time).toISOString().slice(0, 10);
}

/** What tells counters of one day and domain apart, as a short stable key. */
export function countKey(c: Omit<TlsSessionCount, 'count' | 'day' | 'policyDomain'>): string {
  const parts = [c.policyType, c.policyStrings, c.mxHosts, c.result, c.receivingMx ?? '', c.receivingIp ?? '', c.sendingIp ?? '', c.reasonCode ?? ''];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}

/** Sessions summed into counters, each with its key. */
export function countSessions(sessions: TlsSession[]): Array<{ key: string; count: TlsSessionCount }> {
  const out = new Map<string, TlsSessionCount>();
  for (const { time, ...s } of sessions) {
    const count: TlsSessionCount = { ...s, day: utcDay(time), count: 1 };
    const key = `${count.day}!${count.policyDomain}!${countKey(count)}`;
    const had = out.get(key);
    if (had) had.count++;
    else out.set(key, count);
  }
  return [...out].map(([key, count]) => ({ key: key.slice(key.lastIndexOf('!') + 1), count }));
}
