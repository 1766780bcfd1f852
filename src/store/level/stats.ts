// Delivery statistics on LevelDB: counter rows under the `stats` sublevel (db.ts). LevelDB cannot
// add to a value in a batch, so the one process that owns the database keeps the rows it writes to
// in memory (read once, then updated after each batch is written) and writes absolute values.
import { sortableTime, type LevelWrite, type Sublevel } from './db.js';
import { eventSuffix } from './keys.js';
import type { StatsQuery, StatsStore, StoreOp } from '../ports.js';
import { addCounts, DAY_MS, statIncrements, zeroCounts, type StatCounts, type StatIncrement } from '../stats.js';

const PREFIX = { all: 'a', domain: 'd', upstream: 'u' } as const;
/** Rows of buckets older than this are dropped from memory when it grows (late bounces read them again). */
const KEEP_MS = 2 * DAY_MS;
const MAX_CACHED = 20_000;

function keyOf(i: StatIncrement, tenant: string): string {
  return i.dim === 'all' ? `a!${tenant}!${sortableTime(i.bucket)}` : `${PREFIX[i.dim]}!${tenant}!${sortableTime(i.bucket)}!${i.value}`;
}

export class LevelStats implements StatsStore {
  private readonly cache = new Map<string, { counts: StatCounts; bucket: number }>();

  /** `events` is where events are kept: one already there (written twice) is not counted again. */
  constructor(private readonly sub: Sublevel, private readonly events: Sublevel) {}

  /**
   * The writes that add a transaction's events to the counters, and a function to call once the
   * batch is written (the memory follows the database only then).
   */
  async writes(ops: StoreOp[]): Promise<{ writes: LevelWrite[]; applied: () => void }> {
    const next = new Map<string, { counts: StatCounts; bucket: number }>();
    const counted = ops.filter((op): op is Extract<StoreOp, { kind: 'event.add' }> => op.kind === 'event.add' && statIncrements(op.event).length > 0);
    if (counted.length === 0) return { writes: [], applied: () => undefined };
    // Only events that may have been written before are looked up (a fresh one cannot have been).
    const maybeSeen = counted.filter((op) => !op.fresh);
    const seen = maybeSeen.length > 0 ? await this.events.getMany(maybeSeen.map((op) => eventSuffix(op.event.time, op.id))) : [];
    const already = new Set(maybeSeen.filter((_, i) => seen[i] !== undefined));
    for (const op of counted) {
      if (already.has(op)) continue;
      for (const inc of statIncrements(op.event)) {
        for (const tenant of [inc.tenant, '*']) {
          const key = keyOf(inc, tenant);
          let row = next.get(key);
          if (!row) next.set(key, (row = { counts: zeroCounts(), bucket: inc.bucket }));
          row.counts[inc.counter]++;
        }
      }
    }
    if (next.size === 0) return { writes: [], applied: () => undefined };
    const missing = [...next.keys()].filter((k) => !this.cache.has(k));
    const stored = missing.length > 0 ? await this.sub.getMany(missing) : [];
    missing.forEach((k, i) => this.cache.set(k, { counts: addCounts(zeroCounts(), (stored[i] as StatCounts | undefined) ?? {}), bucket: next.get(k)!.bucket }));
    const totals = [...next].map(([key, row]) => [key, { counts: addCounts(addCounts(zeroCounts(), this.cache.get(key)!.counts), row.counts), bucket: row.bucket }] as const);
    return {
      writes: totals.map(([key, row]) => ({ type: 'put', sublevel: this.sub, key, value: row.counts })),
      applied: () => {
        for (const [key, row] of totals) this.cache.set(key, row);
        if (this.cache.size > MAX_CACHED) {
          const old = Date.now() - KEEP_MS;
          for (const [key, row] of this.cache) if (row.bucket < old) this.cache.delete(key);
        }
      },
    };
  }

  /** Forgets what it holds (the batch that would have matched it failed). */
  forget(): void {
    this.cache.clear();
  }

  async hourly(q: StatsQuery): Promise<Array<{ time: number; counts: StatCounts }>> {
    const prefix = `a!${q.tenant ?? '*'}!`;
    const out: Array<{ time: number; counts: StatCounts }> = [];
    for await (const [key, value] of this.sub.iterator({ gte: prefix + sortableTime(q.from), lt: prefix + sortableTime(q.to) })) {
      out.push({ time: Number(key.slice(prefix.length)), counts: addCounts(zeroCounts(), value as StatCounts) });
    }
    return out;
  }

  async breakdown(q: StatsQuery & { by: 'domain' | 'upstream' }): Promise<Array<{ key: string; counts: StatCounts }>> {
    const prefix = `${PREFIX[q.by]}!${q.tenant ?? '*'}!`;
    const sums = new Map<string, StatCounts>();
    const from = Math.floor(q.from / DAY_MS) * DAY_MS;
    for await (const [key, value] of this.sub.iterator({ gte: prefix + sortableTime(from), lt: prefix + sortableTime(q.to) })) {
      const name = key.slice(prefix.length + 16);
      sums.set(name, addCounts(sums.get(name) ?? zeroCounts(), value as StatCounts));
    }
    return [...sums].map(([key, counts]) => ({ key, counts }));
  }
}
