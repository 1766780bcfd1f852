// The suppression list: per tenant, addresses that must not get mail any more (hard bounces,
// complaints, admin entries), with why, when and from which message.
import type { Store, WriteOp } from './level.js';

export interface SuppressionEntry {
  tenant: string;
  address: string;
  class: string;
  reason: string;
  time: number;
  /** Message whose bounce or complaint put the address here. */
  msgId?: string;
  source: 'bounce' | 'complaint' | 'admin';
  diagnostic?: string;
}

export class SuppressionList {
  constructor(private readonly store: Store) {}

  private key(tenant: string, address: string): string {
    return `${tenant}!${address.toLowerCase()}`;
  }

  addOps(entry: SuppressionEntry): WriteOp[] {
    return [{ type: 'put', sublevel: this.store.suppression, key: this.key(entry.tenant, entry.address), value: { ...entry, address: entry.address.toLowerCase() } }];
  }

  async add(entry: SuppressionEntry): Promise<void> {
    await this.store.suppression.put(this.key(entry.tenant, entry.address), { ...entry, address: entry.address.toLowerCase() });
  }

  async get(tenant: string, address: string): Promise<SuppressionEntry | undefined> {
    return (await this.store.suppression.get(this.key(tenant, address))) as SuppressionEntry | undefined;
  }

  async remove(tenant: string, address: string): Promise<void> {
    await this.store.suppression.del(this.key(tenant, address));
  }

  async list(tenant: string, limit = 1000): Promise<SuppressionEntry[]> {
    const out: SuppressionEntry[] = [];
    for await (const v of this.store.suppression.values({ gte: `${tenant}!`, lt: `${tenant}!\xff`, limit })) out.push(v as SuppressionEntry);
    return out;
  }
}
