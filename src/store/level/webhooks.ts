// WebhookStore on LevelDB: subscriptions ("<tenant>!<id>"), the outbox ("<dueAt>!<deliveryId>", the
// entry's key is its ref) and the delivery log ("<webhookId>!<time>!<deliveryId>!<attempt>").
import type { DeliveryAttempt, PendingDelivery, Webhook, WebhookStore } from '../ports.js';
import { sortableTime, type Db, type Sublevels } from './db.js';
import { levelWrites } from './write.js';

export class LevelWebhooks implements WebhookStore {
  constructor(private readonly db: Db, private readonly sub: Sublevels) {}

  async all(): Promise<Webhook[]> {
    const out: Webhook[] = [];
    for await (const v of this.sub.webhooks.values()) out.push(v as Webhook);
    return out;
  }

  async put(hook: Webhook): Promise<void> {
    await this.sub.webhooks.put(`${hook.tenant}!${hook.id}`, hook);
  }

  async delete(hook: Webhook): Promise<void> {
    await this.sub.webhooks.del(`${hook.tenant}!${hook.id}`);
  }

  async due(now: number, limit: number): Promise<Array<{ ref: string; delivery: PendingDelivery }>> {
    const out: Array<{ ref: string; delivery: PendingDelivery }> = [];
    for await (const [ref, value] of this.sub.webhookOutbox.iterator({ lt: `${sortableTime(now)}!\xff`, limit })) out.push({ ref, delivery: value as PendingDelivery });
    return out;
  }

  async settle(ref: string, attempt: DeliveryAttempt, next?: { delivery: PendingDelivery; dueAt: number }): Promise<void> {
    await this.db.batch([
      { type: 'del', sublevel: this.sub.webhookOutbox, key: ref },
      { type: 'put', sublevel: this.sub.webhookLog, key: `${attempt.webhookId}!${sortableTime(attempt.time)}!${attempt.deliveryId}!${attempt.attempt}`, value: attempt },
      ...(next ? levelWrites(this.sub, { kind: 'webhook.enqueue', ...next }) : []),
    ] as never);
  }

  async drop(ref: string): Promise<void> {
    await this.sub.webhookOutbox.del(ref);
  }

  async log(webhookId: string, limit: number): Promise<DeliveryAttempt[]> {
    const out: DeliveryAttempt[] = [];
    for await (const v of this.sub.webhookLog.values({ gte: `${webhookId}!`, lt: `${webhookId}!\xff`, reverse: true, limit })) out.push(v as DeliveryAttempt);
    return out;
  }
}
