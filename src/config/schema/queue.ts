// queue: retries, maximum age, concurrency, the delivery thread, return paths of multi-recipient mail.
import { z } from 'zod';
import { duration, positiveInt } from './primitives.js';

export const queueSchema = z.strictObject({
  retrySchedule: z.array(duration).min(1).prefault(['1m', '5m', '15m', '1h', '4h']),
  maxAge: duration.prefault('3d'),
  concurrency: positiveInt.default(100),
  deliveryThread: z.boolean().default(true),
  /**
   * Return paths for a message to several recipients: `recipient` (default) sends each its own
   * transaction with its own return path, so every bounce is attributed and can suppress;
   * `message` sends the recipients that share a server in one transaction (at most 50) with a
   * return path naming the message — faster, but its bounces are recorded and suppress no one.
   */
  returnPath: z.enum(['message', 'recipient']).default('recipient'),
});

