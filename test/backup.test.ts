// Backup while running and restore into a fresh data directory: queued mail (body included), tenants
// made through the API, suppression entries and the VERP secret come back, and the restored server
// delivers what was queued. A truncated backup is refused and restores nothing.
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { startSink, type Sink } from './helpers/smtp-sink.js';
import { runCli, startMailgate, writeConfig, type MailgateProcess } from './helpers/mailgate-process.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';
import { ADMIN_TOKEN, sinkUpstream, testConfig } from './helpers/config.js';

describe('backup and restore', () => {
  let dir: string;
  let sink: Sink;
  let mg: MailgateProcess | undefined;
  let accepting = false;
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const config = (dataDir: string) => testConfig({
    dataDir, upstreams: [sinkUpstream('up', sink.port)], systemUpstream: 'up',
    tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, password: shop-password } ] }'],
  });

  beforeAll(async () => {
    dir = await makeTempDir('mg-backup-');
    sink = await startSink({ rcptReply: () => (accepting ? undefined : { code: 451, message: '4.3.2 Try again later' }) });
  });
  afterAll(async () => {
    await mg?.kill();
    await sink?.close();
    await removeDir(dir);
  });

  it('backs up a running server and restores it elsewhere with its queue, tenants and suppression list', async () => {
    await fs.mkdir(path.join(dir, 'a'));
    await fs.mkdir(path.join(dir, 'b'));
    const original = await writeConfig(path.join(dir, 'a'), config(`${dir}/a/data`));
    mg = await startMailgate({ configFile: original });
    const big = 'x'.repeat(2 * 1024 * 1024); // over 1 MiB: a body file of its own
    const t = nodemailer.createTransport({ host: mg.submission.host, port: mg.submission.port, secure: false, ignoreTLS: true, auth: { user: 'shop', pass: 'shop-password' } });
    await t.sendMail({ from: 'orders@shop.test', to: 'small@example.com', subject: 'small', text: 'small body' });
    await t.sendMail({ from: 'orders@shop.test', to: 'big@example.com', subject: 'big', text: big });
    await mg.waitForLog((l) => 'relay' in l && l.to === 'big@example.com');
    expect((await fetch(`${mg.adminUrl}/api/v1/tenants`, { method: 'POST', headers: admin, body: JSON.stringify({ id: 'apishop', name: 'API', auth: [{ user: 'api', password: 'api-password-123' }] }) })).status).toBe(201);
    expect((await fetch(`${mg.adminUrl}/api/v1/suppression`, { method: 'POST', headers: admin, body: JSON.stringify({ tenant: 'shop', address: 'gone@example.com' }) })).status).toBe(201);

    const file = path.join(dir, 'backup.ndjson.gz');
    const b = await runCli(['backup', '--config', original, '--out', file]);
    expect(b.stderr).toBe('');
    expect(b.code).toBe(0);
    await mg.kill();
    mg = undefined;

    // A truncated copy is refused and leaves the target untouched.
    const whole = await fs.readFile(file);
    await fs.writeFile(path.join(dir, 'cut.gz'), whole.subarray(0, Math.floor(whole.length * 0.6)));
    const target = await writeConfig(path.join(dir, 'b'), config(`${dir}/b/data`));
    const cut = await runCli(['restore', '--config', target, path.join(dir, 'cut.gz')]);
    expect(cut.code).toBe(1);
    expect(await fs.readdir(path.join(dir, 'b', 'data')).catch(() => [])).toEqual([]);

    const r = await runCli(['restore', '--config', target, file]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^restored \d+ database entries and \d+ files/);
    expect(await fs.readFile(path.join(dir, 'b', 'data', 'verp.secret'), 'utf8')).toBe(await fs.readFile(path.join(dir, 'a', 'data', 'verp.secret'), 'utf8'));
    // Restoring over an existing database is refused.
    expect((await runCli(['restore', '--config', target, file])).code).toBe(1);

    accepting = true;
    mg = await startMailgate({ configFile: target });
    const queue = (await (await fetch(`${mg.adminUrl}/api/v1/queue`, { headers: admin })).json()) as { messages: Array<{ pending: Array<{ address: string }> }> };
    expect(queue.messages.flatMap((m) => m.pending.map((p) => p.address)).sort()).toEqual(['big@example.com', 'small@example.com']);
    expect((await fetch(`${mg.adminUrl}/api/v1/queue/flush`, { method: 'POST', headers: admin })).status).toBe(200);
    const got = await sink.waitFor(2, 15_000);
    // The whole 2 MiB body came back (quoted-printable lines of x).
    const bigRaw = got.find((m) => m.to[0] === 'big@example.com')!.raw.toString('latin1');
    expect(bigRaw.replace(/=\r\n/g, '').split('\r\n\r\n')[1]!.replace(/\r\n$/, '')).toBe(big);
    expect(((await (await fetch(`${mg.adminUrl}/api/v1/tenants/apishop`, { headers: admin })).json()) as { source: string }).source).toBe('store');
    expect(((await (await fetch(`${mg.adminUrl}/api/v1/suppression?tenant=shop`, { headers: admin })).json()) as { entries: unknown[] }).entries).toHaveLength(1);
  }, 90_000); // two servers, a backup and a restore as CLI processes
});
