// WebhookStore on PostgreSQL: subscriptions, the outbox (its ref is the delivery id) and the log.
import type pg from 'pg';
import type { DeliveryAttempt, PendingDelivery, Webhook, WebhookStore } from '../ports.js';
import { clean, jsonText } from './text.js';
import { inTransaction } from './transaction.js';
import { writeOps } from './write.js';

export class PgWebhooks implements WebhookStore {
  constructor(private readonly pool: pg.Pool) {}

  async all(): Promise<Webhook[]> {
    const r = await this.pool.query('select record from webhooks order by tenant, id');
    return r.rows.map((x) => x.record as Webhook);
  }

  async put(hook: Webhook): Promise<void> {
    await this.pool.query('insert into webhooks (id, tenant, record) values ($1, $2, $3::jsonb) on conflict (id) do update set tenant = excluded.tenant, record = excluded.record', [clean(hook.id), clean(hook.tenant), jsonText(hook)]);
  }

  async delete(hook: Webhook): Promise<void> {
    await this.pool.query('delete from webhooks where id = $1', [clean(hook.id)]);
  }

  async due(now: number, limit: number): Promise<Array<{ ref: string; delivery: PendingDelivery }>> {
    const r = await this.pool.query('select delivery_id, delivery from webhook_outbox where due_at <= $1 order by due_at, delivery_id limit $2', [now, limit]);
    return r.rows.map((x) => ({ ref: x.delivery_id as string, delivery: x.delivery as PendingDelivery }));
  }

  async settle(ref: string, attempt: DeliveryAttempt, next?: { delivery: PendingDelivery; dueAt: number }): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await client.query('delete from webhook_outbox where delivery_id = $1', [clean(ref)]);
      await client.query(
        `insert into webhook_log (webhook_id, time, delivery_id, attempt, record) values ($1, $2, $3, $4, $5::jsonb)
         on conflict (webhook_id, time, delivery_id, attempt) do update set record = excluded.record`,
        [attempt.webhookId, attempt.time, attempt.deliveryId, attempt.attempt, jsonText(attempt)],
      );
      if (next) await writeOps(client, [{ kind: 'webhook.enqueue', ...next }], '');
    });
  }

  async drop(ref: string): Promise<void> {
    await this.pool.query('delete from webhook_outbox where delivery_id = $1', [clean(ref)]);
  }

  async log(webhookId: string, limit: number): Promise<DeliveryAttempt[]> {
    const r = await this.pool.query('select record from webhook_log where webhook_id = $1 order by time desc, delivery_id desc, attempt desc limit $2', [clean(webhookId), limit]);
    return r.rows.map((x) => x.record as DeliveryAttempt);
  }
}
