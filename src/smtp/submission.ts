// The submission listener: legacy shop apps connect here. AUTH PLAIN/LOGIN per tenant or a
// trusted source network; everyone else is refused relaying. Accepted DATA goes through
// submit() and is answered 250 only once it is durable. Recipients refused for their syntax are
// also written to the tenant's error log (refusals.ts), those smtp-server's parser refuses included
// (unparsable-recipients.ts). Each client address gets a fair share of
// the connections and must keep moving (connection-guard.ts); refused RCPTs are capped per session
// (refusals.ts). With TLS configured, AUTH is neither offered nor taken before STARTTLS (an app
// would send its password in clear first); without TLS, plain AUTH stays (README: private networks);
// failed logins are limited per user, per address and per pair (security/login-throttle.ts).
import { entryId } from '../queue/ids.js';
import { SMTPServer, type SMTPServerAuthentication, type SMTPServerSession } from 'smtp-server';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { isValidAddress } from '../config/formats.js';
import { SubmitError, type MailQueue } from '../queue/queue.js';
import { MessageTooLargeError } from '../queue/spool.js';
import { isDiskFull, type DiskSpace } from '../queue/disk-space.js';
import { plainAddress, type Identity, type TenantAccess } from './tenant-access.js';
import { insufficientStorage, smtpError } from './errors.js';
import { guardConnections } from './connection-guard.js';
import { takeUnparsableRecipients } from './unparsable-recipients.js';
import { serverTlsOptions } from './tls-settings.js';
import type { AuthAlarmReport, AuthFailureAlarm, AuthThrottle } from '../security/login-throttle.js';
import { smtpReplyFor } from '../error-codes.js';
import { OPERATOR_TENANT, type QueueEvent } from '../store/records.js';
import { recipientSyntaxProblem, RefusalLog, SessionRefusals, shownAddress } from './refusals.js';
import type { SendLimiter } from '../queue/send-limits.js';
import type { SendLimits } from '../config/types.js';

export interface SubmissionDeps {
  config: Config;
  access: () => TenantAccess;
  queue: MailQueue;
  log: Logger;
  /** Refuses mail (452 4.3.1) while the data directory is nearly full; absent in some tests. */
  disk?: DiskSpace;
  /** Writes events to the error log (recipients refused for their syntax); absent in some tests. */
  recordEvents?: (events: QueueEvent[]) => Promise<void>;
  /** Per-shop and per-login sending limits (tenants/send-limits.ts); absent: none. */
  limits?: SendLimiter;
  /** The global alarm on failed logins; absent in some tests. */
  authAlarm?: AuthFailureAlarm;
}

/** The operator's error-log entry and warning line when the login alarm goes off. */
function raiseLoginAlarm(deps: SubmissionDeps, report: AuthAlarmReport): void {
  const minutes = Math.round(report.windowMs / 60_000);
  const detail = `${report.failures} failed SMTP logins in the last ${minutes} minutes, from ${report.addresses} address(es) against ${report.users} user name(s) `
    + `(most: user "${shownAddress(report.topUser.name)}" ${report.topUser.count}×, address ${report.topAddress.name} ${report.topAddress.count}×). `
    + 'Someone may be guessing passwords: mailgate slows guessing per user and per address, but check that no shop login is leaked and block the addresses in your firewall if they keep on.';
  deps.log.error({ failures: report.failures, addresses: report.addresses, users: report.users, topAddress: report.topAddress.name }, 'login alarm: many failed SMTP logins');
  deps.recordEvents?.([{ time: Date.now(), type: 'warning', msgId: entryId('AL'), tenant: OPERATOR_TENANT, recipient: '', code: 'AUTH_FAILURE_ALARM', detail }])
    .catch((err: Error) => deps.log.warn({ err: err.message }, 'could not write the login alarm to the error log'));
}

/** The login of a session, with its own limits (none for a network-trusted client). */
function loginOf(identity: Identity): { user: string; limits?: SendLimits | undefined } | undefined {
  if (!identity.user) return undefined;
  return { user: identity.user, limits: identity.tenant.auth.find((a) => a.user === identity.user)?.limits };
}

interface SessionUser {
  tenantId: string;
  user: string;
}

/** The identity of a session: its AUTH user if it authenticated, else its source network. */
function identify(deps: SubmissionDeps, session: SMTPServerSession): Identity | undefined {
  const access = deps.access();
  const authed = session.user as SessionUser | undefined;
  if (authed) {
    const tenant = access.tenant(authed.tenantId);
    return tenant ? { tenant, user: authed.user } : undefined;
  }
  return access.byNetwork(session.remoteAddress);
}

/** The submission listener; `implicitTls` makes the SMTPS variant (TLS from the first byte, port 465). */
/** `throttle`: the failed-login limits, one for submission and SMTPS together. */
export function createSubmissionServer(deps: SubmissionDeps, throttle: AuthThrottle, implicitTls = false): SMTPServer {
  const { config, log } = deps;
  const tls = config.tls;
  if (implicitTls && !tls) throw new Error('implicit TLS needs tls.key and tls.cert');
  const listener = implicitTls ? 'submissions' : 'submission';
  const alarm = (kind: 'failed' | 'throttled', user: string, remote: string) => {
    const report = deps.authAlarm?.note(kind, user, remote);
    if (report) raiseLoginAlarm(deps, report);
  };
  const refusals = deps.recordEvents ? new RefusalLog(deps.recordEvents, log) : undefined;
  const sessionRefusals = new SessionRefusals(config.limits.maxRefusedRecipients, listener, log);
  /** Refuses an RCPT: counted for the session, logged once when it ends (421 and closed at the cap). */
  const refuse = (session: SMTPServerSession, address: string, code: number, text: string) => {
    const reply = sessionRefusals.refuse(session.id, plainAddress(session.remoteAddress), address, { code, text });
    return smtpError(reply.code, reply.text);
  };
  /**
   * The RCPT checks, for paths smtp-server parsed (onRcptTo) and for those it could not
   * (unparsable-recipients.ts): such a path is refused for its syntax even where mailgate's own rule would take it.
   */
  const checkRecipient = (address: string, session: SMTPServerSession, callback: (err?: Error) => void, unparsable = false): void => {
    const identity = identify(deps, session);
    if (!identity) {
      return callback(refuse(session, address, 554, `5.7.1 <${address}>: Relay access denied`));
    }
    if (session.envelope.rcptTo.length >= config.limits.maxRecipients) {
      return callback(refuse(session, address, 452, '4.5.3 Too many recipients'));
    }
    const count = session.envelope.rcptTo.length;
    const login = loginOf(identity);
    const over = (count === 0 ? deps.limits?.admit(identity.tenant.id, identity.tenant.limits, login) : undefined)
      ?? deps.limits?.admitRecipient(count, identity.tenant.limits, login?.limits);
    if (over) {
      if (count === 0) log.warn({ tenant: identity.tenant.id, user: identity.user, reply: `${over.code} ${over.text}` }, 'message refused: sending limit');
      return callback(smtpError(over.code, over.text));
    }
    const problem = recipientSyntaxProblem(address) ?? (unparsable ? { code: 553, text: '5.1.3 Bad recipient address syntax' } : undefined);
    if (problem) {
      // The app gets its 501/553 as before; the shop admin now sees it in the error log too.
      refusals?.note(identity.tenant.id, address, problem);
      return callback(refuse(session, address, problem.code, problem.text));
    }
    callback();
  };
  const server = new SMTPServer({
    name: config.system.hostname,
    banner: 'mailgate',
    size: config.limits.maxMessageSize,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: true,
    // Without TLS configured, legacy apps can only send plain AUTH; with it, AUTH needs STARTTLS first.
    allowInsecureAuth: !tls,
    ...(tls ? serverTlsOptions(tls) : { disabledCommands: ['STARTTLS'], hideSTARTTLS: true }),
    ...(implicitTls ? { secure: true, hideSTARTTLS: true } : {}),
    disableReverseLookup: true,
    maxClients: config.limits.maxConnections,
    socketTimeout: config.limits.idleTimeout,
    closeTimeout: config.shutdownGrace,
    logger: false,

    // Synchronous, so a session is ready the moment it is accepted (see greeting.ts).
    onConnect(session, callback) {
      // Replaces the listener's disabledCommands for this session until onSecure (STARTTLS) clears it.
      if (tls && !implicitTls) session.disabledCommands = ['AUTH'];
      callback();
    },

    onSecure(_socket, session, callback) {
      delete session.disabledCommands;
      callback();
    },

    onClose(session) {
      sessionRefusals.closed(session.id);
    },

    onAuth(auth: SMTPServerAuthentication, session, callback) {
      const remote = plainAddress(session.remoteAddress);
      const username = auth.username ?? '';
      const refused = throttle.refusal(username, remote);
      if (refused) {
        alarm('throttled', username, remote);
        log.warn({ remote, user: username, by: refused }, `authentication refused: too many failures ${refused === 'pair' ? 'for this user from this address' : refused === 'user' ? 'for this user' : 'from this address'}`);
        return callback(smtpError(454, '4.7.0 Too many failed authentication attempts, try again later'));
      }
      deps.access().authenticate(username, auth.password ?? '').then((identity) => {
        if (!identity) {
          throttle.failed(username, remote);
          alarm('failed', username, remote);
          log.warn({ remote, user: username, method: auth.method }, 'authentication failed');
          return callback(smtpError(535, '5.7.8 Authentication credentials invalid'));
        }
        throttle.succeeded(username, remote);
        const user: SessionUser = { tenantId: identity.tenant.id, user: username };
        callback(null, { user });
      }, (err: Error) => {
        log.error({ err: err.message }, 'authentication error');
        callback(smtpError(454, '4.7.0 Temporary authentication failure'));
      });
    },

    onMailFrom(address, _session, callback) {
      if (address.address !== '' && !isValidAddress(address.address)) {
        return callback(smtpError(553, '5.1.7 Bad sender address syntax'));
      }
      if (!deps.disk) return callback();
      // The client's SIZE= declaration, when it made one, counts against the free space.
      const args = address.args as Record<string, string> | false | undefined;
      const declared = (args && Number(args.SIZE)) || 0;
      deps.disk.tooLow(declared).then(
        (low) => callback(low ? insufficientStorage() : undefined),
        () => callback(),
      );
    },

    onRcptTo(address, session, callback) {
      checkRecipient(address.address, session, callback);
    },

    onData(stream, session, callback) {
      const identity = identify(deps, session);
      if (!identity) {
        stream.resume();
        stream.on('end', () => callback(smtpError(554, '5.7.1 Relay access denied')));
        return;
      }
      deps.queue
        .submit({
          tenant: identity.tenant.id,
          envelope: { from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address) },
          body: stream,
          source: {
            kind: 'smtp',
            remoteAddress: plainAddress(session.remoteAddress),
            ...(session.hostNameAppearsAs ? { helo: session.hostNameAppearsAs } : {}),
            secure: session.secure,
            ...(identity.user ? { user: identity.user } : {}),
            ...(identity.network ? { network: identity.network } : {}),
          },
        })
        .then(
          ({ id }) => {
            deps.limits?.sent(identity.tenant.id, identity.tenant.limits, loginOf(identity), session.envelope.rcptTo.length);
            callback(null, `2.0.0 Ok: queued as ${id}`);
          },
          (err: Error) => {
            if (err instanceof MessageTooLargeError || (stream as { sizeExceeded?: boolean }).sizeExceeded) {
              return callback(smtpError(552, `5.3.4 Message size exceeds fixed limit of ${config.limits.maxMessageSize} bytes`));
            }
            if (err instanceof SubmitError) return callback(smtpError(...smtpReplyFor(err.code, err.message)));
            if (isDiskFull(err)) {
              log.error({ err: err.message }, 'could not queue message: the data directory is full');
              return callback(insufficientStorage());
            }
            log.error({ err: err.message, code: (err as { code?: string }).code }, 'could not queue message');
            callback(smtpError(451, '4.3.0 Temporary local problem, please try again later'));
          },
        );
    },
  });
  guardConnections(server, {
    listener,
    perClient: config.limits.submissionConnectionsPerClient,
    commandTimeout: config.limits.commandTimeout,
    minDataRate: config.limits.minDataRate,
    maxCommands: config.limits.maxCommandsPerConnection,
    greetAtOnce: true,
    // Always refused (`unparsable` makes a syntax problem of it): the callback gets an error.
    alsoWatch: (connection) => takeUnparsableRecipients(connection, (path, session, reply) => checkRecipient(path, session, (err) => reply(err!), true)),
  }, log);
  return server;
}
