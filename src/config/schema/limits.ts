// limits: message size, recipients, connections, free disk space, the bounce reader's deadline.
import { z } from 'zod';
import { parseSize } from '../formats.js';
import { duration, formatted, positiveInt } from './primitives.js';

export const limitsSchema = z.strictObject({
  maxMessageSize: formatted(parseSize).prefault(26214400),
  maxRecipients: positiveInt.default(100),
  idleTimeout: duration.prefault('5m'),
  maxConnections: positiveInt.default(500),
  /** Free space the data directory must keep; below it mail is refused with 452 4.3.1 (default 1.5 × maxMessageSize + 64 MB). */
  minFreeSpace: formatted(parseSize).optional(),
  /** Longest the bounce parser may spend on one inbound message before it is stopped (and, on the second try, quarantined). */
  bounceParseTimeout: duration.prefault('5s'),
});

