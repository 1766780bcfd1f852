// EventStore on PostgreSQL: one row per event, ordered by (time, seq); the error log is the
// partial index of is_error rows per tenant. Cursors are "<time>!<seq>".
import type pg from 'pg';
import type { ErrorQuery, EventStore } from '../ports.js';
import { UNCOUNTED_TYPES, type QueueEvent } from '../records.js';
import { clean } from './text.js';

export class PgEvents implements EventStore {
  constructor(private readonly pool: pg.Pool) {}

  async errors(tenant: string, q: ErrorQuery): Promise<{ events: QueueEvent[]; cursor?: string }> {
    const limit = q.limit ?? 50;
    const cursor = parseCursor(q.cursor);
    const r = await this.pool.query({
      name: 'mg-errors',
      text: `select time, seq, event from events
       where is_error and type <> 'sender-rewritten' and tenant = $1 and time >= $2 and time < $3 and (time, seq) < ($4, $5) and ($6::text is null or class = $6)
       order by time desc, seq desc limit $7`,
      values: [clean(tenant), q.since ?? 0, q.until ?? Number.MAX_SAFE_INTEGER, cursor?.time ?? Number.MAX_SAFE_INTEGER, cursor?.seq ?? 0, q.class === undefined ? null : clean(q.class), limit],
    });
    const events = r.rows.map((x) => x.event as QueueEvent);
    const last = r.rows.at(-1);
    return { events, ...(events.length >= limit && last ? { cursor: `${last.time}!${last.seq}` } : {}) };
  }

  async countErrors(tenant: string, since: number): Promise<number> {
    const r = await this.pool.query(`select count(*)::integer as n from events where is_error and type <> all($3::text[]) and type <> 'sender-rewritten' and tenant = $1 and time >= $2`, [clean(tenant), since, UNCOUNTED_TYPES]);
    return r.rows[0].n as number;
  }

  async prune(before: number, limit: number): Promise<number> {
    const r = await this.pool.query('delete from events where seq in (select seq from events where time < $1 order by time, seq limit $2)', [before, limit]);
    return r.rowCount ?? 0;
  }

  async byRecipient(address: string, limit: number): Promise<QueueEvent[]> {
    const r = await this.pool.query('select event from events where recipient = lower($1) order by time, seq limit $2', [clean(address), limit]);
    return r.rows.map((x) => x.event as QueueEvent);
  }

  async byMessage(msgId: string, limit: number): Promise<QueueEvent[]> {
    const r = await this.pool.query('select event from events where msg_id = $1 order by time, seq limit $2', [clean(msgId), limit]);
    return r.rows.map((x) => x.event as QueueEvent);
  }

  async deliveredSince(tenant: string, address: string, since: number, except: string): Promise<boolean> {
    const r = await this.pool.query(
      `select 1 from events where recipient = lower($1) and time >= $2 and type = 'delivered' and tenant = $3 and msg_id <> $4 limit 1`,
      [clean(address), since, clean(tenant), clean(except)],
    );
    return r.rows.length > 0;
  }

  async recent(limit: number): Promise<QueueEvent[]> {
    const r = await this.pool.query('select event from events order by time desc, seq desc limit $1', [limit]);
    return r.rows.map((x) => x.event as QueueEvent);
  }
}

/** "<time>!<seq>" of an error-log page. */
export function parseCursor(cursor: string | undefined): { time: number; seq: number } | undefined {
  if (!cursor) return undefined;
  const [time, seq] = cursor.split('!').map(Number);
  return Number.isSafeInteger(time) && Number.isSafeInteger(seq) ? { time: time!, seq: seq! } : undefined;
}
