// The scheduler owns time: it hands fresh messages straight to delivery, reads due retries from
// the schedule index, bounds concurrency, applies the retry policy and records every outcome.
import type { Logger } from 'pino';
import type { RecipientResult } from './delivery-result.js';
import type { EventLog } from '../store/event-log.js';
import type { StoreOp } from '../store/ports.js';
import { applyAttempt, expire, type RetryPolicy } from './retry.js';
import type { Spool } from './spool.js';
import { deliveryLogLine } from './delivery-log.js';
import { HELD_DUE, type IdentityDecision, type MessageRecord, type QueueEvent } from '../store/records.js';

export interface SchedulerDeps {
  spool: Spool;
  events: EventLog;
  /** Prepares and delivers a message to its pending recipients; must not throw for SMTP trouble. */
  deliverMessage: (record: MessageRecord, recipients: string[], body?: Buffer) => Promise<{ results: RecipientResult[]; identity?: IdentityDecision }>;
  policy: RetryPolicy;
  concurrency: number;
  log: Logger;
  now?: () => number;
  /** How often the schedule index is read for due retries (ms). */
  pollInterval?: number;
  /** How long a failed message's body is kept for a re-send (ms). */
  keepBodies?: number;
  /** Most bytes of kept content per tenant (on this node); 0 or absent: no limit. */
  keepBodiesPerTenant?: number;
  /**
   * The lane a message is delivered in (its upstream, or the recipient domain for direct MX delivery)
   * and how many of that lane may be in delivery at once, so one slow destination cannot take every slot.
   */
  lane?: (record: MessageRecord) => { key: string; limit: number };
  /** Writes that belong with an outcome event (e.g. suppressing an address the receiving server says does not exist), committed with it. */
  outcomeOps?: (event: QueueEvent) => StoreOp[] | Promise<StoreOp[]>;
  /**
   * Several nodes: takes one of the lane's `limit` slots shared by every node (undefined when all are
   * taken), so an upstream's maxConnections holds across the cluster; resolves with its release.
   */
  laneSlot?: (key: string, limit: number) => Promise<(() => Promise<void>) | undefined>;
}

interface ReadyItem {
  id: string;
  /** Loaded when the item is queued (fresh messages, or read by the scan), so its lane is known. */
  record?: MessageRecord;
  /** Read by the scan (not pushed fresh): its due time is checked again before delivery. */
  scanned?: boolean;
  /** Its lane, worked out once (null: none), not on every pump pass it waits through. */
  lane?: { key: string; limit: number } | null;
  /** The body, for fresh messages while the ready queue is short; otherwise read from the spool. */
  body?: Buffer;
}

/** Fresh bodies are kept in memory for their first attempt only up to this many bytes in all. */
const MAX_READY_BODY_BYTES = 64 * 1024 * 1024;

export class Scheduler {
  private readonly ready: ReadyItem[] = [];
  private readonly claimed = new Set<string>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly lanes = new Map<string, number>();
  private running = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private scanning = false;
  /** The last scan stopped at its limit: more due entries may wait in the index. */
  private moreDue = false;
  private readyBodyBytes = 0;
  private readonly now: () => number;
  readonly counters = { delivered: 0, deferred: 0, failed: 0, expired: 0 };
  /** Shops and causes whose sender rewrite is in the error log already (since start). */
  private readonly warnedSenders = new Set<string>();

  constructor(private readonly deps: SchedulerDeps) {
    this.now = deps.now ?? Date.now;
  }

  start(): void {
    this.running = true;
    void this.scan();
    let ticks = 0;
    this.timer = setInterval(() => {
      void this.scan();
      if (++ticks % 60 === 0) {
        this.deps.spool.releaseExpired(this.now()).catch((err: Error) => this.deps.log.error({ err: err.message }, 'releasing kept bodies failed'));
      }
    }, this.deps.pollInterval ?? 1000);
    this.timer.unref();
  }

  /** A message that was just made durable: deliver it now, without a round trip through the index. */
  push(record: MessageRecord, body?: Buffer): void {
    if (this.claimed.has(record.id)) return;
    this.claimed.add(record.id);
    const keep = body !== undefined && this.readyBodyBytes + body.length <= MAX_READY_BODY_BYTES;
    if (keep) this.readyBodyBytes += body.length;
    this.ready.push({ id: record.id, record, ...(keep ? { body } : {}) });
    this.pump();
  }

  /** Makes a queued message due now (operator "flush"). */
  wake(): void {
    void this.scan();
  }

  /**
   * Operator "retry now" for one message: makes it due now and hands it to delivery. 'busy' while an
   * attempt is running (it is being retried already), 'done' when nothing is left to deliver.
   */
  async retryNow(id: string): Promise<'queued' | 'busy' | 'done' | 'missing' | 'held'> {
    if (this.claimed.has(id)) return 'busy';
    const record = await this.deps.spool.get(id);
    if (!record) return 'missing';
    if (record.state === 'done') return 'done';
    if (record.held) return 'held';
    this.claimed.add(id);
    const next = { ...record, dueAt: this.now() };
    try {
      await this.deps.spool.update(next, record.dueAt, []);
    } finally {
      this.claimed.delete(id);
    }
    if (this.running) this.push(next);
    return 'queued';
  }

  /** Operator "flush": every queued message due now (held ones stay held). Returns how many were made due. */
  async flush(): Promise<number> {
    let n = 0;
    for (const { id } of await this.deps.spool.due(HELD_DUE - 1, 1_000_000)) if ((await this.retryNow(id)) === 'queued') n++;
    return n;
  }

  /** Holds a queued message (it is kept, not delivered) or releases a held one (due now). */
  async setHeld(id: string, hold: boolean, by: string): Promise<'held' | 'released' | 'unchanged' | 'busy' | 'done' | 'missing'> {
    if (this.claimed.has(id)) return 'busy';
    const record = await this.deps.spool.get(id);
    if (!record) return 'missing';
    if (record.state === 'done') return 'done';
    if (Boolean(record.held) === hold) return 'unchanged';
    this.claimed.add(id);
    const { held: _, ...rest } = record;
    const next: MessageRecord = hold ? { ...record, held: { since: this.now(), by }, dueAt: HELD_DUE } : { ...rest, dueAt: this.now() };
    try {
      await this.deps.spool.update(next, record.dueAt, []);
    } finally {
      this.claimed.delete(id);
    }
    this.deps.log.info({ msgId: id, tenant: record.tenant, by }, hold ? 'message held' : 'message released');
    if (!hold && this.running) this.push(next);
    return hold ? 'held' : 'released';
  }

  /** Releases every held message of a tenant; how many. */
  async releaseTenant(tenant: string, by: string): Promise<number> {
    let n = 0;
    for (const { id } of await this.deps.spool.due(HELD_DUE, 1_000_000)) {
      const r = await this.deps.spool.get(id);
      if (r?.tenant === tenant && r.held && (await this.setHeld(id, false, by)) === 'released') n++;
    }
    return n;
  }

  /**
   * Operator "delete": the message's undelivered recipients fail with DELETED_BY_ADMIN and it leaves the
   * queue (its body is kept for a re-send like any failed message). 'busy' while an attempt is running.
   */
  async remove(id: string, by: string): Promise<{ status: 'deleted'; recipients: string[] } | { status: 'busy' | 'done' | 'missing' }> {
    if (this.claimed.has(id)) return { status: 'busy' };
    const record = await this.deps.spool.get(id);
    if (!record) return { status: 'missing' };
    if (record.state === 'done') return { status: 'done' };
    this.claimed.add(id);
    try {
      const now = this.now();
      const pending = record.recipients.filter((r) => r.status === 'queued' || r.status === 'deferred').map((r) => r.address);
      const next: MessageRecord = {
        ...record, state: 'done', dueAt: 0,
        recipients: record.recipients.map((r) => (pending.includes(r.address) ? { ...r, status: 'failed', updatedAt: now } : r)),
      };
      const events: QueueEvent[] = pending.map((recipient) => ({
        time: now, type: 'failed', msgId: id, tenant: record.tenant, recipient, code: 'DELETED_BY_ADMIN', class: 'policy', reason: 'deleted',
        detail: `removed from the queue by ${by}; not delivered`,
      }));
      await this.commit(record, next, events);
      this.deps.log.warn({ msgId: id, tenant: record.tenant, to: pending, by }, 'message deleted from the queue');
      return { status: 'deleted', recipients: pending };
    } finally {
      this.claimed.delete(id);
    }
  }

  get stats(): { ready: number; inFlight: number } {
    return { ready: this.ready.length, inFlight: this.inFlight.size };
  }

  /** Stops taking work and waits up to `graceMs` for deliveries in flight; the rest retry after restart. */
  async stop(graceMs: number): Promise<{ abandoned: number }> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.ready.length = 0;
    let timeout: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => { timeout = setTimeout(resolve, graceMs); });
    await Promise.race([Promise.allSettled([...this.inFlight.values()]), grace]);
    clearTimeout(timeout);
    const abandoned = this.inFlight.size;
    this.closed = true;
    return { abandoned };
  }

  private pump(): void {
    let i = 0;
    while (this.running && this.inFlight.size < this.deps.concurrency && i < this.ready.length) {
      const item = this.ready[i]!;
      if (item.lane === undefined) item.lane = (item.record && this.laneOf(item.record)) ?? null;
      const lane = item.lane;
      // A full lane keeps its messages waiting in order; the next lane's message goes first.
      if (lane && (this.lanes.get(lane.key) ?? 0) >= lane.limit) {
        i++;
        continue;
      }
      this.ready.splice(i, 1);
      if (item.body) this.readyBodyBytes -= item.body.length;
      if (lane) this.lanes.set(lane.key, (this.lanes.get(lane.key) ?? 0) + 1);
      const run = this.run(item)
        .catch((err: Error) => this.deps.log.error({ msgId: item.id, tenant: item.record?.tenant, err: err.message }, 'delivery attempt could not be recorded; it will be retried'))
        .finally(() => {
          if (lane) {
            const n = (this.lanes.get(lane.key) ?? 1) - 1;
            if (n > 0) this.lanes.set(lane.key, n);
            else this.lanes.delete(lane.key);
          }
          this.inFlight.delete(item.id);
          this.claimed.delete(item.id);
          this.pump();
          if (this.moreDue && this.ready.length === 0) void this.scan();
        });
      this.inFlight.set(item.id, run);
    }
  }

  /**
   * Waits for one of the lane's slots across the cluster (no wait on one node): its release, undefined
   * when there is no cluster, null when the scheduler stops first. The store being away costs no slot.
   */
  private async clusterSlot(lane: { key: string; limit: number }): Promise<(() => Promise<void>) | undefined | null> {
    if (!this.deps.laneSlot) return undefined;
    for (let wait = 10; ; wait = Math.min(wait * 2, 200)) {
      if (!this.running) return null;
      const release = await this.deps.laneSlot(lane.key, lane.limit).catch(() => async () => undefined);
      if (release) return release;
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  private laneOf(record: MessageRecord): { key: string; limit: number } | undefined {
    try {
      return this.deps.lane?.(record);
    } catch {
      return undefined; // e.g. an upstream that no longer exists: delivery records why
    }
  }

  private async run(item: ReadyItem): Promise<void> {
    const record = item.record ?? (await this.deps.spool.get(item.id));
    const now = this.now();
    // A scan may have read a schedule entry that a just-finished attempt replaced.
    if (!record || record.state === 'done' || record.held || ((!item.record || item.scanned) && record.dueAt > now)) return;
    const log = this.deps.log.child({ msgId: record.id, tenant: record.tenant });
    const pending = record.recipients.filter((r) => r.status === 'queued' || r.status === 'deferred').map((r) => r.address);

    if (record.attempts > 0 && now >= record.createdAt + this.deps.policy.maxAge) {
      const next = expire(record, now);
      await this.commit(record, next.record, next.events);
      this.counters.expired += next.events.length;
      this.logOutcomes(log, record, next.events, [], { startedAt: now, endedAt: now });
      return;
    }

    let results: RecipientResult[];
    let identity: IdentityDecision | undefined;
    const startedAt = this.now();
    const release = item.lane ? await this.clusterSlot(item.lane) : undefined;
    if (release === null) return; // stopping while every slot of the lane was taken elsewhere: tried again after restart
    try {
      ({ results, identity } = await this.deps.deliverMessage(record, pending, item.body));
    } catch (err) {
      results = pending.map((recipient) => ({
        recipient, outcome: 'deferred' as const, upstream: 'internal', code: 'INTERNAL_ERROR',
        reply: { code: 451, enhanced: '4.3.0', text: `local error: ${(err as Error).message}` },
      }));
    } finally {
      // Not waited for: the next slot query on that connection runs after it anyway.
      void release?.().catch(() => undefined);
    }
    if (this.closed) return; // shutdown grace ran out: the schedule entry stays, so it is retried after restart
    const endedAt = this.now();
    const next = applyAttempt(record, results, endedAt, this.deps.policy);
    const events: QueueEvent[] = [...next.events];
    if (identity) {
      const { messageId, ...decision } = identity;
      next.record.identity = decision;
      // The Message-ID we added (the app sent none): stored, so the API shows and finds it.
      if (messageId && !next.record.messageId) next.record.messageId = messageId;
      if (identity.warning && record.attempts === 0) {
        // In the message's history every time; in the error log once per shop and cause (not per message).
        events.push({ time: this.now(), type: 'sender-rewritten', msgId: record.id, tenant: record.tenant, recipient: record.envelope.from, code: 'SENDER_REWRITTEN', detail: identity.warning });
        const cause = `${record.tenant}\n${identity.reason ?? identity.warning}`;
        if (!this.warnedSenders.has(cause)) {
          this.warnedSenders.add(cause);
          events.push({ time: this.now(), type: 'warning', msgId: record.id, tenant: record.tenant, recipient: record.envelope.from, code: 'SENDER_REWRITTEN', detail: identity.warning });
          log.warn({ reason: identity.reason }, identity.warning);
        }
      }
    }
    await this.commit(record, next.record, events);
    for (const ev of next.events) this.counters[ev.type as 'delivered' | 'deferred' | 'failed' | 'expired']++;
    this.logOutcomes(log, record, next.events, results, { startedAt, endedAt });
  }

  /** One Postfix-style info line per recipient outcome (queue/delivery-log.ts). */
  private logOutcomes(log: Logger, record: MessageRecord, events: QueueEvent[], results: RecipientResult[], times: { startedAt: number; endedAt: number }): void {
    for (const ev of events) {
      const { fields, line } = deliveryLogLine(ev, results.find((r) => r.recipient === ev.recipient), { acceptedAt: record.createdAt, ...times });
      log.info({ ...fields, ...(ev.attempt !== undefined ? { attempt: ev.attempt } : {}) }, line);
    }
  }

  private async commit(prev: MessageRecord, next: MessageRecord, events: Parameters<EventLog['ops']>[0][]): Promise<void> {
    // A bounce recorded while the attempt ran (the bounce processor's message.outcome) is kept by the
    // store: a message.update keeps stored outcomes later than the record's own (keepLaterOutcomes).
    // A final message's content is kept for a while: to re-send it to a corrected address after a
    // bounce (which comes days later through a smarthost), and to show its raw source.
    const keep = this.deps.keepBodies ?? 7 * 24 * 3600 * 1000;
    if (next.state === 'done' && keep > 0) next.keptUntil = this.now() + keep;
    const outcomeOps = this.deps.outcomeOps ?? (() => []);
    const ops: StoreOp[] = [];
    for (const e of events) ops.push(...this.deps.events.ops(e), ...(await outcomeOps(e)));
    await this.deps.spool.update(next, prev.dueAt, ops);
    if (next.keptUntil !== undefined && this.deps.keepBodiesPerTenant) {
      void this.deps.spool.trimKept(next.tenant, this.deps.keepBodiesPerTenant, this.now())
        .catch((err: Error) => this.deps.log.error({ err: err.message, tenant: next.tenant }, 'releasing older kept content failed'));
    }
  }

  private async scan(): Promise<void> {
    if (!this.running || this.scanning) return;
    const room = this.deps.concurrency * 4 - this.ready.length;
    if (room <= 0) return;
    this.scanning = true;
    try {
      const limit = room + this.claimed.size;
      const due = await this.deps.spool.due(this.now(), limit);
      this.moreDue = due.length === limit;
      for (const { id } of due) {
        if (this.claimed.has(id)) continue;
        this.claimed.add(id);
        // The record tells the lane; run() reads it again only if it changed meanwhile.
        const record = this.deps.lane ? await this.deps.spool.get(id) : undefined;
        if (this.deps.lane && !record) {
          this.claimed.delete(id);
          continue;
        }
        this.ready.push({ id, ...(record ? { record, scanned: true } : {}) });
      }
      this.pump();
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message }, 'reading the schedule failed');
    } finally {
      this.scanning = false;
    }
  }
}
