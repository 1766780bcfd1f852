// Counting SMTP sink for the relay benchmark, run as its own process so that its CPU does not
// count against the process under test:  node --import tsx test/bench/sink-process.ts [--port N]
// Accepts everything, discards bodies, counts completed DATA transactions. Talks to the parent
// over IPC (see SinkToParent / ParentToSink); exits when the parent disconnects.
import { Writable } from 'node:stream';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

export type ParentToSink =
  | { type: 'target'; count: number } // answer 'reached' once `count` messages were counted
  | { type: 'reset' } // count from zero again; answered with 'reset-done'
  | { type: 'stats' } // answered with 'stats'
  | { type: 'close' }; // stop listening and exit

export type SinkToParent =
  | { type: 'ready'; port: number; pid: number }
  | { type: 'reached'; count: number }
  | { type: 'reset-done' }
  | { type: 'stats'; count: number; bytes: number; connections: number; errors: number };

function send(msg: SinkToParent): void {
  if (process.send) process.send(msg);
  else process.stdout.write(JSON.stringify(msg) + '\n');
}

const portArg = process.argv.indexOf('--port');
const port = portArg >= 0 ? Number(process.argv[portArg + 1]) : 0;

// smtp-server waits a fixed 100 ms before its 220 greeting on every connection (early-talker
// detection, not configurable). With one message per connection that delay, not the receiver's
// work, would set the ceiling (conns / 0.1 s). The bench sink skips it unless --stock-greeting is
// given, by replacing SMTPConnection#init with the same steps minus the timer (smtp-server 3.21).
if (!process.argv.includes('--stock-greeting')) {
  interface ConnectionInternals {
    _setListeners(callback: () => void): void;
    connectionReady(): void;
    send(code: number, data?: string, context?: string | false): void;
    name: string;
    _server: { options: { maxClients?: number }; connections: Set<unknown> };
  }
  SMTPConnection.prototype.init = function init(this: SMTPConnection): void {
    const self = this as unknown as ConnectionInternals;
    self._setListeners(() => {
      const { maxClients } = self._server.options;
      if (maxClients && self._server.connections.size > maxClients) {
        self.send(421, self.name + ' Too many connected clients, try again in a moment', false);
        return;
      }
      self.connectionReady();
    });
  };
}

let count = 0;
let bytes = 0;
let connections = 0;
let errors = 0;
const targets = new Set<number>();

/** A writable that only counts bytes: where message bodies go. */
function nullSink(): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      cb();
    },
  });
}

function checkTargets(): void {
  for (const t of targets) {
    if (count >= t) {
      targets.delete(t);
      send({ type: 'reached', count });
    }
  }
}

const server = new SMTPServer({
  name: 'bench-sink.test',
  logger: false,
  disableReverseLookup: true,
  authOptional: true,
  hideSTARTTLS: true,
  disabledCommands: ['STARTTLS'],
  size: 200 * 1024 * 1024,
  onConnect(_session: SMTPServerSession, cb: (err?: Error | null) => void) {
    connections++;
    cb();
  },
  onData(stream: SMTPServerDataStream, _session: SMTPServerSession, cb: (err?: Error | null) => void) {
    stream.pipe(nullSink());
    stream.on('end', () => {
      count++;
      cb();
      if (targets.size) checkTargets();
    });
  },
});
server.on('error', () => {
  errors++;
});

function shutdown(): void {
  server.close(() => process.exit(0));
  for (const c of server.connections) c.close();
  setTimeout(() => process.exit(0), 1000).unref();
}

process.on('message', (raw: unknown) => {
  const msg = raw as ParentToSink;
  switch (msg.type) {
    case 'target':
      targets.add(msg.count);
      checkTargets();
      break;
    case 'reset':
      count = 0;
      bytes = 0;
      connections = 0;
      errors = 0;
      targets.clear();
      send({ type: 'reset-done' });
      break;
    case 'stats':
      send({ type: 'stats', count, bytes, connections, errors });
      break;
    case 'close':
      shutdown();
      break;
  }
});
process.on('disconnect', shutdown);
process.on('SIGTERM', shutdown);

server.listen(port, '127.0.0.1', () => {
  const addr = server.server.address();
  if (addr === null || typeof addr === 'string') throw new Error('unexpected address');
  send({ type: 'ready', port: addr.port, pid: process.pid });
});
