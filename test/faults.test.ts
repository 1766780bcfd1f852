// Fault injection against a real mailgate process on loopback: SIGKILL in the middle of a
// 5,000 message run, an upstream that flaps (drops DATA, answers 421, then accepts), hostile
// clients on the submission listener (connection floods, idle sockets, a 100 MB DATA, SMTP
// smuggling, 8-bit and oversized headers, AUTH brute force) and open-relay attempts on both
// SMTP listeners. Needs the built CLI (`npm run build`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { readFile } from 'node:fs/promises';
import nodemailer from 'nodemailer';
import { startSink, type Sink } from './helpers/smtp-sink.js';
import { startMailgate, writeConfig, type MailgateProcess } from './helpers/mailgate-process.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';
import { ADMIN_TOKEN, sinkUpstream, testConfig } from './helpers/config.js';
import { eventsFor, waitForEvent, type Ev } from './helpers/events.js';

const SHOP = '{ id: shop, name: Shop, auth: [ { user: shop, password: correct-horse } ], upstream: up }';
const AUTH = { user: 'shop', pass: 'correct-horse' };
const AUTH_PLAIN = Buffer.from('\0shop\0correct-horse').toString('base64');

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns true; throws with `what()` after timeoutMs. */
async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what()}`);
    await sleep(100);
  }
}

function submitter(mg: MailgateProcess, opts: { auth?: boolean; localAddress?: string } = {}) {
  return nodemailer.createTransport({
    host: mg.submission.host, port: mg.submission.port, secure: false, ignoreTLS: true,
    ...(opts.auth === false ? {} : { auth: AUTH }), ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
  });
}

async function adminGet<T>(mg: MailgateProcess, pathAndQuery: string): Promise<T> {
  const res = await fetch(`${mg.adminUrl}/api/v1${pathAndQuery}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  if (res.status !== 200) throw new Error(`GET ${pathAndQuery} answered ${res.status}`);
  return (await res.json()) as T;
}

const queueDepth = async (mg: MailgateProcess) => (await adminGet<{ depth: number }>(mg, '/queue/summary')).depth;
const eventsOfMessage = async (mg: MailgateProcess, msgId: string) => (await adminGet<{ events: Ev[] }>(mg, `/events?msgId=${msgId}`)).events;

/** RSS of a process in bytes, from /proc. */
async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
}

/**
 * A raw SMTP client: exact bytes on the wire, every complete reply (multi-line joined with "\n")
 * in order, writes that respect back-pressure, and `null` from next() once the server has closed.
 */
class RawClient {
  readonly replies: string[] = [];
  closed = false;
  /** When each reply arrived (ms since the epoch). */
  readonly replyTimes: number[] = [];
  /** When the connection closed (ms since the epoch). */
  closedAt = 0;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private read = 0;
  private buffer = '';
  private current: string[] = [];
  private wake: (() => void) | undefined;

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let i: number;
      while ((i = this.buffer.indexOf('\r\n')) >= 0) {
        const line = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 2);
        this.current.push(line);
        if (/^\d{3}(?: |$)/.test(line)) {
          this.replies.push(this.current.join('\n'));
          this.current = [];
          this.replyTimes.push(Date.now());
        }
      }
      this.wake?.();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.closedAt = Date.now();
      this.stopKeepAlive();
      this.wake?.();
    });
  }

  static connect(port: number, localAddress?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) });
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Opens a session: greeting, EHLO and (unless auth is false) AUTH PLAIN as the shop tenant. */
  static async session(port: number, opts: { auth?: boolean; localAddress?: string } = {}): Promise<RawClient> {
    const c = await RawClient.connect(port, opts.localAddress);
    expect(await c.next()).toMatch(/^220 /);
    expect(await c.cmd('EHLO client.test')).toMatch(/^250/);
    if (opts.auth !== false) expect(await c.cmd(`AUTH PLAIN ${AUTH_PLAIN}`)).toMatch(/^235/);
    return c;
  }

  /** The next reply not yet returned; null when the connection closed without one. */
  async next(timeoutMs = 15_000): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.read >= this.replies.length) {
      if (this.closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no SMTP reply within ${timeoutMs} ms; replies so far ${JSON.stringify(this.replies.map((r) => r.slice(0, 200)))}`);
      await this.wakeOrTimeout(left);
    }
    return this.replies[this.read++]!;
  }

  /** Waits until the next reply or close (wake), or `ms`. */
  private async wakeOrTimeout(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
  }

  /** Sends one command line (CRLF added) and returns its reply. */
  async cmd(line: string, timeoutMs?: number): Promise<string | null> {
    await this.write(`${line}\r\n`);
    return this.next(timeoutMs);
  }

  /** Writes bytes, waiting for the socket to drain when its buffer is full. */
  write(data: string | Buffer): Promise<void> {
    if (this.closed || this.socket.destroyed) return Promise.resolve();
    const ok = this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
    if (ok) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  /** Waits until the server closes the connection; throws after timeoutMs. */
  async waitClosed(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`connection still open after ${timeoutMs} ms`);
      await this.wakeOrTimeout(left);
    }
  }

  /** Sends NOOP every `ms` so the session is never idle (its replies are collected like any other). */
  keepAlive(ms: number): void {
    this.keepAliveTimer ??= setInterval(() => void this.write('NOOP\r\n'), ms);
  }

  stopKeepAlive(): void {
    clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
  }

  destroy(): void {
    this.stopKeepAlive();
    this.socket.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// 1. SIGKILL while 5,000 messages are being submitted and delivered
// ---------------------------------------------------------------------------------------------

describe('kill -9 during a 5,000 message submission and delivery run', () => {
  let dir: string | undefined;
  let mg: MailgateProcess | undefined;
  let sink: Sink | undefined;

  afterAll(async () => {
    await mg?.kill('SIGKILL');
    await sink?.close();
    if (dir) await removeDir(dir);
  });

  it('delivers every message answered 250 after restart; duplicates stay within the deliveries in flight', async () => {
    const N = 5000;
    const KILL_AT = 2500;
    /** queue.concurrency and the upstream's maxConnections: the most deliveries that can be in flight at the kill. */
    const IN_FLIGHT = 20;
    dir = await makeTempDir('mg-faults-kill-');
    sink = await startSink();
    const configFile = await writeConfig(dir, testConfig({
      dataDir: `${dir}/data`,
      upstreams: [`{ name: up, host: 127.0.0.1, port: ${sink.port}, tls: none, maxConnections: ${IN_FLIGHT} }`],
      tenants: [SHOP],
      extra: `queue: { retrySchedule: [1s], maxAge: 1h, concurrency: ${IN_FLIGHT} }`,
    }));
    const first = await startMailgate({ configFile });
    mg = first;

    const transport = nodemailer.createTransport({
      host: first.submission.host, port: first.submission.port, secure: false, ignoreTLS: true,
      pool: true, maxConnections: 8, maxMessages: 1000, auth: AUTH,
      // Nagle off, as a busy app would: otherwise each message's final "." waits for a delayed ACK.
      getSocket: (_options, callback) => {
        const socket = net.connect({ host: first.submission.host, port: first.submission.port });
        socket.setNoDelay(true);
        socket.once('connect', () => {
          socket.removeAllListeners('error');
          callback(null, { connection: socket });
        });
        socket.once('error', (err) => callback(err, undefined));
      },
    });
    const mid = (i: number) => `<kill-${i}@shop.test>`;
    const accepted = new Set<string>();
    const failures = new Map<string, number>();
    let atKill: { accepted: number; atSink: number; elapsedMs: number } | undefined;
    const started = Date.now();
    const sends = Array.from({ length: N }, (_, i) =>
      transport
        .sendMail({ from: 'orders@shop.test', to: `buyer${i}@example.test`, subject: `order ${i}`, messageId: mid(i), text: `order ${i}\n` })
        .then(
          (info) => {
            if (/^250 .*queued as/.test(info.response)) accepted.add(mid(i));
            if (!atKill && accepted.size >= KILL_AT) {
              atKill = { accepted: accepted.size, atSink: sink!.messages.length, elapsedMs: Date.now() - started };
              void first.kill('SIGKILL');
              // Messages still waiting in the client's pool are never sent: fail them now.
              transport.close();
            }
          },
          (err: Error & { code?: string; responseCode?: number }) => {
            const key = err.responseCode ? `reply ${err.responseCode}` : (err.code ?? err.message);
            failures.set(key, (failures.get(key) ?? 0) + 1);
          },
        ),
    );
    let guard: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(sends),
      new Promise((_, reject) => { guard = setTimeout(() => reject(new Error(`submissions not settled after 40 s: ${accepted.size} accepted`)), 40_000); }),
    ]).finally(() => clearTimeout(guard));
    transport.close();

    expect(atKill, 'mailgate was killed part-way').toBeDefined();
    expect(await first.exited()).toBeNull(); // died of the signal
    expect(atKill!.atSink, 'the sink was already receiving when mailgate was killed').toBeGreaterThan(0);
    expect(accepted.size).toBeGreaterThanOrEqual(KILL_AT);
    expect(accepted.size).toBeLessThan(N);
    // Every submission got its 250, failed on a connection the kill cut, or was still waiting in the
    // client's pool when it was closed; none got an SMTP error reply.
    const notSent = failures.get('Connection pool was closed') ?? 0;
    const failed = [...failures.values()].reduce((a, b) => a + b, 0) - notSent;
    expect(accepted.size + failed + notSent).toBe(N);
    expect([...failures.keys()].filter((k) => k.startsWith('reply ')), JSON.stringify([...failures])).toEqual([]);

    // Restart on the same data directory; the sink stays up.
    mg = await startMailgate({ configFile });
    const second = mg;
    const arrived = () => new Set(sink!.messages.map((m) => m.messageId));
    await until(() => {
      const got = arrived();
      return [...accepted].every((id) => got.has(id));
    }, 40_000, () => `${[...accepted].filter((id) => !arrived().has(id)).length} of ${accepted.size} accepted messages still missing`);
    await until(async () => (await queueDepth(second)) === 0, 20_000, () => 'queue did not drain');
    await sleep(1000); // anything still arriving now would be a late duplicate

    const copies = new Map<string, number>();
    for (const m of sink.messages) copies.set(m.messageId!, (copies.get(m.messageId!) ?? 0) + 1);
    const lost = [...accepted].filter((id) => !copies.has(id));
    const duplicated = [...copies].filter(([, n]) => n > 1);
    const unacknowledgedArrived = [...copies.keys()].filter((id) => !accepted.has(id)).length;
    console.log(
      `[faults] kill -9 during 5,000 messages: killed after ${atKill!.accepted} x 250 (${atKill!.elapsedMs} ms, ${atKill!.atSink} at the sink); ` +
      `answered 250: ${accepted.size}; failed on the connection: ${failed} ${JSON.stringify(Object.fromEntries([...failures].filter(([k]) => k !== 'Connection pool was closed')))}; left in the client's pool: ${notSent}; lost: ${lost.length}; ` +
      `duplicated Message-IDs: ${duplicated.length} (${duplicated.reduce((a, [, n]) => a + n - 1, 0)} extra copies; bound ${IN_FLIGHT}); ` +
      `never answered 250 but delivered: ${unacknowledgedArrived}; sink total: ${sink.messages.length}`,
    );
    expect(lost).toEqual([]);
    expect(duplicated.length).toBeLessThanOrEqual(IN_FLIGHT);
    expect(Math.max(...copies.values())).toBeLessThanOrEqual(2);
    // Nothing arrives that was never submitted, and every copy is addressed to its own buyer.
    for (const m of sink.messages) {
      const i = /^<kill-(\d+)@shop\.test>$/.exec(m.messageId ?? '')?.[1];
      expect(i, m.messageId).toBeDefined();
      expect(m.to).toEqual([`buyer${i}@example.test`]);
    }
  }, 58_000);
});

// ---------------------------------------------------------------------------------------------
// 2. An upstream that flaps: accepts, then drops the connection in DATA, then 421, then accepts
// ---------------------------------------------------------------------------------------------

type FlakyPhase = 'accept-first' | 'drop-in-data' | 'refuse-421' | 'accept';

interface FlakyUpstream {
  port: number;
  readonly phase: FlakyPhase;
  /** Messages accepted with 250, dot-unstuffed. */
  accepted: Array<{ to: string[]; raw: Buffer; messageId?: string }>;
  /** DATA transactions cut off in the middle, by recipient. */
  drops: Map<string, number>;
  /** Connections answered "421 4.3.2 Service not available". */
  readonly refusals: number;
  connections: number;
  close(): Promise<void>;
}

/**
 * A raw SMTP upstream that accepts the first message, then cuts every DATA off in the middle
 * (TCP reset after the first body bytes) until each of `flapping` has been cut at least once,
 * then answers `421 4.3.2 Service not available` to `refuseCount` connections, then accepts everything.
 */
async function startFlakyUpstream(flapping: string[], refuseCount: number): Promise<FlakyUpstream> {
  let phase: FlakyPhase = 'accept-first';
  let refusals = 0;
  const accepted: FlakyUpstream['accepted'] = [];
  const drops = new Map<string, number>();
  const sockets = new Set<net.Socket>();
  const state = { connections: 0 };

  const refuse = (sock: net.Socket) => {
    refusals++;
    if (refusals >= refuseCount) phase = 'accept';
    sock.end('421 4.3.2 Service not available\r\n');
  };

  const server = net.createServer((sock) => {
    state.connections++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    if (phase === 'refuse-421') return refuse(sock);
    sock.write('220 flaky.test ESMTP\r\n');
    let mode: 'command' | 'data' = 'command';
    let buf = Buffer.alloc(0);
    let rcpts: string[] = [];
    let data = Buffer.alloc(0);

    const command = (line: string) => {
      const verb = line.slice(0, 4).toUpperCase();
      if (phase === 'refuse-421' && verb !== 'QUIT') return refuse(sock);
      switch (verb) {
        case 'EHLO': sock.write('250-flaky.test\r\n250-8BITMIME\r\n250 SIZE 104857600\r\n'); break;
        case 'HELO': sock.write('250 flaky.test\r\n'); break;
        case 'MAIL': rcpts = []; sock.write('250 2.1.0 Ok\r\n'); break;
        case 'RCPT': rcpts.push(/<([^>]*)>/.exec(line)?.[1] ?? ''); sock.write('250 2.1.5 Ok\r\n'); break;
        case 'DATA':
          mode = 'data';
          data = Buffer.from('\r\n'); // so a terminator right at the start is found too
          sock.write('354 End data with <CR><LF>.<CR><LF>\r\n');
          break;
        case 'RSET': rcpts = []; sock.write('250 2.0.0 Ok\r\n'); break;
        case 'NOOP': sock.write('250 2.0.0 Ok\r\n'); break;
        case 'QUIT': sock.end('221 2.0.0 Bye\r\n'); break;
        default: sock.write('502 5.5.2 Error: command not recognized\r\n');
      }
    };

    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (!sock.destroyed) {
        if (mode === 'command') {
          const i = buf.indexOf('\r\n');
          if (i < 0) return;
          const line = buf.subarray(0, i).toString('latin1');
          buf = buf.subarray(i + 2);
          command(line);
          continue;
        }
        if (phase === 'drop-in-data') {
          if (buf.length === 0) return;
          for (const r of rcpts) drops.set(r, (drops.get(r) ?? 0) + 1);
          if (flapping.every((r) => drops.has(r))) phase = 'refuse-421';
          sock.resetAndDestroy();
          return;
        }
        const from = data.length;
        data = Buffer.concat([data, buf]);
        buf = Buffer.alloc(0);
        const end = data.indexOf('\r\n.\r\n', Math.max(0, from - 4));
        if (end < 0) return;
        buf = data.subarray(end + 5);
        const raw = Buffer.from(data.subarray(2, end + 2).toString('latin1').replace(/^\.\./gm, '.'), 'latin1');
        data = Buffer.alloc(0);
        mode = 'command';
        if (phase === 'refuse-421') {
          refuse(sock);
          return;
        }
        const messageId = /^Message-ID:\s*(\S+)/im.exec(raw.toString('latin1'))?.[1];
        accepted.push({ to: rcpts, raw, ...(messageId ? { messageId } : {}) });
        if (phase === 'accept-first') phase = 'drop-in-data';
        sock.write('250 2.0.0 Ok: accepted\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get phase() {
      return phase;
    },
    accepted,
    drops,
    get refusals() {
      return refusals;
    },
    get connections() {
      return state.connections;
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

describe('an upstream that flaps', () => {
  let dir: string | undefined;
  let mg: MailgateProcess | undefined;
  let upstream: FlakyUpstream | undefined;

  afterAll(async () => {
    await mg?.kill();
    await upstream?.close();
    if (dir) await removeDir(dir);
  });

  it('delivers each message exactly once through drops in DATA and 421 replies, recording deferred before delivered', async () => {
    const flapping = ['flap0@example.test', 'flap1@example.test', 'flap2@example.test'];
    upstream = await startFlakyUpstream(flapping, flapping.length);
    dir = await makeTempDir('mg-faults-flap-');
    mg = await startMailgate({ configFile: await writeConfig(dir, testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('up', upstream.port)],
      tenants: [SHOP],
      extra: 'queue: { retrySchedule: [1s], maxAge: 1h }',
    })) });
    const client = submitter(mg);
    // Big enough that "in the middle of DATA" is really the middle: the cut comes after the first chunk.
    const body = (k: string) => Array.from({ length: 4000 }, (_, i) => `${k} line ${i} of the order confirmation, padded to a realistic length`).join('\n') + '\n';

    const firstInfo = await client.sendMail({ from: 'orders@shop.test', to: 'first@example.test', subject: 'first', messageId: '<flap-first@shop.test>', text: body('first') });
    const firstId = firstInfo.response.split(' ').pop()!;
    await until(() => upstream!.accepted.length === 1, 10_000, () => 'first message not accepted');
    expect(upstream.phase).toBe('drop-in-data');

    const ids = new Map<string, string>();
    await Promise.all(flapping.map(async (to, k) => {
      const info = await client.sendMail({ from: 'orders@shop.test', to, subject: `flap ${k}`, messageId: `<flap-${k}@shop.test>`, text: body(`flap${k}`) });
      ids.set(to, info.response.split(' ').pop()!);
    }));
    for (const to of flapping) await waitForEvent(mg, to, 'delivered', 30_000);
    await until(async () => (await queueDepth(mg!)) === 0, 10_000, () => 'queue did not drain');
    await sleep(2500); // longer than a retry interval: a second copy would show up now

    // Exactly once each, complete.
    const byId = new Map<string, number>();
    for (const m of upstream.accepted) byId.set(m.messageId ?? '?', (byId.get(m.messageId ?? '?') ?? 0) + 1);
    expect(Object.fromEntries(byId)).toEqual({ '<flap-first@shop.test>': 1, '<flap-0@shop.test>': 1, '<flap-1@shop.test>': 1, '<flap-2@shop.test>': 1 });
    for (const [k, to] of flapping.entries()) {
      const m = upstream.accepted.find((a) => a.messageId === `<flap-${k}@shop.test>`)!;
      expect(m.to).toEqual([to]);
      expect(m.raw.toString('latin1')).toContain(body(`flap${k}`).replace(/\n/g, '\r\n'));
      expect(upstream.drops.get(to)).toBeGreaterThanOrEqual(1);
    }
    expect(upstream.refusals).toBeGreaterThanOrEqual(flapping.length);

    // The event log: deferred (the cut connection, the 421) before the one delivered.
    expect((await eventsOfMessage(mg, firstId)).map((e) => e.type)).toEqual(['accepted', 'delivered']);
    const deferReplies: number[] = [];
    const history: string[] = [];
    for (const to of flapping) {
      const evs = await eventsOfMessage(mg, ids.get(to)!);
      const types = evs.map((e) => e.type);
      history.push(`${to}: ${evs.map((e) => (e.reply && e.type !== 'delivered' ? `${e.type}(${e.reply.code} ${e.reply.text.slice(0, 50)})` : e.type)).join(' > ')}`);
      expect(types[0]).toBe('accepted');
      expect(types.filter((t) => t === 'delivered')).toHaveLength(1);
      expect(types.indexOf('deferred')).toBeGreaterThan(0);
      expect(types.indexOf('deferred')).toBeLessThan(types.indexOf('delivered'));
      expect(types.lastIndexOf('delivered')).toBe(types.length - 1);
      for (const e of evs.filter((x) => x.type === 'deferred')) deferReplies.push(e.reply?.code ?? 0);
    }
    console.log(`[faults] flapping upstream: ${upstream.drops.size} recipients cut in DATA, ${upstream.refusals} connections refused with 421\n  ${history.join('\n  ')}`);
    // Both kinds of trouble were seen and recorded as temporary.
    expect(deferReplies).toContain(421);
    expect(deferReplies.some((c) => c !== 421)).toBe(true);
    expect(deferReplies.every((c) => c >= 400 && c < 500)).toBe(true);
  }, 45_000);
});

// ---------------------------------------------------------------------------------------------
// 3. Hostile clients on the submission listener
// ---------------------------------------------------------------------------------------------

describe('hostile clients on the submission listener', () => {
  let dir: string;
  let mg: MailgateProcess;
  let sink: Sink;
  const MAX_CONNECTIONS = 50;
  const IDLE_TIMEOUT_MS = 2000;

  beforeAll(async () => {
    dir = await makeTempDir('mg-faults-hostile-');
    sink = await startSink();
    mg = await startMailgate({ configFile: await writeConfig(dir, testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('up', sink.port)],
      tenants: [SHOP],
      extra: `limits: { maxMessageSize: 10MB, maxConnections: ${MAX_CONNECTIONS}, submissionConnectionsPerClient: 10000, idleTimeout: ${IDLE_TIMEOUT_MS / 1000}s }\nqueue: { retrySchedule: [1s], maxAge: 1h }`,
    })) });
  });
  afterAll(async () => {
    await mg?.kill();
    await sink?.close();
    await removeDir(dir);
  });

  const alive = () => {
    expect(mg.exitCode, `mailgate exited:\n${mg.stderr.slice(-2000)}`).toBeUndefined();
    expect(mg.logs.some((l) => l.msg === 'delivery thread exited; restarting it')).toBe(false);
  };

  /** A normal authenticated message still goes through end to end. */
  const stillRelays = async (tag: string) => {
    const before = sink.messages.length;
    const info = await submitter(mg).sendMail({ from: 'orders@shop.test', to: `after-${tag}@example.test`, subject: `after ${tag}`, messageId: `<after-${tag}@shop.test>`, text: 'still here' });
    expect(info.response).toMatch(/queued as/);
    await until(() => sink.messages.slice(before).some((m) => m.messageId === `<after-${tag}@shop.test>`), 10_000, () => `<after-${tag}@shop.test> not relayed`);
  };

  it('enforces maxConnections against 1,000 connections and closes idle sessions after idleTimeout', async () => {
    const TOTAL = 1000;
    const clients: RawClient[] = [];
    try {
      // 1,000 connections at once. Whoever is greeted keeps its session busy (NOOP every 500 ms)
      // from its greeting on, so no slot is freed by the idle timeout while we count.
      const firsts = await Promise.all(Array.from({ length: TOTAL }, async () => {
        const c = await RawClient.connect(mg.submission.port);
        clients.push(c);
        const first = await c.next(10_000);
        if (first?.startsWith('220 ')) c.keepAlive(500);
        return first;
      }));
      const held = clients.filter((c) => c.replies[0]?.startsWith('220 '));
      const refused = firsts.filter((r) => r === null || /^421 /.test(r)).length;
      expect(held.length).toBeLessThanOrEqual(MAX_CONNECTIONS);
      expect(held.length).toBeGreaterThan(MAX_CONNECTIONS / 2);
      expect(held.length + refused).toBe(TOTAL);
      expect(firsts.filter((r) => r !== null && /^421 .*Too many connected clients/.test(r)).length).toBeGreaterThanOrEqual(TOTAL - MAX_CONNECTIONS);
      // Refused connections are closed by the server.
      await Promise.all(clients.filter((c) => !held.includes(c)).map((c) => c.waitClosed(8000)));

      // While every slot is held, a well-behaved client is refused too (the limit is a hard limit).
      if (held.length === MAX_CONNECTIONS) {
        const late = await RawClient.connect(mg.submission.port);
        expect(await late.next()).toMatch(/^421 /);
        await late.waitClosed(8000);
      }
      // Busy sessions outlive the idle timeout.
      await sleep(IDLE_TIMEOUT_MS + 500);
      expect(held.filter((c) => c.closed)).toHaveLength(0);

      // Now they go idle: the server answers 421 and closes each about idleTimeout after its last reply.
      for (const c of held) c.stopKeepAlive();
      await Promise.all(held.map((c) => c.waitClosed(IDLE_TIMEOUT_MS + 6000)));
      for (const c of held) expect(c.replies.at(-1)).toMatch(/^421 .*Timeout/);
      // From the reply to the last NOOP to the timeout's 421.
      const idleSpans = held.map((c) => c.replyTimes.at(-1)! - c.replyTimes.at(-2)!);
      expect(Math.min(...idleSpans)).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS - 300);
      expect(Math.max(...idleSpans)).toBeLessThan(IDLE_TIMEOUT_MS + 5000);
      alive();
      await stillRelays('flood');
    } finally {
      for (const c of clients) c.destroy();
    }
  }, 45_000);

  it('answers 552 to a streamed 100 MB DATA over a 10 MB limit, relays nothing, and does not buffer it', async () => {
    const baseline = await rssBytes(mg.pid);
    let peak = baseline;
    const sampler = setInterval(() => { rssBytes(mg.pid).then((r) => { peak = Math.max(peak, r); }, () => undefined); }, 20);
    const c = await RawClient.session(mg.submission.port);
    try {
      expect(await c.cmd('MAIL FROM:<orders@shop.test>')).toMatch(/^250/);
      expect(await c.cmd('RCPT TO:<huge@example.test>')).toMatch(/^250/);
      expect(await c.cmd('DATA')).toMatch(/^354/);
      await c.write('Subject: huge\r\nMessage-ID: <huge@shop.test>\r\n\r\n');
      const line = 'x'.repeat(98) + '\r\n';
      const chunk = Buffer.from(line.repeat(Math.floor((1024 * 1024) / line.length)), 'latin1');
      let sent = 0;
      while (sent < 100 * 1024 * 1024) {
        await c.write(chunk);
        sent += chunk.length;
      }
      await c.write('.\r\n');
      const reply = await c.next(30_000);
      expect(reply).toMatch(/^552 5\.3\.4 /);
      expect(await c.cmd('QUIT')).toMatch(/^221/);
    } finally {
      clearInterval(sampler);
      c.destroy();
    }
    peak = Math.max(peak, await rssBytes(mg.pid));
    const growthMb = (peak - baseline) / 1024 / 1024;
    console.log(`[faults] 100 MB DATA: mailgate RSS ${Math.round(baseline / 1048576)} MB before, peak ${Math.round(peak / 1048576)} MB (+${growthMb.toFixed(1)} MB)`);
    expect(growthMb).toBeLessThan(150);
    await sleep(500);
    expect(sink.messages.filter((m) => m.to.includes('huge@example.test'))).toEqual([]);
    expect(await eventsFor(mg, 'huge@example.test')).toEqual([]);
    alive();
    await stillRelays('huge');
  }, 45_000);

  it('never turns one DATA into two messages: \\n.\\n, \\n.\\r\\n and \\r\\n.\\n followed by a smuggled transaction', async () => {
    const variants: Array<[string, string]> = [['lf-dot-lf', '\n.\n'], ['lf-dot-crlf', '\n.\r\n'], ['crlf-dot-lf', '\r\n.\n']];
    for (const [name, fake] of variants) {
      const c = await RawClient.session(mg.submission.port);
      try {
        expect(await c.cmd('MAIL FROM:<orders@shop.test>')).toMatch(/^250/);
        expect(await c.cmd(`RCPT TO:<legit-${name}@example.test>`)).toMatch(/^250/);
        expect(await c.cmd('DATA')).toMatch(/^354/);
        await c.write(
          `Subject: legit ${name}\r\nMessage-ID: <legit-${name}@shop.test>\r\n\r\nfirst part${fake}` +
          `MAIL FROM:<evil@evil.test>\r\nRCPT TO:<victim-${name}@example.test>\r\nDATA\r\n` +
          `Subject: smuggled ${name}\r\nMessage-ID: <smuggled-${name}@evil.test>\r\n\r\nsmuggled body\r\n.\r\n`,
        );
        // One reply for the whole DATA; a smuggled transaction would answer 250 250 250 354 250 instead.
        expect(await c.next()).toMatch(/^250 2\.0\.0 Ok: queued as/);
        expect(await c.cmd('QUIT')).toMatch(/^221/);
        expect(c.replies.filter((r) => r.startsWith('354'))).toHaveLength(1);
      } finally {
        c.destroy();
      }
    }
    for (const [name] of variants) await waitForEvent(mg, `legit-${name}@example.test`, 'delivered');
    await sleep(1000);
    for (const [name, fake] of variants) {
      const got = sink.messages.filter((m) => m.messageId === `<legit-${name}@shop.test>`);
      expect(got, name).toHaveLength(1);
      expect(got[0]!.to).toEqual([`legit-${name}@example.test`]);
      const raw = got[0]!.raw.toString('latin1');
      // The smuggled commands stayed body text, and what went upstream has only CRLF line ends.
      expect(raw).toContain(`MAIL FROM:<evil@evil.test>\r\nRCPT TO:<victim-${name}@example.test>\r\nDATA\r\n`);
      expect(raw).toContain('smuggled body');
      expect(/[^\r]\n|\r[^\n]/.test(raw), `${name}: bare CR or LF relayed (${JSON.stringify(fake)})`).toBe(false);
      expect(sink.messages.filter((m) => m.messageId === `<smuggled-${name}@evil.test>` || m.to.some((t) => t.startsWith('victim-')))).toEqual([]);
      expect(await eventsFor(mg, `victim-${name}@example.test`)).toEqual([]);
    }
    alive();
  }, 30_000);

  it('answers 8-bit header bytes without SMTPUTF8 and a 100 KB header line, stays up and keeps relaying', async () => {
    const cases: Array<[string, Buffer]> = [
      ['8bit-subject', Buffer.concat([
        Buffer.from('From: orders@shop.test\r\nTo: 8bit-subject@example.test\r\nMessage-ID: <8bit-subject@shop.test>\r\nSubject: Gr', 'latin1'),
        Buffer.from([0xe4, 0xdf, 0xfc, 0x20, 0xff, 0xfe, 0x80, 0xc3]), // raw latin-1 and invalid UTF-8, no encoded-word
        Buffer.from('\r\nX-Raw: \x01\x7f', 'latin1'), Buffer.from([0xe4]),
        Buffer.from('\r\n\r\nBody with 8-bit \xe4\xf6\xfc too\r\n', 'latin1'),
      ])],
      ['long-subject', Buffer.from(`From: orders@shop.test\r\nMessage-ID: <long-subject@shop.test>\r\nSubject: ${'s'.repeat(100 * 1024)}\r\n\r\nbody\r\n`, 'latin1')],
      ['long-header', Buffer.from(`From: orders@shop.test\r\nX-Long: ${'h'.repeat(100 * 1024)}\r\nMessage-ID: <long-header@shop.test>\r\nSubject: long header\r\n\r\nbody\r\n`, 'latin1')],
      ['long-8bit-header', Buffer.concat([
        Buffer.from('From: orders@shop.test\r\nMessage-ID: <long-8bit-header@shop.test>\r\nSubject: ', 'latin1'),
        Buffer.alloc(100 * 1024, 0xe4), Buffer.from('\r\n\r\nbody\r\n', 'latin1'),
      ])],
    ];
    const outcomes: Record<string, string> = {};
    for (const [name, message] of cases) {
      const c = await RawClient.session(mg.submission.port);
      try {
        expect(await c.cmd('MAIL FROM:<orders@shop.test>')).toMatch(/^250/);
        expect(await c.cmd(`RCPT TO:<${name}@example.test>`)).toMatch(/^250/);
        expect(await c.cmd('DATA')).toMatch(/^354/);
        await c.write(Buffer.concat([message, Buffer.from('.\r\n')]));
        const reply = (await c.next(15_000)) ?? 'connection closed';
        outcomes[name] = reply;
        // Accepted, or refused with a clear permanent reply; never a hang, a 4xx or a dropped connection.
        expect(reply, name).toMatch(/^(250 2\.0\.0 Ok: queued as|5\d\d [245]\.\d+\.\d+ )/);
        expect(await c.cmd('QUIT')).toMatch(/^221/);
      } finally {
        c.destroy();
      }
      alive();
    }
    // Whatever was accepted reaches an outcome (delivered, or failed with a reason): nothing hangs in the queue.
    for (const [name] of cases) {
      if (!outcomes[name]!.startsWith('250')) continue;
      const { match } = await waitForEvent(mg, `${name}@example.test`, ['delivered', 'failed'], 15_000);
      outcomes[name] = `${outcomes[name]!.slice(0, 3)} then ${match.type}${match.reply ? ` (${match.reply.code} ${match.reply.text.slice(0, 60)})` : ''}`;
      if (match.type === 'delivered') {
        const m = sink.messages.find((x) => x.to.includes(`${name}@example.test`))!;
        expect(m, name).toBeDefined();
      }
    }
    console.log(`[faults] 8-bit / long headers: ${JSON.stringify(outcomes)}`);
    alive();
    await stillRelays('headers');
  }, 45_000);

  it('answers 454 and logs it after ten failed AUTH attempts of a user from one address (runs last: it throttles 127.0.0.9)', async () => {
    const ATTACKER = '127.0.0.9';
    // The shop's app has logged in from its own address (127.0.0.1) before the attack.
    (await RawClient.session(mg.submission.port)).destroy();
    const codes: string[] = [];
    for (let i = 0; i < 15; i++) {
      const c = await RawClient.session(mg.submission.port, { auth: false, localAddress: ATTACKER });
      try {
        codes.push(((await c.cmd(`AUTH PLAIN ${Buffer.from(`\0shop\0wrong-${i}`).toString('base64')}`)) ?? 'closed').slice(0, 3));
      } finally {
        c.destroy();
      }
    }
    expect(codes).toEqual([...Array<string>(10).fill('535'), ...Array<string>(5).fill('454')]);
    const line = await mg.waitForLog((l) => l.msg === 'authentication refused: too many failures for this user from this address' && l.remote === ATTACKER);
    expect(line).toMatchObject({ remote: ATTACKER, user: 'shop', by: 'pair' });
    expect(mg.logs.filter((l) => l.msg === 'authentication failed' && l.remote === ATTACKER)).toHaveLength(10);
    // Even the right password is refused from that address for now; addresses the shop logged in from are not affected.
    const again = await RawClient.session(mg.submission.port, { auth: false, localAddress: ATTACKER });
    expect(await again.cmd(`AUTH PLAIN ${AUTH_PLAIN}`)).toMatch(/^454 4\.7\.0 /);
    again.destroy();
    const other = await RawClient.session(mg.submission.port);
    other.destroy();
    alive();
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------
// 4. Relay attempts without authentication
// ---------------------------------------------------------------------------------------------

describe('open-relay attempts', () => {
  let dir: string;
  let mg: MailgateProcess;
  let sink: Sink;

  beforeAll(async () => {
    dir = await makeTempDir('mg-faults-relay-');
    sink = await startSink();
    mg = await startMailgate({ configFile: await writeConfig(dir, testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('up', sink.port)],
      systemUpstream: 'up',
      tenants: [SHOP, '{ id: legacy, name: Legacy, networks: [ 127.0.0.2/32 ], upstream: up }'],
    })) });
  });
  afterAll(async () => {
    await mg?.kill();
    await sink?.close();
    await removeDir(dir);
  });

  const outside = [
    'victim@example.test',
    'postmaster@example.test',
    'victim@relay.test',
    'victim%example.test@relay.test',
    'b-0000@bounces.relay.test.example.test',
  ];
  /** Address tricks that may already fail the syntax check: any permanent refusal will do. */
  const tricks = ['"victim@example.test"@relay.test', '"victim@example.test"@bounces.relay.test', '@relay.test:victim@example.test', '@bounces.relay.test:victim@example.test', 'victim@example.test@bounces.relay.test'];

  it('refuses every recipient of an unauthenticated client outside the tenant networks on submission', async () => {
    const c = await RawClient.session(mg.submission.port, { auth: false });
    try {
      expect(await c.cmd('MAIL FROM:<spammer@evil.test>')).toMatch(/^250/);
      for (const rcpt of [...outside, 'postmaster@bounces.relay.test']) {
        expect(await c.cmd(`RCPT TO:<${rcpt}>`), rcpt).toMatch(/^55[04] 5\.7\.1 .*Relay access denied/);
      }
      // Quoting and source routes do not get around it either.
      for (const rcpt of tricks) expect(await c.cmd(`RCPT TO:<${rcpt}>`), rcpt).toMatch(/^5\d\d /);
      // With no recipient accepted there is no DATA.
      expect(await c.cmd('DATA')).toMatch(/^5\d\d /);
      expect(await c.cmd('QUIT')).toMatch(/^221/);
    } finally {
      c.destroy();
    }
    // Also through an ordinary client library.
    await expect(submitter(mg, { auth: false }).sendMail({ from: 'spammer@evil.test', to: 'victim@example.test', text: 'spam' }))
      .rejects.toMatchObject({ responseCode: 554 });
    // The log line reaches us through the child's stdout a moment after the reply: wait for it.
    // Refused recipients are logged once per session, with the count and the first of them.
    await mg.waitForLog((l) => l.msg === 'SMTP session: recipients refused' && l.listener === 'submission' && l.first === 'victim@example.test' && l.refused === 1);
  });

  it('refuses on the inbound listener every recipient that is not on the bounce domain', async () => {
    const c = await RawClient.session(mg.inbound.port, { auth: false });
    try {
      expect(await c.cmd('MAIL FROM:<spammer@evil.test>')).toMatch(/^250/);
      for (const rcpt of [...outside, 'victim@sub.bounces.relay.test', 'victim@bounces.relay.test.evil.test']) {
        expect(await c.cmd(`RCPT TO:<${rcpt}>`), rcpt).toMatch(/^554 5\.7\.1 <[^>]*>: Relay access denied/);
      }
      for (const rcpt of tricks) expect(await c.cmd(`RCPT TO:<${rcpt}>`), rcpt).toMatch(/^5\d\d /);
      expect(await c.cmd('DATA')).toMatch(/^5\d\d /);
      // The listener itself works: its own domain's postmaster is taken (control), then abandoned.
      expect(await c.cmd('RCPT TO:<postmaster@bounces.relay.test>')).toMatch(/^250/);
      expect(await c.cmd('RSET')).toMatch(/^250/);
      expect(await c.cmd('QUIT')).toMatch(/^221/);
    } finally {
      c.destroy();
    }
    await mg.waitForLog((l) => l.msg === 'SMTP session: recipients refused' && l.listener === 'inbound' && l.first === 'victim@example.test');
    await sleep(500);
    expect(sink.messages).toEqual([]);
    expect(sink.connectionCount).toBe(0);
    expect(await eventsFor(mg, 'victim@example.test')).toEqual([]);
  });
});
