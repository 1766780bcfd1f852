// The operator's views on PostgreSQL: the per-tenant queries without their tenant condition. A
// messages page walks the tenants through the (tenant, created_at) index (a loose index scan)
// and takes each tenant's newest rows, so no index on time alone is needed; the error log has its
// own index by time. Cursors: "<time>!<id>" (messages), "<time>!<seq>" (errors),
// "<tenant>!<carrier>!<code>" (shipments).
import type pg from 'pg';
import type { AcrossTenants, ErrorQuery, IndexedShipment, MessageListQuery, ShipmentQuery, SuppressionEntry } from '../ports.js';
import type { MessageRecord, QueueEvent } from '../records.js';
import { parseCursor } from './events.js';
import type { PgSuppression } from './lists.js';
import { filteredPages } from './messages.js';
import { clean, likePattern } from './text.js';

/** The distinct tenants of `messages`, one index probe each. */
const TENANTS = `with recursive t(tenant) as (
  select min(tenant) from messages
  union all
  select (select min(tenant) from messages where tenant > t.tenant) from t where t.tenant is not null)`;

export class PgAcrossTenants implements AcrossTenants {
  constructor(private readonly pool: pg.Pool, private readonly lists: PgSuppression) {}

  messages(q: MessageListQuery): Promise<{ messages: MessageRecord[]; cursor?: string }> {
    return filteredPages(q, (after, take) => this.pool.query(
      `${TENANTS}
       select m.created_at, m.id, m.record from t cross join lateral (
         select created_at, id, record from messages
         where tenant = t.tenant and created_at >= $1 and created_at < $2 and (created_at, id) < ($3, $4)
         order by created_at desc, id desc limit $5) as m
       order by m.created_at desc, m.id desc limit $5`,
      [q.from ?? 0, q.to ?? Number.MAX_SAFE_INTEGER, after?.time ?? Number.MAX_SAFE_INTEGER, after?.id ?? '', take],
    ));
  }

  async errors(q: ErrorQuery): Promise<{ events: QueueEvent[]; cursor?: string }> {
    const limit = q.limit ?? 50;
    const cursor = parseCursor(q.cursor);
    const r = await this.pool.query({
      name: 'mg-errors-all',
      text: `select time, seq, event from events
       where is_error and time >= $1 and time < $2 and (time, seq) < ($3, $4) and ($5::text is null or class = $5)
       order by time desc, seq desc limit $6`,
      values: [q.since ?? 0, q.until ?? Number.MAX_SAFE_INTEGER, cursor?.time ?? Number.MAX_SAFE_INTEGER, cursor?.seq ?? 0, q.class === undefined ? null : clean(q.class), limit],
    });
    const last = r.rows.at(-1);
    return { events: r.rows.map((x) => x.event as QueueEvent), ...(r.rows.length >= limit && last ? { cursor: `${last.time}!${last.seq}` } : {}) };
  }

  async countErrors(since: number): Promise<number> {
    const r = await this.pool.query('select count(*)::integer as n from events where is_error and time >= $1', [since]);
    return r.rows[0].n as number;
  }

  async byReference(reference: string, limit: number): Promise<Array<{ tenant: string; id: string }>> {
    const r = await this.pool.query('select tenant, msg_id from message_refs where reference = lower($1) order by tenant, msg_id limit $2', [clean(reference), limit]);
    return r.rows.map((x) => ({ tenant: x.tenant as string, id: x.msg_id as string }));
  }

  suppression(q: { address?: string; reason?: string; limit?: number }): Promise<SuppressionEntry[]> {
    return this.lists.listAll(q);
  }

  async shipments(q: ShipmentQuery, carriers: readonly string[]): Promise<{ shipments: IndexedShipment[]; cursor?: string }> {
    const limit = q.limit ?? 100;
    if (q.code) {
      const code = q.code.toUpperCase().replace(/\s+/g, '');
      const r = await this.pool.query('select record from shipments where code = $1 and carrier = any($2::text[]) order by tenant, array_position($2::text[], carrier) limit $3', [clean(code), [...carriers], limit]);
      return { shipments: r.rows.map((x) => x.record as IndexedShipment) };
    }
    if (q.name) {
      const r = await this.pool.query(`select record from shipments where name_lower like $1 escape '\\' order by tenant, carrier, code limit $2`, [likePattern(q.name), limit]);
      return { shipments: r.rows.map((x) => x.record as IndexedShipment) };
    }
    const [column, value] = q.email ? ['email', q.email.toLowerCase()] : q.phone ? ['phone', q.phone] : q.reference ? ['order_ref', q.reference.toLowerCase()] : q.status ? ['status', q.status] : [undefined, undefined];
    const [tenant = '', carrier = '', ...code] = (q.cursor ?? '').split('!');
    const r = await this.pool.query(
      `select tenant, carrier, code, record from shipments
       where ($5::text is null or ${column ?? 'status'} = $5) and (tenant, carrier, code) > ($1, $2, $3)
       order by tenant, carrier, code limit $4`,
      [clean(tenant), clean(carrier), clean(code.join('!')), limit, column ? clean(value!) : null],
    );
    const last = r.rows.at(-1);
    return { shipments: r.rows.map((x) => x.record as IndexedShipment), ...(r.rows.length >= limit && last ? { cursor: `${last.tenant}!${last.carrier}!${last.code}` } : {}) };
  }
}
