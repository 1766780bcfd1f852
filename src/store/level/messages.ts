// MessageStore on LevelDB: records by id, the schedule ("due") and the keep list as time-ordered
// keys, a tenant's messages newest first, and the reference and Message-ID indexes.
import type { MessageStore } from '../ports.js';
import type { MessageRecord } from '../records.js';
import { sortableTime, type Db, type Sublevels } from './db.js';
import { dueKey, messageIndexKeys } from './keys.js';

const idOf = (key: string) => key.slice(key.indexOf('!') + 1);

export class LevelMessages implements MessageStore {
  constructor(private readonly db: Db, private readonly sub: Sublevels) {}

  async get(id: string): Promise<MessageRecord | undefined> {
    return (await this.sub.messages.get(id)) as MessageRecord | undefined;
  }

  async byMessageId(messageId: string): Promise<string | undefined> {
    return (await this.sub.messageIds.get(messageId.toLowerCase())) as string | undefined;
  }

  async byReference(tenant: string, reference: string, limit: number): Promise<string[]> {
    const prefix = `${tenant}!${reference.toLowerCase()}!`;
    const ids: string[] = [];
    for await (const key of this.sub.references.keys({ gte: prefix, lt: `${prefix}\xff`, limit })) ids.push(key.slice(prefix.length));
    return ids;
  }

  async listByTenant(tenant: string, q: { from?: number; to?: number; cursor?: string; limit: number; filter?: (r: MessageRecord) => boolean }): Promise<{ messages: MessageRecord[]; cursor?: string }> {
    // A cursor is a key of this tenant's range; one of another range reads nothing.
    if (q.cursor && !q.cursor.startsWith(`${tenant}!`)) return { messages: [] };
    const lower = `${tenant}!${sortableTime(q.from ?? 0)}`;
    const upper = q.cursor ?? `${tenant}!${q.to !== undefined ? sortableTime(q.to) : '\xff'}`;
    const messages: MessageRecord[] = [];
    let last: string | undefined;
    let scanned = 0;
    for await (const key of this.sub.messagesByTenant.keys({ gte: lower, lt: upper, reverse: true })) {
      last = key;
      const rec = await this.get(key.slice(key.lastIndexOf('!') + 1));
      if (rec && (!q.filter || q.filter(rec))) messages.push(rec);
      // Bounded work per page even when a filter matches rarely; the cursor continues from here.
      if (messages.length >= q.limit || ++scanned >= q.limit * 50) break;
    }
    return { messages, ...((messages.length >= q.limit || scanned >= q.limit * 50) && last ? { cursor: last } : {}) };
  }

  async due(now: number, limit: number): Promise<Array<{ id: string; dueAt: number }>> {
    const out: Array<{ id: string; dueAt: number }> = [];
    for await (const key of this.sub.due.keys({ lte: `${sortableTime(now)}!\xff`, limit })) {
      const sep = key.indexOf('!');
      out.push({ dueAt: Number(key.slice(0, sep)), id: key.slice(sep + 1) });
    }
    return out;
  }

  async nextDue(): Promise<number | undefined> {
    for await (const key of this.sub.due.keys({ limit: 1 })) return Number(key.slice(0, key.indexOf('!')));
    return undefined;
  }

  async *queued(): AsyncGenerator<MessageRecord> {
    for await (const key of this.sub.due.keys()) {
      const record = await this.get(idOf(key));
      if (record && record.state !== 'done') yield record;
    }
  }

  async depth(): Promise<number> {
    let n = 0;
    for await (const _ of this.sub.due.keys()) n++;
    return n;
  }

  async oldestQueuedId(): Promise<string | undefined> {
    let oldest: string | undefined;
    for await (const key of this.sub.due.keys()) {
      const id = idOf(key);
      if (oldest === undefined || id < oldest) oldest = id;
    }
    return oldest;
  }

  async *keptUntil(now: number): AsyncGenerator<{ id: string; keptUntil: number }> {
    for await (const key of this.sub.retained.keys({ lte: `${sortableTime(now)}!\xff` })) {
      yield { id: idOf(key), keptUntil: Number(key.slice(0, key.indexOf('!'))) };
    }
  }

  async prune(before: number, now: number, limit: number): Promise<number> {
    // The tenant list is ordered tenant first, then time: read each tenant's old part, then jump on.
    const writes: Array<{ type: 'del'; key: string }> = [];
    let n = 0;
    const it = this.sub.messagesByTenant.keys();
    try {
      for (let key = await it.next(); key !== undefined && n < limit; key = await it.next()) {
        const [tenant, time, id] = key.split('!');
        if (Number(time) >= before) {
          it.seek(`${tenant}!\xff`);
          continue;
        }
        const r = await this.get(id!);
        if (r && (r.state !== 'done' || (r.keptUntil ?? 0) > now)) continue;
        if (r) {
          const keys = messageIndexKeys(r);
          for (const ref of keys.references) writes.push({ type: 'del', key: this.sub.references.prefix + ref });
          if (r.messageId) writes.push({ type: 'del', key: this.sub.messageIds.prefix + r.messageId.toLowerCase() });
          if (r.keptUntil !== undefined) writes.push({ type: 'del', key: this.sub.retained.prefix + dueKey(r.keptUntil, r.id) });
        }
        writes.push({ type: 'del', key: this.sub.messages.prefix + id }, { type: 'del', key: this.sub.messagesByTenant.prefix + key });
        n++;
      }
    } finally {
      await it.close();
    }
    if (writes.length > 0) await this.db.batch(writes, { keyEncoding: 'utf8' });
    return n;
  }

  async *withBodies(): AsyncGenerator<MessageRecord> {
    for (const index of [this.sub.due, this.sub.retained]) {
      for await (const key of index.keys()) {
        const rec = await this.get(idOf(key));
        if (rec) yield rec;
      }
    }
  }
}
