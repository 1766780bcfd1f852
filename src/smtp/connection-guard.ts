// Fair shares of an SMTP listener's connections. One client address may hold at most
// `perClient` connections at once (the next is answered `421 4.7.0` and closed before the greeting),
// and a connection it holds must keep moving: a command line must be complete within
// `commandTimeout` of its first byte, DATA must average `minDataRate` bytes a second once
// `commandTimeout` has passed (Postfix's smtpd_min_data_rate), and a connection may send at most
// `maxCommands` commands. Whoever falls behind gets `421 4.4.2` and the connection is closed, so a
// slowloris client (a byte every few seconds on hundreds of connections) holds its own few slots
// for half a minute instead of all of them for as long as it likes. A command line with a bare LF
// (RFC 5321 2.3.8: lines end in CRLF) is answered `421 5.5.2` and the connection closed, as
// Postfix's `smtpd_forbid_bare_newline = yes` does; smtp-server would otherwise take LF alone as a
// line end in commands (not configurable; DATA's end is CRLF.CRLF only, so this is no smuggling path).
//
// smtp-server (3.21, pinned) has none of these, so this wraps its internals: how a connection is
// taken (greeting.ts), the command parser's `_write` and the connection's `_onCommand`. One sweep a
// second checks every connection of the listener.
// Reads: limits.{submission,inbound}ConnectionsPerClient, commandTimeout, minDataRate, maxCommandsPerConnection.
// May import: greeting, tenant-access (plainAddress).
import type { Logger } from 'pino';
import type { SMTPServer } from 'smtp-server';
import { acceptConnections } from './greeting.js';
import { plainAddress } from './tenant-access.js';

export interface ConnectionGuardOptions {
  /** The listener's name in log lines. */
  listener: string;
  perClient: number;
  /** ms from a command's first byte to its line end. */
  commandTimeout: number;
  /** Bytes a second DATA must average after `commandTimeout`. */
  minDataRate: number;
  maxCommands: number;
  /** Greet at once instead of after smtp-server's 100 ms early-talker pause (submission: see greeting.ts). */
  greetAtOnce: boolean;
  /** How often connections are checked, ms (default 1 s). */
  sweepEvery?: number;
  /** Sees each connection made as well (the listener's own hooks on smtp-server's connection). */
  alsoWatch?: (connection: unknown) => void;
}

interface Parser {
  _dataMode: boolean;
  isClosed?: boolean;
  _write(chunk: Buffer, encoding: string, next: (err?: Error) => void): void;
}

interface Connection {
  name: string;
  remoteAddress: string;
  _parser: Parser | false;
  _closing?: boolean;
  /** A command handler (onAuth, onRcptTo, …) has not answered yet. */
  _handlerPending?: boolean;
  /** Set from DATA until onData has answered. */
  _dataStream?: unknown;
  _createParser(): Parser;
  _onCommand(command: Buffer, callback?: () => void): void;
  send(code: number, data?: string, context?: string | false): void;
}


/** What the sweep knows of one connection. */
interface Watch {
  connection: Connection;
  /** When the first byte of the command now arriving came (undefined: none pending). */
  commandSince?: number;
  /** When DATA began, and the bytes of it so far. */
  dataSince?: number;
  dataBytes: number;
  commands: number;
  /** The last byte the parser was given, to see a CR before an LF across chunks. */
  lastByte: number;
}

/** Why a watched connection must go now, or undefined. Pure. */
export function overdue(w: Omit<Watch, 'connection' | 'lastByte' | 'commands'>, now: number, opts: Pick<ConnectionGuardOptions, 'commandTimeout' | 'minDataRate'>): string | undefined {
  if (w.dataSince !== undefined) {
    const late = now - w.dataSince - opts.commandTimeout;
    if (late > 0 && w.dataBytes < (late / 1000) * opts.minDataRate) return `4.4.2 Message data too slow (less than ${opts.minDataRate} bytes a second), closing connection`;
    return undefined;
  }
  if (w.commandSince !== undefined && now - w.commandSince > opts.commandTimeout) {
    return `4.4.2 Command not completed within ${Math.round(opts.commandTimeout / 1000)} s, closing connection`;
  }
  return undefined;
}

/** True when `chunk` has an LF without a CR before it (`previous` is the byte before the chunk). Pure. */
export function hasBareLf(chunk: Buffer, previous: number): boolean {
  for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) {
    if ((i === 0 ? previous : chunk[i - 1]) !== 13) return true;
  }
  return false;
}

/** Per-address counts of the connections a listener holds. */
export class ClientShares {
  private readonly held = new Map<string, number>();

  constructor(private readonly perClient: number) {}

  /** Takes a slot for `address`; false when it already holds `perClient`. */
  take(address: string): boolean {
    const n = this.held.get(address) ?? 0;
    if (n >= this.perClient) return false;
    this.held.set(address, n + 1);
    return true;
  }

  release(address: string): void {
    const n = (this.held.get(address) ?? 1) - 1;
    if (n > 0) this.held.set(address, n);
    else this.held.delete(address);
  }
}

export function guardConnections(server: SMTPServer, opts: ConnectionGuardOptions, log: Logger): void {
  const shares = new ClientShares(opts.perClient);
  const watches = new Set<Watch>();
  /** Addresses refused a slot since they were last logged: one log line per address a minute. */
  const refusedLogged = new Map<string, number>();

  const end = (w: Watch, text: string, why: string) => {
    watches.delete(w);
    log.warn({ listener: opts.listener, remote: plainAddress(w.connection.remoteAddress), why }, 'SMTP connection closed: client too slow or too busy');
    w.connection.send(421, `${text}`, false);
  };

  const watchParser = (w: Watch, parser: Parser) => {
    const write = parser._write.bind(parser);
    parser._write = (chunk, encoding, next) => {
      if (!parser.isClosed && chunk.length) {
        if (parser._dataMode) {
          w.dataSince ??= Date.now();
          w.dataBytes += chunk.length;
        } else {
          w.dataSince = undefined;
          w.dataBytes = 0;
          if (hasBareLf(chunk, w.lastByte)) {
            end(w, '5.5.2 Bare LF in a command; SMTP lines end in CRLF (RFC 5321 2.3.8)', 'bare LF');
            return next();
          }
          w.commandSince ??= Date.now();
        }
        w.lastByte = chunk[chunk.length - 1]!;
      }
      write(chunk, encoding, next);
      if (!parser._dataMode) w.dataSince = undefined;
    };
  };

  const watch = (connection: Connection): Watch => {
    const w: Watch = { connection, dataBytes: 0, commands: 0, lastByte: 13 };
    if (connection._parser) watchParser(w, connection._parser);
    const createParser = connection._createParser.bind(connection);
    connection._createParser = () => {
      const parser = createParser();
      w.lastByte = 13;
      watchParser(w, parser);
      return parser;
    };
    const onCommand = connection._onCommand.bind(connection);
    connection._onCommand = (command, callback) => {
      w.commandSince = undefined;
      w.dataSince = undefined;
      if (++w.commands > opts.maxCommands) return end(w, '4.7.0 Too many commands on one connection, closing connection', 'too many commands');
      onCommand(command, callback);
    };
    watches.add(w);
    return w;
  };

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const w of watches) {
      if (w.connection._closing) {
        watches.delete(w);
        continue;
      }
      const c = w.connection;
      // Waiting for us (a handler, or onData after the end of the message), not for the client.
      if (c._handlerPending || (c._dataStream && c._parser && !c._parser._dataMode)) continue;
      const why = overdue(w, now, opts);
      if (why) end(w, why, why.slice(6));
    }
  }, opts.sweepEvery ?? 1000);
  sweep.unref();
  server.server.on('close', () => clearInterval(sweep));

  acceptConnections(server, {
    greetAtOnce: opts.greetAtOnce,
    admit(socket) {
      const address = plainAddress(socket.remoteAddress ?? '');
      if (shares.take(address)) {
        socket.once('close', () => shares.release(address));
        return true;
      }
      const last = refusedLogged.get(address) ?? 0;
      if (Date.now() - last > 60_000) {
        if (refusedLogged.size > 10_000) refusedLogged.clear();
        refusedLogged.set(address, Date.now());
        log.warn({ listener: opts.listener, remote: address, limit: opts.perClient }, 'SMTP connection refused: this address holds its share of connections');
      }
      socket.on('error', () => undefined);
      socket.end(`421 4.7.0 Too many connections from your address (at most ${opts.perClient} at once), try again later\r\n`, () => socket.destroy());
      return false;
    },
    watch(connection, socket) {
      const w = watch(connection as unknown as Connection);
      socket.once('close', () => watches.delete(w));
      opts.alsoWatch?.(connection);
    },
  });
}
