// The retention job: what mail leaves behind is deleted once it is older than the config says —
// events (and with them the error log) and the records of finished messages whose content is no
// longer kept (retention.events). Delivery statistics stay: they are small, and the charts read
// them. Runs once an hour on one node at a time (a lease), in bounded chunks so that it never
// holds the store for long. Imports: config types, the store.
import type { Logger } from 'pino';
import type { Store } from '../store/ports.js';
import { LeasedSchedule } from '../store/lease.js';

const CHUNK = 5000;
const EVERY_MS = 3600_000;

export interface RetentionSettings {
  /** Events and finished messages older than this (ms) are deleted; 0 keeps them for ever. */
  events: number;
}

export class RetentionJob {
  private readonly schedule: LeasedSchedule;

  constructor(
    private readonly store: Pick<Store, 'events' | 'messages'>,
    private readonly settings: RetentionSettings,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.schedule = new LeasedSchedule(() => this.runOnce(), (err) => this.log.warn({ err: err.message }, 'retention: deleting old events failed; trying again in an hour'));
  }

  /** Runs a minute after start, then hourly, while `mayRun` (a lease) says this node is the one. */
  start(mayRun: () => Promise<boolean>, firstAfterMs = 60_000): void {
    if (this.settings.events > 0) this.schedule.start(mayRun, firstAfterMs, EVERY_MS);
  }

  stop(): Promise<void> {
    return this.schedule.stop();
  }

  /** Deletes everything past its time; how many events and messages went. */
  async runOnce(): Promise<{ events: number; messages: number }> {
    const now = this.now();
    const before = now - this.settings.events;
    let events = 0;
    let messages = 0;
    for (let n = CHUNK; n === CHUNK;) events += n = await this.store.events.prune(before, CHUNK);
    for (let n = CHUNK; n === CHUNK;) messages += n = await this.store.messages.prune(before, now, CHUNK);
    if (events + messages > 0) this.log.info({ events, messages, before: new Date(before).toISOString() }, 'retention: old events and finished messages deleted');
    return { events, messages };
  }
}
