// retention: how long what mail leaves behind is kept once a message is final.
import { z } from 'zod';
import { duration } from './primitives.js';

export const retentionSchema = z.strictObject({
  /** A delivered or failed message's content, for re-sending it and for its raw source; 0 = deleted at once. */
  bodies: duration.prefault('7d'),
});
