// TLS report counters on LevelDB: "<day>!<policy domain>!<count key>" → TlsSessionCount under the
// `tlsReports` sublevel (db.ts), so a day's domains and one domain's day are each one range. LevelDB
// cannot add in a batch: the one process that owns the database adds in turn (a queue), reading the
// rows it changes first. Imports: the store's ports and tls-reports.ts.
import type { TlsSession } from '../records.js';
import type { TlsReportStore } from '../ports.js';
import { countSessions, type TlsSessionCount } from '../tls-reports.js';
import type { Sublevel } from './db.js';

export class LevelTlsReports implements TlsReportStore {
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly level: Sublevel) {}

  record(sessions: TlsSession[]): Promise<void> {
    const next = this.queue.then(() => this.add(sessions));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async add(sessions: TlsSession[]): Promise<void> {
    const counts = countSessions(sessions).map(({ key, count }) => ({ key: `${count.day}!${count.policyDomain}!${key}`, count }));
    if (counts.length === 0) return;
    const had = (await this.level.getMany(counts.map((c) => c.key))) as Array<TlsSessionCount | undefined>;
    await this.level.batch(counts.map((c, i) => ({ type: 'put' as const, key: c.key, value: { ...c.count, count: c.count.count + (had[i]?.count ?? 0) } })));
  }

  async pending(beforeDay: string, limit: number): Promise<Array<{ day: string; policyDomain: string }>> {
    const out: Array<{ day: string; policyDomain: string }> = [];
    let last = '';
    for await (const key of this.level.keys({ lt: beforeDay })) {
      const [day, policyDomain] = key.split('!') as [string, string];
      if (`${day}!${policyDomain}` === last) continue;
      last = `${day}!${policyDomain}`;
      out.push({ day, policyDomain });
      if (out.length >= limit) break;
    }
    return out;
  }

  async counts(day: string, policyDomain: string): Promise<TlsSessionCount[]> {
    const prefix = `${day}!${policyDomain}!`;
    const out: TlsSessionCount[] = [];
    for await (const value of this.level.values({ gte: prefix, lt: `${prefix}\xff` })) out.push(value as TlsSessionCount);
    return out;
  }

  async remove(day: string, policyDomain: string): Promise<void> {
    const prefix = `${day}!${policyDomain}!`;
    await this.level.clear({ gte: prefix, lt: `${prefix}\xff` });
  }
}
