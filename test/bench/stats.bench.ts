// Delivery statistics benchmark (`npm run bench:stats`, part of `npm run bench`): 1 million messages
// (accepted and delivered, 2 % bounced, 0.1 % complained) over 30 days, 50 shops and a realistic
// spread of recipient domains (70 % at ten big ones, the rest over 5,000), written through the
// store as the relay writes them; then GET /api/v1/stats through the real fastify app: a shop's
// 30 days per day, every shop's 30 days, the last 24 h per hour, and per recipient domain.
// The goal (issue 19): a 30-day chart over 1 M messages answers in < 50 ms. --postgres: the same on
// a PostgreSQL store (a throwaway server, fsync on). --messages=N for another size.
import { performance } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import { createAdminApp, type AdminDeps } from '../../src/admin/app.js';
import { TenantTokens } from '../../src/store/api-tokens.js';
import { EventLog } from '../../src/store/event-log.js';
import { openStore } from '../../src/store/open.js';
import type { QueueEvent } from '../../src/store/records.js';
import { startPostgres } from '../helpers/postgres.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const MESSAGES = Number(process.argv.find((a) => a.startsWith('--messages='))?.slice(11) ?? 1_000_000);
const ENGINES: Array<'level' | 'postgres'> = process.argv.includes('--postgres') ? ['level', 'postgres'] : ['level'];
const TENANTS = 50;
const DAY = 86_400_000;
const BIG = ['gmail.com', 'outlook.com', 'yahoo.com', 'web.de', 'gmx.de', 'icloud.com', 'mail.ru', 'yandex.ru', 't-online.de', 'orange.fr'];

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))]!;

async function run(engine: 'level' | 'postgres'): Promise<void> {
  const dir = await makeTempDir('mailgate-stats-bench-');
  const pg = engine === 'postgres' ? await startPostgres({ fsync: true }) : undefined;
  const store = pg ? await openStore(dir, { engine: 'postgres', url: await pg.database('stats'), poolSize: 10 }) : await openStore(dir);
  const log = new EventLog(store);
  const now = Date.now();
  const start = now - 30 * DAY;
  const t0 = performance.now();
  const BATCH = 5000;
  for (let i = 0; i < MESSAGES; i += BATCH) {
    const ops = [];
    for (let j = i; j < Math.min(MESSAGES, i + BATCH); j++) {
      const time = start + Math.floor((j / MESSAGES) * 30 * DAY);
      const domain = j % 10 < 7 ? BIG[j % BIG.length]! : `shop-customer-${j % 5000}.example`;
      const base = { msgId: `M${j}`, tenant: `t${j % TENANTS}`, recipient: `r${j}@${domain}` };
      const evs: QueueEvent[] = [{ ...base, time, type: 'accepted' }, { ...base, time: time + 900, type: 'delivered', upstream: j % 3 === 0 ? 'smarthost' : 'direct' }];
      if (j % 50 === 0) evs.push({ ...base, time: time + 60_000, type: 'bounced', class: j % 100 === 0 ? 'hard' : 'soft', reason: 'user-unknown' });
      if (j % 1000 === 1) evs.push({ ...base, time: time + 3_600_000, type: 'complained', class: 'complaint', reason: 'abuse' });
      for (const e of evs) ops.push(...log.ops(e));
    }
    await store.commit(ops, { sync: false });
  }
  const fillS = (performance.now() - t0) / 1000;

  const token = 'bench-admin-token-0123456789';
  const app = await createAdminApp({ tokens: () => [{ name: 'bench', token }], tenantTokens: new TenantTokens(store), events: log, stats: store.stats } as unknown as AdminDeps);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const get = async (query: string) => {
    const t = performance.now();
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/stats?${query}`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await r.json()) as { totals?: { accepted: number }; rows?: unknown[] };
    if (r.status !== 200) throw new Error(`GET /stats?${query}: ${r.status} ${JSON.stringify(body)}`);
    return { ms: performance.now() - t, body };
  };
  const month = `from=${start}&to=${now + 1}`;
  const cases: Array<[string, (k: number) => string]> = [
    ['one shop, 30 days per day', (k) => `tenant=t${k % TENANTS}&${month}&bucket=day`],
    ['every shop, 30 days per day', () => `${month}&bucket=day`],
    ['one shop, 24 h per hour', (k) => `tenant=t${k % TENANTS}&from=${now - DAY}&to=${now}&bucket=hour`],
    ['one shop, 30 days per recipient domain', (k) => `tenant=t${k % TENANTS}&${month}&by=domain&limit=25`],
    ['every shop, 30 days per recipient domain', () => `${month}&by=domain&limit=25`],
  ];
  process.stdout.write(`[${engine}] ${MESSAGES.toLocaleString('en')} messages (${(MESSAGES * 2.021).toLocaleString('en', { maximumFractionDigits: 0 })} events) written in ${fillS.toFixed(1)} s\n`);
  for (const [label, query] of cases) {
    const times: number[] = [];
    let last: Awaited<ReturnType<typeof get>>['body'] | undefined;
    for (let k = 0; k < 60; k++) {
      const r = await get(query(k));
      if (k >= 10) times.push(r.ms); // the first ten warm the caches and the JIT
      last = r.body;
    }
    const what = last?.totals ? `${last.totals.accepted.toLocaleString('en')} accepted` : `${last?.rows?.length} rows`;
    process.stdout.write(`[${engine}] GET /stats ${label}: p50 ${quantile(times, 0.5).toFixed(1)} ms, p99 ${quantile(times, 0.99).toFixed(1)} ms (${what})\n`);
  }
  await app.close();
  await store.close();
  await pg?.stop();
  await removeDir(dir);
}

for (const engine of ENGINES) await run(engine);
