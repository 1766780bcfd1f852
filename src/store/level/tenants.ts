// What is known about tenants, on LevelDB: tenants and upstreams made through the API, their API
// tokens ("hash!<sha256>" → token, "name!<tenant>!<name>" → sha256), console sign-ins and the last
// DNS check of each sender domain.
import type { Tenant, TenantCredential, Upstream } from '../../config/types.js';
import type { ApiTokenStore, DomainCheckStore, SignInLog, TenantStore, TenantToken } from '../ports.js';
import type { Db, Sublevel } from './db.js';

interface StoredTenant extends Omit<Tenant, 'auth'> {
  auth: Array<Omit<TenantCredential, 'passwordHash' | 'passwordSalt'> & { passwordHash: string; passwordSalt: string }>;
}

export class LevelTenants implements TenantStore {
  constructor(private readonly tenantsLevel: Sublevel, private readonly upstreamsLevel: Sublevel) {}

  async tenants(): Promise<Tenant[]> {
    const out: Tenant[] = [];
    for await (const value of this.tenantsLevel.values()) {
      const t = value as StoredTenant;
      out.push({ ...t, auth: t.auth.map((c) => ({ ...c, passwordHash: Buffer.from(c.passwordHash, 'hex'), passwordSalt: Buffer.from(c.passwordSalt, 'hex') })) });
    }
    return out;
  }

  async putTenant(t: Tenant): Promise<void> {
    const stored: StoredTenant = { ...t, auth: t.auth.map((c) => ({ ...c, passwordHash: c.passwordHash.toString('hex'), passwordSalt: c.passwordSalt.toString('hex') })) };
    await this.tenantsLevel.put(t.id, stored);
  }

  async deleteTenant(id: string): Promise<void> {
    await this.tenantsLevel.del(id);
  }

  async upstreams(): Promise<Upstream[]> {
    const out: Upstream[] = [];
    for await (const value of this.upstreamsLevel.values()) out.push(value as Upstream);
    return out;
  }

  async putUpstream(u: Upstream): Promise<void> {
    await this.upstreamsLevel.put(u.name, u);
  }

  async deleteUpstream(name: string): Promise<void> {
    await this.upstreamsLevel.del(name);
  }
}

export class LevelApiTokens implements ApiTokenStore {
  constructor(private readonly db: Db, private readonly level: Sublevel) {}

  async byHash(hash: string): Promise<TenantToken | undefined> {
    return (await this.level.get(`hash!${hash}`)) as TenantToken | undefined;
  }

  async save(hash: string, entry: TenantToken): Promise<void> {
    const nameKey = `name!${entry.tenant}!${entry.name}`;
    const old = (await this.level.get(nameKey)) as string | undefined;
    await this.db.batch([
      ...(old ? [{ type: 'del' as const, sublevel: this.level, key: `hash!${old}` }] : []),
      { type: 'put', sublevel: this.level, key: `hash!${hash}`, value: entry },
      { type: 'put', sublevel: this.level, key: nameKey, value: hash },
    ] as never);
  }

  async remove(tenant: string, name: string): Promise<boolean> {
    const nameKey = `name!${tenant}!${name}`;
    const h = (await this.level.get(nameKey)) as string | undefined;
    if (!h) return false;
    await this.db.batch([
      { type: 'del', sublevel: this.level, key: `hash!${h}` },
      { type: 'del', sublevel: this.level, key: nameKey },
    ] as never);
    return true;
  }

  async names(tenant: string): Promise<string[]> {
    const prefix = `name!${tenant}!`;
    const names: string[] = [];
    for await (const key of this.level.keys({ gte: prefix, lt: `${prefix}\xff` })) names.push(key.slice(prefix.length));
    return names;
  }
}

export class LevelSignIns implements SignInLog {
  constructor(private readonly level: Sublevel) {}

  async get(tokenHash: string): Promise<number | undefined> {
    return (await this.level.get(tokenHash)) as number | undefined;
  }

  set(tokenHash: string, time: number): Promise<void> {
    return this.level.put(tokenHash, time);
  }
}

export class LevelDomainChecks implements DomainCheckStore {
  constructor(private readonly level: Sublevel) {}

  async all(): Promise<Array<[string, unknown]>> {
    const out: Array<[string, unknown]> = [];
    for await (const entry of this.level.iterator()) out.push(entry);
    return out;
  }

  put(domain: string, check: unknown): Promise<void> {
    return this.level.put(domain, check);
  }
}
