// ShipmentRecords on PostgreSQL: the poll schedule is shipments.next_check_at (set while active),
// the status and contact lookups are indexes, notices a table keyed by sending time. A list's cursor
// is "<carrier>!<code>" of its last shipment.
import type pg from 'pg';
import { shipmentKey, type BlacklistEntry, type IndexedShipment, type NoticeEntry, type ShipmentQuery, type ShipmentRecords } from '../ports.js';
import { clean, jsonText, likePattern } from './text.js';

const noticeOf = (x: Record<string, unknown>): NoticeEntry => ({
  sendAt: Number(x.send_at), tenant: x.tenant as string, carrier: x.carrier as string, code: x.code as string, status: x.status as string, channel: x.channel as string,
});

export class PgShipments implements ShipmentRecords {
  constructor(private readonly pool: pg.Pool) {}

  async getMany(keys: string[]): Promise<Array<IndexedShipment | undefined>> {
    if (keys.length === 0) return [];
    const parts = keys.map((k) => {
      const a = k.indexOf('!');
      const b = k.indexOf('!', a + 1);
      return [k.slice(0, a), k.slice(a + 1, b), k.slice(b + 1)].map(clean);
    });
    const r = await this.pool.query(
      `select k.ord, s.record from unnest($1::text[], $2::text[], $3::text[]) with ordinality as k(tenant, carrier, code, ord)
       join shipments as s using (tenant, carrier, code)`,
      [parts.map((p) => p[0]), parts.map((p) => p[1]), parts.map((p) => p[2])],
    );
    const out: Array<IndexedShipment | undefined> = new Array(keys.length).fill(undefined);
    for (const row of r.rows) out[Number(row.ord) - 1] = row.record as IndexedShipment;
    return out;
  }

  async dueShipments(now: number, limit: number): Promise<Array<{ key: string; at: number; entry: string }>> {
    const r = await this.pool.query(
      'select tenant, carrier, code, next_check_at from shipments where next_check_at <= $1 order by next_check_at, tenant, carrier, code limit $2',
      [now, limit],
    );
    return r.rows.map((x) => {
      const key = shipmentKey(x.tenant, x.carrier, x.code);
      return { key, at: Number(x.next_check_at), entry: key };
    });
  }

  async list(tenant: string, q: ShipmentQuery, carriers: readonly string[]): Promise<{ shipments: IndexedShipment[]; cursor?: string }> {
    const limit = q.limit ?? 100;
    if (q.code) {
      const code = q.code.toUpperCase().replace(/\s+/g, '');
      const r = await this.pool.query('select record from shipments where tenant = $1 and code = $2 and carrier = any($3::text[]) order by array_position($3::text[], carrier)', [clean(tenant), clean(code), [...carriers]]);
      return { shipments: r.rows.map((x) => x.record as IndexedShipment) };
    }
    if (q.name) {
      const r = await this.pool.query(`select record from shipments where tenant = $1 and name_lower like $2 escape '\\' order by carrier, code limit $3`,
        [clean(tenant), likePattern(q.name), limit]);
      return { shipments: r.rows.map((x) => x.record as IndexedShipment) };
    }
    const [column, value] = q.email ? ['email', q.email.toLowerCase()] : q.phone ? ['phone', q.phone] : q.reference ? ['order_ref', q.reference.toLowerCase()] : q.status ? ['status', q.status] : q.carrier ? ['carrier', q.carrier] : [undefined, undefined];
    const sep = q.cursor?.indexOf('!') ?? -1;
    const after = q.cursor && sep > 0 ? { carrier: clean(q.cursor.slice(0, sep)), code: clean(q.cursor.slice(sep + 1)) } : { carrier: '', code: '' };
    const r = await this.pool.query(
      `select carrier, code, record from shipments
       where tenant = $1 ${column ? `and ${column} = $4` : ''} and (carrier, code) > ($2, $3)
       order by carrier, code limit ${column ? '$5' : '$4'}`,
      column ? [clean(tenant), after.carrier, after.code, clean(value!), limit] : [clean(tenant), after.carrier, after.code, limit],
    );
    const last = r.rows.at(-1);
    return { shipments: r.rows.map((x) => x.record as IndexedShipment), ...(r.rows.length >= limit && last ? { cursor: `${last.carrier}!${last.code}` } : {}) };
  }

  async countByStatus(tenant: string): Promise<Record<string, number>> {
    const r = await this.pool.query('select status, count(*)::integer as n from shipments where tenant = $1 group by status', [clean(tenant)]);
    return Object.fromEntries(r.rows.map((x) => [x.status as string, x.n as number]));
  }

  async dueNotices(now: number, limit: number): Promise<NoticeEntry[]> {
    const r = await this.pool.query('select * from notices where send_at <= $1 order by send_at, tenant, carrier, code, status, channel limit $2', [now, limit]);
    return r.rows.map(noticeOf);
  }

  async noticesOf(tenant: string, carrier?: string, code?: string): Promise<NoticeEntry[]> {
    const r = carrier === undefined
      ? await this.pool.query('select * from notices where tenant = $1 order by send_at, carrier, code, status, channel', [clean(tenant)])
      : await this.pool.query('select * from notices where tenant = $1 and carrier = $2 and code = $3 order by send_at', [clean(tenant), clean(carrier), clean(code ?? '')]);
    return r.rows.map(noticeOf);
  }

  async blacklisted(tenant: string, kind: 'email' | 'phone', value: string): Promise<BlacklistEntry | undefined> {
    const r = await this.pool.query('select entry from blacklist where tenant = $1 and kind = $2 and value = $3', [clean(tenant), kind, clean(value)]);
    return r.rows[0]?.entry as BlacklistEntry | undefined;
  }

  async unblacklist(tenant: string, kind: 'email' | 'phone', value: string): Promise<boolean> {
    const r = await this.pool.query('delete from blacklist where tenant = $1 and kind = $2 and value = $3', [clean(tenant), kind, clean(value)]);
    return (r.rowCount ?? 0) > 0;
  }

  async blacklist(tenant: string, limit: number): Promise<BlacklistEntry[]> {
    const r = await this.pool.query('select entry from blacklist where tenant = $1 order by kind, value limit $2', [clean(tenant), limit]);
    return r.rows.map((x) => x.entry as BlacklistEntry);
  }

  async settings(tenant: string): Promise<unknown> {
    const r = await this.pool.query('select settings from tracking_settings where tenant = $1', [clean(tenant)]);
    return r.rows[0]?.settings;
  }

  async saveSettings(tenant: string, settings: unknown): Promise<void> {
    await this.pool.query('insert into tracking_settings (tenant, settings) values ($1, $2::jsonb) on conflict (tenant) do update set settings = excluded.settings', [clean(tenant), jsonText(settings)]);
  }

  async tenantsWithSettings(): Promise<string[]> {
    const r = await this.pool.query('select tenant from tracking_settings order by tenant');
    return r.rows.map((x) => x.tenant as string);
  }

  async quotaUsed(tenant: string, month: string): Promise<number> {
    const r = await this.pool.query('select used from tracking_quota where tenant = $1 and month = $2', [clean(tenant), month]);
    return r.rows[0] ? Number(r.rows[0].used) : 0;
  }

  async nextReport(tenant: string): Promise<number | undefined> {
    const r = await this.pool.query('select at from tracking_reports where tenant = $1', [clean(tenant)]);
    return r.rows[0] ? Number(r.rows[0].at) : undefined;
  }
}
