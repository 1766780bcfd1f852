// Delivery statistics on PostgreSQL: the delivery_stats table (schema 4), added to by write.ts in
// the transaction that inserts the events. Every tenant's view sums the rows at read time (a row
// for all tenants would be one hot row every node's transactions wait for).
import type pg from 'pg';
import type { StatsQuery, StatsStore } from '../ports.js';
import { DAY_MS, STAT_COUNTERS, type StatCounts } from '../stats.js';
import { clean } from './text.js';

/** The table's column of each counter, in STAT_COUNTERS order. */
export const STAT_COLUMNS = STAT_COUNTERS.map((c) => c.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`));

const SUMS = STAT_COLUMNS.map((c) => `sum(${c})::integer as ${c}`).join(', ');

function countsOf(row: Record<string, unknown>): StatCounts {
  return Object.fromEntries(STAT_COUNTERS.map((c, i) => [c, Number(row[STAT_COLUMNS[i]!] ?? 0)])) as StatCounts;
}

export class PgStats implements StatsStore {
  constructor(private readonly pool: pg.Pool) {}

  async hourly(q: StatsQuery): Promise<Array<{ time: number; counts: StatCounts }>> {
    const r = await this.pool.query({
      name: 'mg-stats-hourly',
      text: `select bucket, ${SUMS} from delivery_stats where dim = 'all' and ($1::text is null or tenant = $1) and bucket >= $2 and bucket < $3
             group by bucket order by bucket`,
      values: [q.tenant === undefined ? null : clean(q.tenant), q.from, q.to],
    });
    return r.rows.map((row) => ({ time: Number(row.bucket), counts: countsOf(row) }));
  }

  async breakdown(q: StatsQuery & { by: 'domain' | 'upstream' }): Promise<Array<{ key: string; counts: StatCounts }>> {
    const r = await this.pool.query({
      name: 'mg-stats-breakdown',
      text: `select value, ${SUMS} from delivery_stats where dim = $1 and ($2::text is null or tenant = $2) and bucket >= $3 and bucket < $4 group by value`,
      values: [q.by, q.tenant === undefined ? null : clean(q.tenant), Math.floor(q.from / DAY_MS) * DAY_MS, q.to],
    });
    return r.rows.map((row) => ({ key: row.value as string, counts: countsOf(row) }));
  }
}
