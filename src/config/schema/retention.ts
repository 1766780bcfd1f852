// retention: how long what mail leaves behind is kept once a message is final.
import { z } from 'zod';
import { duration } from './primitives.js';

export const retentionSchema = z.strictObject({
  /** A delivered or failed message's content, for re-sending it and for its raw source; 0 = deleted at once. */
  bodies: duration.prefault('7d'),
  /** Events (the error log, each message's history) and finished messages' records; 0 = kept for ever. */
  events: duration.prefault('90d'),
});
