// Tracked parcels in LevelDB: the shipment records, the poll schedule ("due for a check" is a range
// scan by time), the status index, buyer/order lookups, buyer notices waiting for their sending time,
// the tenant's blacklist, its tracking settings, quota counters and report schedule. The records'
// shapes are tracking's (it instantiates ShipmentStore with them); the store knows only the fields it
// indexes. Imports nothing of the features.
import type { Store, WriteOp } from './level.js';
import { sortableTime } from './level.js';

/** What the store reads of a shipment to key and index it; tracking's Shipment has these and more. */
export interface IndexedShipment {
  tenant: string;
  carrier: string;
  code: string;
  status: string;
  active?: boolean;
  nextCheckAt?: number;
  email?: string;
  phoneE164?: string;
  reference?: string;
  orderReference?: string;
}

/** The record types a ShipmentStore holds (tracking supplies its own). */
export interface ShipmentTypes {
  shipment: IndexedShipment;
  settings: unknown;
  carrier: string;
  status: string;
  channel: string;
}

export interface BlacklistEntry<T extends ShipmentTypes = ShipmentTypes> {
  tenant: string;
  kind: 'email' | 'phone';
  value: string;
  reason: string;
  carrier?: T['carrier'];
  code?: string;
  time: number;
}

export interface ShipmentQuery {
  status?: string;
  code?: string;
  email?: string;
  phone?: string;
  reference?: string;
  limit?: number;
  /** Continue after this key (from the previous page). */
  cursor?: string;
}

/** A notice waiting in the outbox. */
export interface PendingNotice<T extends ShipmentTypes = ShipmentTypes> {
  key: string;
  sendAt: number;
  tenant: string;
  carrier: T['carrier'];
  code: string;
  status: T['status'];
  channel: T['channel'];
}

export const shipmentKey = (tenant: string, carrier: string, code: string) => `${tenant}!${carrier}!${code}`;

export class ShipmentStore<T extends ShipmentTypes = ShipmentTypes> {
  private lock: Promise<unknown> = Promise.resolve();

  /** `carriers`: the carrier names, so a code can be looked up without knowing its carrier. */
  constructor(private readonly store: Store, private readonly carriers: readonly string[]) {}

  /** Runs read-modify-write steps one at a time (the poller, notices, imports and deletes of this process). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private get db() {
    return this.store.db;
  }

  async get(tenant: string, carrier: string, code: string): Promise<T['shipment'] | undefined> {
    return (await this.store.shipments.get(shipmentKey(tenant, carrier, code))) as T['shipment'] | undefined;
  }

  async getMany(keys: string[]): Promise<Array<T['shipment'] | undefined>> {
    return (await this.store.shipments.getMany(keys)) as Array<T['shipment'] | undefined>;
  }

  /** Every write that moves a shipment from `before` (absent when new) to `after` (absent when deleted). */
  ops(before: T['shipment'] | undefined, after: T['shipment'] | undefined): WriteOp[] {
    const s = after ?? before!;
    const key = shipmentKey(s.tenant, s.carrier, s.code);
    const ops: WriteOp[] = [];
    const dueKey = (x: T['shipment'] | undefined) => (x?.active && x.nextCheckAt !== undefined ? `${sortableTime(x.nextCheckAt)}!${key}` : undefined);
    const statusKey = (x: T['shipment'] | undefined) => (x ? `${x.tenant}!${x.status}!${x.carrier}!${x.code}` : undefined);
    const contactKeys = (x: T['shipment'] | undefined) => (x ? [
      ...(x.email ? [`${x.tenant}!e!${x.email.toLowerCase()}!${x.carrier}!${x.code}`] : []),
      ...(x.phoneE164 ? [`${x.tenant}!p!${x.phoneE164}!${x.carrier}!${x.code}`] : []),
      ...(x.orderReference ? [`${x.tenant}!r!${x.orderReference.toLowerCase()}!${x.carrier}!${x.code}`] : []),
    ] : []);
    const swap = (sublevel: WriteOp['sublevel'], was: string[], now: string[]) => {
      for (const k of was) if (!now.includes(k)) ops.push({ type: 'del', sublevel, key: k });
      for (const k of now) if (!was.includes(k)) ops.push({ type: 'put', sublevel, key: k, value: '' });
    };
    const one = (k: string | undefined) => (k ? [k] : []);
    swap(this.store.shipmentsDue, one(dueKey(before)), one(dueKey(after)));
    swap(this.store.shipmentsByStatus, one(statusKey(before)), one(statusKey(after)));
    swap(this.store.shipmentsByContact, contactKeys(before), contactKeys(after));
    ops.push(after ? { type: 'put', sublevel: this.store.shipments, key, value: after } : { type: 'del', sublevel: this.store.shipments, key });
    return ops;
  }

  async write(ops: WriteOp[], sync = false): Promise<void> {
    if (ops.length > 0) await this.db.batch(ops as never, { sync } as never);
  }

  /** Keys of active shipments whose next check is at or before `now`, soonest first. */
  async due(now: number, limit: number): Promise<string[]> {
    return (await this.dueEntries(now, limit)).map((e) => e.key);
  }

  /** The schedule entries behind due(): the shipment key and the entry itself (to drop an orphan). */
  async dueEntries(now: number, limit: number): Promise<Array<{ key: string; entry: string }>> {
    const out: Array<{ key: string; entry: string }> = [];
    for await (const k of this.store.shipmentsDue.keys({ lte: `${sortableTime(now)}!\xff`, limit })) out.push({ key: k.slice(16), entry: k });
    return out;
  }

  dropDueOp(entry: string): WriteOp {
    return { type: 'del', sublevel: this.store.shipmentsDue, key: entry };
  }

  /** A tenant's shipments, by one filter, with a cursor for the next page. */
  async list(tenant: string, q: ShipmentQuery): Promise<{ shipments: T['shipment'][]; cursor?: string }> {
    const limit = q.limit ?? 100;
    let sublevel = this.store.shipments;
    let prefix = `${tenant}!`;
    let keyOf = (k: string) => k;
    if (q.code) {
      const code = q.code.toUpperCase().replace(/\s+/g, '');
      const found = (await this.getMany(this.carriers.map((c) => shipmentKey(tenant, c, code)))).filter((s): s is T['shipment'] => s !== undefined);
      return { shipments: found };
    }
    const contact = q.email ? `e!${q.email.toLowerCase()}` : q.phone ? `p!${q.phone}` : q.reference ? `r!${q.reference.toLowerCase()}` : undefined;
    if (contact) {
      sublevel = this.store.shipmentsByContact;
      prefix = `${tenant}!${contact}!`;
      keyOf = (k) => `${tenant}!${k.slice(prefix.length)}`;
    } else if (q.status) {
      sublevel = this.store.shipmentsByStatus;
      prefix = `${tenant}!${q.status}!`;
      keyOf = (k) => `${tenant}!${k.slice(prefix.length)}`;
    }
    const keys: string[] = [];
    let last: string | undefined;
    const lower = q.cursor && q.cursor.startsWith(prefix) ? { gt: q.cursor } : { gte: prefix };
    for await (const k of sublevel.keys({ ...lower, lt: `${prefix}\xff`, limit })) {
      keys.push(keyOf(k));
      last = k;
    }
    const shipments = (await this.getMany(keys)).filter((s): s is T['shipment'] => s !== undefined);
    return { shipments, ...(keys.length >= limit && last ? { cursor: last } : {}) };
  }

  /** Shipments per current status. */
  async countByStatus(tenant: string): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    const prefix = `${tenant}!`;
    for await (const k of this.store.shipmentsByStatus.keys({ gte: prefix, lt: `${prefix}\xff` })) {
      const status = k.slice(prefix.length, k.indexOf('!', prefix.length));
      counts[status] = (counts[status] ?? 0) + 1;
    }
    return counts;
  }

  // --- notices ------------------------------------------------------------------------------

  noticeOp(n: Omit<PendingNotice<T>, 'key'>, type: 'put' | 'del' = 'put'): WriteOp {
    const key = `${sortableTime(n.sendAt)}!${n.tenant}!${n.carrier}!${n.code}!${n.status}!${n.channel}`;
    return type === 'put' ? { type, sublevel: this.store.notices, key, value: '' } : { type, sublevel: this.store.notices, key };
  }

  async dueNotices(now: number, limit: number): Promise<PendingNotice<T>[]> {
    const out: PendingNotice<T>[] = [];
    for await (const key of this.store.notices.keys({ lte: `${sortableTime(now)}!\xff`, limit })) {
      const [time, tenant, carrier, code, status, channel] = key.split('!');
      out.push({ key, sendAt: Number(time), tenant: tenant!, carrier: carrier as T['carrier'], code: code!, status: status as T['status'], channel: channel as T['channel'] });
    }
    return out;
  }

  /** Deletes the outbox entries of one shipment (when it is deleted). */
  async noticeOpsFor(tenant: string, carrier: string, code: string): Promise<WriteOp[]> {
    const ops: WriteOp[] = [];
    const infix = `!${tenant}!${carrier}!${code}!`;
    for await (const key of this.store.notices.keys()) if (key.includes(infix)) ops.push({ type: 'del', sublevel: this.store.notices, key });
    return ops;
  }

  // --- blacklist ----------------------------------------------------------------------------

  blacklistOp(e: BlacklistEntry<T>): WriteOp {
    return { type: 'put', sublevel: this.store.blacklist, key: `${e.tenant}!${e.kind === 'email' ? 'e' : 'p'}!${e.value}`, value: e };
  }

  async blacklisted(tenant: string, kind: 'email' | 'phone', value: string): Promise<BlacklistEntry<T> | undefined> {
    return (await this.store.blacklist.get(`${tenant}!${kind === 'email' ? 'e' : 'p'}!${value}`)) as BlacklistEntry<T> | undefined;
  }

  async unblacklist(tenant: string, kind: 'email' | 'phone', value: string): Promise<boolean> {
    const key = `${tenant}!${kind === 'email' ? 'e' : 'p'}!${value}`;
    if ((await this.store.blacklist.get(key)) === undefined) return false;
    await this.store.blacklist.del(key);
    return true;
  }

  async blacklist(tenant: string, limit = 1000): Promise<BlacklistEntry<T>[]> {
    const out: BlacklistEntry<T>[] = [];
    for await (const v of this.store.blacklist.values({ gte: `${tenant}!`, lt: `${tenant}!\xff`, limit })) out.push(v as BlacklistEntry<T>);
    return out;
  }

  // --- settings, quota, reports --------------------------------------------------------------

  async settings(tenant: string): Promise<T['settings'] | undefined> {
    return (await this.store.tracking.get(`settings!${tenant}`)) as T['settings'] | undefined;
  }

  async saveSettings(tenant: string, s: T['settings']): Promise<void> {
    await this.store.tracking.put(`settings!${tenant}`, s, { sync: true } as never);
  }

  async tenantsWithSettings(): Promise<string[]> {
    const out: string[] = [];
    for await (const k of this.store.tracking.keys({ gte: 'settings!', lt: 'settings!\xff' })) out.push(k.slice('settings!'.length));
    return out;
  }

  quotaKey(tenant: string, now: number): string {
    return `quota!${tenant}!${new Date(now).toISOString().slice(0, 7)}`;
  }

  async quotaUsed(tenant: string, now: number): Promise<number> {
    return ((await this.store.tracking.get(this.quotaKey(tenant, now))) as number | undefined) ?? 0;
  }

  quotaOp(tenant: string, now: number, used: number): WriteOp {
    return { type: 'put', sublevel: this.store.tracking, key: this.quotaKey(tenant, now), value: used };
  }

  async nextReport(tenant: string): Promise<number | undefined> {
    return (await this.store.tracking.get(`report!${tenant}`)) as number | undefined;
  }

  reportOp(tenant: string, at: number): WriteOp {
    return { type: 'put', sublevel: this.store.tracking, key: `report!${tenant}`, value: at };
  }
}
