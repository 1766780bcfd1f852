// retention: how long what mail leaves behind is kept once a message is final.
import { z } from 'zod';
import { parseSize } from '../formats.js';
import { duration, formatted } from './primitives.js';

export const retentionSchema = z.strictObject({
  /** A delivered or failed message's content, for re-sending it and for its raw source; 0 = deleted at once. */
  bodies: duration.prefault('7d'),
  /** Most content kept per shop (on each node): past it, its oldest messages' content goes first; 0 = no limit. */
  bodiesPerTenant: z.union([z.literal(0), formatted(parseSize)]).prefault('1GB'),
  /** Events (the error log, each message's history) and finished messages' records; 0 = kept for ever. */
  events: duration.prefault('90d'),
});
