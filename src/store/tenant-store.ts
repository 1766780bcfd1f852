// Tenants and upstreams created through the admin API, kept in LevelDB. Config-declared ones are
// not stored here: the config file stays their only source.
import type { Tenant, TenantCredential, Upstream } from '../config/types.js';
import type { Sublevel } from './level.js';

/** A tenant as JSON: password hashes and salts as hex. */
interface StoredTenant extends Omit<Tenant, 'auth'> {
  auth: Array<Omit<TenantCredential, 'passwordHash' | 'passwordSalt'> & { passwordHash: string; passwordSalt: string }>;
}

export class TenantStore {
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

  /** Stores an upstream, its AUTH password included: mailgate must present it to the upstream. */
  async putUpstream(u: Upstream): Promise<void> {
    await this.upstreamsLevel.put(u.name, u);
  }

  async deleteUpstream(name: string): Promise<void> {
    await this.upstreamsLevel.del(name);
  }
}
