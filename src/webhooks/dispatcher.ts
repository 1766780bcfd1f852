// Webhook dispatch: a tenant's failures, bounces, complaints and suppressions become signed JSON POSTs.
// Deliveries are written to a LevelDB outbox in the same batch as the event that causes them (so none is
// lost in a crash), then posted with retries on the configured schedule; every attempt goes to the
// delivery log. Receivers get the same delivery id on every retry and can de-duplicate by it.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { QueueEvent } from '../store/records.js';
import type { StoreOp } from '../store/ports.js';
import type { SuppressionEntry } from '../store/suppression.js';
import { enqueueOp, newDeliveryId, type DeliveryAttempt, type PendingDelivery, type Webhook, type WebhookEventType, type WebhookStore } from '../store/webhooks.js';
import { postJson, refusedTarget, type PostResult } from './post.js';
import { signWebhook } from './signature.js';

/** Event-log types that go out as webhooks (under the same name). */
const FROM_EVENTS = new Set<string>(['failed', 'expired', 'bounced', 'complained', 'deferred', 'app-error']);
export const DEFAULT_WEBHOOK_EVENTS: WebhookEventType[] = ['failed', 'expired', 'bounced', 'complained', 'suppressed', 'app-error'];
const POLL_MS = 1000;
const BATCH = 50;

export class WebhookDispatcher {
  private hooks = new Map<string, Webhook>();
  private timer: NodeJS.Timeout | undefined;
  private kick: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;
  private stopped = false;
  private mayRun: () => Promise<boolean> = async () => true;

  constructor(
    private readonly store: WebhookStore,
    private readonly settings: Config['webhooks'],
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Loads the webhooks and delivers the outbox, while `mayRun` says this node is the one to (several nodes: a lease). */
  async start(mayRun?: () => Promise<boolean>): Promise<void> {
    if (mayRun) this.mayRun = mayRun;
    await this.reload();
    this.timer = setInterval(() => this.runPass(), POLL_MS);
    this.timer.unref();
    this.runPass();
  }

  /** Re-reads the webhooks (another node changed them). */
  async reload(): Promise<void> {
    const hooks = await this.store.all();
    this.hooks = new Map(hooks.map((h) => [h.id, h]));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.kick);
    await this.pass;
  }

  // -------------------------------------------------------------------------------------------
  // Webhooks

  list(tenant?: string): Webhook[] {
    return [...this.hooks.values()].filter((h) => !tenant || h.tenant === tenant).sort((a, b) => a.createdAt - b.createdAt);
  }

  get(id: string): Webhook | undefined {
    return this.hooks.get(id);
  }

  async create(input: { tenant: string; url: string; events?: WebhookEventType[]; secret?: string }): Promise<Webhook> {
    const hook: Webhook = {
      id: `wh_${randomBytes(8).toString('hex')}`, tenant: input.tenant, url: input.url,
      secret: input.secret ?? `whsec_${randomBytes(24).toString('base64url')}`,
      events: input.events ?? DEFAULT_WEBHOOK_EVENTS, active: true, createdAt: this.now(),
    };
    await this.store.put(hook);
    this.hooks.set(hook.id, hook);
    return hook;
  }

  async update(id: string, change: { url?: string; events?: WebhookEventType[]; active?: boolean; rotateSecret?: boolean }): Promise<Webhook | undefined> {
    const old = this.hooks.get(id);
    if (!old) return undefined;
    const hook: Webhook = {
      ...old, ...(change.url ? { url: change.url } : {}), ...(change.events ? { events: change.events } : {}),
      ...(change.active !== undefined ? { active: change.active } : {}),
      ...(change.rotateSecret ? { secret: `whsec_${randomBytes(24).toString('base64url')}` } : {}),
    };
    await this.store.put(hook);
    this.hooks.set(id, hook);
    return hook;
  }

  async remove(id: string): Promise<boolean> {
    const hook = this.hooks.get(id);
    if (!hook) return false;
    await this.store.delete(hook);
    this.hooks.delete(id);
    return true;
  }

  /** Removes every webhook of a tenant (the tenant is being deleted). */
  async removeTenant(tenant: string): Promise<void> {
    for (const h of this.list(tenant)) await this.remove(h.id);
  }

  deliveries(id: string, limit: number): Promise<DeliveryAttempt[]> {
    return this.store.log(id, limit);
  }

  // -------------------------------------------------------------------------------------------
  // Sources: each returns the outbox writes to commit with the change that causes them.

  /** For the event log: outbox writes for an event a tenant's webhooks subscribe to. */
  opsForEvent(event: QueueEvent): StoreOp[] {
    if (!FROM_EVENTS.has(event.type)) return [];
    return this.opsFor(event.tenant, event.type as WebhookEventType, event, event.time);
  }

  /** For the suppression list. */
  opsForSuppression(entry: SuppressionEntry): StoreOp[] {
    return this.opsFor(entry.tenant, 'suppressed', entry, entry.time);
  }

  /** For anything else that a tenant should be told about (application errors). */
  opsFor(tenant: string, type: WebhookEventType, data: unknown, time: number): StoreOp[] {
    const ops: StoreOp[] = [];
    for (const hook of this.hooks.values()) {
      if (hook.tenant !== tenant || !hook.active || !hook.events.includes(type)) continue;
      ops.push(enqueueOp(this.delivery(hook, type, data, time), this.now()));
    }
    if (ops.length > 0) this.soon();
    return ops;
  }

  /** Posts a `test` event now and returns that attempt; a failed test is retried like any delivery. */
  async test(id: string): Promise<DeliveryAttempt | undefined> {
    const hook = this.hooks.get(id);
    if (!hook) return undefined;
    const d = this.delivery(hook, 'test', { message: 'This is a test event from mailgate.' }, this.now());
    const key = `test!${d.id}`;
    return this.attempt(hook, key, d);
  }

  /** Why `url` may not be a webhook target under the current settings (post.ts refusedTarget), or undefined. */
  refusedTarget(url: string): string | undefined {
    return refusedTarget(url, this.settings.allowPrivateTargets);
  }

  private delivery(hook: Webhook, type: WebhookEventType, data: unknown, time: number): PendingDelivery {
    const id = newDeliveryId();
    const payload = JSON.stringify({ id, type, time: new Date(time).toISOString(), tenant: hook.tenant, data });
    return { id, webhookId: hook.id, tenant: hook.tenant, type, payload, attempt: 1, firstAt: this.now() };
  }

  // -------------------------------------------------------------------------------------------
  // Delivery

  private soon(): void {
    // The outbox write commits with the event a few ms later; look then rather than at the next poll.
    if (this.kick || this.stopped) return;
    this.kick = setTimeout(() => {
      this.kick = undefined;
      this.runPass();
    }, 25);
    this.kick.unref();
  }

  private runPass(): void {
    if (this.pass || this.stopped) return;
    this.pass = this.mayRun().then((ok) => (ok ? this.drain() : undefined))
      .catch((err: Error) => this.log.error({ err: err.message }, 'webhook outbox pass failed'))
      .finally(() => {
        this.pass = undefined;
      });
  }

  private async drain(): Promise<void> {
    for (;;) {
      const due = await this.store.due(this.now(), BATCH);
      if (due.length === 0 || this.stopped) return;
      await Promise.all(due.map(async ({ ref: key, delivery }) => {
        const hook = this.hooks.get(delivery.webhookId);
        if (!hook || !hook.active) return this.store.drop(key);
        await this.attempt(hook, key, delivery);
      }));
      if (due.length < BATCH) return;
    }
  }

  private async attempt(hook: Webhook, key: string, d: PendingDelivery): Promise<DeliveryAttempt> {
    const sent = this.now();
    const result: PostResult = await postJson(hook.url, d.payload, {
      'x-mailgate-event': d.type,
      'x-mailgate-delivery': d.id,
      'x-mailgate-signature': signWebhook(hook.secret, d.payload, Math.floor(sent / 1000)),
    }, { timeoutMs: this.settings.timeout, allowPrivate: this.settings.allowPrivateTargets });
    const ok = result.status !== undefined && result.status >= 200 && result.status < 300;
    const delay = this.settings.retrySchedule[d.attempt - 1];
    const attempt: DeliveryAttempt = {
      deliveryId: d.id, webhookId: hook.id, type: d.type, time: sent, attempt: d.attempt,
      outcome: ok ? 'delivered' : delay === undefined ? 'gave-up' : 'retrying',
      ...(result.status !== undefined ? { status: result.status } : {}),
      ...(result.error ? { error: result.error } : !ok ? { error: `HTTP ${result.status}` } : {}),
      durationMs: result.durationMs,
      ...(!ok && delay !== undefined ? { nextAttemptAt: sent + delay } : {}),
    };
    const next = !ok && delay !== undefined ? { delivery: { ...d, attempt: d.attempt + 1 }, dueAt: sent + delay } : undefined;
    await this.store.settle(key, attempt, next);
    const log = this.log.child({ tenant: hook.tenant, webhook: hook.id, delivery: d.id });
    if (ok) log.debug({ status: result.status, attempt: d.attempt }, 'webhook delivered');
    else log.warn({ status: result.status, err: attempt.error, attempt: d.attempt, outcome: attempt.outcome }, 'webhook delivery failed');
    return attempt;
  }
}
