// Immediate greeting for the submission listener. smtp-server waits a fixed 100 ms before its
// 220 on every connection (early-talker detection against spam bots; not configurable). Legacy
// apps open one connection per message, so on submission that pause alone would cap throughput
// at (connections / 0.1 s). The inbound MX keeps the pause. Relies on smtp-server 3.21 internals
// (pinned in package.json; test/relay.test.ts notices if the behaviour changes).
import type { Socket } from 'node:net';
import type { SMTPServer } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

interface ConnectionInternals {
  _setListeners(callback: () => void): void;
  connectionReady(): void;
  send(code: number, data?: string, context?: string | false): void;
  name: string;
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

export function greetWithoutDelay(server: SMTPServer): void {
  const s = server as unknown as ServerInternals;
  s.connect = function connect(socket: Socket, socketOptions: unknown): void {
    const connection = new (SMTPConnection as unknown as new (srv: unknown, sock: Socket, opts: unknown) => ConnectionInternals)(s, socket, socketOptions);
    s.connections.add(connection);
    connection.on('error', (err) => s._onError(err));
    connection.on('connect', (data) => s._onClientConnect(data));
    connection._setListeners(() => {
      if (s.options.maxClients && s.connections.size > s.options.maxClients) {
        connection.send(421, `${connection.name} Too many connected clients, try again in a moment`, false);
        return;
      }
      connection.connectionReady();
    });
  };
}
