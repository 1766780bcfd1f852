// Webhooks per tenant, their outbox (pending deliveries, keyed by due time) and delivery log, in LevelDB.
import { randomBytes } from 'node:crypto';
import { sortableTime, type Store, type WriteOp } from './level.js';

export const WEBHOOK_EVENTS = ['failed', 'expired', 'bounced', 'complained', 'suppressed', 'deferred', 'app-error', 'test'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

export interface Webhook {
  id: string;
  tenant: string;
  url: string;
  /** HMAC key; shown once when the webhook is made (or its secret rotated). */
  secret: string;
  events: WebhookEventType[];
  active: boolean;
  createdAt: number;
}

/** A delivery waiting in the outbox; `payload` is the exact JSON body, the same on every attempt. */
export interface PendingDelivery {
  id: string;
  webhookId: string;
  tenant: string;
  type: WebhookEventType;
  payload: string;
  attempt: number;
  firstAt: number;
}

export interface DeliveryAttempt {
  deliveryId: string;
  webhookId: string;
  type: WebhookEventType;
  time: number;
  attempt: number;
  outcome: 'delivered' | 'retrying' | 'gave-up';
  status?: number;
  error?: string;
  durationMs: number;
  nextAttemptAt?: number;
}

export function newDeliveryId(): string {
  return `whd_${randomBytes(12).toString('hex')}`;
}

export class WebhookStore {
  constructor(private readonly store: Store) {}

  async all(): Promise<Webhook[]> {
    const out: Webhook[] = [];
    for await (const v of this.store.webhooks.values()) out.push(v as Webhook);
    return out;
  }

  async put(hook: Webhook): Promise<void> {
    await this.store.webhooks.put(`${hook.tenant}!${hook.id}`, hook);
  }

  async delete(hook: Webhook): Promise<void> {
    await this.store.webhooks.del(`${hook.tenant}!${hook.id}`);
  }

  /** The write that puts a delivery in the outbox, due at `dueAt`. */
  enqueueOp(d: PendingDelivery, dueAt: number): WriteOp {
    return { type: 'put', sublevel: this.store.webhookOutbox, key: `${sortableTime(dueAt)}!${d.id}`, value: d };
  }

  async due(now: number, limit: number): Promise<Array<{ key: string; delivery: PendingDelivery }>> {
    const out: Array<{ key: string; delivery: PendingDelivery }> = [];
    for await (const [key, value] of this.store.webhookOutbox.iterator({ lt: `${sortableTime(now)}!\xff`, limit })) out.push({ key, delivery: value as PendingDelivery });
    return out;
  }

  /** Records an attempt and moves the delivery: out of the outbox, or to its next due time. */
  async settle(key: string, attempt: DeliveryAttempt, next?: { delivery: PendingDelivery; dueAt: number }): Promise<void> {
    await this.store.db.batch([
      { type: 'del', sublevel: this.store.webhookOutbox, key },
      { type: 'put', sublevel: this.store.webhookLog, key: `${attempt.webhookId}!${sortableTime(attempt.time)}!${attempt.deliveryId}!${attempt.attempt}`, value: attempt },
      ...(next ? [this.enqueueOp(next.delivery, next.dueAt)] : []),
    ] as never);
  }

  async drop(key: string): Promise<void> {
    await this.store.webhookOutbox.del(key);
  }

  /** A webhook's delivery log, newest first. */
  async log(webhookId: string, limit: number): Promise<DeliveryAttempt[]> {
    const out: DeliveryAttempt[] = [];
    for await (const v of this.store.webhookLog.values({ gte: `${webhookId}!`, lt: `${webhookId}!\xff`, reverse: true, limit })) out.push(v as DeliveryAttempt);
    return out;
  }
}
