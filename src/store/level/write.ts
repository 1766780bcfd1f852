// StoreOps as LevelDB writes: each change becomes puts and deletes under the key layout of
// db.ts, then the whole transaction one atomic batch of root-level keys.
import { isErrorEvent, keepLaterOutcomes, setOutcome, type MessageRecord } from '../records.js';
import { shipmentKey, type IndexedShipment, type StoreOp } from '../ports.js';
import { sortableTime, type LevelWrite, type Sublevels } from './db.js';
import { addressKey, blacklistKey, dueKey, eventSuffix, messageIndexKeys, noticeKey, shipmentDueKey } from './keys.js';

/** A change as levelWrites takes it: a message.outcome is made a message.update by withStoredRecords first. */
export type LevelOp = Exclude<StoreOp, { kind: 'message.outcome' }>;

/**
 * The transaction's message changes made against the records as stored (`get` reads them), in
 * order: a message.update (and a message.adopted) keeps the stored outcomes that are later than its own (keepLaterOutcomes);
 * a message.outcome becomes the stored record with that outcome, its schedule entry as it was (none
 * for a message that is gone). Transactions are written one at a time (group commit) by the one
 * process that owns the database, so no record changes between this read and the batch.
 */
export async function withStoredRecords(
  ops: StoreOp[],
  get: (ids: string[]) => Promise<Array<MessageRecord | undefined>>,
  /** False when no outcome can have been stored since the writer read its record: the update is written as it is, unread. */
  mayHaveNewerOutcome: (id: string) => boolean = () => true,
): Promise<LevelOp[]> {
  const ids = [...new Set(ops.flatMap((op) => ((op.kind === 'message.update' || op.kind === 'message.adopted') && mayHaveNewerOutcome(op.record.id) ? [op.record.id] : op.kind === 'message.outcome' ? [op.id] : [])))];
  if (ids.length === 0) return ops as LevelOp[];
  const stored = await get(ids);
  const current = new Map(ids.map((id, i) => [id, stored[i]]));
  const out: LevelOp[] = [];
  for (const op of ops) {
    if (op.kind === 'message.add') {
      current.set(op.record.id, op.record);
      out.push(op);
    } else if (op.kind === 'message.update' || op.kind === 'message.adopted') {
      const record = keepLaterOutcomes(current.get(op.record.id), op.record);
      current.set(record.id, record);
      out.push(record === op.record ? op : { ...op, record });
    } else if (op.kind === 'message.outcome') {
      const was = current.get(op.id);
      if (!was) continue;
      const record = setOutcome(was, op.address, op.outcome);
      current.set(op.id, record);
      out.push({ kind: 'message.update', record, previousDueAt: was.dueAt });
    } else {
      out.push(op);
    }
  }
  return out;
}

/** The LevelDB writes of one change. */
export function levelWrites(sub: Sublevels, op: LevelOp): LevelWrite[] {
  switch (op.kind) {
    case 'message.add': {
      const r = op.record;
      const keys = messageIndexKeys(r);
      return [
        { type: 'put', sublevel: sub.messages, key: r.id, value: r },
        // A message that needs no delivery (every recipient suppressed) gets no schedule entry.
        ...(r.state === 'queued' ? [{ type: 'put' as const, sublevel: sub.due, key: dueKey(r.dueAt, r.id), value: '' }] : []),
        ...(r.messageId ? [{ type: 'put' as const, sublevel: sub.messageIds, key: r.messageId.toLowerCase(), value: r.id }] : []),
        { type: 'put', sublevel: sub.messagesByTenant, key: keys.byTenant, value: '' },
        ...keys.references.map((key) => ({ type: 'put' as const, sublevel: sub.references, key, value: '' })),
      ];
    }
    case 'message.update': {
      const r = op.record;
      return [
        { type: 'put', sublevel: sub.messages, key: r.id, value: r },
        { type: 'del', sublevel: sub.due, key: dueKey(op.previousDueAt, r.id) },
        ...(r.state === 'queued' ? [{ type: 'put' as const, sublevel: sub.due, key: dueKey(r.dueAt, r.id), value: '' }] : []),
        ...(op.keepUntil !== undefined ? [{ type: 'put' as const, sublevel: sub.retained, key: dueKey(op.keepUntil, r.id), value: '' }] : []),
      ];
    }
    case 'message.adopted':
      // One node only: nothing is ever handed over.
      return [{ type: 'put', sublevel: sub.messages, key: op.record.id, value: op.record }];
    case 'message.released':
      return [{ type: 'del', sublevel: sub.retained, key: dueKey(op.keptUntil, op.id) }];
    case 'reference.add':
      return [{ type: 'put', sublevel: sub.references, key: `${op.tenant}!${op.reference.toLowerCase()}!${op.msgId}`, value: '' }];
    case 'event.add': {
      const e = op.event;
      const suffix = eventSuffix(e.time, op.id);
      return [
        { type: 'put', sublevel: sub.events, key: suffix, value: e },
        // The two indexes point at the event (their key ends in its key): a third of the bytes, read
        // back through the events sublevel (events.ts). Entries written before hold the event itself.
        { type: 'put', sublevel: sub.eventsByRecipient, key: `${e.recipient.toLowerCase()}!${suffix}`, value: 0 },
        { type: 'put', sublevel: sub.eventsByMessage, key: `${e.msgId}!${suffix}`, value: 0 },
        // Keyed tenant first, then time: a tenant's newest page and "errors since" are one range read.
        ...(isErrorEvent(e) ? [{ type: 'put' as const, sublevel: sub.errors, key: `${e.tenant}!${suffix}`, value: e }] : []),
      ];
    }
    case 'suppression.add': {
      const value = { ...op.entry, address: op.entry.address.toLowerCase() };
      return [{ type: 'put', sublevel: sub.suppression, key: addressKey(op.entry.tenant, op.entry.address), value }];
    }
    case 'soft-bounces.set':
      return [{ type: 'put', sublevel: sub.softBounces, key: addressKey(op.tenant, op.address), value: op.count }];
    case 'soft-bounces.clear':
      return [{ type: 'del', sublevel: sub.softBounces, key: addressKey(op.tenant, op.address) }];
    case 'webhook.enqueue':
      return [{ type: 'put', sublevel: sub.webhookOutbox, key: `${sortableTime(op.dueAt)}!${op.delivery.id}`, value: op.delivery }];
    case 'shipment.change':
      return shipmentWrites(sub, op.before, op.after);
    case 'shipment.undue':
      return [{ type: 'del', sublevel: sub.shipmentsDue, key: op.entry }];
    case 'notice.add':
      return [{ type: 'put', sublevel: sub.notices, key: noticeKey(op.notice), value: '' }];
    case 'notice.remove':
      return [{ type: 'del', sublevel: sub.notices, key: noticeKey(op.notice) }];
    case 'blacklist.add':
      return [{ type: 'put', sublevel: sub.blacklist, key: blacklistKey(op.entry.tenant, op.entry.kind, op.entry.value), value: op.entry }];
    case 'tracking.quota':
      return [{ type: 'put', sublevel: sub.tracking, key: `quota!${op.tenant}!${op.month}`, value: op.used }];
    case 'tracking.report':
      return [{ type: 'put', sublevel: sub.tracking, key: `report!${op.tenant}`, value: op.at }];
  }
}

/** The words of a buyer's name as index keys (lower case, at most 6, no "!"). */
export function nameWords(name: string | undefined): string[] {
  if (!name) return [];
  return [...new Set(name.toLowerCase().split(/[\s,;.!]+/u).filter((w) => w.length > 0).slice(0, 6))];
}

/** A shipment's record and index entries, from `before` to `after`: only what changed is written. */
function shipmentWrites(sub: Sublevels, before: IndexedShipment | undefined, after: IndexedShipment | undefined): LevelWrite[] {
  const s = (after ?? before)!;
  const key = shipmentKey(s.tenant, s.carrier, s.code);
  const out: LevelWrite[] = [];
  const due = (x: IndexedShipment | undefined) => (x?.active && x.nextCheckAt !== undefined ? [shipmentDueKey(x.nextCheckAt, key)] : []);
  const status = (x: IndexedShipment | undefined) => (x ? [`${x.tenant}!${x.status}!${x.carrier}!${x.code}`] : []);
  const contacts = (x: IndexedShipment | undefined) => (x ? [
    ...(x.email ? [`${x.tenant}!e!${x.email.toLowerCase()}!${x.carrier}!${x.code}`] : []),
    ...(x.phoneE164 ? [`${x.tenant}!p!${x.phoneE164}!${x.carrier}!${x.code}`] : []),
    ...(x.orderReference ? [`${x.tenant}!r!${x.orderReference.toLowerCase()}!${x.carrier}!${x.code}`] : []),
    ...nameWords(x.name).map((w) => `${x.tenant}!n!${w}!${x.carrier}!${x.code}`),
  ] : []);
  const swap = (sublevel: LevelWrite['sublevel'], was: string[], now: string[]) => {
    for (const k of was) if (!now.includes(k)) out.push({ type: 'del', sublevel, key: k });
    for (const k of now) if (!was.includes(k)) out.push({ type: 'put', sublevel, key: k, value: '' });
  };
  swap(sub.shipmentsDue, due(before), due(after));
  swap(sub.shipmentsByStatus, status(before), status(after));
  swap(sub.shipmentsByContact, contacts(before), contacts(after));
  out.push(after ? { type: 'put', sublevel: sub.shipments, key, value: after } : { type: 'del', sublevel: sub.shipments, key });
  return out;
}

export type EncodedWrite = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };

/**
 * The writes as root-level keys with their sublevel's prefix, values JSON-encoded once per object
 * (an event is written under three or four index keys). The bytes are exactly what the JSON
 * sublevels would write, so reads are unchanged; it spares abstract-level the per-op sublevel
 * delegation, which was ~10 % of the SMTP thread's CPU under load.
 */
export function encodeWrites(writes: LevelWrite[]): EncodedWrite[] {
  const json = new Map<unknown, string>();
  return writes.map((w) => {
    const key = w.sublevel.prefix + w.key;
    if (w.type === 'del') return { type: 'del', key };
    let value = json.get(w.value);
    if (value === undefined) {
      value = JSON.stringify(w.value);
      json.set(w.value, value);
    }
    return { type: 'put', key, value };
  });
}
