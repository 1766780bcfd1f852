// How an SMTP listener takes a connection: smtp-server's own `connect`, replaced so that mailgate
// may refuse a socket before the greeting (connection-guard.ts: per-address shares), watch the
// connection it makes (deadlines), and greet at once. smtp-server waits a fixed 100 ms before its
// 220 on every connection (early-talker detection against spam bots; not configurable). Legacy
// apps open one connection per message, so on submission that pause alone would cap throughput
// at (connections / 0.1 s); the inbound MX keeps the pause. Relies on smtp-server 3.21 internals
// (pinned in package.json; test/relay.test.ts notices if the behaviour changes).
import type { Socket } from 'node:net';
import type { SMTPServer } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

/** The parts of smtp-server's SMTPConnection that mailgate uses. */
export interface ConnectionInternals {
  _setListeners(callback: () => void): void;
  connectionReady(): void;
  send(code: number, data?: string, context?: string | false): void;
  name: string;
  remoteAddress: string;
  on(event: string, listener: (arg: unknown) => void): void;
  init(): void;
}

interface ServerInternals {
  connections: Set<unknown>;
  options: { maxClients?: number };
  _onError(err: unknown): void;
  _onClientConnect(data: unknown): void;
  connect(socket: Socket, socketOptions: unknown): void;
}

export interface AcceptOptions {
  /** Greet at once (submission) instead of after the 100 ms pause. */
  greetAtOnce: boolean;
  /** False refuses the socket before any connection is made (the hook answers it). */
  admit?: (socket: Socket) => boolean;
  /** Sees each connection made, before its greeting. */
  watch?: (connection: ConnectionInternals, socket: Socket) => void;
}

export function acceptConnections(server: SMTPServer, opts: AcceptOptions): void {
  const s = server as unknown as ServerInternals;
  s.connect = function connect(socket: Socket, socketOptions: unknown): void {
    if (opts.admit && !opts.admit(socket)) return;
    const connection = new (SMTPConnection as unknown as new (srv: unknown, sock: Socket, o: unknown) => ConnectionInternals)(s, socket, socketOptions);
    s.connections.add(connection);
    connection.on('error', (err) => s._onError(err));
    connection.on('connect', (data) => s._onClientConnect(data));
    opts.watch?.(connection, socket);
    connection._setListeners(() => {
      if (s.options.maxClients && s.connections.size > s.options.maxClients) {
        connection.send(421, `${connection.name} Too many connected clients, try again in a moment`, false);
        return;
      }
      if (opts.greetAtOnce) connection.connectionReady();
      else setTimeout(() => connection.connectionReady(), 100).unref();
    });
  };
}

/** The immediate greeting alone (the bench's stack floor uses it). */
export function greetWithoutDelay(server: SMTPServer): void {
  acceptConnections(server, { greetAtOnce: true });
}
