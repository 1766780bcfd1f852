// Tenant API tokens: issued and revoked through the admin API, stored only as SHA-256 hashes,
// each good for one tenant's data.
import { createHash, randomBytes } from 'node:crypto';
import type { Store } from './level.js';

export interface TenantToken {
  tenant: string;
  name: string;
  createdAt: number;
}

function hash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class TenantTokens {
  constructor(private readonly store: Store) {}

  /** Issues a token; the clear text is returned once and never stored. */
  async issue(tenant: string, name: string, now = Date.now()): Promise<{ token: string; entry: TenantToken }> {
    const token = `mgt_${randomBytes(32).toString('base64url')}`;
    const entry: TenantToken = { tenant, name, createdAt: now };
    const old = (await this.store.apiTokens.get(`name!${tenant}!${name}`)) as string | undefined;
    await this.store.db.batch([
      ...(old ? [{ type: 'del' as const, sublevel: this.store.apiTokens, key: `hash!${old}` }] : []),
      { type: 'put', sublevel: this.store.apiTokens, key: `hash!${hash(token)}`, value: entry },
      { type: 'put', sublevel: this.store.apiTokens, key: `name!${tenant}!${name}`, value: hash(token) },
    ] as never);
    return { token, entry };
  }

  async verify(token: string): Promise<TenantToken | undefined> {
    if (!token.startsWith('mgt_')) return undefined;
    return (await this.store.apiTokens.get(`hash!${hash(token)}`)) as TenantToken | undefined;
  }

  async revoke(tenant: string, name: string): Promise<boolean> {
    const h = (await this.store.apiTokens.get(`name!${tenant}!${name}`)) as string | undefined;
    if (!h) return false;
    await this.store.db.batch([
      { type: 'del', sublevel: this.store.apiTokens, key: `hash!${h}` },
      { type: 'del', sublevel: this.store.apiTokens, key: `name!${tenant}!${name}` },
    ] as never);
    return true;
  }

  /** Revokes every token of a tenant; returns how many there were. */
  async revokeAll(tenant: string): Promise<number> {
    const names = await this.list(tenant);
    for (const name of names) await this.revoke(tenant, name);
    return names.length;
  }

  async list(tenant: string): Promise<string[]> {
    const prefix = `name!${tenant}!`;
    const names: string[] = [];
    for await (const key of this.store.apiTokens.keys({ gte: prefix, lt: `${prefix}\xff` })) names.push(key.slice(prefix.length));
    return names;
  }
}
