// The suppression list: per tenant, addresses that must not get mail any more (hard bounces,
// complaints, admin entries), with why, when and from which message. A new entry carries its
// follow-ups (the "suppressed" webhook) into the same transaction.
import type { Store, StoreOp, SuppressionEntry } from './ports.js';

export type { SuppressionEntry } from './ports.js';

export class SuppressionList {
  constructor(
    private readonly store: Store,
    /** Writes that belong with a new entry (webhook deliveries), committed in the same transaction. */
    private readonly followUps: (entry: SuppressionEntry) => StoreOp[] = () => [],
  ) {}

  /** The writes that add an entry; the caller commits them with its event. */
  addOps(entry: SuppressionEntry): StoreOp[] {
    const value = { ...entry, address: entry.address.toLowerCase() };
    return [{ kind: 'suppression.add', entry: value }, ...this.followUps(value)];
  }

  add(entry: SuppressionEntry): Promise<void> {
    return this.store.commit(this.addOps(entry));
  }

  /** Adds many entries in one transaction: an import, which sends no "suppressed" webhook per address. */
  addMany(entries: SuppressionEntry[]): Promise<void> {
    return this.store.commit(entries.map((e) => ({ kind: 'suppression.add' as const, entry: { ...e, address: e.address.toLowerCase() } })));
  }

  get(tenant: string, address: string): Promise<SuppressionEntry | undefined> {
    return this.store.suppression.get(tenant, address);
  }

  remove(tenant: string, address: string): Promise<void> {
    return this.store.suppression.remove(tenant, address);
  }

  /** A tenant's entries in address order; `address` matches a part of the address, `reason` the class or reason. */
  list(tenant: string, q: { address?: string; reason?: string; limit?: number } = {}): Promise<SuppressionEntry[]> {
    return this.store.suppression.list(tenant, q);
  }
}
