// The address lists on PostgreSQL: suppression, soft-bounce counters and opt-outs. No cache: every
// node sees an entry the moment another node's transaction commits.
import type pg from 'pg';
import type { OptOut, OptOutStore, SoftBounceStore, SoftCount, SuppressionEntry, SuppressionStore } from '../ports.js';
import { clean, jsonText } from './text.js';

/** A LIKE pattern matching `s` anywhere. */
const containing = (s: string) => `%${clean(s).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export class PgSuppression implements SuppressionStore {
  constructor(private readonly pool: pg.Pool) {}

  async get(tenant: string, address: string): Promise<SuppressionEntry | undefined> {
    const r = await this.pool.query('select entry from suppression where tenant = $1 and address = lower($2)', [clean(tenant), clean(address)]);
    return r.rows[0]?.entry as SuppressionEntry | undefined;
  }

  async remove(tenant: string, address: string): Promise<void> {
    await this.pool.query('delete from suppression where tenant = $1 and address = lower($2)', [clean(tenant), clean(address)]);
  }

  list(tenant: string, q: { address?: string; reason?: string; limit?: number }): Promise<SuppressionEntry[]> {
    return this.filtered(q, 'tenant = $5', [clean(tenant)]);
  }

  /** Every tenant's entries, by tenant then address. */
  listAll(q: { address?: string; reason?: string; limit?: number }): Promise<SuppressionEntry[]> {
    return this.filtered(q, 'true', []);
  }

  private async filtered(q: { address?: string; reason?: string; limit?: number }, scope: string, scopeValues: string[]): Promise<SuppressionEntry[]> {
    const r = await this.pool.query(
      `select entry from suppression where ${scope}
         and ($1::text is null or address like $1)
         and ($2::text is null or class = $2 or lower(reason) like $3)
       order by tenant, address limit $4`,
      [q.address ? containing(q.address.toLowerCase()) : null, q.reason ? clean(q.reason.toLowerCase()) : null, q.reason ? containing(q.reason.toLowerCase()) : null, q.limit ?? 1000, ...scopeValues],
    );
    return r.rows.map((x) => x.entry as SuppressionEntry);
  }
}

export class PgSoftBounces implements SoftBounceStore {
  constructor(private readonly pool: pg.Pool) {}

  async get(tenant: string, address: string): Promise<SoftCount | undefined> {
    const r = await this.pool.query('select first, last, count from soft_bounces where tenant = $1 and address = lower($2)', [clean(tenant), clean(address)]);
    const row = r.rows[0];
    return row ? { first: Number(row.first), last: Number(row.last), count: Number(row.count) } : undefined;
  }
}

export class PgOptOuts implements OptOutStore {
  constructor(private readonly pool: pg.Pool) {}

  async has(tenant: string, category: string, address: string): Promise<boolean> {
    const r = await this.pool.query('select 1 from opt_outs where tenant = $1 and category = $2 and address = lower($3)', [clean(tenant), clean(category), clean(address)]);
    return r.rows.length > 0;
  }

  async add(entry: OptOut): Promise<void> {
    const e = { ...entry, address: entry.address.toLowerCase() };
    await this.pool.query(
      `insert into opt_outs (tenant, category, address, entry) values ($1, $2, $3, $4::jsonb)
       on conflict (tenant, category, address) do update set entry = excluded.entry`,
      [clean(e.tenant), clean(e.category), clean(e.address), jsonText(e)],
    );
  }

  async remove(tenant: string, category: string, address: string): Promise<boolean> {
    const r = await this.pool.query('delete from opt_outs where tenant = $1 and category = $2 and address = lower($3)', [clean(tenant), clean(category), clean(address)]);
    return (r.rowCount ?? 0) > 0;
  }

  async list(tenant: string, q: { address?: string; category?: string; limit?: number } = {}): Promise<OptOut[]> {
    const r = await this.pool.query(
      `select entry from opt_outs where tenant = $1 and ($2::text is null or category = $2) and ($3::text is null or address = lower($3))
       order by category, address limit $4`,
      [clean(tenant), q.category === undefined ? null : clean(q.category), q.address === undefined ? null : clean(q.address), q.limit ?? 1000],
    );
    return r.rows.map((x) => x.entry as OptOut);
  }
}
