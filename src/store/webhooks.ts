// Webhook records (subscriptions, the outbox, the delivery log) and the write that puts a delivery
// in the outbox together with the event it reports.
import { randomBytes } from 'node:crypto';
import type { PendingDelivery, StoreOp } from './ports.js';

export { WEBHOOK_EVENTS } from './ports.js';
export type { DeliveryAttempt, PendingDelivery, Webhook, WebhookEventType, WebhookStore } from './ports.js';

export function newDeliveryId(): string {
  return `whd_${randomBytes(12).toString('hex')}`;
}

export function enqueueOp(delivery: PendingDelivery, dueAt: number): StoreOp {
  return { kind: 'webhook.enqueue', delivery, dueAt };
}
