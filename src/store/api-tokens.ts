// Tenant API tokens: made here ("mgt_" + 32 random bytes), shown once, kept only as their SHA-256.
import { createHash, randomBytes } from 'node:crypto';
import type { Store, TenantToken } from './ports.js';

export type { TenantToken } from './ports.js';

function hash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class TenantTokens {
  constructor(private readonly store: Store) {}

  /** A new token under `name`; a token the name had before stops working. */
  async issue(tenant: string, name: string, now = Date.now()): Promise<{ token: string; entry: TenantToken }> {
    const token = `mgt_${randomBytes(32).toString('base64url')}`;
    const entry: TenantToken = { tenant, name, createdAt: now };
    await this.store.apiTokens.save(hash(token), entry);
    return { token, entry };
  }

  async verify(token: string): Promise<TenantToken | undefined> {
    if (!token.startsWith('mgt_')) return undefined;
    return this.store.apiTokens.byHash(hash(token));
  }

  revoke(tenant: string, name: string): Promise<boolean> {
    return this.store.apiTokens.remove(tenant, name);
  }

  async revokeAll(tenant: string): Promise<number> {
    const names = await this.list(tenant);
    for (const name of names) await this.revoke(tenant, name);
    return names.length;
  }

  list(tenant: string): Promise<string[]> {
    return this.store.apiTokens.names(tenant);
  }
}
