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
  /** Which rule put the address here, in a shop admin's words ("hard bounce: the address does not exist", "3 soft bounces …"). */
  rule?: string;
}

export class SuppressionList {
  /** Every suppressed key, so the common case (not suppressed) costs no LevelDB read. */
  private readonly keys = new Set<string>();
  private loaded: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    /** Writes that belong with a new entry (webhook deliveries), committed in the same batch. */
    private readonly followUps: (entry: SuppressionEntry) => WriteOp[] = () => [],
  ) {}

  private key(tenant: string, address: string): string {
    return `${tenant}!${address.toLowerCase()}`;
  }

  private load(): Promise<void> {
    this.loaded ??= (async () => {
      for await (const k of this.store.suppression.keys()) this.keys.add(k);
    })();
    return this.loaded;
  }

  /** The writes that add an entry; the in-memory index learns it at once (a failed commit only costs one extra read later). */
  addOps(entry: SuppressionEntry): WriteOp[] {
    const key = this.key(entry.tenant, entry.address);
    this.keys.add(key);
    const value = { ...entry, address: entry.address.toLowerCase() };
    return [{ type: 'put', sublevel: this.store.suppression, key, value }, ...this.followUps(value)];
  }

  async add(entry: SuppressionEntry): Promise<void> {
    await this.load();
    const key = this.key(entry.tenant, entry.address);
    await this.store.db.batch(this.addOps(entry) as never);
  }

  async get(tenant: string, address: string): Promise<SuppressionEntry | undefined> {
    await this.load();
    const key = this.key(tenant, address);
    if (!this.keys.has(key)) return undefined;
    return (await this.store.suppression.get(key)) as SuppressionEntry | undefined;
  }

  async remove(tenant: string, address: string): Promise<void> {
    await this.load();
    const key = this.key(tenant, address);
    await this.store.suppression.del(key);
    this.keys.delete(key);
  }

  /** A tenant's entries in address order; `address` matches a part of the address, `reason` the class or reason. */
  async list(tenant: string, q: { address?: string; reason?: string; limit?: number } = {}): Promise<SuppressionEntry[]> {
    const out: SuppressionEntry[] = [];
    const address = q.address?.toLowerCase();
    const reason = q.reason?.toLowerCase();
    for await (const v of this.store.suppression.values({ gte: `${tenant}!`, lt: `${tenant}!\xff` })) {
      const e = v as SuppressionEntry;
      if (address && !e.address.includes(address)) continue;
      if (reason && e.class !== reason && !e.reason.toLowerCase().includes(reason)) continue;
      out.push(e);
      if (out.length >= (q.limit ?? 1000)) break;
    }
    return out;
  }
}
