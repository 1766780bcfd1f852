// MessageStore on PostgreSQL: the schedule is messages.due_at, the keep list messages.kept_until, a
// tenant's list the (tenant, created_at desc, id desc) index; cursors are "<created_at>!<id>".
// The schedule, the keep list and the queue are this node's (its bodies are on its disk); records,
// lists and searches are the cluster's.
import type pg from 'pg';
import type { MessageHolder, MessageListQuery, MessageStore } from '../ports.js';
import type { MessageRecord } from '../records.js';
import { clean } from './text.js';
import { inTransaction } from './transaction.js';

const PAGE = 500;

export class PgMessages implements MessageStore {
  constructor(private readonly pool: pg.Pool, private readonly node: string) {}

  async get(id: string): Promise<MessageRecord | undefined> {
    const r = await this.pool.query('select record from messages where id = $1', [clean(id)]);
    return r.rows[0]?.record as MessageRecord | undefined;
  }

  async byMessageId(messageId: string): Promise<string | undefined> {
    const r = await this.pool.query('select id from messages where message_id = lower($1) order by created_at desc limit 1', [clean(messageId)]);
    return r.rows[0]?.id as string | undefined;
  }

  async byReference(tenant: string, reference: string, limit: number): Promise<string[]> {
    const r = await this.pool.query('select msg_id from message_refs where tenant = $1 and reference = lower($2) order by msg_id limit $3', [clean(tenant), clean(reference), limit]);
    return r.rows.map((x) => x.msg_id as string);
  }

  listByTenant(tenant: string, q: MessageListQuery): Promise<{ messages: MessageRecord[]; cursor?: string }> {
    return filteredPages(q, (after, take) => this.pool.query(
      `select created_at, id, record from messages
       where tenant = $1 and created_at >= $2 and created_at < $3 and (created_at, id) < ($4, $5)
       order by created_at desc, id desc limit $6`,
      [clean(tenant), q.from ?? 0, q.to ?? Number.MAX_SAFE_INTEGER, after?.time ?? Number.MAX_SAFE_INTEGER, after?.id ?? '', take],
    ));
  }

  async due(now: number, limit: number): Promise<Array<{ id: string; dueAt: number }>> {
    const r = await this.pool.query(`select id, due_at from messages as m where node = $3 and due_at <= $1
       and not exists (select 1 from handed_over_bodies as h where h.msg_id = m.id)
       order by due_at, id limit $2`, [now, limit, this.node]);
    return r.rows.map((x) => ({ id: x.id as string, dueAt: Number(x.due_at) }));
  }

  async nextDue(): Promise<number | undefined> {
    const r = await this.pool.query('select due_at from messages where node = $1 and due_at is not null order by due_at limit 1', [this.node]);
    return r.rows[0] ? Number(r.rows[0].due_at) : undefined;
  }

  async *queued(): AsyncGenerator<MessageRecord> {
    let after = { due: -1, id: '' };
    for (;;) {
      const r = await this.pool.query('select due_at, id, record from messages where node = $4 and due_at is not null and (due_at, id) > ($1, $2) order by due_at, id limit $3', [after.due, after.id, PAGE, this.node]);
      for (const row of r.rows) {
        after = { due: Number(row.due_at), id: row.id as string };
        yield row.record as MessageRecord;
      }
      if (r.rows.length < PAGE) return;
    }
  }

  async oldestQueuedId(): Promise<string | undefined> {
    const r = await this.pool.query('select min(id) as id from messages where node = $1 and due_at is not null', [this.node]);
    return (r.rows[0]?.id as string | null) ?? undefined;
  }

  async depth(): Promise<number> {
    const r = await this.pool.query('select count(*)::integer as n from messages where node = $1 and due_at is not null', [this.node]);
    return r.rows[0].n as number;
  }

  async *keptUntil(now: number): AsyncGenerator<{ id: string; keptUntil: number }> {
    const r = await this.pool.query('select id, kept_until from messages where node = $2 and kept_until <= $1 order by kept_until, id', [now, this.node]);
    for (const row of r.rows) yield { id: row.id as string, keptUntil: Number(row.kept_until) };
  }

  /** Hand-over between nodes (mailgate node drain): the body waits in the database until its adopter spools it. */
  async handOver(id: string, body: Buffer): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      const r = await c.query('update messages set node = null where id = $1 and node = $2 and due_at is not null', [clean(id), this.node]);
      if ((r.rowCount ?? 0) === 0) return;
      await c.query(`insert into handed_over_bodies (msg_id, body, handed_at) values ($1, $2, (extract(epoch from clock_timestamp()) * 1000)::bigint)
        on conflict (msg_id) do update set body = excluded.body`, [clean(id), body]);
    });
  }

  async adopt(limit: number): Promise<Array<{ record: MessageRecord; body: Buffer }>> {
    await this.pool.query(
      `update messages set node = $1 where id in (
         select id from messages where node is null and due_at is not null order by due_at, id limit $2 for update skip locked)`,
      [this.node, limit],
    );
    // with those this node took before and had not finished (it stopped between taking and spooling)
    const r = await this.pool.query(
      'select m.record, h.body from messages as m join handed_over_bodies as h on h.msg_id = m.id where m.node = $1 order by m.due_at, m.id limit $2',
      [this.node, limit],
    );
    return r.rows.map((x) => ({ record: x.record as MessageRecord, body: x.body as Buffer }));
  }

  async holder(id: string): Promise<MessageHolder | undefined> {
    // The heartbeat's age by the database's clock, as the nodes write it.
    const r = await this.pool.query(`select m.node, n.name, (extract(epoch from clock_timestamp()) * 1000)::bigint - n.heartbeat_at as silent_ms
      from messages as m left join nodes as n on n.id = m.node where m.id = $1 and (m.due_at is not null or m.kept_until is not null)`, [clean(id)]);
    const row = r.rows[0] as { node: string | null; name: string | null; silent_ms: string | null } | undefined;
    if (!row) return undefined;
    if (row.node === null) return 'nobody';
    return row.node === this.node ? 'here' : { node: row.node, name: row.name ?? row.node, silentMs: row.silent_ms === null ? Infinity : Number(row.silent_ms) };
  }

  async prune(before: number, now: number, limit: number): Promise<number> {
    const r = await this.pool.query(`with gone as (
        delete from messages where id in (select id from messages where created_at < $1 and due_at is null and (kept_until is null or kept_until <= $2) limit $3)
        returning id, tenant),
      refs as (delete from message_refs as r using gone where r.msg_id = gone.id and r.tenant = gone.tenant)
      select count(*)::integer as n from gone`, [before, now, limit]);
    return r.rows[0].n as number;
  }

  async *withBodies(): AsyncGenerator<MessageRecord> {
    let after = '';
    for (;;) {
      const r = await this.pool.query(`select id, record from messages as m where node = $3 and (due_at is not null or kept_until is not null) and id > $1
         and not exists (select 1 from handed_over_bodies as h where h.msg_id = m.id)
         order by id limit $2`, [after, PAGE, this.node]);
      for (const row of r.rows) {
        after = row.id as string;
        yield row.record as MessageRecord;
      }
      if (r.rows.length < PAGE) return;
    }
  }
}

/**
 * A newest-first page of `q.limit` messages that pass `q.filter`, read in batches from `fetch`
 * (rows of created_at, id, record after a position), with bounded work: at most 50 rows per wanted
 * message; the cursor continues from the last row read.
 */
export async function filteredPages(
  q: MessageListQuery,
  fetch: (after: { time: number; id: string } | undefined, take: number) => Promise<pg.QueryResult>,
): Promise<{ messages: MessageRecord[]; cursor?: string }> {
  const messages: MessageRecord[] = [];
  let after = parseCursor(q.cursor);
  let scanned = 0;
  const budget = q.limit * 50;
  for (;;) {
    const take = Math.min(PAGE, budget - scanned);
    const r = await fetch(after, take);
    for (const row of r.rows) {
      scanned++;
      after = { time: Number(row.created_at), id: row.id as string };
      const rec = row.record as MessageRecord;
      if (!q.filter || q.filter(rec)) messages.push(rec);
      if (messages.length >= q.limit || scanned >= budget) return { messages, cursor: `${after.time}!${after.id}` };
    }
    if (r.rows.length < take) return { messages };
  }
}

function parseCursor(cursor: string | undefined): { time: number; id: string } | undefined {
  if (!cursor) return undefined;
  const sep = cursor.indexOf('!');
  const time = Number(cursor.slice(0, sep));
  if (sep < 0 || !Number.isSafeInteger(time)) return undefined;
  return { time, id: clean(cursor.slice(sep + 1)) };
}
