// ShipmentRecords on LevelDB: shipments ("<tenant>!<carrier>!<code>"), the poll schedule
// ("<nextCheckAt>!<key>"), the status and contact indexes, notices by sending time, the blacklist and
// tracking's per-tenant bookkeeping ("settings!", "quota!", "report!" keys).
import { nameWords } from './write.js';
import { shipmentKey, type BlacklistEntry, type IndexedShipment, type NoticeEntry, type ShipmentQuery, type ShipmentRecords } from '../ports.js';
import { sortableTime, type Sublevels } from './db.js';
import { blacklistKey, parseNoticeKey } from './keys.js';

export class LevelShipments implements ShipmentRecords {
  constructor(private readonly sub: Sublevels) {}

  async getMany(keys: string[]): Promise<Array<IndexedShipment | undefined>> {
    return (await this.sub.shipments.getMany(keys)) as Array<IndexedShipment | undefined>;
  }

  async dueShipments(now: number, limit: number): Promise<Array<{ key: string; entry: string; at: number }>> {
    const out: Array<{ key: string; entry: string; at: number }> = [];
    for await (const k of this.sub.shipmentsDue.keys({ lte: `${sortableTime(now)}!\xff`, limit })) out.push({ key: k.slice(16), entry: k, at: Number(k.slice(0, 15)) });
    return out;
  }

  async list(tenant: string, q: ShipmentQuery, carriers: readonly string[]): Promise<{ shipments: IndexedShipment[]; cursor?: string }> {
    const limit = q.limit ?? 100;
    if (q.code) {
      const code = q.code.toUpperCase().replace(/\s+/g, '');
      const found = (await this.getMany(carriers.map((c) => shipmentKey(tenant, c, code)))).filter((s): s is IndexedShipment => s !== undefined);
      return { shipments: found };
    }
    if (q.name) return this.byName(tenant, q.name, limit);
    let sublevel = this.sub.shipments;
    let prefix = `${tenant}!`;
    let keyOf = (k: string) => k;
    const contact = q.email ? `e!${q.email.toLowerCase()}` : q.phone ? `p!${q.phone}` : q.reference ? `r!${q.reference.toLowerCase()}` : undefined;
    if (contact) {
      sublevel = this.sub.shipmentsByContact;
      prefix = `${tenant}!${contact}!`;
      keyOf = (k) => `${tenant}!${k.slice(prefix.length)}`;
    } else if (q.status) {
      sublevel = this.sub.shipmentsByStatus;
      prefix = `${tenant}!${q.status}!`;
      keyOf = (k) => `${tenant}!${k.slice(prefix.length)}`;
    } else if (q.carrier) {
      prefix = `${tenant}!${q.carrier}!`;
    }
    const keys: string[] = [];
    let last: string | undefined;
    const lower = q.cursor && q.cursor.startsWith(prefix) ? { gt: q.cursor } : { gte: prefix };
    for await (const k of sublevel.keys({ ...lower, lt: `${prefix}\xff`, limit })) {
      keys.push(keyOf(k));
      last = k;
    }
    const shipments = (await this.getMany(keys)).filter((s): s is IndexedShipment => s !== undefined);
    return { shipments, ...(keys.length >= limit && last ? { cursor: last } : {}) };
  }

  /** By a part of the buyer's name: the index of name words gives candidates, the whole name decides. */
  private async byName(tenant: string, name: string, limit: number): Promise<{ shipments: IndexedShipment[] }> {
    const wanted = name.toLowerCase().trim();
    const first = nameWords(wanted)[0];
    if (!first) return { shipments: [] };
    const prefix = `${tenant}!n!${first}`;
    const keys = new Set<string>();
    for await (const k of this.sub.shipmentsByContact.keys({ gte: prefix, lt: `${prefix}\xff`, limit: limit * 20 })) {
      const parts = k.split('!');
      keys.add(`${tenant}!${parts.at(-2)}!${parts.at(-1)}`);
    }
    const found = (await this.getMany([...keys])).filter((s): s is IndexedShipment => s !== undefined && (s.name ?? '').toLowerCase().includes(wanted));
    return { shipments: found.slice(0, limit) };
  }

  async countByStatus(tenant: string): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    const prefix = `${tenant}!`;
    for await (const k of this.sub.shipmentsByStatus.keys({ gte: prefix, lt: `${prefix}\xff` })) {
      const status = k.slice(prefix.length, k.indexOf('!', prefix.length));
      counts[status] = (counts[status] ?? 0) + 1;
    }
    return counts;
  }

  async dueNotices(now: number, limit: number): Promise<NoticeEntry[]> {
    const out: NoticeEntry[] = [];
    for await (const key of this.sub.notices.keys({ lte: `${sortableTime(now)}!\xff`, limit })) out.push(parseNoticeKey(key));
    return out;
  }

  async noticesOf(tenant: string, carrier?: string, code?: string): Promise<NoticeEntry[]> {
    const out: NoticeEntry[] = [];
    for await (const key of this.sub.notices.keys()) {
      const n = parseNoticeKey(key);
      if (n.tenant === tenant && (carrier === undefined || (n.carrier === carrier && n.code === code))) out.push(n);
    }
    return out;
  }

  async blacklisted(tenant: string, kind: 'email' | 'phone', value: string): Promise<BlacklistEntry | undefined> {
    return (await this.sub.blacklist.get(blacklistKey(tenant, kind, value))) as BlacklistEntry | undefined;
  }

  async unblacklist(tenant: string, kind: 'email' | 'phone', value: string): Promise<boolean> {
    const key = blacklistKey(tenant, kind, value);
    if ((await this.sub.blacklist.get(key)) === undefined) return false;
    await this.sub.blacklist.del(key);
    return true;
  }

  async blacklist(tenant: string, limit: number): Promise<BlacklistEntry[]> {
    const out: BlacklistEntry[] = [];
    for await (const v of this.sub.blacklist.values({ gte: `${tenant}!`, lt: `${tenant}!\xff`, limit })) out.push(v as BlacklistEntry);
    return out;
  }

  async settings(tenant: string): Promise<unknown> {
    return this.sub.tracking.get(`settings!${tenant}`);
  }

  async saveSettings(tenant: string, settings: unknown): Promise<void> {
    await this.sub.tracking.put(`settings!${tenant}`, settings, { sync: true } as never);
  }

  async tenantsWithSettings(): Promise<string[]> {
    const out: string[] = [];
    for await (const k of this.sub.tracking.keys({ gte: 'settings!', lt: 'settings!\xff' })) out.push(k.slice('settings!'.length));
    return out;
  }

  async quotaUsed(tenant: string, month: string): Promise<number> {
    return ((await this.sub.tracking.get(`quota!${tenant}!${month}`)) as number | undefined) ?? 0;
  }

  async nextReport(tenant: string): Promise<number | undefined> {
    return (await this.sub.tracking.get(`report!${tenant}`)) as number | undefined;
  }
}
