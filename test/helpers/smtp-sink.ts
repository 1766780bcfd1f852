// A real SMTP server on 127.0.0.1 that keeps every accepted message in memory.
// Tests use it as mailgate's upstream (or as a recipient's MX). No mocks: mailgate talks SMTP to it.
//
//   const sink = await startSink();
//   ... configure an upstream { host: sink.host, port: sink.port, tls: none } ...
//   const [msg] = await sink.waitFor(1);
//   await sink.close();
//
// "Upstream down, then back": `await sink.close(); ...; sink2 = await startSink({ port: sink.port })`.
import type net from 'node:net';
import {
  SMTPServer,
  type SMTPServerAddress,
  type SMTPServerAuthentication,
  type SMTPServerAuthenticationResponse,
  type SMTPServerDataStream,
  type SMTPServerOptions,
  type SMTPServerSession,
} from 'smtp-server';

/** An SMTP reply a test wants the sink to give. Codes >= 400 reject; anything below accepts. */
export interface SinkReply {
  code: number;
  message: string;
}

export interface SinkMessage {
  /** Envelope sender (MAIL FROM); '' for the null sender <>. */
  from: string;
  /** Envelope recipients the sink accepted (RCPT TO), in order. */
  to: string[];
  /** The message exactly as received (dot-unstuffed, CRLF line ends as sent). */
  raw: Buffer;
  /** Message-ID header value as written (with angle brackets), unfolded and trimmed. */
  messageId?: string;
  /** The header block of `raw` (everything before the first empty line). */
  headers: string;
  /** AUTH user, when the client authenticated. */
  user?: string;
  /** Whether the session was TLS (STARTTLS or implicit) when DATA completed. */
  secure: boolean;
  remoteAddress: string;
  /** The SMTP session (connection) the message came in on. */
  session: string;
  /** The name the client gave in EHLO/HELO. */
  clientHostname: string;
  receivedAt: Date;
}

export interface SinkOptions {
  /** Port to listen on; 0 or undefined picks a free one. Pass a closed sink's port to "bring it back". */
  port?: number;
  /** Reply for MAIL FROM; return undefined (or code < 400) to accept. */
  mailReply?: (from: string) => SinkReply | undefined;
  /** Reply for one RCPT TO; return undefined (or code < 400) to accept, e.g. `{ code: 550, message: 'No such user' }`. */
  rcptReply?: (rcpt: string) => SinkReply | undefined;
  /**
   * Reply after the body was received; return undefined to accept with 250. A code >= 400 rejects the
   * message (it goes to `sink.rejected`, not `sink.messages`); a code < 400 accepts with `message` as the 250 text.
   */
  dataReply?: (msg: SinkMessage) => SinkReply | undefined;
  /** Offer STARTTLS (or implicit TLS with `implicit: true`) with this key and certificate. Off by default. */
  tls?: { key: string | Buffer; cert: string | Buffer; implicit?: boolean };
  /** Require AUTH (PLAIN/LOGIN, allowed without TLS) with these credentials. Default: AUTH optional, anything accepted. */
  auth?: { user: string; password: string };
  /** Maximum message size advertised; default 100 MiB. */
  size?: number;
  /** Hold each message this long after its body arrived before answering (a slow upstream). */
  dataDelayMs?: number;
}

export interface Sink {
  port: number;
  host: '127.0.0.1';
  /** Accepted messages, in the order DATA completed. Tests may clear it (`sink.messages.length = 0`). */
  messages: SinkMessage[];
  /** Messages whose DATA was answered with a dataReply error code. */
  rejected: SinkMessage[];
  /** Errors the server reported (client resets etc.); kept for inspection, never thrown. */
  errors: Error[];
  /** Number of SMTP sessions opened so far. */
  readonly connectionCount: number;
  /** The most mail transactions (MAIL FROM … end of DATA) that were in progress at once. */
  readonly maxConcurrentTransactions: number;
  /** Resolves with `messages` once it holds at least `count` messages; rejects after timeoutMs (default 10 s) or on close. */
  waitFor(count: number, timeoutMs?: number): Promise<SinkMessage[]>;
  /** Stops listening and drops open sessions (421 then disconnect). Idempotent. */
  close(): Promise<void>;
}

interface Waiter {
  count: number;
  resolve: (msgs: SinkMessage[]) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

function smtpError(reply: SinkReply): Error {
  return Object.assign(new Error(reply.message), { responseCode: reply.code });
}

/** Splits off the header block of a raw message. */
function headerBlock(raw: Buffer): string {
  const text = raw.toString('latin1');
  const m = /\r?\n\r?\n/.exec(text);
  return m ? text.slice(0, m.index) : text;
}

/** First value of header `name` in a header block, unfolded and trimmed; undefined when absent. */
export function getHeader(headers: string, name: string): string | undefined {
  const lines = headers.split(/\r?\n/);
  const wanted = name.toLowerCase() + ':';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.toLowerCase().startsWith(wanted)) {
      let value = line.slice(wanted.length);
      while (i + 1 < lines.length && /^[ \t]/.test(lines[i + 1]!)) value += ' ' + lines[++i]!.trim();
      return value.trim();
    }
  }
  return undefined;
}

/** Every value of header `name`, unfolded and trimmed, in order. */
export function getHeaders(headers: string, name: string): string[] {
  const out: string[] = [];
  const lines = headers.split(/\r?\n/);
  const wanted = name.toLowerCase() + ':';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.toLowerCase().startsWith(wanted)) continue;
    let value = line.slice(wanted.length);
    while (i + 1 < lines.length && /^[ \t]/.test(lines[i + 1]!)) value += ' ' + lines[++i]!.trim();
    out.push(value.trim());
  }
  return out;
}

export async function startSink(opts: SinkOptions = {}): Promise<Sink> {
  const messages: SinkMessage[] = [];
  const rejected: SinkMessage[] = [];
  const errors: Error[] = [];
  const waiters = new Set<Waiter>();
  const sockets = new Set<net.Socket>();
  let connectionCount = 0;
  let transactions = 0;
  let maxConcurrentTransactions = 0;
  const inTransaction = new WeakSet<object>();
  const endTransaction = (session: object) => {
    if (inTransaction.delete(session)) transactions--;
  };
  let closed = false;
  let closing: Promise<void> | undefined;

  const settleWaiters = (): void => {
    for (const w of waiters) {
      if (messages.length >= w.count) {
        clearTimeout(w.timer);
        waiters.delete(w);
        w.resolve(messages);
      }
    }
  };

  const options: SMTPServerOptions = {
    name: 'sink.test',
    banner: 'mailgate test sink',
    logger: false,
    disableReverseLookup: true,
    authOptional: !opts.auth,
    allowInsecureAuth: true,
    hideSTARTTLS: !opts.tls || opts.tls.implicit === true,
    disabledCommands: opts.tls ? [] : ['STARTTLS'],
    size: opts.size ?? 100 * 1024 * 1024,
    ...(opts.tls ? { key: opts.tls.key, cert: opts.tls.cert, secure: opts.tls.implicit === true } : {}),
    onConnect(_session: SMTPServerSession, callback: (err?: Error | null) => void) {
      connectionCount++;
      callback();
    },
    onAuth(
      auth: SMTPServerAuthentication,
      _session: SMTPServerSession,
      callback: (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void,
    ) {
      if (opts.auth && (auth.username !== opts.auth.user || auth.password !== opts.auth.password)) {
        callback(smtpError({ code: 535, message: 'Authentication failed' }));
        return;
      }
      callback(null, { user: auth.username ?? '' });
    },
    onMailFrom(address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void) {
      const reply = opts.mailReply?.(address.address);
      if (!(reply && reply.code >= 400) && !inTransaction.has(session)) {
        inTransaction.add(session);
        maxConcurrentTransactions = Math.max(maxConcurrentTransactions, ++transactions);
      }
      callback(reply && reply.code >= 400 ? smtpError(reply) : null);
    },
    onClose(session: SMTPServerSession) {
      endTransaction(session);
    },
    onRcptTo(address: SMTPServerAddress, _session: SMTPServerSession, callback: (err?: Error | null) => void) {
      const reply = opts.rcptReply?.(address.address);
      callback(reply && reply.code >= 400 ? smtpError(reply) : null);
    },
    onData(
      stream: SMTPServerDataStream,
      session: SMTPServerSession,
      callback: (err?: Error | null, message?: string) => void,
    ) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (err: Error) => callback(err));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        const headers = headerBlock(raw);
        const mailFrom = session.envelope.mailFrom;
        const user: unknown = session.user;
        const msg: SinkMessage = {
          from: mailFrom ? mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          headers,
          messageId: getHeader(headers, 'Message-ID'),
          ...(typeof user === 'string' && user !== '' ? { user } : {}),
          secure: session.secure,
          remoteAddress: session.remoteAddress,
          session: session.id,
          clientHostname: session.clientHostname,
          receivedAt: new Date(),
        };
        if (stream.sizeExceeded) {
          endTransaction(session);
          rejected.push(msg);
          callback(smtpError({ code: 552, message: 'Message exceeds fixed maximum message size' }));
          return;
        }
        const reply = opts.dataReply?.(msg);
        if (reply && reply.code >= 400) {
          endTransaction(session);
          rejected.push(msg);
          callback(smtpError(reply));
          return;
        }
        const accept = () => {
          endTransaction(session);
          messages.push(msg);
          callback(null, reply?.message);
          settleWaiters();
        };
        if (opts.dataDelayMs) setTimeout(accept, opts.dataDelayMs);
        else accept();
      });
    },
  };

  const server = new SMTPServer(options);
  server.on('error', (err: Error) => {
    errors.push(err);
  });
  server.server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    const onListenError = (err: Error): void => reject(err);
    server.server.once('error', onListenError);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.server.off('error', onListenError);
      resolve();
    });
  });
  const address = server.server.address();
  if (address === null || typeof address === 'string') throw new Error('sink: unexpected listen address');

  const sink: Sink = {
    port: address.port,
    host: '127.0.0.1',
    messages,
    rejected,
    errors,
    get connectionCount() {
      return connectionCount;
    },
    get maxConcurrentTransactions() {
      return maxConcurrentTransactions;
    },
    waitFor(count: number, timeoutMs = 10_000): Promise<SinkMessage[]> {
      if (messages.length >= count) return Promise.resolve(messages);
      if (closed) return Promise.reject(new Error('sink is closed'));
      return new Promise<SinkMessage[]>((resolve, reject) => {
        const waiter: Waiter = {
          count,
          resolve,
          reject,
          timer: setTimeout(() => {
            waiters.delete(waiter);
            reject(
              new Error(
                `sink on port ${address.port}: waited ${timeoutMs} ms for ${count} message(s), got ${messages.length}` +
                  (rejected.length ? ` (+${rejected.length} rejected)` : ''),
              ),
            );
          }, timeoutMs),
        };
        waiters.add(waiter);
      });
    },
    close(): Promise<void> {
      if (closing) return closing;
      closed = true;
      for (const w of waiters) {
        clearTimeout(w.timer);
        w.reject(new Error(`sink on port ${address.port} closed with ${messages.length} message(s)`));
      }
      waiters.clear();
      closing = new Promise<void>((resolve) => {
        // Stragglers that ignore the 421 and our FIN are cut off shortly after.
        const killTimer = setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, 250);
        server.close(() => {
          clearTimeout(killTimer);
          resolve();
        });
        for (const conn of [...server.connections]) {
          try {
            conn.send(421, 'sink.test Service not available, closing transmission channel');
          } catch {
            // socket already gone
          }
          conn.close();
        }
      });
      return closing;
    },
  };
  return sink;
}
