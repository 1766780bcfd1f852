// Error-log and bounce-parsing benchmark (part of `npm run bench`): fills a LevelDB with 1 million
// events over 100 tenants, then times a tenant's newest 50 and an "errors since" count, and loads the
// admin API's GET /errors on that store with autocannon (requests/s, p99); and parses the bounce
// fixture corpus repeatedly for messages/second. --postgres does the same on a PostgreSQL store too
// (a throwaway server, fsync on); API_CONNS and PG_POOL set the load's connections and the pool.
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseBounce } from '../../src/bounces/parse.js';
import { EventLog } from '../../src/store/event-log.js';
import { openStore } from '../../src/store/open.js';
import type { QueueEvent } from '../../src/store/records.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';
import { startPostgres } from '../helpers/postgres.js';
import autocannon from 'autocannon';
import type { AddressInfo } from 'node:net';
import { createAdminApp, type AdminDeps } from '../../src/admin/app.js';
import { TenantTokens } from '../../src/store/api-tokens.js';

const EVENTS = Number(process.argv.find((a) => a.startsWith('--events='))?.slice(9) ?? 1_000_000);
/** --postgres: the same on the PostgreSQL store (a throwaway server started here, fsync on). */
const POSTGRES = process.argv.includes('--postgres');
const TENANTS = 100;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function errorLog(engine: 'level' | 'postgres'): Promise<Record<string, number>> {
  const dir = await makeTempDir('mailgate-errlog-bench-');
  const pg = engine === 'postgres' ? await startPostgres({ fsync: true }) : undefined;
  const store = pg ? await openStore(dir, { engine: 'postgres', url: await pg.database('errlog'), poolSize: Number(process.env.PG_POOL ?? 10) }) : await openStore(dir);
  const log = new EventLog(store);
  const start = Date.UTC(2026, 0, 1);
  const t0 = performance.now();
  const types: QueueEvent['type'][] = ['failed', 'deferred', 'bounced', 'complained'];
  for (let i = 0; i < EVENTS; i += 10_000) {
    const ops = [];
    for (let j = i; j < Math.min(EVENTS, i + 10_000); j++) {
      ops.push(...log.ops({ time: start + j * 1000, type: types[j % 4]!, msgId: `M${j}`, tenant: `t${j % TENANTS}`, recipient: `r${j % 50_000}@example.com`, class: 'hard', reason: 'user-unknown', reply: { code: 550, enhanced: '5.1.1', text: 'User unknown' } }));
    }
    await store.commit(ops);
  }
  const fillS = (performance.now() - t0) / 1000;
  const newest: number[] = [];
  const counts: number[] = [];
  let counted = 0;
  for (let k = 0; k < 20; k++) {
    const tenant = `t${(k * 7) % TENANTS}`;
    let t = performance.now();
    const page = await log.errors(tenant, { limit: 50 });
    newest.push(performance.now() - t);
    if (page.events.length !== 50) throw new Error('short page');
    t = performance.now();
    counted = await log.countErrors(tenant, start + (EVENTS - 100_000) * 1000); // the last ~28 hours
    counts.push(performance.now() - t);
  }
  const api = await adminApiLoad(store, log);
  await store.close();
  await pg?.stop();
  await removeDir(dir);
  return { events: EVENTS, fillSeconds: fillS, newest50Ms: median(newest), countSinceMs: median(counts), countedEvents: counted, ...api };
}

/** GET /errors (newest 50 of a tenant, tenants in turn) through the real fastify app, loaded by autocannon in a worker thread. */
async function adminApiLoad(store: Awaited<ReturnType<typeof openStore>>, log: EventLog): Promise<Record<string, number>> {
  const token = 'bench-admin-token-0123456789';
  // Only what GET /errors touches is real here (auth, the event log); the other routes are not called.
  const app = await createAdminApp({ tokens: () => [{ name: 'bench', token }], tenantTokens: new TenantTokens(store), events: log } as unknown as AdminDeps);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: Number(process.env.API_CONNS ?? 16),
    duration: 10,
    workers: 1,
    headers: { authorization: `Bearer ${token}` },
    requests: Array.from({ length: 20 }, (_, k) => ({ method: 'GET' as const, path: `/api/v1/errors?tenant=t${(k * 13) % TENANTS}&limit=50` })),
  });
  await app.close();
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`admin API load: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { apiRequestsPerSecond: result.requests.average, apiP50Ms: result.latency.p50, apiP99Ms: result.latency.p99, apiRequests: result.requests.total };
}

async function bounceParsing(): Promise<Record<string, number> | undefined> {
  const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'bounces');
  let files: string[];
  try {
    files = [
      ...(await fs.readdir(fixtures)).filter((f) => f.endsWith('.eml')),
      ...(await fs.readdir(path.join(fixtures, 'extended')).catch(() => [] as string[])).filter((f) => f.endsWith('.eml')).map((f) => path.join('extended', f)),
    ];
  } catch {
    return undefined;
  }
  if (files.length === 0) return undefined;
  const messages = await Promise.all(files.map((f) => fs.readFile(path.join(fixtures, f))));
  for (const m of messages) await parseBounce(m); // warm-up
  const rounds = 20;
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) for (const m of messages) await parseBounce(m);
  const s = (performance.now() - t0) / 1000;
  return { messages: messages.length * rounds, seconds: s, messagesPerSecond: (messages.length * rounds) / s };
}

const parsing = await bounceParsing();
if (parsing) process.stdout.write(`bounce parsing: ${parsing.messages} messages (fixture corpus × 20) in ${parsing.seconds.toFixed(2)} s = ${parsing.messagesPerSecond.toFixed(0)} msg/s\n`);
else process.stdout.write('bounce parsing: no fixtures under test/fixtures/bounces\n');
for (const engine of POSTGRES ? (['level', 'postgres'] as const) : (['level'] as const)) {
const el = await errorLog(engine);
process.stdout.write(`[${engine}] error log: ${el.events} events over ${TENANTS} tenants (filled in ${el.fillSeconds.toFixed(1)} s); newest 50 of one tenant ${el.newest50Ms.toFixed(2)} ms (median of 20); count since (${el.countedEvents} events) ${el.countSinceMs.toFixed(2)} ms\n`);
process.stdout.write(`[${engine}] admin API GET /errors (newest 50, ${process.env.API_CONNS ?? 16} connections, 10 s): ${el.apiRequestsPerSecond!.toFixed(0)} req/s, p50 ${el.apiP50Ms} ms, p99 ${el.apiP99Ms} ms\n`);
process.stdout.write(`${JSON.stringify({ bench: 'errorlog', engine, parsing: parsing ?? null, errorLog: el })}\n`);
}
