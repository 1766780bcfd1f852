// The event log: every state change of every message and recipient, readable by time, by recipient
// and by message; the error log is the view of ERROR_TYPES per tenant. This class gives each event
// its id and tells the observers (metrics) and follow-ups (webhook deliveries, written in the same
// transaction); the engine keeps the events.
import { randomBytes } from 'node:crypto';
import type { ErrorQuery, Store, StoreOp } from './ports.js';
import type { QueueEvent } from './records.js';

export { ERROR_TYPES } from './records.js';
export type { ErrorQuery } from './ports.js';

export interface EventQuery {
  limit?: number;
}

export class EventLog {
  private seq = 0;
  private readonly run = randomBytes(3).toString('hex');

  constructor(
    private readonly store: Store,
    private readonly observe: (event: QueueEvent) => void = () => undefined,
    /** Writes that belong with an event (webhook deliveries), committed in the same transaction. */
    private readonly followUps: (event: QueueEvent) => StoreOp[] = () => [],
  ) {}

  /** The writes that record `event`; the caller commits them together with the state change. */
  ops(event: QueueEvent): StoreOp[] {
    this.observe(event);
    const id = `${this.run}${(this.seq++).toString(36).padStart(6, '0')}`;
    return [{ kind: 'event.add', event, id, fresh: true }, ...this.followUps(event)];
  }

  /** A tenant's error log, newest first, with a cursor for the next page. */
  errors(tenant: string, q: ErrorQuery = {}): Promise<{ events: QueueEvent[]; cursor?: string }> {
    return this.store.events.errors(tenant, q);
  }

  /** How many error-log events a tenant has had since `since` (the red counter). */
  countErrors(tenant: string, since: number): Promise<number> {
    return this.store.events.countErrors(tenant, since);
  }

  /** Events for one recipient address (case-insensitive), oldest first. */
  byRecipient(address: string, q: EventQuery = {}): Promise<QueueEvent[]> {
    return this.store.events.byRecipient(address, q.limit ?? 1000);
  }

  /** Events for one message, oldest first. */
  byMessage(msgId: string, q: EventQuery = {}): Promise<QueueEvent[]> {
    return this.store.events.byMessage(msgId, q.limit ?? 1000);
  }

  /** True when a message of `tenant` other than `except` was delivered to `address` (case-insensitive) at or after `since`. */
  deliveredSince(tenant: string, address: string, since: number, except: string): Promise<boolean> {
    return this.store.events.deliveredSince(tenant, address, since, except);
  }

  /** Newest events first. */
  recent(q: EventQuery = {}): Promise<QueueEvent[]> {
    return this.store.events.recent(q.limit ?? 100);
  }
}
