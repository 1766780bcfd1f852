// The database goes away under a running node on PostgreSQL: /healthz says so within seconds (so a
// load balancer or systemd watchdog can act), a shop's message is refused with a temporary error,
// not answered 250 and lost, the process keeps running, and once the database is back the node is
// healthy again and mail flows without a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { sinkUpstream, testConfig } from './helpers/config.js';
import { startMailgate, writeConfig, type MailgateProcess } from './helpers/mailgate-process.js';
import { hasPostgres, noPostgresReason, startPostgres, type TestPostgres } from './helpers/postgres.js';
import { startSink, type Sink } from './helpers/smtp-sink.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';

async function health(mg: MailgateProcess): Promise<{ status: number; body: { checks: Record<string, boolean> } }> {
  const r = await fetch(`${mg.adminUrl}/healthz`);
  return { status: r.status, body: (await r.json()) as { checks: Record<string, boolean> } };
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await fn()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
}

describe.skipIf(!hasPostgres)(`a PostgreSQL outage${hasPostgres ? '' : ` (skipped: ${noPostgresReason})`}`, () => {
  let pg: TestPostgres;
  let dir: string;
  let sink: Sink;
  let mg: MailgateProcess;
  const send = (subject: string) => nodemailer.createTransport({ host: mg.submission.host, port: mg.submission.port, secure: false, ignoreTLS: true, auth: { user: 'shop', pass: 'correct-horse' } })
    .sendMail({ from: 'orders@shop.test', to: 'buyer@example.com', subject, text: 'Your order' });

  beforeAll(async () => {
    pg = await startPostgres();
    dir = await makeTempDir('mg-pg-outage-');
    sink = await startSink();
    const configFile = await writeConfig(dir, testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('up', sink.port)],
      tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, password: correct-horse } ], upstream: up }'],
      extra: 'store: { engine: postgres, urlEnv: MG_STORE_URL }',
    }));
    mg = await startMailgate({ configFile, env: { MG_STORE_URL: await pg.database('outage') } });
  }, 60_000);
  afterAll(async () => {
    await mg?.kill();
    await sink?.close();
    await pg?.stop();
    if (dir) await removeDir(dir);
  });

  it('reports it on /healthz, refuses mail with a temporary error, and recovers without a restart', async () => {
    await send('before');
    await until('the first message at the sink', async () => sink.messages.length === 1, 10_000);
    expect((await health(mg)).status).toBe(200);

    pg.pause();
    const noticed = await until('/healthz to fail', async () => (await health(mg)).status === 503, 10_000);
    expect((await health(mg)).body.checks.store).toBe(false);
    process.stdout.write(`/healthz reported the database outage after ${noticed} ms\n`);

    const refused = await send('during').then(() => undefined, (err: { responseCode?: number }) => err);
    expect(refused, 'a message must not be answered 250 while its records cannot be written').toBeDefined();
    expect(refused!.responseCode).toBeGreaterThanOrEqual(400);
    expect(refused!.responseCode).toBeLessThan(500);
    expect(mg.exitCode).toBeUndefined();

    pg.resume();
    await until('/healthz to recover', async () => (await health(mg)).status === 200, 15_000);
    await send('after');
    await until('the message sent after the outage at the sink', async () => sink.messages.length === 2, 15_000);
    expect(sink.messages.map((m) => m.raw.toString()).join('\n')).not.toContain('Subject: during');
  }, 60_000);
});
