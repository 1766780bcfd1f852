// queue: retries, maximum age, concurrency, the delivery thread.
import { z } from 'zod';
import { duration, positiveInt } from './primitives.js';

export const queueSchema = z.strictObject({
  retrySchedule: z.array(duration).min(1).prefault(['1m', '5m', '15m', '1h', '4h']),
  maxAge: duration.prefault('3d'),
  concurrency: positiveInt.default(100),
  deliveryThread: z.boolean().default(true),
});

