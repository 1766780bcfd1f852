// Tracking poll-cycle benchmark (part of `npm run bench`): 100,000 Russian Post shipments over 10
// tenants are taken in through the real intake (ShipmentIntake, batches of 1000 as the API takes them)
// into a real LevelDB, then the real TrackingWorker checks every one of them once (runOnce(), which
// loops over due batches of 1000 itself) against the loopback Russian Post server with the real adapter
// (createCarrierRegistry, SOAP over HTTP on 127.0.0.1), at the config's default concurrency 4.
//
//   node --import tsx test/bench/tracking.bench.ts [--count=100000] [--concurrency=4[,16,…]]
//        [--warmup=2000] [--server=child|inline] [--append[=FILE]]
//
// About 2.3 minutes on 2 quiet vCPUs with the defaults; every further concurrency adds a cycle of
// about 1.7 minutes (--concurrency=4,16 for the comparison).
//
// The carrier server runs in a child process (this same file with --carrier-server) so that the CPU
// time, RSS and profile of this process are the worker's only; --server=inline runs it in this process
// instead. What the carrier knows (set in the child, by the code's number):
//   70 %  accepted 6 days before intake, in transit since 5 days: no notice (the "accepted" notice is
//         skipped as late, acceptedNoticeMaxDelayDays 4)
//   20 %  the same, then arrived at the pick-up point 2 hours before intake: an e-mail notice is
//         planned (SMS skipped: no gateway). The clock stands at 13:01 Moscow time, after the
//         10:00–12:00 sending window, so the notice is planned for tomorrow 10:00 and nothing is sent
//   10 %  unknown to the carrier (empty history): a failed check, retried on schedule
// E-mail notices are not what is measured: submit() only drains the stream and counts (it stays at 0
// here), queuedByMessageId() is undefined, recordEvents() a no-op, the logger silent.
//
// Measured per concurrency (each run on its own copy of the database as it was right after intake,
// after --warmup codes were looked up through the same adapter so that the cycle is timed with warm
// HTTP and XML code, as in a server that has been running): wall time of runOnce(), checks/s, carrier
// requests, this process's peak RSS and heapUsed (sampled every 100 ms), its CPU time (process.cpuUsage,
// all threads: LevelDB's included) per check, the carrier server's CPU per check, and how the wall time
// splits between adapter.track(), due(), getMany() and write() (the real methods, timed from outside).
// Intake: created/s and CPU per shipment. --append adds the markdown section to test/bench/results/<date>.md.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFile, cp } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { openStore } from '../../src/store/open.js';
import { ShipmentStore } from '../../src/store/shipments.js';
import type { TrackingRecords } from '../../src/tracking/shipments.js';
import { CARRIERS } from '../../src/tracking/types.js';
import { createCarrierRegistry } from '../../src/tracking/carriers/index.js';
import { checkShipmentObjects, ShipmentIntake } from '../../src/tracking/intake.js';
import { DAY } from '../../src/tracking/lifecycle.js';
import { parseTrackingSettings, type TrackingSettings } from '../../src/tracking/settings.js';
import { TrackingWorker } from '../../src/tracking/worker.js';
import { startRussianPostServer, type HistoryEntry, type RussianPostOperation, type RussianPostServer } from '../helpers/carrier-servers.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
const thisFile = fileURLToPath(import.meta.url);

const TENANTS = 10;
const INTAKE_BATCH = 1000;
const LOGIN = 'bench-login';
const PASSWORD = 'bench-password';
/** Intake time: 2026-11-23 13:00 Moscow (UTC+3), after the default 10:00–12:00 sending window. */
const T0 = Date.parse('2026-11-23T10:00:00Z');
/** The worker's clock: intake + the default firstCheckDelay (1 min), so every shipment is due. */
const POLL_AT = T0 + 60_000;
const HOUR = 3600_000;

const codeOf = (i: number): string => `RA${String(i).padStart(9, '0')}RU`;
type Kind = 'in-transit' | 'arrived-at-pickup' | 'unknown';
const kindOf = (i: number): Kind => (i % 10 < 7 ? 'in-transit' : i % 10 < 9 ? 'arrived-at-pickup' : 'unknown');

/** What the carrier knows about shipment i (undefined: nothing). */
function historyOf(i: number): HistoryEntry<RussianPostOperation>[] | undefined {
  const kind = kindOf(i);
  if (kind === 'unknown') return undefined;
  const events: HistoryEntry<RussianPostOperation>[] = [
    { status: 'accepted', time: T0 - 6 * DAY, place: '125009 Москва' },
    { status: 'in-transit', time: T0 - 5 * DAY, place: '140961 Подольск' },
  ];
  if (kind === 'arrived-at-pickup') events.push({ status: 'arrived-at-pickup', time: T0 - 2 * HOUR, place: '101000 Москва' });
  return events;
}

// ---------------------------------------------------------------- the carrier server (child side)

type ParentToChild = { type: 'histories'; count: number } | { type: 'stats' } | { type: 'close' };
type ChildToParent =
  | { type: 'ready'; url: string; pid: number }
  | { type: 'histories-set'; codes: number }
  | { type: 'stats'; requests: number; cpuMs: number; rssMiB: number };

function setHistories(server: RussianPostServer, count: number): number {
  let set = 0;
  for (let i = 0; i < count; i++) {
    const h = historyOf(i);
    if (h) {
      server.setHistory(codeOf(i), h);
      set++;
    }
  }
  return set;
}

async function carrierChild(): Promise<void> {
  const server = await startRussianPostServer({ login: LOGIN, password: PASSWORD });
  const send = (m: ChildToParent): void => void process.send?.(m);
  process.on('message', (raw) => {
    const m = raw as ParentToChild;
    if (m.type === 'histories') send({ type: 'histories-set', codes: setHistories(server, m.count) });
    else if (m.type === 'stats') {
      const cpu = process.cpuUsage();
      send({ type: 'stats', requests: server.requests, cpuMs: (cpu.user + cpu.system) / 1000, rssMiB: process.memoryUsage.rss() / 2 ** 20 });
    } else if (m.type === 'close') void server.close().finally(() => process.exit(0));
  });
  process.on('disconnect', () => void server.close().finally(() => process.exit(0)));
  send({ type: 'ready', url: server.url, pid: process.pid });
}

// ---------------------------------------------------------------- the carrier server (parent side)

interface CarrierStats {
  requests: number;
  /** CPU of the server's process so far, ms; NaN when it runs in this process. */
  cpuMs: number;
}

interface CarrierHost {
  url: string;
  where: 'child process' | 'in process';
  setHistories(count: number): Promise<number>;
  stats(): Promise<CarrierStats>;
  close(): Promise<void>;
}

async function inlineHost(): Promise<CarrierHost> {
  const server = await startRussianPostServer({ login: LOGIN, password: PASSWORD });
  return {
    url: server.url,
    where: 'in process',
    setHistories: async (count) => setHistories(server, count),
    stats: async () => ({ requests: server.requests, cpuMs: Number.NaN }),
    close: () => server.close(),
  };
}

async function childHost(): Promise<CarrierHost> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', thisFile, '--carrier-server'], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = <T extends ChildToParent['type']>(type: T, timeoutMs = 60_000) =>
    new Promise<Extract<ChildToParent, { type: T }>>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`carrier server: no "${type}" within ${timeoutMs / 1000} s`)), timeoutMs);
      const onMessage = (raw: unknown): void => {
        if ((raw as ChildToParent).type === type) done(undefined, raw as Extract<ChildToParent, { type: T }>);
      };
      const onExit = (): void => done(new Error(`carrier server exited while waiting for "${type}"`));
      const done = (err?: Error, m?: Extract<ChildToParent, { type: T }>): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (err) reject(err);
        else resolve(m!);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const send = (m: ParentToChild): void => {
    if (child.connected) child.send(m);
  };
  const ready = await next('ready', 30_000);
  return {
    url: ready.url,
    where: 'child process',
    async setHistories(count) {
      const p = next('histories-set');
      send({ type: 'histories', count });
      return (await p).codes;
    },
    async stats() {
      const p = next('stats');
      send({ type: 'stats' });
      const s = await p;
      return { requests: s.requests, cpuMs: s.cpuMs };
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      send({ type: 'close' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---------------------------------------------------------------- measuring

/** Peak RSS and heapUsed of this process, sampled every 100 ms. */
class MemorySampler {
  peakRss = 0;
  peakHeapUsed = 0;
  private readonly timer: NodeJS.Timeout;
  constructor() {
    this.sample();
    this.timer = setInterval(() => this.sample(), 100);
  }
  private sample(): void {
    const m = process.memoryUsage();
    if (m.rss > this.peakRss) this.peakRss = m.rss;
    if (m.heapUsed > this.peakHeapUsed) this.peakHeapUsed = m.heapUsed;
  }
  stop(): { peakRssMiB: number; peakHeapUsedMiB: number } {
    this.sample();
    clearInterval(this.timer);
    return { peakRssMiB: this.peakRss / 2 ** 20, peakHeapUsedMiB: this.peakHeapUsed / 2 ** 20 };
  }
}

/** VmHWM of this process (peak RSS since start), MiB; NaN without /proc. */
function hwmMiB(): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

const cpuMsSince = (start: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
};

/** A small seeded PRNG, so that the ±10 % spread of the next checks is the same on every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const tenantId = (k: number): string => `shop${String(k).padStart(2, '0')}`;
const tenantOf = (i: number, count: number): string => tenantId(Math.floor((i * TENANTS) / count));

const log = pino({ level: 'silent' });

async function enabledSettings(): Promise<TrackingSettings> {
  const parsed = parseTrackingSettings({ enabled: true, reportTime: null });
  if (!parsed.ok) throw new Error(`settings: ${parsed.issues.join('; ')}`);
  return parsed.value;
}

interface IntakeResult {
  shipments: number;
  seconds: number;
  createdPerSecond: number;
  cpuMsPerShipment: number;
  peakRssMiB: number;
}

/** Saves the tenants' settings and takes `count` shipments in through ShipmentIntake, 1000 per call. */
async function runIntake(dir: string, count: number): Promise<IntakeResult> {
  const store = await openStore(dir);
  const shipments = new ShipmentStore<TrackingRecords>(store, CARRIERS);
  const settings = await enabledSettings();
  for (let k = 0; k < TENANTS; k++) await shipments.saveSettings(tenantId(k), settings);
  const intake = new ShipmentIntake(shipments, { firstCheckDelayMs: 60_000, now: () => T0 });
  const mem = new MemorySampler();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let created = 0;
  for (let start = 0; start < count; ) {
    const tenant = tenantOf(start, count);
    let end = Math.min(count, start + INTAKE_BATCH);
    while (end > start + 1 && tenantOf(end - 1, count) !== tenant) end--;
    const items = [];
    for (let i = start; i < end; i++) {
      items.push({ code: codeOf(i), name: `Покупатель ${i}`, email: `buyer${i}@example.ru`, phone: `+7 916 ${String(i).padStart(7, '0')}`, orderReference: `ORD-${i}`, orderSum: '1 250,00 ₽' });
    }
    const rows = checkShipmentObjects(items, settings);
    const result = await intake.take(tenant, rows, settings, false);
    if (result.refused || result.created !== items.length) {
      throw new Error(`intake of ${tenant} [${start}, ${end}): created ${result.created}, rejected ${result.rejected}${result.refused ? `, refused: ${result.refused.message}` : ''}; first problem: ${JSON.stringify(result.rows.find((r) => r.errors.length > 0))}`);
    }
    created += result.created;
    start = end;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpuMs = cpuMsSince(cpu0);
  const { peakRssMiB } = mem.stop();
  await store.close();
  return { shipments: created, seconds, createdPerSecond: created / seconds, cpuMsPerShipment: cpuMs / created, peakRssMiB };
}

interface PollResult {
  concurrency: number;
  checks: number;
  seconds: number;
  checksPerSecond: number;
  carrierRequests: number;
  carrierFailures: number;
  cpuMsPerCheck: number;
  serverCpuMsPerCheck: number;
  rssStartMiB: number;
  peakRssMiB: number;
  peakHeapUsedMiB: number;
  noticesPlanned: number;
  noticesSubmitted: number;
  byStatus: Record<string, number>;
  /** Wall time spent inside these calls during the cycle, s (one carrier: they run one after the other). */
  split: { due: number; getMany: number; track: number; write: number };
}

/** Wraps an async function so that the wall time spent in it is added to `into[key]` (ms). */
function timed<A extends unknown[], R, K extends string>(fn: (...args: A) => Promise<R>, into: Record<K, number>, key: K): (...args: A) => Promise<R> {
  return async (...args: A): Promise<R> => {
    const t = performance.now();
    try {
      return await fn(...args);
    } finally {
      into[key] += performance.now() - t;
    }
  };
}

/** One poll cycle over every shipment of the database in `dir`, timed. */
async function runPoll(dir: string, count: number, concurrency: number, warmup: number, host: CarrierHost): Promise<PollResult> {
  const store = await openStore(dir);
  const shipments = new ShipmentStore<TrackingRecords>(store, CARRIERS);
  const tenants = new Map(Array.from({ length: TENANTS }, (_, k) => [tenantId(k), { name: `Shop ${k}`, from: { address: `orders@${tenantId(k)}.example`, name: `Shop ${k}` } }]));
  const registry = createCarrierRegistry({ 'russian-post': { url: host.url, login: LOGIN, password: PASSWORD, timeoutMs: 10_000, concurrency } });
  // Where the cycle's time goes: the real methods, timed from outside (nothing else changes).
  const splitMs = { due: 0, getMany: 0, track: 0, write: 0 };
  const adapter = registry['russian-post']!;
  const carriers = { 'russian-post': { name: adapter.name, maxBatch: adapter.maxBatch, track: timed(adapter.track.bind(adapter), splitMs, 'track') } };
  let submitted = 0;
  const worker = new TrackingWorker({
    shipments,
    carriers,
    gateways: new Map(),
    // The config's defaults (src/config/load.ts): 4 checks a day, 60 days, first check after 1 min, 100 codes per carrier call.
    options: { checksPerDay: 4, maxAgeMs: 60 * DAY, firstCheckDelayMs: 60_000, batchSize: 100 },
    tenant: (id) => tenants.get(id),
    submit: async (_tenant, _envelope, body) => {
      for await (const chunk of body) void chunk;
      submitted++;
      return { id: `bench-${submitted}` };
    },
    queuedByMessageId: async () => undefined,
    recordEvents: async () => undefined,
    hostname: 'relay.bench.example',
    log,
    now: () => POLL_AT,
    random: mulberry32(concurrency),
  });
  const due = (await shipments.due(POLL_AT, count + 1)).length;
  if (due !== count) throw new Error(`expected ${count} shipments due before the cycle, found ${due}`);

  if (warmup > 0) {
    const codes = Array.from({ length: Math.min(warmup, count) }, (_, i) => codeOf(i));
    for (let i = 0; i < codes.length; i += 100) await adapter.track(codes.slice(i, i + 100));
  }
  shipments.due = timed(shipments.due.bind(shipments), splitMs, 'due');
  shipments.getMany = timed(shipments.getMany.bind(shipments), splitMs, 'getMany');
  shipments.write = timed(shipments.write.bind(shipments), splitMs, 'write');
  const server0 = await host.stats();
  const rssStartMiB = process.memoryUsage.rss() / 2 ** 20;
  const label = `[c=${concurrency}]`;
  const mem = new MemorySampler();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const progress = setInterval(() => {
    const s = (performance.now() - t0) / 1000;
    process.stderr.write(`${label} ${worker.stats.checks}/${count} checked in ${s.toFixed(0)} s (${(worker.stats.checks / s).toFixed(0)}/s)\n`);
  }, 5000);
  let result: { checked: number; sent: number };
  try {
    result = await worker.runOnce();
  } finally {
    clearInterval(progress);
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpuMs = cpuMsSince(cpu0);
  const { peakRssMiB, peakHeapUsedMiB } = mem.stop();
  const server1 = await host.stats();
  const split = { due: splitMs.due / 1000, getMany: splitMs.getMany / 1000, track: splitMs.track / 1000, write: splitMs.write / 1000 };

  const left = (await shipments.due(POLL_AT, 1)).length;
  if (left !== 0) throw new Error(`${label} shipments still due after the cycle`);
  if (result.checked !== count || worker.stats.checks !== count) throw new Error(`${label} checked ${result.checked} (stats ${worker.stats.checks}), expected ${count}`);
  if (worker.stats.carrierFailures > 0) throw new Error(`${label} ${worker.stats.carrierFailures} carrier calls failed`);
  let noticesPlanned = 0;
  noticesPlanned = (await store.shipments.dueNotices(Number.MAX_SAFE_INTEGER, 1e9)).length;
  const byStatus: Record<string, number> = {};
  for (const t of tenants.keys()) for (const [status, n] of Object.entries(await shipments.countByStatus(t))) byStatus[status] = (byStatus[status] ?? 0) + n;
  await store.close();

  const requests = server1.requests - server0.requests;
  return {
    concurrency,
    checks: result.checked,
    seconds,
    checksPerSecond: result.checked / seconds,
    carrierRequests: requests,
    carrierFailures: worker.stats.carrierFailures,
    cpuMsPerCheck: cpuMs / result.checked,
    serverCpuMsPerCheck: (server1.cpuMs - server0.cpuMs) / result.checked,
    rssStartMiB,
    peakRssMiB,
    peakHeapUsedMiB,
    noticesPlanned,
    noticesSubmitted: submitted,
    byStatus,
    split,
  };
}

// ---------------------------------------------------------------- report

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '–';
}

function markdown(opts: Options, host: CarrierHost, intake: IntakeResult, polls: PollResult[]): string {
  const cpu = os.cpus();
  const machine = `${cpu.length} vCPU ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${os.platform()} ${os.release()}, Node ${process.version}`;
  const lines = [
    `## Tracking poll cycle (\`npm run bench\`, tracking part), ${new Date().toISOString().slice(0, 10)}`,
    '',
    `${machine}. ${fmt(opts.count)} Russian Post shipments over ${TENANTS} tenants in a real LevelDB (temp dir); the real ` +
      `TrackingWorker.runOnce() (due batches of 1000, 100 codes per carrier call) with the real adapter against the loopback ` +
      `Russian Post SOAP server (${host.where}); 70 % in transit (no notice), 20 % at the pick-up point (an e-mail notice is ` +
      'planned for the next sending window, nothing is sent), 10 % unknown to the carrier. E-mail sending is not measured ' +
      '(submit() only drains and counts). Each run starts from a copy of the database as intake left it, after ' +
      `${fmt(opts.warmup)} codes were looked up through the adapter (not counted). CPU ms/check is this process's (all threads); ` +
      `the carrier server ${host.where === 'child process' ? 'is not in it' : 'is included (it runs in this process)'}.`,
    '',
    `Intake (ShipmentIntake, ${INTAKE_BATCH} per call as the API takes them, validation and phone normalisation included): ` +
      `${fmt(intake.shipments)} shipments in ${fmt(intake.seconds, 1)} s = **${fmt(intake.createdPerSecond)} created/s**, ` +
      `${fmt(intake.cpuMsPerShipment, 3)} ms CPU per shipment, peak RSS ${fmt(intake.peakRssMiB, 0)} MiB.`,
    '',
    '| carrier concurrency | checks | wall s | checks/s | carrier requests | CPU ms/check (worker process) | carrier server CPU ms/check | RSS at start MiB | peak RSS MiB | peak heapUsed MiB | notices planned / sent |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...polls.map((p) =>
      `| ${p.concurrency} | ${fmt(p.checks)} | ${fmt(p.seconds, 1)} | **${fmt(p.checksPerSecond)}** | ${fmt(p.carrierRequests)} | ${fmt(p.cpuMsPerCheck, 3)} | ` +
      `${fmt(p.serverCpuMsPerCheck, 3)} | ${fmt(p.rssStartMiB)} | ${fmt(p.peakRssMiB)} | ${fmt(p.peakHeapUsedMiB)} | ${fmt(p.noticesPlanned)} / ${fmt(p.noticesSubmitted)} |`),
    '',
    ...polls.flatMap((p) => {
      const rest = p.seconds - p.split.due - p.split.getMany - p.split.track - p.split.write;
      return [
        `Where the wall time of the c=${p.concurrency} cycle went: adapter.track() (HTTP and the SOAP answer's parsing) ${fmt(p.split.track, 1)} s, ` +
        `batch writes ${fmt(p.split.write, 1)} s, due() scans ${fmt(p.split.due, 1)} s, getMany ${fmt(p.split.getMany, 1)} s, the rest (the worker's own logic) ${fmt(rest, 1)} s.`,
        '',
      ];
    }),
    `Statuses after the cycle: ${Object.entries(polls[0]?.byStatus ?? {}).map(([s, n]) => `${s} ${fmt(n)}`).join(', ')}. ` +
      `Peak RSS of this process over the whole bench (VmHWM): ${fmt(hwmMiB())} MiB` +
      (polls.length > 1 ? '; later runs start with the heap the earlier ones grew.' : '.'),
    '',
  ];
  return lines.join('\n');
}

// ---------------------------------------------------------------- main

interface Options {
  count: number;
  concurrencies: number[];
  /** Codes looked up through the adapter before each timed cycle. */
  warmup: number;
  server: 'child' | 'inline';
  /** Append the markdown section to this file. */
  append?: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { count: 100_000, concurrencies: [4], warmup: 2000, server: 'child' };
  for (const a of argv) {
    const [flag, value] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    switch (flag) {
      case '--count':
        o.count = Number(value);
        if (!Number.isInteger(o.count) || o.count < TENANTS) throw new Error(`--count needs a whole number of at least ${TENANTS}`);
        break;
      case '--concurrency':
        o.concurrencies = (value ?? '').split(',').map(Number);
        if (o.concurrencies.length === 0 || o.concurrencies.some((c) => !Number.isInteger(c) || c < 1)) throw new Error('--concurrency needs whole numbers, e.g. 4,16');
        break;
      case '--warmup':
        o.warmup = Number(value);
        if (!Number.isInteger(o.warmup) || o.warmup < 0) throw new Error('--warmup needs a whole number');
        break;
      case '--server':
        if (value !== 'child' && value !== 'inline') throw new Error('--server is child or inline');
        o.server = value;
        break;
      case '--append':
        o.append = value ? path.resolve(value) : path.join(here, 'results', `${new Date().toISOString().slice(0, 10)}.md`);
        break;
      default:
        throw new Error(`unknown argument ${a} (known: --count=N --concurrency=4,16 --warmup=N --server=child|inline --append[=FILE])`);
    }
  }
  return o;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const deadline = setTimeout(() => {
    process.stderr.write('tracking bench: did not finish within 10 minutes\n');
    process.exit(1);
  }, 600_000);
  deadline.unref();
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const host = opts.server === 'child' ? await childHost() : await inlineHost();
    cleanups.push(() => host.close());
    const known = await host.setHistories(opts.count);
    process.stderr.write(`tracking bench: ${opts.count} shipments, ${TENANTS} tenants, carrier server ${host.where} at ${host.url} (${known} codes with a history), cpus ${os.cpus().length}\n`);

    const base = await makeTempDir('mailgate-tracking-bench-');
    cleanups.push(() => removeDir(base));
    const intakeDir = path.join(base, 'intake');
    const intake = await runIntake(intakeDir, opts.count);
    process.stderr.write(`intake: ${intake.shipments} shipments in ${intake.seconds.toFixed(1)} s = ${intake.createdPerSecond.toFixed(0)}/s\n`);

    const polls: PollResult[] = [];
    for (const c of opts.concurrencies) {
      const dir = path.join(base, `c${c}`);
      await cp(intakeDir, dir, { recursive: true });
      const p = await runPoll(dir, opts.count, c, opts.warmup, host);
      process.stderr.write(`[c=${c}] ${p.checks} checks in ${p.seconds.toFixed(1)} s = ${p.checksPerSecond.toFixed(0)}/s, ${p.carrierRequests} carrier requests, CPU ${p.cpuMsPerCheck.toFixed(3)} ms/check\n`);
      polls.push(p);
      await removeDir(dir);
    }

    const md = markdown(opts, host, intake, polls);
    process.stdout.write(`\n${md}\n`);
    const round = (v: unknown): unknown =>
      typeof v === 'number' ? Math.round(v * 1000) / 1000 : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, round(x)])) : v;
    process.stdout.write(
      `${JSON.stringify({
        bench: 'tracking',
        count: opts.count,
        tenants: TENANTS,
        server: opts.server,
        node: process.version,
        cpus: os.cpus().length,
        intake: round(intake),
        polls: polls.map(round),
        hwmMiB: round(hwmMiB()),
      })}\n`,
    );
    if (opts.append) {
      await appendFile(opts.append, `\n${md}`);
      process.stderr.write(`appended to ${path.relative(repoRoot, opts.append)}\n`);
    }
  } finally {
    for (const fn of cleanups.reverse()) await fn().catch((err: Error) => process.stderr.write(`cleanup: ${err.message}\n`));
    clearTimeout(deadline);
  }
}

if (process.argv.includes('--carrier-server')) {
  await carrierChild();
} else {
  await main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`tracking bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
