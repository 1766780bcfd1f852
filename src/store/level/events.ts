// EventStore on LevelDB: every event under "<time>!<id>", pointed at by recipient and by message, and the
// error log keyed tenant first so a tenant's newest page and "errors since" are one range read.
import type { ErrorQuery, EventStore } from '../ports.js';
import { countsAsError, isErrorEvent, type QueueEvent } from '../records.js';
import { sortableTime, type Db, type Sublevels } from './db.js';

async function collect(it: AsyncIterable<unknown>): Promise<QueueEvent[]> {
  const out: QueueEvent[] = [];
  for await (const v of it) out.push(v as QueueEvent);
  return out;
}

/**
 * The events of index entries "<prefix><time>!<id>", in order: an entry's value is the event itself
 * (written before the indexes became pointers) or a pointer, read from the events sublevel by the
 * key's "<time>!<id>" (an event pruned meanwhile is left out).
 */
async function indexed(sub: Sublevels, entries: Array<[string, unknown]>, prefix: string): Promise<QueueEvent[]> {
  const pointers = entries.filter(([, v]) => typeof v !== 'object' || v === null).map(([k]) => k.slice(prefix.length));
  const found = pointers.length > 0 ? await sub.events.getMany(pointers) : [];
  const byKey = new Map(pointers.map((k, i) => [k, found[i] as QueueEvent | undefined]));
  const out: QueueEvent[] = [];
  for (const [k, v] of entries) {
    const ev = typeof v === 'object' && v !== null ? (v as QueueEvent) : byKey.get(k.slice(prefix.length));
    if (ev) out.push(ev);
  }
  return out;
}

export class LevelEvents implements EventStore {
  constructor(private readonly db: Db, private readonly sub: Sublevels) {}

  async errors(tenant: string, q: ErrorQuery): Promise<{ events: QueueEvent[]; cursor?: string }> {
    const limit = q.limit ?? 50;
    // A cursor is a key of this tenant's range; one of another range reads nothing.
    if (q.cursor && !q.cursor.startsWith(`${tenant}!`)) return { events: [] };
    const lower = `${tenant}!${sortableTime(q.since ?? 0)}`;
    const upper = q.cursor ? q.cursor : `${tenant}!${q.until !== undefined ? sortableTime(q.until) : '\xff'}`;
    const events: QueueEvent[] = [];
    let last: string | undefined;
    for await (const [key, value] of this.sub.errors.iterator({ gte: lower, lt: upper, reverse: true })) {
      const ev = value as QueueEvent;
      last = key;
      // Entries written before sender-rewritten and repeated deferrals left the error log are skipped.
      if ((q.class && ev.class !== q.class) || !isErrorEvent(ev)) continue;
      events.push(ev);
      if (events.length >= limit) break;
    }
    return { events, ...(events.length >= limit && last ? { cursor: last } : {}) };
  }

  async countErrors(tenant: string, since: number): Promise<number> {
    let n = 0;
    for await (const ev of this.sub.errors.values({ gte: `${tenant}!${sortableTime(since)}`, lt: `${tenant}!\xff` })) if (countsAsError(ev as QueueEvent)) n++;
    return n;
  }

  async prune(before: number, limit: number): Promise<number> {
    const writes: Array<{ type: 'del'; key: string }> = [];
    let n = 0;
    for await (const [key, value] of this.sub.events.iterator({ lt: sortableTime(before), limit })) {
      const e = value as QueueEvent;
      writes.push(
        { type: 'del', key: this.sub.events.prefix + key },
        { type: 'del', key: `${this.sub.eventsByRecipient.prefix}${e.recipient.toLowerCase()}!${key}` },
        { type: 'del', key: `${this.sub.eventsByMessage.prefix}${e.msgId}!${key}` },
        { type: 'del', key: `${this.sub.errors.prefix}${e.tenant}!${key}` },
      );
      n++;
    }
    if (n > 0) await this.db.batch(writes, { keyEncoding: 'utf8' });
    return n;
  }

  async byRecipient(address: string, limit: number): Promise<QueueEvent[]> {
    const prefix = `${address.toLowerCase()}!`;
    return indexed(this.sub, await this.sub.eventsByRecipient.iterator({ gte: prefix, lt: `${prefix}\xff`, limit }).all(), prefix);
  }

  async byMessage(msgId: string, limit: number): Promise<QueueEvent[]> {
    const prefix = `${msgId}!`;
    return indexed(this.sub, await this.sub.eventsByMessage.iterator({ gte: prefix, lt: `${prefix}\xff`, limit }).all(), prefix);
  }

  async deliveredSince(tenant: string, address: string, since: number, except: string): Promise<boolean> {
    const prefix = `${address.toLowerCase()}!`;
    const page: Array<[string, unknown]> = [];
    const found = async () => (await indexed(this.sub, page.splice(0), prefix)).some((ev) => ev.type === 'delivered' && ev.tenant === tenant && ev.msgId !== except);
    for await (const entry of this.sub.eventsByRecipient.iterator({ gte: `${prefix}${sortableTime(since)}`, lt: `${prefix}\xff` })) {
      page.push(entry);
      if (page.length >= 100 && (await found())) return true;
    }
    return page.length > 0 && found();
  }

  recent(limit: number): Promise<QueueEvent[]> {
    return collect(this.sub.events.values({ reverse: true, limit }));
  }
}
