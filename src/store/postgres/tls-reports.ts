// TLS report counters on PostgreSQL: the tls_report_counts table (schema 6), one row per day,
// policy domain and count key; every node adds to it with one upsert, so counts from several nodes
// meet in one report. Imports: the store's ports, tls-reports.ts, text.ts.
import type pg from 'pg';
import type { TlsSession } from '../records.js';
import type { TlsReportStore } from '../ports.js';
import { countSessions, type TlsSessionCount } from '../tls-reports.js';
import { clean, jsonText } from './text.js';

export class PgTlsReports implements TlsReportStore {
  constructor(private readonly pool: pg.Pool) {}

  async record(sessions: TlsSession[]): Promise<void> {
    const counts = countSessions(sessions);
    if (counts.length === 0) return;
    await this.pool.query({
      name: 'mg-tls-report-add',
      text: `insert into tls_report_counts (day, policy_domain, count_key, detail, count)
             select * from unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::integer[])
             on conflict (day, policy_domain, count_key) do update set count = tls_report_counts.count + excluded.count`,
      values: [
        counts.map((c) => c.count.day), counts.map((c) => clean(c.count.policyDomain)), counts.map((c) => c.key),
        counts.map((c) => jsonText(c.count)), counts.map((c) => c.count.count),
      ],
    });
  }

  async pending(beforeDay: string, limit: number): Promise<Array<{ day: string; policyDomain: string }>> {
    const r = await this.pool.query('select distinct day, policy_domain from tls_report_counts where day < $1 order by day, policy_domain limit $2', [beforeDay, limit]);
    return r.rows.map((x) => ({ day: x.day as string, policyDomain: x.policy_domain as string }));
  }

  async counts(day: string, policyDomain: string): Promise<TlsSessionCount[]> {
    const r = await this.pool.query('select detail, count from tls_report_counts where day = $1 and policy_domain = $2 order by count_key', [day, clean(policyDomain)]);
    return r.rows.map((x) => ({ ...(x.detail as TlsSessionCount), count: Number(x.count) }));
  }

  async remove(day: string, policyDomain: string): Promise<void> {
    await this.pool.query('delete from tls_report_counts where day = $1 and policy_domain = $2', [day, clean(policyDomain)]);
  }
}
