// StoreOps as SQL: a transaction's ops are sorted by kind and each kind is written by one statement
// that takes all of its rows as one jsonb array, so a group commit of any size costs a handful of
// round trips. Writes of state (a record, a counter) keep the last op per key, as applying them in
// order would; appends (events, webhook deliveries, references) keep every op.
import type pg from 'pg';
import { isErrorEvent, keepLaterOutcomes, type MessageRecord, type RecipientOutcome } from '../records.js';
import type { IndexedShipment, NoticeEntry, StoreOp } from '../ports.js';
import { jsonText } from './text.js';
import { STAT_COLUMNS } from './stats.js';
import { STAT_COUNTERS, statIncrements } from '../stats.js';

type Kind = StoreOp['kind'];
type OpOf<K extends Kind> = Extract<StoreOp, { kind: K }>;

/** The last op per key, in first-seen key order. */
function lastPerKey<T>(items: T[], key: (t: T) => string): T[] {
  const m = new Map<string, T>();
  for (const t of items) m.set(key(t), t);
  return [...m.values()];
}

/** The last whole-record write per message, carrying the later outcomes of earlier ones in the group (keepLaterOutcomes). */
function lastRecordPerMessage<T extends { record: MessageRecord }>(ops: T[]): Map<string, T> {
  const m = new Map<string, T>();
  for (const o of ops) {
    const before = m.get(o.record.id);
    m.set(o.record.id, before ? { ...o, record: keepLaterOutcomes(before.record, o.record) } : o);
  }
  return m;
}

const noticeId = (n: NoticeEntry) => JSON.stringify([n.sendAt, n.tenant, n.carrier, n.code, n.status, n.channel]);

function shipmentRow(s: IndexedShipment) {
  return {
    tenant: s.tenant, carrier: s.carrier, code: s.code, status: s.status,
    next: s.active && s.nextCheckAt !== undefined ? s.nextCheckAt : null,
    email: s.email ? s.email.toLowerCase() : null,
    phone: s.phoneE164 ?? null,
    order: s.orderReference ? s.orderReference.toLowerCase() : null,
    // Lower-cased here, not by the database: lower() in a "C" locale leaves Cyrillic as it is.
    nameLower: s.name ? s.name.toLowerCase() : null,
    record: s,
  };
}

/**
 * keepLaterOutcomes in SQL: the written record x->'record' with each recipient's outcome the later of
 * its own and the stored one's (m.record, the row as this transaction has it locked).
 */
const KEEP_LATER_OUTCOMES = `case when not m.record->'recipients' @> '[{"outcome": {}}]' then x->'record'
  else jsonb_set(x->'record', '{recipients}', (
    select coalesce(jsonb_agg(case when s.o is not null and (w.e->'outcome' is null or (s.o->>'time')::numeric > (w.e->'outcome'->>'time')::numeric)
      then w.e || jsonb_build_object('outcome', s.o) else w.e end order by w.n), '[]'::jsonb)
    from jsonb_array_elements(x->'record'->'recipients') with ordinality as w(e, n)
    left join lateral (select st.r->'outcome' as o from jsonb_array_elements(m.record->'recipients') as st(r)
      where st.r->>'address' = w.e->>'address' and st.r ? 'outcome' limit 1) as s on true)) end`;

const dueOf = (r: MessageRecord) => (r.state === 'queued' ? r.dueAt : null);

/** Runs `ops` as statements on `client` (inside the caller's transaction); new messages become `node`'s. */
export async function writeOps(client: pg.PoolClient, ops: StoreOp[], node: string): Promise<void> {
  const by = new Map<Kind, StoreOp[]>();
  for (const op of ops) {
    const list = by.get(op.kind);
    if (list) list.push(op);
    else by.set(op.kind, [op]);
  }
  const get = <K extends Kind>(k: K) => (by.get(k) ?? []) as OpOf<K>[];
  const run = async (sql: string, rows: unknown[], ...more: unknown[]) => {
    if (rows.length > 0) await client.query(sql, [jsonText(rows), ...more]);
  };

  const adds = lastPerKey(get('message.add'), (o) => o.record.id);
  await run(`insert into messages (id, tenant, created_at, due_at, message_id, node, record)
    select r->>'id', r->>'tenant', (r->>'createdAt')::bigint, (x->>'due')::bigint, lower(r->>'messageId'), $2, r
    from jsonb_array_elements($1::jsonb) as x, lateral (select x->'record' as r) as y
    on conflict (id) do update set tenant = excluded.tenant, created_at = excluded.created_at, due_at = excluded.due_at,
      message_id = excluded.message_id, record = excluded.record`,
  adds.map((o) => ({ record: o.record, due: dueOf(o.record) })), node);

  const refs = [
    ...adds.flatMap((o) => [o.record.reference, o.record.messageId].filter((x): x is string => Boolean(x)).map((reference) => ({ tenant: o.record.tenant, reference, msgId: o.record.id }))),
    ...get('reference.add'),
  ];
  await run(`insert into message_refs (tenant, reference, msg_id)
    select x->>'tenant', lower(x->>'reference'), x->>'msgId' from jsonb_array_elements($1::jsonb) as x
    on conflict do nothing`, refs.map((r) => ({ tenant: r.tenant, reference: r.reference, msgId: r.msgId })));

  // A recipient's stored outcome stays unless the record written has a later one (keepLaterOutcomes):
  // computed from m.record in the statement itself, so against the row as it is when this transaction
  // has it locked — a bounce another node committed meanwhile included. Two updates of one message in
  // a group are merged alike before.
  const updates = lastRecordPerMessage(get('message.update'));
  await run(`update messages as m set record = ${KEEP_LATER_OUTCOMES},
      due_at = (x->>'due')::bigint, kept_until = coalesce((x->>'keepUntil')::bigint, m.kept_until)
    from jsonb_array_elements($1::jsonb) as x where m.id = x->'record'->>'id'`,
  [...updates.values()].map((o) => ({ record: o.record, due: dueOf(o.record), keepUntil: o.keepUntil ?? null })));

  // Outcomes are set on the stored record (after this group's updates of it), one statement per group:
  // each message's outcomes by recipient address, the last per recipient.
  const outcomes = new Map<string, Record<string, RecipientOutcome>>();
  for (const o of get('message.outcome')) outcomes.set(o.id, { ...outcomes.get(o.id), [o.address]: o.outcome });
  await run(`update messages as m set record = jsonb_set(m.record, '{recipients}', (
      select coalesce(jsonb_agg(case when x->'outcomes' ? (e->>'address') then e || jsonb_build_object('outcome', x->'outcomes'->(e->>'address')) else e end order by n), '[]'::jsonb)
      from jsonb_array_elements(m.record->'recipients') with ordinality as t(e, n)))
    from jsonb_array_elements($1::jsonb) as x where m.id = x->>'id'`,
  [...outcomes].map(([id, byAddress]) => ({ id, outcomes: byAddress })));

  // An adopted record was read when the message was handed over: a bounce recorded since (by any
  // node, or earlier in this group) is kept as message.update keeps it.
  const adopted = lastRecordPerMessage(get('message.adopted'));
  await run(`update messages as m set record = ${KEEP_LATER_OUTCOMES} from jsonb_array_elements($1::jsonb) as x where m.id = x->'record'->>'id' and m.node = $2`,
    [...adopted.values()].map((o) => ({ record: o.record })), node);
  await run(`delete from handed_over_bodies as h using jsonb_array_elements($1::jsonb) as x where h.msg_id = x->>'id'`, [...adopted.keys()].map((id) => ({ id })));

  await run(`update messages as m set kept_until = null from jsonb_array_elements($1::jsonb) as x
    where m.id = x->>'id' and m.kept_until = (x->>'keptUntil')::bigint`,
  get('message.released').map((o) => ({ id: o.id, keptUntil: o.keptUntil })));

  // The events, and the delivery statistics of those actually inserted (an event written twice counts once).
  const events = get('event.add');
  await run(`with ins as (
      insert into events (id, time, type, tenant, msg_id, recipient, class, is_error, event)
      select x->>'id', (e->>'time')::bigint, e->>'type', e->>'tenant', e->>'msgId', lower(e->>'recipient'), e->>'class', (x->>'isError')::boolean, e
      from jsonb_array_elements($1::jsonb) with ordinality as a(x, n), lateral (select x->'event' as e) as y
      order by n
      on conflict (id) do nothing
      returning id),
    inc as (select s->>'tenant' as tenant, s->>'dim' as dim, s->>'value' as value, (s->>'bucket')::bigint as bucket, s->>'counter' as c
      from jsonb_array_elements($2::jsonb) as s where s->>'id' in (select id from ins))
    insert into delivery_stats as d (tenant, dim, value, bucket, ${STAT_COLUMNS.join(', ')})
    select tenant, dim, value, bucket, ${STAT_COUNTERS.map((c) => `count(*) filter (where c = '${c}')`).join(', ')}
    from inc group by tenant, dim, bucket, value order by tenant, dim, bucket, value
    on conflict (tenant, dim, bucket, value) do update set ${STAT_COLUMNS.map((c) => `${c} = d.${c} + excluded.${c}`).join(', ')}`,
  events.map((o) => ({ id: o.id, event: o.event, isError: isErrorEvent(o.event) })),
  jsonText(events.flatMap((o) => statIncrements(o.event).map((i) => ({ id: o.id, ...i })))));

  await run(`insert into suppression (tenant, address, class, reason, entry)
    select x->>'tenant', lower(x->>'address'), x->>'class', x->>'reason', x from jsonb_array_elements($1::jsonb) as x
    on conflict (tenant, address) do update set class = excluded.class, reason = excluded.reason, entry = excluded.entry`,
  lastPerKey(get('suppression.add'), (o) => `${o.entry.tenant}\n${o.entry.address.toLowerCase()}`).map((o) => ({ ...o.entry, address: o.entry.address.toLowerCase() })));

  const soft = lastPerKey([...get('soft-bounces.set'), ...get('soft-bounces.clear')], (o) => `${o.tenant}\n${o.address.toLowerCase()}`);
  await run(`insert into soft_bounces (tenant, address, first, last, count)
    select x->>'tenant', lower(x->>'address'), (x->>'first')::bigint, (x->>'last')::bigint, (x->>'count')::integer from jsonb_array_elements($1::jsonb) as x
    on conflict (tenant, address) do update set first = excluded.first, last = excluded.last, count = excluded.count`,
  soft.flatMap((o) => (o.kind === 'soft-bounces.set' ? [{ tenant: o.tenant, address: o.address, ...o.count }] : [])));
  await run(`delete from soft_bounces as s using jsonb_array_elements($1::jsonb) as x where s.tenant = x->>'tenant' and s.address = lower(x->>'address')`,
    soft.flatMap((o) => (o.kind === 'soft-bounces.clear' ? [{ tenant: o.tenant, address: o.address }] : [])));

  await run(`insert into webhook_outbox (delivery_id, due_at, delivery)
    select x->'delivery'->>'id', (x->>'dueAt')::bigint, x->'delivery' from jsonb_array_elements($1::jsonb) as x
    on conflict (delivery_id) do update set due_at = excluded.due_at, delivery = excluded.delivery`,
  lastPerKey(get('webhook.enqueue'), (o) => o.delivery.id).map((o) => ({ delivery: o.delivery, dueAt: o.dueAt })));

  const shipments = lastPerKey(get('shipment.change'), (o) => {
    const s = (o.after ?? o.before)!;
    return `${s.tenant}\n${s.carrier}\n${s.code}`;
  });
  await run(`insert into shipments (tenant, carrier, code, status, next_check_at, email, phone, order_ref, name_lower, record)
    select x->>'tenant', x->>'carrier', x->>'code', x->>'status', (x->>'next')::bigint, x->>'email', x->>'phone', x->>'order', x->>'nameLower', x->'record'
    from jsonb_array_elements($1::jsonb) as x
    on conflict (tenant, carrier, code) do update set status = excluded.status, next_check_at = excluded.next_check_at,
      email = excluded.email, phone = excluded.phone, order_ref = excluded.order_ref, name_lower = excluded.name_lower, record = excluded.record`,
  shipments.flatMap((o) => (o.after ? [shipmentRow(o.after)] : [])));
  await run(`delete from shipments as s using jsonb_array_elements($1::jsonb) as x
    where s.tenant = x->>'tenant' and s.carrier = x->>'carrier' and s.code = x->>'code'`,
  shipments.flatMap((o) => (o.after ? [] : [{ tenant: o.before!.tenant, carrier: o.before!.carrier, code: o.before!.code }])));
  // shipment.undue: the schedule is a column of the shipment here, never out of step with it: nothing to drop.

  const notices = lastPerKey([...get('notice.add'), ...get('notice.remove')], (o) => noticeId(o.notice));
  await run(`insert into notices (send_at, tenant, carrier, code, status, channel)
    select (x->>'sendAt')::bigint, x->>'tenant', x->>'carrier', x->>'code', x->>'status', x->>'channel' from jsonb_array_elements($1::jsonb) as x
    on conflict do nothing`, notices.flatMap((o) => (o.kind === 'notice.add' ? [o.notice] : [])));
  await run(`delete from notices as n using jsonb_array_elements($1::jsonb) as x
    where n.send_at = (x->>'sendAt')::bigint and n.tenant = x->>'tenant' and n.carrier = x->>'carrier' and n.code = x->>'code'
      and n.status = x->>'status' and n.channel = x->>'channel'`, notices.flatMap((o) => (o.kind === 'notice.remove' ? [o.notice] : [])));

  await run(`insert into blacklist (tenant, kind, value, entry)
    select x->>'tenant', x->>'kind', x->>'value', x from jsonb_array_elements($1::jsonb) as x
    on conflict (tenant, kind, value) do update set entry = excluded.entry`,
  lastPerKey(get('blacklist.add'), (o) => `${o.entry.tenant}\n${o.entry.kind}\n${o.entry.value}`).map((o) => o.entry));

  await run(`insert into tracking_quota (tenant, month, used)
    select x->>'tenant', x->>'month', (x->>'used')::integer from jsonb_array_elements($1::jsonb) as x
    on conflict (tenant, month) do update set used = excluded.used`,
  lastPerKey(get('tracking.quota'), (o) => `${o.tenant}\n${o.month}`).map((o) => ({ tenant: o.tenant, month: o.month, used: o.used })));

  await run(`insert into tracking_reports (tenant, at)
    select x->>'tenant', (x->>'at')::bigint from jsonb_array_elements($1::jsonb) as x
    on conflict (tenant) do update set at = excluded.at`,
  lastPerKey(get('tracking.report'), (o) => o.tenant).map((o) => ({ tenant: o.tenant, at: o.at })));
}
