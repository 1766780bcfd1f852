// queue: retries, maximum age, concurrency, the delivery thread, return paths of multi-recipient mail.
import { z } from 'zod';
import { duration, positiveInt } from './primitives.js';

export const queueSchema = z.strictObject({
  retrySchedule: z.array(duration).min(1).prefault(['1m', '5m', '15m', '1h', '4h']),
  maxAge: duration.prefault('3d'),
  concurrency: positiveInt.default(100),
  deliveryThread: z.boolean().default(true),
  /**
   * Return paths for a message to several recipients: `message` sends the recipients that share a
   * server in one transaction with a return path naming the message (a bounce must then name the
   * recipient to suppress it); `recipient` sends each its own transaction with its own return path.
   */
  returnPath: z.enum(['message', 'recipient']).default('message'),
});

