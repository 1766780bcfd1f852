// The operator's command line: check-config, history, clean shutdown on SIGTERM.
import { afterAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { runCli, startMailgate, writeConfig } from './helpers/mailgate-process.js';
import { startSink } from './helpers/smtp-sink.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';
import { ADMIN_TOKEN, sinkUpstream, testConfig } from './helpers/config.js';

const dirs: string[] = [];
afterAll(async () => { for (const d of dirs) await removeDir(d); });

describe('mailgate check-config', () => {
  it('accepts the default config', async () => {
    const r = await runCli(['check-config', '--config', 'config/mailgate.yaml']);
    expect(r.code).toBe(0);
    // Valid, with what a first start lacks: an admin token, a real host name and domains, a DKIM key (issue 20).
    const warnings = r.stderr.trimEnd().split('\n');
    expect(warnings.every((l) => l.startsWith('warning: '))).toBe(true);
    expect(warnings.map((l) => /^warning: (no admin token|no DKIM key|system\.[\w.]+)/.exec(l)?.[1])).toEqual(expect.arrayContaining(['no admin token', 'system.sender.address', 'system.bounceDomain', 'no DKIM key']));
    expect(r.stdout).toBe(`config/mailgate.yaml: ok (${warnings.length} warnings)\n`);
  });

  it('names the offending key and exits non-zero', async () => {
    const dir = await makeTempDir('mg-cli-');
    dirs.push(dir);
    const file = await writeConfig(dir, testConfig({
      dataDir: `${dir}/data`,
      tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, passwordEnv: MG_TEST_UNSET_VAR } ], upstream: x }'],
      extra: 'queue: { retrySchedule: [1m, soon] }',
    }));
    delete process.env.MG_TEST_UNSET_VAR;
    const r = await runCli(['check-config', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('tenants[0].upstream: unknown upstream "x"');
    expect(r.stderr).toContain('tenants[0].auth[0].passwordEnv: environment variable MG_TEST_UNSET_VAR is not set');
    expect(r.stderr).toContain('queue.retrySchedule[1]');
  });

  it('refuses to serve with an invalid config', async () => {
    const dir = await makeTempDir('mg-cli-');
    dirs.push(dir);
    const file = await writeConfig(dir, 'dataDir: ./x\nsystem: { sender: { address: nope } }\n');
    const r = await runCli(['serve', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('system.sender.address: invalid e-mail address "nope"');
  });
});

describe('mailgate dkim generate', () => {
  it('writes a 0600 key and prints the DKIM, SPF and DMARC records for it; never overwrites', async () => {
    const { createPrivateKey } = await import('node:crypto');
    const fs = await import('node:fs/promises');
    const { dkimRecord } = await import('../src/identity/dns-records.js');
    const dir = await makeTempDir('mg-cli-');
    dirs.push(dir);
    const file = await writeConfig(dir, testConfig({ dataDir: `${dir}/data`, tenants: ['{ id: s, name: S, networks: [ 127.0.0.9/32 ] }'] }).replace(
      'upstream: direct }', 'upstream: direct, spf: { include: _spf.relay.test, ip4: [ 192.0.2.10 ] } }'));
    for (const type of ['rsa', 'ed25519']) {
      const r = await runCli(['dkim', 'generate', '--domain', 'Shop.Example', '--selector', `s-${type}`, '--type', type, '--dir', `${dir}/keys`, '--config', file, '--json']);
      expect(r.stderr).toBe('');
      const out = JSON.parse(r.stdout) as { file: string; records: Array<{ name: string; value: string }> };
      expect((await fs.stat(out.file)).mode & 0o777).toBe(0o600);
      const key = createPrivateKey(await fs.readFile(out.file));
      expect(key.asymmetricKeyType).toBe(type);
      if (type === 'rsa') expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
      expect(out.records).toEqual([
        expect.objectContaining({ name: `s-${type}._domainkey.shop.example`, value: dkimRecord(key) }),
        expect.objectContaining({ name: 'shop.example', value: 'v=spf1 include:_spf.relay.test ip4:192.0.2.10/32 ~all' }),
        expect.objectContaining({ name: '_dmarc.shop.example', value: 'v=DMARC1; p=none; rua=mailto:dmarc@shop.example' }),
      ]);
    }
    const again = await runCli(['dkim', 'generate', '--domain', 'shop.example', '--selector', 's-rsa', '--dir', `${dir}/keys`]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists already; a key is never overwritten/);
  });
});

describe('mailgate history and shutdown', () => {
  it('answers what happened to mail for an address, from the running server and from the store', async () => {
    const dir = await makeTempDir('mg-cli-');
    dirs.push(dir);
    const sink = await startSink({ rcptReply: (r) => (r.startsWith('typo@') ? { code: 550, message: '5.1.1 No such user' } : undefined) });
    const file = await writeConfig(dir, testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('up', sink.port)],
      tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, password: correct-horse } ], upstream: up }'],
    }));
    const mg = await startMailgate({ configFile: file });
    const t = nodemailer.createTransport({ host: mg.submission.host, port: mg.submission.port, secure: false, ignoreTLS: true, auth: { user: 'shop', pass: 'correct-horse' } });
    await t.sendMail({ from: 'orders@shop.test', to: 'typo@example.test', subject: 'x', text: 'x' });
    await mg.waitForLog((l) => 'relay' in l && l.to === 'typo@example.test');

    // Prometheus metrics count what happened, per tenant.
    const metrics = await (await fetch(`${mg.adminUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    expect(metrics).toContain('mailgate_recipients_accepted_total{tenant="shop"} 1');
    expect(metrics).toContain('mailgate_recipients_failed_total{tenant="shop"} 1');
    // The old names stay for one release, marked deprecated.
    expect(metrics).toContain('mailgate_messages_accepted_total{tenant="shop"} 1');
    expect(metrics).toMatch(/^# HELP mailgate_messages_failed_total DEPRECATED/m);
    expect(metrics).toMatch(/^mailgate_queue_depth 0$/m);
    expect(metrics).toMatch(/^mailgate_delivery_latency_seconds_count 0$/m);

    // Running: the store is locked, so the CLI asks the admin API (token from the config).
    const live = await runCli(['history', '--config', file, 'typo@example.test']);
    expect(live.code).toBe(0);
    expect(live.stdout).toMatch(/accepted .*typo@example\.test/);
    expect(live.stdout).toMatch(/failed .*typo@example\.test\s+up\s+UPSTREAM_REJECTED\s+550 5\.1\.1 No such user/);

    expect(await mg.kill('SIGTERM')).toBe(0);
    expect(mg.logs.some((l) => l.msg === 'mailgate stopped')).toBe(true);
    await sink.close();

    // Stopped: read straight from the store.
    const offline = await runCli(['history', '--config', file, '--json', 'TYPO@example.test']);
    expect(offline.code).toBe(0);
    const evs = JSON.parse(offline.stdout) as Array<{ type: string; reply?: { code: number } }>;
    expect(evs.map((e) => e.type)).toEqual(['accepted', 'failed']);
    expect(evs[1]!.reply!.code).toBe(550);
  });

  it('the admin API requires a token and serves /healthz without one', async () => {
    const dir = await makeTempDir('mg-cli-');
    dirs.push(dir);
    const file = await writeConfig(dir, testConfig({ dataDir: `${dir}/data`, tenants: ['{ id: shop, name: Shop, networks: [ 127.0.0.9/32 ] }'] }));
    const mg = await startMailgate({ configFile: file });
    expect((await fetch(`${mg.adminUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${mg.adminUrl}/api/v1/events`)).status).toBe(401);
    expect((await fetch(`${mg.adminUrl}/api/v1/events`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
    expect((await fetch(`${mg.adminUrl}/api/v1/events`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(200);
    expect((await fetch(`${mg.adminUrl}/metrics`)).status).toBe(401);
    const openapi = (await (await fetch(`${mg.adminUrl}/api/v1/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(openapi.openapi).toMatch(/^3\./);
    for (const p of ['/api/v1/errors', '/api/v1/errors/count', '/api/v1/events', '/api/v1/upstreams/{name}/test', '/api/v1/messages/{id}/resend', '/api/v1/suppression']) expect(Object.keys(openapi.paths)).toContain(p);
    expect(await mg.kill('SIGTERM')).toBe(0);
  });
});
