// What is known about tenants, on PostgreSQL: API-made tenants and upstreams, API tokens (by hash),
// console sign-ins and sender-domain checks.
import type pg from 'pg';
import type { Tenant, TenantCredential, Upstream } from '../../config/types.js';
import type { ApiTokenStore, DomainCheckStore, SignInLog, TenantStore, TenantToken } from '../ports.js';
import { clean, jsonText } from './text.js';
import { inTransaction } from './transaction.js';

interface StoredTenant extends Omit<Tenant, 'auth'> {
  auth: Array<Omit<TenantCredential, 'passwordHash' | 'passwordSalt'> & { passwordHash: string; passwordSalt: string }>;
}

export class PgTenants implements TenantStore {
  constructor(private readonly pool: pg.Pool) {}

  async tenants(): Promise<Tenant[]> {
    const r = await this.pool.query('select record from tenants order by id');
    return r.rows.map((x) => {
      const t = x.record as StoredTenant;
      return { ...t, auth: t.auth.map((c) => ({ ...c, passwordHash: Buffer.from(c.passwordHash, 'hex'), passwordSalt: Buffer.from(c.passwordSalt, 'hex') })) };
    });
  }

  async putTenant(t: Tenant): Promise<void> {
    const stored: StoredTenant = { ...t, auth: t.auth.map((c) => ({ ...c, passwordHash: c.passwordHash.toString('hex'), passwordSalt: c.passwordSalt.toString('hex') })) };
    await this.pool.query('insert into tenants (id, record) values ($1, $2::jsonb) on conflict (id) do update set record = excluded.record', [clean(t.id), jsonText(stored)]);
  }

  async deleteTenant(id: string): Promise<void> {
    await this.pool.query('delete from tenants where id = $1', [clean(id)]);
  }

  async upstreams(): Promise<Upstream[]> {
    const r = await this.pool.query('select record from upstreams order by name');
    return r.rows.map((x) => x.record as Upstream);
  }

  async putUpstream(u: Upstream): Promise<void> {
    await this.pool.query('insert into upstreams (name, record) values ($1, $2::jsonb) on conflict (name) do update set record = excluded.record', [clean(u.name), jsonText(u)]);
  }

  async deleteUpstream(name: string): Promise<void> {
    await this.pool.query('delete from upstreams where name = $1', [clean(name)]);
  }
}

export class PgApiTokens implements ApiTokenStore {
  constructor(private readonly pool: pg.Pool) {}

  async byHash(hash: string): Promise<TenantToken | undefined> {
    const r = await this.pool.query('select tenant, name, created_at from api_tokens where hash = $1', [clean(hash)]);
    const row = r.rows[0];
    return row ? { tenant: row.tenant as string, name: row.name as string, createdAt: Number(row.created_at) } : undefined;
  }

  async save(hash: string, entry: TenantToken): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await client.query('delete from api_tokens where tenant = $1 and name = $2', [clean(entry.tenant), clean(entry.name)]);
      await client.query('insert into api_tokens (hash, tenant, name, created_at) values ($1, $2, $3, $4)', [hash, clean(entry.tenant), clean(entry.name), entry.createdAt]);
    });
  }

  async remove(tenant: string, name: string): Promise<boolean> {
    const r = await this.pool.query('delete from api_tokens where tenant = $1 and name = $2', [clean(tenant), clean(name)]);
    return (r.rowCount ?? 0) > 0;
  }

  async names(tenant: string): Promise<string[]> {
    const r = await this.pool.query('select name from api_tokens where tenant = $1 order by name', [clean(tenant)]);
    return r.rows.map((x) => x.name as string);
  }
}

export class PgSignIns implements SignInLog {
  constructor(private readonly pool: pg.Pool) {}

  async get(tokenHash: string): Promise<number | undefined> {
    const r = await this.pool.query('select time from console_sign_ins where token_hash = $1', [clean(tokenHash)]);
    return r.rows[0] ? Number(r.rows[0].time) : undefined;
  }

  async set(tokenHash: string, time: number): Promise<void> {
    await this.pool.query('insert into console_sign_ins (token_hash, time) values ($1, $2) on conflict (token_hash) do update set time = excluded.time', [clean(tokenHash), time]);
  }
}

export class PgDomainChecks implements DomainCheckStore {
  constructor(private readonly pool: pg.Pool) {}

  async all(): Promise<Array<[string, unknown]>> {
    const r = await this.pool.query('select domain, "check" from domain_checks order by domain');
    return r.rows.map((x) => [x.domain as string, x.check as unknown]);
  }

  async put(domain: string, check: unknown): Promise<void> {
    await this.pool.query('insert into domain_checks (domain, "check") values ($1, $2::jsonb) on conflict (domain) do update set "check" = excluded."check"', [clean(domain), jsonText(check)]);
  }
}
