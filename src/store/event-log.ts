// The event log: every state change of every message and recipient, in LevelDB, readable by
// time, by recipient and by message. The error log is a view over it (failed/deferred/expired).
import { randomBytes } from 'node:crypto';
import { sortableTime, type Store, type WriteOp } from './level.js';
import type { QueueEvent } from '../queue/types.js';

export interface EventQuery {
  limit?: number;
}

export class EventLog {
  private seq = 0;
  private readonly run = randomBytes(3).toString('hex');

  constructor(private readonly store: Store) {}

  /** The writes that record `event`; the caller commits them together with the state change. */
  ops(event: QueueEvent): WriteOp[] {
    const suffix = `${sortableTime(event.time)}!${this.run}${(this.seq++).toString(36).padStart(6, '0')}`;
    return [
      { type: 'put', sublevel: this.store.events, key: suffix, value: event },
      { type: 'put', sublevel: this.store.eventsByRecipient, key: `${event.recipient.toLowerCase()}!${suffix}`, value: event },
      { type: 'put', sublevel: this.store.eventsByMessage, key: `${event.msgId}!${suffix}`, value: event },
    ];
  }

  /** Events for one recipient address (case-insensitive), oldest first. */
  async byRecipient(address: string, q: EventQuery = {}): Promise<QueueEvent[]> {
    const prefix = `${address.toLowerCase()}!`;
    return this.collect(this.store.eventsByRecipient.values({ gte: prefix, lt: `${prefix}\xff`, limit: q.limit ?? 1000 }));
  }

  /** Events for one message, oldest first. */
  async byMessage(msgId: string, q: EventQuery = {}): Promise<QueueEvent[]> {
    const prefix = `${msgId}!`;
    return this.collect(this.store.eventsByMessage.values({ gte: prefix, lt: `${prefix}\xff`, limit: q.limit ?? 1000 }));
  }

  /** Newest events first. */
  async recent(q: EventQuery = {}): Promise<QueueEvent[]> {
    return this.collect(this.store.events.values({ reverse: true, limit: q.limit ?? 100 }));
  }

  private async collect(it: AsyncIterable<unknown>): Promise<QueueEvent[]> {
    const out: QueueEvent[] = [];
    for await (const v of it) out.push(v as QueueEvent);
    return out;
  }
}
