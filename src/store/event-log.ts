// The event log: every state change of every message and recipient, in LevelDB, readable by
// time, by recipient and by message. The error log is a view over it (failed/deferred/expired).
import { randomBytes } from 'node:crypto';
import { sortableTime, type Store, type WriteOp } from './level.js';
import type { QueueEvent } from './records.js';

export interface EventQuery {
  limit?: number;
}

/** Event types that belong in a tenant's error log. */
export const ERROR_TYPES = new Set(['failed', 'deferred', 'expired', 'bounced', 'complained', 'warning', 'sender-rewritten', 'app-error', 'notice-failed']);

export interface ErrorQuery {
  /** Only events at or after this time (ms). */
  since?: number;
  /** Only events before this time (ms). */
  until?: number;
  /** Only this class (hard, soft, policy, complaint, …). */
  class?: string;
  /** Continue after this cursor (from the previous page). */
  cursor?: string;
  limit?: number;
}

export class EventLog {
  private seq = 0;
  private readonly run = randomBytes(3).toString('hex');

  constructor(
    private readonly store: Store,
    private readonly observe: (event: QueueEvent) => void = () => undefined,
    /** Writes that belong with an event (webhook deliveries), committed in the same batch. */
    private readonly followUps: (event: QueueEvent) => WriteOp[] = () => [],
  ) {}

  /** The writes that record `event`; the caller commits them together with the state change. */
  ops(event: QueueEvent): WriteOp[] {
    this.observe(event);
    const suffix = `${sortableTime(event.time)}!${this.run}${(this.seq++).toString(36).padStart(6, '0')}`;
    const ops: WriteOp[] = [
      { type: 'put', sublevel: this.store.events, key: suffix, value: event },
      { type: 'put', sublevel: this.store.eventsByRecipient, key: `${event.recipient.toLowerCase()}!${suffix}`, value: event },
      { type: 'put', sublevel: this.store.eventsByMessage, key: `${event.msgId}!${suffix}`, value: event },
    ];
    // Keyed tenant first, then time: a tenant's newest page and "errors since" are one range read.
    if (ERROR_TYPES.has(event.type)) ops.push({ type: 'put', sublevel: this.store.errors, key: `${event.tenant}!${suffix}`, value: event });
    ops.push(...this.followUps(event));
    return ops;
  }

  /** A tenant's error log, newest first, with a cursor for the next page. */
  async errors(tenant: string, q: ErrorQuery = {}): Promise<{ events: QueueEvent[]; cursor?: string }> {
    const limit = q.limit ?? 50;
    const lower = `${tenant}!${sortableTime(q.since ?? 0)}`;
    const upper = q.cursor ? q.cursor : `${tenant}!${q.until !== undefined ? sortableTime(q.until) : '\xff'}`;
    const events: QueueEvent[] = [];
    let last: string | undefined;
    for await (const [key, value] of this.store.errors.iterator({ gte: lower, lt: upper, reverse: true })) {
      const ev = value as QueueEvent;
      last = key;
      if (q.class && ev.class !== q.class) continue;
      events.push(ev);
      if (events.length >= limit) break;
    }
    return { events, ...(events.length >= limit && last ? { cursor: last } : {}) };
  }

  /** How many error-log events a tenant has had since `since` (the red counter). */
  async countErrors(tenant: string, since: number): Promise<number> {
    let n = 0;
    for await (const _ of this.store.errors.keys({ gte: `${tenant}!${sortableTime(since)}`, lt: `${tenant}!\xff` })) n++;
    return n;
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

  /**
   * True when a message of `tenant` other than `except` was delivered to `address` (case-insensitive) at
   * or after `since`. Reads the recipient's events from `since` on and stops at the first delivery.
   */
  async deliveredSince(tenant: string, address: string, since: number, except: string): Promise<boolean> {
    const prefix = `${address.toLowerCase()}!`;
    for await (const value of this.store.eventsByRecipient.values({ gte: `${prefix}${sortableTime(since)}`, lt: `${prefix}\xff` })) {
      const ev = value as QueueEvent;
      if (ev.type === 'delivered' && ev.tenant === tenant && ev.msgId !== except) return true;
    }
    return false;
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
