// tracking: polling; the carrier accounts and phone gateways are checked by the schemas tracking
// plugs in (config/plugged.ts), so this section knows none of them by name.
import { z } from 'zod';
import { duration, positiveInt } from './primitives.js';

export const trackingSchema = z.strictObject({
  checksPerDay: z.int().min(1).max(48).default(4),
  maxAge: duration.prefault('60d'),
  firstCheckDelay: duration.prefault('1m'),
  batchSize: positiveInt.max(1000).default(100),
  carriers: z.record(z.string(), z.unknown()).default({}),
  phoneGateways: z.array(z.unknown()).default([]),
});
