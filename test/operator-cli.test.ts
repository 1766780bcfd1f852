// The operator CLI against a running server: queue listing like postqueue -p, retry, flush, delete,
// suppression and tenants, --json output, and exit code 3 when mailgate is not running.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { startSink, type Sink } from './helpers/smtp-sink.js';
import { runCli, startMailgate, writeConfig, type MailgateProcess } from './helpers/mailgate-process.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';
import { ADMIN_TOKEN, sinkUpstream, testConfig } from './helpers/config.js';

describe('operator CLI', () => {
  let dir: string;
  let sink: Sink;
  let configFile: string;
  let mg: MailgateProcess;
  let accepting = false;
  const cli = (...args: string[]) => runCli([...args, '--config', configFile]);
  const send = async (to: string) => {
    const info = await nodemailer.createTransport({ host: mg.submission.host, port: mg.submission.port, secure: false, ignoreTLS: true, auth: { user: 'shop', pass: 'shop-password' } })
      .sendMail({ from: 'orders@shop.test', to, subject: 'x', text: 'x' });
    return info.response.split(' ').pop()!;
  };

  beforeAll(async () => {
    dir = await makeTempDir('mg-opcli-');
    sink = await startSink({ rcptReply: () => (accepting ? undefined : { code: 451, message: '4.7.1 Greylisted, please try again later' }) });
    configFile = await writeConfig(dir, testConfig({
      dataDir: `${dir}/data`, upstreams: [sinkUpstream('up', sink.port)], systemUpstream: 'up',
      tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, password: shop-password } ] }'],
    }));
    mg = await startMailgate({ configFile });
  });
  afterAll(async () => {
    await mg?.kill();
    await sink?.close();
    await removeDir(dir);
  });

  it('lists the queue with age, attempts and the last reply, retries, deletes and flushes', async () => {
    const keep = await send('anna@example.com');
    const drop = await send('bert@example.com');
    await mg.waitForLog((l) => 'relay' in l && l.to === 'bert@example.com');
    await mg.waitForLog((l) => 'relay' in l && l.to === 'anna@example.com');

    const list = await cli('queue');
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(keep);
    expect(list.stdout).toMatch(/\(451 4\.7\.1 Greylisted, please try again later\)/);
    expect(list.stdout).toMatch(/-- 2 message\(s\)/);
    const entries = JSON.parse((await cli('queue', '--json')).stdout) as Array<{ id: string; attempts: number; pending: Array<{ address: string }> }>;
    expect(entries.map((e) => e.id).sort()).toEqual([keep, drop].sort());
    expect(entries.every((e) => e.attempts === 1)).toBe(true);

    // The API takes a queue id in lower case as well.
    const lower = await fetch(`${mg.adminUrl}/api/v1/messages/${keep.toLowerCase()}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(lower.status).toBe(200);
    expect(await lower.json()).toMatchObject({ id: keep });
    const retry = await cli('queue', 'retry', keep.toLowerCase()); // typed in lower case: normalised (issue 20)
    expect(retry.code).toBe(0);
    expect(retry.stdout).toContain(keep);
    await mg.waitForLog((l) => 'relay' in l && l.to === 'anna@example.com' && l.attempt === 2);

    const del = await cli('queue', 'delete', drop);
    expect(del.code).toBe(0);
    expect(del.stdout).toContain('not delivered to bert@example.com');
    const events = (await (await fetch(`${mg.adminUrl}/api/v1/events?msgId=${drop}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { events: Array<{ code?: string }> };
    expect(events.events.map((e) => e.code)).toContain('DELETED_BY_ADMIN');
    // Deleted by an operator is no bounce: the shop's bounce rate stays 0.
    const stats = (await (await fetch(`${mg.adminUrl}/api/v1/stats?tenant=shop`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { totals: { accepted: number; failed: number; bounceRate: number } };
    expect(stats.totals).toMatchObject({ accepted: 2, failed: 0, bounceRate: 0 });
    expect((await cli('queue', 'delete', drop)).code).toBe(1);
    expect((await cli('queue', 'retry', 'NOSUCHMESSAGE0000000')).code).toBe(1);

    accepting = true;
    const flush = await cli('queue', 'flush');
    expect(flush.stdout).toMatch(/^1 message\(s\) due now/);
    const [delivered] = await sink.waitFor(1);
    expect(delivered!.to).toEqual(['anna@example.com']);
    expect(sink.messages).toHaveLength(1);
    await mg.waitForLog((l) => 'relay' in l && l.to === 'anna@example.com' && l.status === 'sent');
    expect((await cli('queue')).stdout).toContain('mail queue is empty');
  }, 90_000); // nine CLI processes: each starts node and reads the config (slow on a loaded 2-core box)

  it('manages the suppression list and lists tenants', async () => {
    expect((await cli('suppression', 'add', 'shop', 'gone@example.com', '--reason', 'asked to stop')).code).toBe(0);
    const list = await cli('suppression', 'list', 'shop');
    expect(list.stdout).toMatch(/^gone@example\.com {2}admin\/asked to stop/m);
    expect((await cli('suppression', 'remove', 'shop', 'gone@example.com')).code).toBe(0);
    expect(JSON.parse((await cli('suppression', 'list', 'shop', '--json')).stdout)).toEqual([]);
    expect((await cli('suppression', 'remove', 'shop', 'gone@example.com')).code).toBe(1);
    expect((await cli('suppression', 'bogus')).code).toBe(2);
    expect((await cli('tenants', 'list')).stdout).toMatch(/^shop +Shop +config +upstream=up logins=1 domains=-$/m);
  }, 90_000);

  it('exits 3 when mailgate is not running', async () => {
    const other = await makeTempDir('mg-opcli-down-');
    const file = await writeConfig(other, testConfig({ dataDir: `${other}/data`, tenants: ['{ id: x, name: X, networks: [ 10.9.9.9/32 ] }'] }));
    const res = await runCli(['queue', '--config', file]);
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/not running/);
    // Also with no admin token anywhere: "not running" comes first (issue 20).
    const tokenless = await writeConfig(other, testConfig({ dataDir: `${other}/data`, tenants: ['{ id: x, name: X, networks: [ 10.9.9.9/32 ] }'] }).replace(/^admin: .*$/m, 'admin: { tokens: [] }'));
    const bare = await runCli(['queue', '--config', tokenless], { env: { MAILGATE_TOKEN: undefined } });
    expect(bare.stderr).toMatch(/not running/);
    expect(bare.code).toBe(3);
    expect((await runCli(['queue', 'retry', 'not-an-id', '--config', file])).stderr).toMatch(/"not-an-id" is not a queue id/);
    await removeDir(other);
  });
});
