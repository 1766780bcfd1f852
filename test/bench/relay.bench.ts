// Relay benchmark: how fast does mailgate move messages from SMTP submission to its upstream,
// compared with the same load sent straight to the upstream (the ceiling)?
//
//   npm run bench -- [--count 10000] [--size 10240] [--conns 20] [--reuse [--per-conn 50]]
//                    [--warmup 200] [--timeout 300] [--log-level warn] [--ceiling-only] [--keep]
//                    [--sink-stock-greeting] [--cli dist/cli.js]
//
// Everything runs on 127.0.0.1:
//   bench process (load generator) ──SMTP──► mailgate child (dist/cli.js) ──SMTP──► sink child (counts)
// then, for the ceiling:
//   bench process (load generator) ──SMTP──► fresh sink child
//
// Measured for the timed run (after a warm-up):
//   e2e msg/s     N / (first byte sent → sink has counted N)
//   inject msg/s  N / (first byte sent → last 250 after DATA)
//   latency       per message: connect (or RSET, with --reuse) → 250 after DATA; p50 / p99
//   RSS           peak VmRSS of the receiving process (polled every 100 ms) and its VmHWM at the end
//   CPU ms/msg    utime+stime delta of the receiving process (and of the sink) over the timed run
// The receiving process is mailgate, or the sink itself for the ceiling.
//
// Note: smtp-server delays its 220 greeting by a fixed 100 ms on every connection. The bench sink
// removes that delay (see sink-process.ts) so that the ceiling measures work, not a timer;
// --sink-stock-greeting keeps it. Any smtp-server listener that keeps it is capped at about
// conns x 10 msg/s when clients send one message per connection.
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { cpus } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startMailgate, writeConfig, type MailgateProcess } from '../helpers/mailgate-process.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';
import type { ParentToSink, SinkToParent } from './sink-process.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');

// ---------------------------------------------------------------- options

interface Options {
  count: number;
  size: number;
  conns: number;
  reuse: boolean;
  perConn: number;
  warmup: number;
  timeoutS: number;
  logLevel: string;
  ceilingOnly: boolean;
  /** Also run mailgate with DKIM signing (rsa-2048); on by default, --no-dkim skips it. */
  dkim: boolean;
  keep: boolean;
  /** Keep smtp-server's fixed 100 ms pre-greeting delay in the bench sink (default: skipped). */
  stockGreeting: boolean;
  /** CLI script to run instead of dist/cli.js (e.g. another build). */
  cli?: string;
  /** Also run mailgate on the PostgreSQL store (a throwaway server started here, fsync on). */
  postgres: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    count: 10_000,
    size: 10_240,
    conns: 20,
    reuse: false,
    perConn: 50,
    warmup: 200,
    timeoutS: 300,
    logLevel: 'info',
    ceilingOnly: false,
    dkim: true,
    keep: false,
    stockGreeting: false,
    postgres: false,
  };
  const num = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < 0) throw new Error(`--${name} needs a number, got ${String(v)}`);
    return Math.floor(n);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const val = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--count': o.count = num('count', val()); break;
      case '--size': o.size = num('size', val()); break;
      case '--conns': o.conns = Math.max(1, num('conns', val())); break;
      case '--reuse': o.reuse = true; break;
      case '--per-conn': o.perConn = Math.max(1, num('per-conn', val())); o.reuse = true; break;
      case '--warmup': o.warmup = num('warmup', val()); break;
      case '--timeout': o.timeoutS = Math.max(1, num('timeout', val())); break;
      case '--log-level': o.logLevel = val() ?? 'info'; break;
      case '--ceiling-only': o.ceilingOnly = true; break;
      case '--no-dkim': o.dkim = false; break;
      case '--keep': o.keep = true; break;
      case '--sink-stock-greeting': o.stockGreeting = true; break;
      case '--cli': o.cli = path.resolve(val() ?? fail('--cli needs a path')); break;
      case '--postgres': o.postgres = true; break;
      case '--help':
      case '-h':
        process.stdout.write(
          'usage: node --import tsx test/bench/relay.bench.ts [--count N] [--size BYTES] [--conns N] [--reuse] [--per-conn N]\n' +
            '       [--warmup N] [--timeout SECONDS] [--log-level LEVEL] [--ceiling-only] [--keep] [--sink-stock-greeting] [--cli PATH] [--postgres]\n',
        );
        process.exit(0);
      default:
        throw new Error(`unknown argument ${a}`);
    }
  }
  return o;
}

// ---------------------------------------------------------------- cleanup and deadline

const cleanups: (() => Promise<void> | void)[] = [];
let cleaningUp: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaningUp ??= (async () => {
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch (err) {
        process.stderr.write(`cleanup: ${(err as Error).message}\n`);
      }
    }
  })();
  return cleaningUp;
}

function fail(message: string): never {
  throw new Error(message);
}

// ---------------------------------------------------------------- /proc sampling

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime+stime of a process in ms, or NaN when /proc is not readable. */
function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime is field 14, stime field 15
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** A field of /proc/PID/status in KiB (VmRSS, VmHWM), or NaN. */
function statusKb(pid: number, field: string): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

class RssPoller {
  peakKb = 0;
  private timer: NodeJS.Timeout;
  constructor(private readonly pid: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), 100);
  }
  private sample(): void {
    const kb = statusKb(this.pid, 'VmRSS');
    if (kb > this.peakKb) this.peakKb = kb;
  }
  stop(): number {
    this.sample();
    clearInterval(this.timer);
    return this.peakKb;
  }
}

// ---------------------------------------------------------------- sink child process

interface SinkProcess {
  port: number;
  pid: number;
  child: ChildProcess;
  /** Resolves with performance.now() at the moment the sink reports `count` messages. */
  waitCount(count: number): Promise<number>;
  reset(): Promise<void>;
  stats(): Promise<Extract<SinkToParent, { type: 'stats' }>>;
  close(): Promise<void>;
}

async function startSinkProcess(stockGreeting: boolean): Promise<SinkProcess> {
  const args = ['--import', 'tsx', path.join(here, 'sink-process.ts'), ...(stockGreeting ? ['--stock-greeting'] : [])];
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const listeners = new Set<(m: SinkToParent) => void>();
  child.on('message', (raw) => {
    const m = raw as SinkToParent;
    for (const l of [...listeners]) l(m);
  });
  let exited = false;
  const exitP = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const next = <T extends SinkToParent['type']>(type: T, pred: (m: Extract<SinkToParent, { type: T }>) => boolean = () => true) =>
    new Promise<Extract<SinkToParent, { type: T }>>((resolve, reject) => {
      const onExit = (): void => {
        listeners.delete(l);
        reject(new Error(`sink process exited while waiting for "${type}"`));
      };
      const l = (m: SinkToParent): void => {
        if (m.type === type && pred(m as Extract<SinkToParent, { type: T }>)) {
          listeners.delete(l);
          child.off('exit', onExit);
          resolve(m as Extract<SinkToParent, { type: T }>);
        }
      };
      listeners.add(l);
      child.once('exit', onExit);
    });
  const sendMsg = (m: ParentToSink): void => {
    if (!exited && child.connected) child.send(m);
  };
  const ready = await Promise.race([
    next('ready'),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('sink process not ready after 20 s')), 20_000).unref()),
  ]);
  const proc: SinkProcess = {
    port: ready.port,
    pid: ready.pid,
    child,
    async waitCount(count) {
      const p = next('reached', (m) => m.count >= count);
      sendMsg({ type: 'target', count });
      await p;
      return performance.now();
    },
    async reset() {
      const p = next('reset-done');
      sendMsg({ type: 'reset' });
      await p;
    },
    async stats() {
      const p = next('stats');
      sendMsg({ type: 'stats' });
      return p;
    },
    async close() {
      if (exited) return;
      sendMsg({ type: 'close' });
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exitP;
      clearTimeout(t);
    },
  };
  return proc;
}

// ---------------------------------------------------------------- message generation

const RUN_ID = `${Date.now().toString(36)}.${process.pid}`;
const PRINTABLE = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_!?()/+=*#%&@';

/** A body of about `size` bytes: printable lines of at most 76 chars, CRLF, already dot-stuffed. */
function makeBody(size: number): Buffer {
  const lines: string[] = [];
  let total = 0;
  let seed = 12345;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  for (let n = 0; total < size; n++) {
    const len = 40 + Math.floor(rnd() * 37); // 40..76
    let line = '';
    for (let i = 0; i < len; i++) line += PRINTABLE[Math.floor(rnd() * PRINTABLE.length)];
    line = line.trimEnd();
    if (n % 25 === 7) line = '.' + line.slice(1); // exercise dot-stuffing now and then
    if (n % 50 === 30) line = '';
    lines.push(line);
    total += line.length + 2;
  }
  return Buffer.from(lines.map((l) => (l.startsWith('.') ? '.' + l : l) + '\r\n').join(''), 'latin1');
}

function makeHeaders(i: number): Buffer {
  return Buffer.from(
    `From: Bench <bench@bench.example>\r\n` +
      `To: <rcpt-${i}@sink.example>\r\n` +
      `Subject: bench message ${i}\r\n` +
      `Date: ${new Date().toUTCString().replace('GMT', '+0000')}\r\n` +
      `Message-ID: <${i}.${RUN_ID}@bench.example>\r\n` +
      `MIME-Version: 1.0\r\n` +
      `Content-Type: text/plain; charset=us-ascii\r\n` +
      `\r\n`,
    'latin1',
  );
}

// ---------------------------------------------------------------- minimal SMTP client

interface Reply {
  code: number;
  text: string;
}

class SmtpFailure extends Error {
  constructor(
    readonly stage: string,
    readonly reply?: Reply,
    cause?: Error,
  ) {
    super(reply ? `${stage}: ${reply.code} ${reply.text}` : `${stage}: ${cause?.message ?? 'failed'}`);
  }
}

const REPLY_TIMEOUT_MS = 60_000;

class RawSmtp {
  private buf = '';
  private lines: string[] = [];
  private replies: Reply[] = [];
  private waiters: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  private failed: Error | undefined;
  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed')));
    socket.setTimeout(REPLY_TIMEOUT_MS, () => {
      this.fail(new Error('reply timeout'));
      socket.destroy();
    });
  }

  static connect(port: number): Promise<RawSmtp> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      const onError = (err: Error): void => reject(new SmtpFailure('connect', undefined, err));
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        resolve(new RawSmtp(socket));
      });
    });
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\r\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 2);
      this.lines.push(line.slice(4));
      if (line.charAt(3) !== '-') {
        const reply = { code: Number(line.slice(0, 3)), text: this.lines.join(' | ') };
        this.lines = [];
        const w = this.waiters.shift();
        if (w) w.resolve(reply);
        else this.replies.push(reply);
      }
    }
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  read(): Promise<Reply> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  async expect(stage: string, ...codes: number[]): Promise<Reply> {
    let reply: Reply;
    try {
      reply = await this.read();
    } catch (err) {
      throw new SmtpFailure(stage, undefined, err as Error);
    }
    if (!codes.includes(reply.code)) throw new SmtpFailure(stage, reply);
    return reply;
  }

  async command(line: string, ...codes: number[]): Promise<Reply> {
    this.socket.write(line + '\r\n');
    return this.expect(line.split(/[ :]/)[0]!, ...codes);
  }

  close(): void {
    this.socket.destroy();
  }
}

// ---------------------------------------------------------------- load generator

interface LoadResult {
  sent: number;
  startedAt: number; // performance.now() just before the first connect
  lastAckAt: number; // performance.now() of the last 250 after DATA
  latenciesMs: Float64Array;
  retries: number;
  failures: string[];
}

async function runLoad(
  port: number,
  opts: { count: number; firstIndex: number; size: number; conns: number; reuse: boolean; perConn: number; body: Buffer },
  abort: AbortSignal,
): Promise<LoadResult> {
  const queue: number[] = [];
  for (let i = 0; i < opts.count; i++) queue.push(opts.firstIndex + i);
  queue.reverse(); // pop() from the end, in index order
  const attempts = new Map<number, number>();
  const latencies = new Float64Array(opts.count);
  let done = 0;
  let retries = 0;
  const failures: string[] = [];
  let lastAckAt = 0;
  const startedAt = performance.now();

  const requeue = (indices: number[], why: string): void => {
    for (const i of indices) {
      const n = (attempts.get(i) ?? 0) + 1;
      attempts.set(i, n);
      if (n > 5) fail(`message ${i} failed ${n} times, last: ${why}`);
      queue.push(i);
      retries++;
    }
    if (failures.length < 20) failures.push(why);
  };

  const session = async (batch: number[]): Promise<void> => {
    const t0 = performance.now();
    let client: RawSmtp | undefined;
    let k = 0;
    try {
      client = await RawSmtp.connect(port);
      await client.expect('greeting', 220);
      await client.command('EHLO bench.example', 250);
      for (; k < batch.length; k++) {
        const i = batch[k]!;
        const ts = k === 0 ? t0 : performance.now();
        if (k > 0) await client.command('RSET', 250);
        await client.command('MAIL FROM:<bench@bench.example>', 250);
        await client.command(`RCPT TO:<rcpt-${i}@sink.example>`, 250, 251);
        await client.command('DATA', 354);
        client.socket.cork();
        client.socket.write(makeHeaders(i));
        client.socket.write(opts.body);
        client.socket.write('.\r\n');
        client.socket.uncork();
        await client.expect('end of DATA', 250);
        lastAckAt = performance.now();
        latencies[done++] = lastAckAt - ts;
        if (abort.aborted) break;
      }
      k = batch.length;
      await client.command('QUIT', 221).catch(() => undefined);
    } catch (err) {
      requeue(batch.slice(k), (err as Error).message);
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      client?.close();
    }
  };

  const worker = async (): Promise<void> => {
    while (!abort.aborted) {
      const batch: number[] = [];
      const n = opts.reuse ? opts.perConn : 1;
      while (batch.length < n && queue.length) batch.push(queue.pop()!);
      if (!batch.length) {
        // Others may still requeue failed messages; stop only when nothing is in flight.
        if (inFlight === 0) return;
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      inFlight++;
      try {
        await session(batch);
      } finally {
        inFlight--;
      }
    }
  };
  let inFlight = 0;
  await Promise.all(Array.from({ length: opts.conns }, () => worker()));
  if (abort.aborted) fail('aborted');
  return { sent: done, startedAt, lastAckAt, latenciesMs: latencies.subarray(0, done), retries, failures };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

// ---------------------------------------------------------------- one measured run

interface RunResult {
  target: 'mailgate' | 'mailgate-dkim' | 'mailgate-pg' | 'mailgate-pg-dkim' | 'ceiling';
  count: number;
  e2eMsgsPerSec: number;
  injectMsgsPerSec: number;
  e2eSeconds: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
  /** Peak VmRSS (polled) and VmHWM of the receiving process, MiB. */
  rssPeakMiB: number;
  rssHwmMiB: number;
  /** CPU of the receiving process (mailgate, or the sink for the ceiling) per message. */
  cpuMsPerMsg: number;
  sinkCpuMsPerMsg: number;
  generatorCpuMsPerMsg: number;
  retries: number;
}

async function measure(
  target: RunResult['target'],
  submitPort: number,
  receiverPid: number,
  sink: SinkProcess,
  opts: Options,
  body: Buffer,
  abort: AbortSignal,
): Promise<RunResult> {
  const load = { size: opts.size, conns: opts.conns, reuse: opts.reuse, perConn: opts.perConn, body };

  if (opts.warmup > 0) {
    process.stderr.write(`[${target}] warm-up: ${opts.warmup} messages\n`);
    const w = await runLoad(submitPort, { ...load, count: opts.warmup, firstIndex: 0 }, abort);
    await waitWithProgress(sink, w.sent, target, abort);
    await sink.reset();
  }

  process.stderr.write(`[${target}] timed run: ${opts.count} messages, ${opts.conns} connections${opts.reuse ? `, ${opts.perConn} per connection` : ', one per connection'}\n`);
  const rss = new RssPoller(receiverPid);
  const cpu0 = cpuMs(receiverPid);
  const sinkCpu0 = cpuMs(sink.pid);
  const gen0 = process.cpuUsage();
  const reached = waitWithProgress(sink, opts.count, target, abort);
  reached.catch(() => undefined); // awaited below; do not let an abort during the load go unhandled
  const result = await runLoad(submitPort, { ...load, count: opts.count, firstIndex: opts.warmup }, abort);
  const reachedAt = await reached;
  const cpu1 = cpuMs(receiverPid);
  const sinkCpu1 = cpuMs(sink.pid);
  const gen = process.cpuUsage(gen0);
  const peakKb = rss.stop();
  const hwmKb = statusKb(receiverPid, 'VmHWM');

  const e2eSeconds = (reachedAt - result.startedAt) / 1000;
  const sorted = Float64Array.from(result.latenciesMs).sort();
  if (result.failures.length) process.stderr.write(`[${target}] ${result.retries} retries, e.g. ${result.failures.slice(0, 3).join('; ')}\n`);
  return {
    target,
    count: opts.count,
    e2eMsgsPerSec: opts.count / e2eSeconds,
    injectMsgsPerSec: opts.count / ((result.lastAckAt - result.startedAt) / 1000),
    e2eSeconds,
    latencyP50Ms: percentile(sorted, 50),
    latencyP99Ms: percentile(sorted, 99),
    latencyMaxMs: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    rssPeakMiB: peakKb / 1024,
    rssHwmMiB: hwmKb / 1024,
    cpuMsPerMsg: (cpu1 - cpu0) / opts.count,
    sinkCpuMsPerMsg: (sinkCpu1 - sinkCpu0) / opts.count,
    generatorCpuMsPerMsg: (gen.user + gen.system) / 1000 / opts.count,
    retries: result.retries,
  };
}

/** Waits until the sink has counted `count`, printing progress every 5 s. */
async function waitWithProgress(sink: SinkProcess, count: number, label: string, abort: AbortSignal): Promise<number> {
  const timer = setInterval(() => {
    sink
      .stats()
      .then((s) => process.stderr.write(`[${label}] sink has ${s.count}/${count}\n`))
      .catch(() => undefined);
  }, 5000);
  try {
    return await Promise.race([
      sink.waitCount(count),
      new Promise<never>((_, reject) => {
        if (abort.aborted) reject(new Error('aborted'));
        abort.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      }),
    ]);
  } finally {
    clearInterval(timer);
  }
}

// ---------------------------------------------------------------- mailgate run

function benchConfig(dataDir: string, sinkPort: number, logLevel: string, dkimKeyFile?: string, storeUrl?: string): string {
  return `# written by test/bench/relay.bench.ts
dataDir: ${JSON.stringify(dataDir)}
${storeUrl ? `store: { engine: postgres, url: ${JSON.stringify(storeUrl)} }\n` : ''}logLevel: ${logLevel}
listen: { submission: 127.0.0.1:0, inbound: 127.0.0.1:0, admin: 127.0.0.1:0 }
limits: { maxMessageSize: 26214400, submissionConnectionsPerClient: 10000 }
system:
  hostname: relay.example.net
  sender: { address: noreply@relay.example.net, name: Relay }
  bounceDomain: bounces.relay.example.net
  upstream: sink
${dkimKeyFile ? `  dkim: { domain: relay.example.net, selector: bench, privateKeyFile: ${JSON.stringify(dkimKeyFile)} }\n` : ''}upstreams:
  - { name: sink, host: 127.0.0.1, port: ${sinkPort}, tls: none, maxConnections: 20 }
tenants:
  - id: bench
    name: Bench
    networks: [ 127.0.0.0/8 ]
    from: { address: bench@bench.example, name: Bench }
    upstream: sink
`;
}

let pgServer: TestPostgres | undefined;

async function runMailgate(opts: Options, body: Buffer, abort: AbortSignal, dkim = false, postgres = false): Promise<RunResult> {
  const label = postgres ? (dkim ? 'mailgate-pg-dkim' : 'mailgate-pg') : dkim ? 'mailgate-dkim' : 'mailgate';
  let storeUrl: string | undefined;
  if (postgres) {
    if (!pgServer) {
      pgServer = await startPostgres({ fsync: true });
      cleanups.push(() => pgServer!.stop());
    }
    storeUrl = await pgServer.database('bench');
  }
  const sink = await startSinkProcess(opts.stockGreeting);
  cleanups.push(() => sink.close());
  const dir = await makeTempDir('mailgate-bench-');
  if (!opts.keep) cleanups.push(() => removeDir(dir));
  else process.stderr.write(`keeping ${dir}\n`);
  let keyFile: string | undefined;
  if (dkim) {
    // Every bench message is "from" a domain the tenant does not own, so all are signed with the system key.
    keyFile = path.join(dir, 'dkim-rsa2048.key');
    await writeFile(keyFile, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  }
  const configFile = await writeConfig(dir, benchConfig(path.join(dir, 'data'), sink.port, opts.logLevel, keyFile, storeUrl));
  let mg: MailgateProcess;
  try {
    mg = await startMailgate({ configFile, ...(opts.cli ? { cliPath: opts.cli } : {}) });
  } catch (err) {
    const hint =
      opts.logLevel === 'info' || opts.logLevel === 'debug' || opts.logLevel === 'trace'
        ? 'did `npm run build` run?'
        : `at logLevel ${opts.logLevel} the server must still print its "mailgate ready" line; if it logs that at info, rerun with --log-level info`;
    throw new Error(`could not start mailgate (${hint}): ${(err as Error).message}`);
  }
  cleanups.push(async () => {
    await mg.kill('SIGTERM', 10_000);
  });
  process.stderr.write(`[${label}] pid ${mg.pid}, submission ${mg.submission.host}:${mg.submission.port}, sink ${sink.port}\n`);
  const result = await measure(label, mg.submission.port, mg.pid, sink, opts, body, abort);
  const code = await mg.kill('SIGTERM', 10_000);
  if (code !== 0) process.stderr.write(`[mailgate] exited with code ${String(code)}\n`);
  const warnings = mg.logs.filter((l) => typeof l.level === 'number' && l.level >= 40 && l.msg !== 'mailgate ready');
  if (warnings.length) process.stderr.write(`[mailgate] ${warnings.length} warning/error log lines, first: ${JSON.stringify(warnings[0])}\n`);
  await sink.close();
  return result;
}

async function runCeiling(opts: Options, body: Buffer, abort: AbortSignal): Promise<RunResult> {
  const sink = await startSinkProcess(opts.stockGreeting);
  cleanups.push(() => sink.close());
  process.stderr.write(`[ceiling] sink pid ${sink.pid}, port ${sink.port}\n`);
  const result = await measure('ceiling', sink.port, sink.pid, sink, opts, body, abort);
  await sink.close();
  return result;
}

// ---------------------------------------------------------------- report

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

function printTable(rows: RunResult[]): void {
  const header = ['run', 'e2e msg/s', 'inject msg/s', 'p50 ms', 'p99 ms', 'max ms', 'RSS peak MiB', 'HWM MiB', 'CPU ms/msg', 'sink CPU ms/msg', 'gen CPU ms/msg', 'retries'];
  const data = rows.map((r) => [
    ({ ceiling: 'ceiling (direct to sink)', 'mailgate-dkim': 'mailgate + DKIM rsa-2048', mailgate: 'mailgate', 'mailgate-pg': 'mailgate, PostgreSQL store', 'mailgate-pg-dkim': 'mailgate + DKIM, PostgreSQL' } as const)[r.target],
    fmt(r.e2eMsgsPerSec),
    fmt(r.injectMsgsPerSec),
    fmt(r.latencyP50Ms, 2),
    fmt(r.latencyP99Ms, 2),
    fmt(r.latencyMaxMs, 1),
    fmt(r.rssPeakMiB, 1),
    fmt(r.rssHwmMiB, 1),
    fmt(r.cpuMsPerMsg, 3),
    fmt(r.sinkCpuMsPerMsg, 3),
    fmt(r.generatorCpuMsPerMsg, 3),
    String(r.retries),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...data.map((d) => d[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  process.stdout.write(line(header) + '\n' + widths.map((w) => '-'.repeat(w)).join('  ') + '\n');
  for (const d of data) process.stdout.write(line(d) + '\n');
  process.stdout.write('(RSS and CPU ms/msg are of the receiving process: mailgate, or the sink for the ceiling)\n');
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const abort = new AbortController();
  const deadline = setTimeout(() => abort.abort(), opts.timeoutS * 1000);
  const aborted = new Promise<never>((_, reject) =>
    abort.signal.addEventListener('abort', () => reject(new Error(`benchmark did not finish within ${opts.timeoutS} s`)), { once: true }),
  );
  aborted.catch(() => undefined);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: cleaning up\n`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  const body = makeBody(opts.size);
  process.stderr.write(
    `relay bench: ${opts.count} messages of ${body.length} body bytes, ${opts.conns} connections, ` +
      `${opts.reuse ? `${opts.perConn} messages per connection` : 'new connection per message'}, cpus ${cpus().length}\n`,
  );
  const rows: RunResult[] = [];
  try {
    const work = (async () => {
      if (!opts.ceilingOnly) rows.push(await runMailgate(opts, body, abort.signal));
      if (!opts.ceilingOnly && opts.dkim) rows.push(await runMailgate(opts, body, abort.signal, true));
      if (!opts.ceilingOnly && opts.postgres) rows.push(await runMailgate(opts, body, abort.signal, false, true));
      if (!opts.ceilingOnly && opts.postgres && opts.dkim) rows.push(await runMailgate(opts, body, abort.signal, true, true));
      rows.push(await runCeiling(opts, body, abort.signal));
    })();
    await Promise.race([work, aborted]);
  } finally {
    clearTimeout(deadline);
    abort.abort();
    await cleanup();
  }

  printTable(rows);
  const mg = rows.find((r) => r.target === 'mailgate');
  const ceiling = rows.find((r) => r.target === 'ceiling')!;
  const ratio = mg ? mg.e2eMsgsPerSec / ceiling.e2eMsgsPerSec : null;
  if (ratio !== null) process.stdout.write(`mailgate/ceiling (e2e msg/s): ${fmt(ratio, 3)}\n`);
  const mgDkim = rows.find((r) => r.target === 'mailgate-dkim');
  if (mg && mgDkim) process.stdout.write(`mailgate with DKIM / without (e2e msg/s): ${fmt(mgDkim.e2eMsgsPerSec / mg.e2eMsgsPerSec, 3)}\n`);
  const mgPg = rows.find((r) => r.target === 'mailgate-pg');
  const mgPgDkim = rows.find((r) => r.target === 'mailgate-pg-dkim');
  if (mg && mgPg) process.stdout.write(`PostgreSQL store / LevelDB (e2e msg/s): ${fmt(mgPg.e2eMsgsPerSec / mg.e2eMsgsPerSec, 3)}\n`);
  if (mgDkim && mgPgDkim) process.stdout.write(`PostgreSQL store / LevelDB, with DKIM (e2e msg/s): ${fmt(mgPgDkim.e2eMsgsPerSec / mgDkim.e2eMsgsPerSec, 3)}\n`);
  const round = (r: RunResult): Record<string, number | string> =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? Math.round(v * 1000) / 1000 : v]));
  process.stdout.write(
    JSON.stringify({
      bench: 'relay',
      count: opts.count,
      size: body.length,
      conns: opts.conns,
      reuse: opts.reuse,
      perConn: opts.reuse ? opts.perConn : 1,
      warmup: opts.warmup,
      node: process.version,
      mailgate: mg ? round(mg) : null,
      mailgateDkim: mgDkim ? round(mgDkim) : null,
      mailgatePostgres: mgPg ? round(mgPg) : null,
      mailgatePostgresDkim: mgPgDkim ? round(mgPgDkim) : null,
      ceiling: round(ceiling),
      ratio: ratio === null ? null : Math.round(ratio * 1000) / 1000,
    }) + '\n',
  );
}

process.on('unhandledRejection', (err: unknown) => {
  process.stderr.write(`relay bench failed (unhandled): ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  void cleanup().finally(() => process.exit(1));
});

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    process.stderr.write(`relay bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
    await cleanup();
    process.exit(1);
  },
);
