// Tracked parcels as tracking sees them: ShipmentStore<T> types the engine's ShipmentRecords with
// tracking's own record shapes (the store reads only IndexedShipment of them), builds the StoreOps
// tracking commits, and runs this process's read-modify-write steps one at a time.
import type { BlacklistEntry as StoredBlacklistEntry, IndexedShipment, NoticeEntry, ShipmentQuery, Store, StoreOp } from './ports.js';

export { shipmentKey } from './ports.js';
export type { IndexedShipment, ShipmentQuery } from './ports.js';

/** The record types a ShipmentStore holds (tracking supplies its own). */
export interface ShipmentTypes {
  shipment: IndexedShipment;
  settings: unknown;
  carrier: string;
  status: string;
  channel: string;
}

export interface BlacklistEntry<T extends ShipmentTypes = ShipmentTypes> extends StoredBlacklistEntry {
  carrier?: T['carrier'];
}

/** A notice waiting in the outbox. */
export interface PendingNotice<T extends ShipmentTypes = ShipmentTypes> extends NoticeEntry {
  carrier: T['carrier'];
  status: T['status'];
  channel: T['channel'];
}

const month = (now: number) => new Date(now).toISOString().slice(0, 7);

export class ShipmentStore<T extends ShipmentTypes = ShipmentTypes> {
  private lock: Promise<unknown> = Promise.resolve();

  /** `carriers`: the carrier names, so a code can be looked up without knowing its carrier. */
  constructor(private readonly store: Store, private readonly carriers: readonly string[]) {}

  /** Runs read-modify-write steps one at a time (the poller, notices, imports and deletes of this process). */
  exclusive<R>(fn: () => Promise<R>): Promise<R> {
    const run = this.lock.then(fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  async get(tenant: string, carrier: string, code: string): Promise<T['shipment'] | undefined> {
    return (await this.getMany([`${tenant}!${carrier}!${code}`]))[0];
  }

  async getMany(keys: string[]): Promise<Array<T['shipment'] | undefined>> {
    return (await this.store.shipments.getMany(keys)) as Array<T['shipment'] | undefined>;
  }

  /** The change that moves a shipment from `before` (absent when new) to `after` (absent when deleted). */
  ops(before: T['shipment'] | undefined, after: T['shipment'] | undefined): StoreOp[] {
    return [{ kind: 'shipment.change', ...(before ? { before } : {}), ...(after ? { after } : {}) }];
  }

  /** Commits tracking's changes; `sync` waits for them to be on disk. */
  async write(ops: StoreOp[], sync = false): Promise<void> {
    if (ops.length > 0) await this.store.commit(ops, { sync });
  }

  /** Keys of active shipments whose next check is at or before `now`, soonest first. */
  async due(now: number, limit: number): Promise<string[]> {
    return (await this.dueEntries(now, limit)).map((e) => e.key);
  }

  /** The schedule entries behind due(): the shipment key, the check time, and the entry itself (to drop an orphan). */
  dueEntries(now: number, limit: number): Promise<Array<{ key: string; at: number; entry: string }>> {
    return this.store.shipments.dueShipments(now, limit);
  }

  dropDueOp(entry: string): StoreOp {
    return { kind: 'shipment.undue', entry };
  }

  /** A tenant's shipments, by one filter, with a cursor for the next page. */
  async list(tenant: string, q: ShipmentQuery): Promise<{ shipments: T['shipment'][]; cursor?: string }> {
    return (await this.store.shipments.list(tenant, q, this.carriers)) as { shipments: T['shipment'][]; cursor?: string };
  }

  /** Every tenant's shipments (the operator's view), by one filter, with a cursor for the next page. */
  async listAcrossTenants(q: ShipmentQuery): Promise<{ shipments: T['shipment'][]; cursor?: string }> {
    return (await this.store.acrossTenants.shipments(q, this.carriers)) as { shipments: T['shipment'][]; cursor?: string };
  }

  /** Shipments per current status. */
  countByStatus(tenant: string): Promise<Record<string, number>> {
    return this.store.shipments.countByStatus(tenant);
  }

  // --- notices ------------------------------------------------------------------------------

  noticeOp(n: Omit<PendingNotice<T>, 'key'>, type: 'put' | 'del' = 'put'): StoreOp {
    const notice: NoticeEntry = { sendAt: n.sendAt, tenant: n.tenant, carrier: n.carrier, code: n.code, status: n.status, channel: n.channel };
    return { kind: type === 'put' ? 'notice.add' : 'notice.remove', notice };
  }

  async dueNotices(now: number, limit: number): Promise<PendingNotice<T>[]> {
    return (await this.store.shipments.dueNotices(now, limit)) as PendingNotice<T>[];
  }

  /** A tenant's whole outbox, by sending time. */
  async pendingNotices(tenant: string): Promise<PendingNotice<T>[]> {
    return (await this.store.shipments.noticesOf(tenant)) as PendingNotice<T>[];
  }

  /** Removes the outbox entries of one shipment (when it is deleted). */
  async noticeOpsFor(tenant: string, carrier: string, code: string): Promise<StoreOp[]> {
    return (await this.store.shipments.noticesOf(tenant, carrier, code)).map((notice) => ({ kind: 'notice.remove', notice }));
  }

  // --- blacklist ----------------------------------------------------------------------------

  blacklistOp(e: BlacklistEntry<T>): StoreOp {
    return { kind: 'blacklist.add', entry: e };
  }

  async blacklisted(tenant: string, kind: 'email' | 'phone', value: string): Promise<BlacklistEntry<T> | undefined> {
    return (await this.store.shipments.blacklisted(tenant, kind, value)) as BlacklistEntry<T> | undefined;
  }

  unblacklist(tenant: string, kind: 'email' | 'phone', value: string): Promise<boolean> {
    return this.store.shipments.unblacklist(tenant, kind, value);
  }

  async blacklist(tenant: string, limit = 1000): Promise<BlacklistEntry<T>[]> {
    return (await this.store.shipments.blacklist(tenant, limit)) as BlacklistEntry<T>[];
  }

  // --- settings, quota, reports --------------------------------------------------------------

  async settings(tenant: string): Promise<T['settings'] | undefined> {
    return (await this.store.shipments.settings(tenant)) as T['settings'] | undefined;
  }

  saveSettings(tenant: string, s: T['settings']): Promise<void> {
    return this.store.shipments.saveSettings(tenant, s);
  }

  tenantsWithSettings(): Promise<string[]> {
    return this.store.shipments.tenantsWithSettings();
  }

  quotaUsed(tenant: string, now: number): Promise<number> {
    return this.store.shipments.quotaUsed(tenant, month(now));
  }

  quotaOp(tenant: string, now: number, used: number): StoreOp {
    return { kind: 'tracking.quota', tenant, month: month(now), used };
  }

  nextReport(tenant: string): Promise<number | undefined> {
    return this.store.shipments.nextReport(tenant);
  }

  reportOp(tenant: string, at: number): StoreOp {
    return { kind: 'tracking.report', tenant, at };
  }
}
