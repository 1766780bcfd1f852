// The inbound listener (MX of system.bounceDomain): accepts mail only for the bounce domain,
// never relays, needs no AUTH. Accepted messages are kept durably under <dataDir>/inbound for
// the bounce processor; anything addressed elsewhere is refused. While the data directory is nearly
// full, mail is refused with 452 4.3.1 at MAIL FROM, as on the submission listener. One client
// address holds at most limits.inboundConnectionsPerClient connections and must keep moving
// (connection-guard.ts); refused RCPTs are capped per session and logged once (refusals.ts).
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { SMTPServer } from 'smtp-server';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { isDiskFull, type DiskSpace } from '../queue/disk-space.js';
import { newQueueId } from '../queue/ids.js';
import { insufficientStorage, smtpError } from './errors.js';
import { plainAddress } from './tenant-access.js';
import { guardConnections } from './connection-guard.js';
import { serverTlsOptions } from './tls-settings.js';
import { SessionRefusals } from './refusals.js';

/** Inbound mail is bounce and report traffic: small. */
const INBOUND_MAX_SIZE = 10 * 1024 * 1024;
/** Connections one client address may open per minute on the inbound listener. */
const INBOUND_CONNECTIONS_PER_MINUTE = 120;

/** Called once a message is durably stored, with its file; the SMTP reply does not wait for it. */
export type InboundHandler = (file: string) => void;

/** The mailto half of List-Unsubscribe: mail to unsubscribe+<token>@<bounce domain>. */
export interface UnsubscribeByMail {
  /** True when the token's MAC is right (checked at RCPT, so forged ones are refused there). */
  valid(token: string): boolean;
  apply(token: string): Promise<void>;
}

const UNSUBSCRIBE = /^unsubscribe\+([A-Za-z0-9_.-]{1,900})$/;

/** `disk`: refuses mail (452 4.3.1) while the data directory is nearly full; absent in some tests. */
export function createInboundServer(config: Config, log: Logger, onStored: InboundHandler = () => undefined, unsubscribe?: UnsubscribeByMail, disk?: DiskSpace): SMTPServer {
  const dir = path.join(config.dataDir, 'inbound');
  const bounceDomain = config.system.bounceDomain.toLowerCase();
  const recent = new Map<string, { windowStart: number; count: number }>();
  const sessionRefusals = new SessionRefusals(config.limits.maxRefusedRecipients, 'inbound', log);
  /** Refuses an RCPT: counted for the session, logged once when it ends (421 and closed at the cap). */
  const refuse = (session: { id: string; remoteAddress: string }, address: string, code: number, text: string) => {
    const reply = sessionRefusals.refuse(session.id, plainAddress(session.remoteAddress), address, { code, text });
    return smtpError(reply.code, reply.text);
  };
  const server = new SMTPServer({
    onConnect(session, callback) {
      const ip = plainAddress(session.remoteAddress);
      const now = Date.now();
      let entry = recent.get(ip);
      if (!entry || now - entry.windowStart > 60_000) {
        if (recent.size > 10_000) recent.clear();
        entry = { windowStart: now, count: 0 };
        recent.set(ip, entry);
      }
      if (++entry.count > INBOUND_CONNECTIONS_PER_MINUTE) {
        log.warn({ remote: ip }, 'inbound: connection rate limit exceeded');
        return callback(smtpError(421, '4.7.0 Too many connections from your address, try again later'));
      }
      callback();
    },
    name: config.system.hostname,
    banner: 'mailgate',
    size: INBOUND_MAX_SIZE,
    authOptional: true,
    disabledCommands: config.tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    ...(config.tls ? serverTlsOptions(config.tls) : { hideSTARTTLS: true }),
    disableReverseLookup: true,
    maxClients: 100,
    socketTimeout: 60_000,
    closeTimeout: config.shutdownGrace,
    logger: false,

    onClose(session) {
      sessionRefusals.closed(session.id);
    },

    onMailFrom(address, _session, callback) {
      if (!disk) return callback();
      // The sender's SIZE= declaration, when it made one, counts against the free space.
      const args = address.args as Record<string, string> | false | undefined;
      const declared = (args && Number(args.SIZE)) || 0;
      disk.tooLow(declared).then(
        (low) => callback(low ? insufficientStorage() : undefined),
        () => callback(),
      );
    },

    onRcptTo(address, session, callback) {
      const domain = address.address.slice(address.address.lastIndexOf('@') + 1).toLowerCase();
      const local = address.address.slice(0, address.address.lastIndexOf('@')).toLowerCase();
      const token = UNSUBSCRIBE.exec(address.address.slice(0, address.address.lastIndexOf('@')))?.[1];
      if (domain === bounceDomain && token && unsubscribe) {
        if (!unsubscribe.valid(token)) return callback(refuse(session, address.address, 550, '5.1.1 This unsubscribe address is not valid'));
        return callback();
      }
      if (domain !== bounceDomain || !(/^b-[0-9a-z-]+$/.test(local) || ['postmaster', 'abuse', 'fbl'].includes(local))) {
        return callback(refuse(session, address.address, 554, `5.7.1 <${address.address}>: Relay access denied`));
      }
      if (session.envelope.rcptTo.length >= 10) return callback(refuse(session, address.address, 452, '4.5.3 Too many recipients'));
      callback();
    },

    onData(stream, session, callback) {
      const tokens = session.envelope.rcptTo.map((r) => UNSUBSCRIBE.exec(r.address.slice(0, r.address.lastIndexOf('@')))?.[1]).filter((t): t is string => Boolean(t));
      if (unsubscribe && tokens.length === session.envelope.rcptTo.length) {
        // Only unsubscribe requests: the content does not matter, nothing is stored.
        stream.resume();
        stream.on('end', () => {
          Promise.all(tokens.map((t) => unsubscribe.apply(t))).then(
            () => callback(null, '2.0.0 Ok: unsubscribed'),
            (err: Error) => {
              log.error({ err: err.message }, 'inbound: unsubscribe failed');
              callback(smtpError(451, '4.3.0 Temporary local problem, please try again later'));
            },
          );
        });
        return;
      }
      const id = newQueueId();
      const file = path.join(dir, `${id}.eml`);
      const envelope = { from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address) };
      (async () => {
        await fs.mkdir(dir, { recursive: true });
        const out = createWriteStream(file, { flags: 'wx' });
        out.write(`X-Mailgate-Envelope: ${JSON.stringify(envelope).replace(/[\r\n]/g, ' ')}\r\n`);
        // Past the limit the rest is read and dropped, never written: an oversize sender cannot fill the disk.
        let seen = 0;
        const capped = new Transform({
          transform(chunk: Buffer, _enc, done) {
            seen += chunk.length;
            done(null, seen > INBOUND_MAX_SIZE ? undefined : chunk);
          },
        });
        await pipeline(stream, capped, out);
        if (seen > INBOUND_MAX_SIZE || (stream as { sizeExceeded?: boolean }).sizeExceeded) {
          await fs.unlink(file);
          throw smtpError(552, `5.3.4 Message size exceeds fixed limit of ${INBOUND_MAX_SIZE} bytes`);
        }
        const fh = await fs.open(file, 'r+');
        await fh.sync();
        await fh.close();
      })().then(
        () => {
          log.info({ inboundId: id, from: envelope.from, to: envelope.to }, 'inbound message stored');
          callback(null, `2.0.0 Ok: queued as ${id}`);
          onStored(file);
        },
        (err: Error & { responseCode?: number }) => {
          if (err.responseCode) return callback(err);
          fs.unlink(file).catch(() => undefined);
          if (isDiskFull(err)) {
            log.error({ err: err.message }, 'inbound: could not store message: the data directory is full');
            return callback(insufficientStorage());
          }
          log.error({ err: err.message }, 'inbound: could not store message');
          callback(smtpError(451, '4.3.0 Temporary local problem, please try again later'));
        },
      );
    },
  });
  guardConnections(server, {
    listener: 'inbound',
    perClient: config.limits.inboundConnectionsPerClient,
    commandTimeout: config.limits.commandTimeout,
    minDataRate: config.limits.minDataRate,
    maxCommands: config.limits.maxCommandsPerConnection,
    greetAtOnce: false,
  }, log);
  return server;
}
