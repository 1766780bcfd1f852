// webhooks: retries, timeout, private targets.
import { z } from 'zod';
import { duration } from './primitives.js';

export const webhooksSchema = z.strictObject({
  retrySchedule: z.array(duration).min(1).prefault(['10s', '1m', '5m', '30m', '2h', '6h', '12h']),
  timeout: duration.prefault('10s'),
  allowPrivateTargets: z.boolean().default(false),
});

