// limits: message size, recipients, connections (in total and per client address), the SMTP
// deadlines (idle, a whole command, DATA's rate floor), refused RCPTs and commands per connection,
// AUTH failures, free disk space, the bounce reader's deadline.
import { z } from 'zod';
import { parseSize } from '../formats.js';
import { duration, formatted, positiveInt } from './primitives.js';

export const limitsSchema = z.strictObject({
  // At most 1 GB: receiving servers take far less (most 25–50 MB), and the free space kept for it is 1.5 × as much.
  maxMessageSize: formatted(parseSize).pipe(z.number().max(1024 ** 3, 'must be at most 1GB (receiving servers take far less: most 25–50 MB)')).prefault(26214400),
  maxRecipients: positiveInt.default(100),
  idleTimeout: duration.prefault('5m'),
  maxConnections: positiveInt.default(500),
  /** Connections one client address may hold at once on submission (and SMTPS, counted apart). */
  submissionConnectionsPerClient: positiveInt.default(20),
  /** Connections one client address may hold at once on the inbound MX (which allows 100 in total). */
  inboundConnectionsPerClient: positiveInt.default(10),
  /** A command line must be complete this long after its first byte arrived (slowloris). */
  commandTimeout: duration.prefault('30s'),
  /** DATA must average at least this many bytes a second once `commandTimeout` has passed (Postfix's smtpd_min_data_rate). */
  minDataRate: positiveInt.default(500),
  /** Refused RCPTs in one session before it is ended with 421. */
  maxRefusedRecipients: positiveInt.default(20),
  /** Commands on one connection before it is ended with 421. */
  maxCommandsPerConnection: positiveInt.default(10_000),
  /** Failed SMTP AUTH attempts a user name may collect in 15 minutes, from all addresses together. */
  authFailuresPerUser: positiveInt.default(10),
  /** Failed SMTP AUTH attempts one client address may make in 15 minutes, over all user names. */
  authFailuresPerClient: positiveInt.default(30),
  /**
   * Failed SMTP AUTH attempts over all users and addresses in 10 minutes that raise the login alarm
   * (an operator entry in the error log, a warning line, mailgate_smtp_auth_alarm 1); 0 turns it off.
   */
  authFailureAlarm: z.int().min(0).default(100),
  /** Free space the data directory must keep; below it mail is refused with 452 4.3.1 (default 1.5 × maxMessageSize + 64 MB). */
  minFreeSpace: formatted(parseSize).optional(),
  /** Longest the bounce parser may spend on one inbound message before it is stopped (and, on the second try, quarantined). */
  bounceParseTimeout: duration.prefault('5s'),
});

