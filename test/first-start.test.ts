// The first start of a config with no admin token (issue 20): mailgate makes one in the data
// directory (mode 0600), prints the console's address and the token once on stdout (never in the
// JSON log, never again), and the API, the console's sign-in in chromium and the operator commands take it;
// `mailgate admin token [--rotate]` prints or replaces it. Also the small CLI points of issue 20:
// `serve --help`, `bounces parse` on a missing file, `queue` on a stopped relay without a token.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChromium, launchChromium } from './helpers/browser.js';
import { repoRoot, runCli, startMailgate, writeConfig, type MailgateProcess } from './helpers/mailgate-process.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';

const TOKEN_LINE = /^mailgate is ready: open the console at (http:\/\/127\.0\.0\.1:\d+\/) and sign in with the admin token ([0-9a-f]{64}) \(kept in (\S+); shown only this once/m;

describe('first start without an admin token', () => {
  let dir: string;
  let configFile: string;
  let mg: MailgateProcess | undefined;
  const cli = (...args: string[]) => runCli([...args, '--config', configFile], { env: { MAILGATE_TOKEN: undefined } });
  const api = (token: string, p = '/api/v1/tenants') => fetch(`${mg!.adminUrl}${p}`, { headers: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    dir = await makeTempDir('mg-first-');
    configFile = await writeConfig(dir, [
      `dataDir: ${dir}/data`,
      'listen: { submission: 127.0.0.1:0, inbound: 127.0.0.1:0, admin: 127.0.0.1:0 }',
      'system: { hostname: relay.test, sender: { address: noreply@relay.test }, bounceDomain: bounces.relay.test }',
      'shutdownGrace: 2s',
      'tenants: [ { id: shop, name: Shop, auth: [ { user: shop, password: shop-password } ] } ]',
    ].join('\n'));
  });
  afterAll(async () => {
    await mg?.kill();
    await removeDir(dir);
  });

  it('says "not running" (exit 3) before anything exists, with no token anywhere', async () => {
    const r = await cli('queue');
    expect(r.stderr).toMatch(/mailgate is not running/);
    expect(r.code).toBe(3);
    expect((await cli('admin', 'token')).stderr).toMatch(/no admin token yet/);
  });

  it('makes the token (0600), prints it once with the console address, and the API takes it', async () => {
    mg = await startMailgate({ configFile, env: { MAILGATE_TOKEN: undefined } });
    await expect.poll(() => TOKEN_LINE.test(mg!.stdout), { timeout: 5000 }).toBe(true);
    const [, url, token, file] = TOKEN_LINE.exec(mg.stdout)!;
    expect(url).toBe(`${mg.adminUrl}/`);
    expect(file).toBe(path.join(dir, 'data', 'admin.token'));
    expect((await readFile(file!, 'utf8')).trim()).toBe(token);
    await mg.waitForLog((l) => l.msg === `config warning: no admin token in the config (admin.tokens): mailgate uses the one it generated in ${file}; \`mailgate admin token\` prints it`);
    expect(statSync(file!).mode & 0o777).toBe(0o600);
    // The data directory and what mailgate writes in it are closed to other users, whatever the umask.
    expect(statSync(path.join(dir, 'data')).mode & 0o777).toBe(0o750);
    for (const f of ['db/CURRENT', 'node-id']) expect(statSync(path.join(dir, 'data', f)).mode & 0o007, f).toBe(0);
    // Printed on a line of its own, never inside a log record.
    expect(mg.stdout.split('\n').filter((l) => l.includes(token!))).toHaveLength(1);
    expect(JSON.stringify(mg.logs)).not.toContain(token);

    expect((await api(token!)).status).toBe(200);
    expect((await api('0'.repeat(64))).status).toBe(401);
    // The printed address opens the console in a browser, and the printed token signs in (the overview
    // with the shop, not the form again). Without chromium, the same over HTTP.
    const chromium = findChromium();
    if (chromium) {
      const browser = await launchChromium(chromium);
      try {
        const page = await browser.newPage();
        await page.goto(url!);
        await page.fill('input[name=token]', token!);
        await Promise.all([page.waitForURL(url!), page.click('#signin-form button[type=submit]')]);
        await page.waitForSelector('#signout');
        expect(await page.textContent('body')).toContain('Shop');
      } finally {
        await browser.close();
      }
    } else {
      const page = await fetch(`${url}`);
      const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
      const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
      const signIn = await fetch(`${url}signin`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: csrf, token: token! }) });
      expect(signIn.status).toBe(303);
    }

    // The operator commands find it in the data directory.
    const queue = await cli('queue');
    expect(queue.stdout).toContain('mail queue is empty');
    expect(queue.code).toBe(0);
    const printed = await cli('admin', 'token');
    expect(printed.stdout.trim()).toBe(token);
  });

  it('a restart keeps the token and prints nothing of it', async () => {
    const token = (await readFile(path.join(dir, 'data', 'admin.token'), 'utf8')).trim();
    expect(await mg!.kill()).toBe(0);
    await chmod(path.join(dir, 'data'), 0o755); // opened by someone meanwhile: closed again at start, with a warning
    mg = await startMailgate({ configFile, env: { MAILGATE_TOKEN: undefined } });
    expect((await api(token)).status).toBe(200);
    expect(statSync(path.join(dir, 'data')).mode & 0o777).toBe(0o750);
    expect(mg.logs.find((l) => l.msg === 'the data directory could be read by other users of this machine; it is closed to them now')).toMatchObject({ mode: '0755', now: '0750' });
    await new Promise((r) => setTimeout(r, 300));
    expect(mg.stdout).not.toContain(token);
    expect(mg.stdout).not.toMatch(/sign in with the admin token/);
  });

  it('`admin token --rotate` replaces it; the running relay takes the new one and refuses the old', async () => {
    const old = (await readFile(path.join(dir, 'data', 'admin.token'), 'utf8')).trim();
    const r = await cli('admin', 'token', '--rotate');
    expect(r.code).toBe(0);
    const fresh = r.stdout.trim();
    expect(fresh).toMatch(/^[0-9a-f]{64}$/);
    expect(fresh).not.toBe(old);
    expect(r.stderr).toContain(`(pid ${mg!.pid})`);
    await mg!.waitForLog((l) => l.msg === 'configuration reloaded');
    expect((await api(fresh)).status).toBe(200);
    expect((await api(old)).status).toBe(401);
    expect(JSON.stringify(mg!.logs)).not.toContain(fresh);
  });
});

describe('the small CLI points of issue 20', () => {
  it('`serve --help` shows serve\'s own help', async () => {
    const r = await runCli(['serve', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: mailgate serve \[--config FILE\]/);
    expect(r.stdout).toContain('config/mailgate.local.yaml');
    expect(r.stdout).not.toContain('history'); // not the general usage
  });

  it('`bounces parse` exits 1 when a file is missing, after reading the others', async () => {
    const dir = await makeTempDir('mg-parse-');
    try {
      const r = await runCli(['bounces', 'parse', path.join(dir, 'missing.eml')]);
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout.trim())).toMatchObject({ error: expect.stringContaining('cannot read') });
    } finally {
      await removeDir(dir);
    }
  });
});

describe('config for people (issue 20)', () => {
  it('without --config, a command reads config/mailgate.local.yaml when it exists, else config/mailgate.yaml', async () => {
    const dir = await makeTempDir('mg-local-');
    try {
      await mkdir(path.join(dir, 'config'));
      const shipped = 'dataDir: ./data\nsystem: { hostname: relay.test, sender: { address: noreply@relay.test }, bounceDomain: b.relay.test }\n';
      await writeFile(path.join(dir, 'config', 'mailgate.yaml'), shipped);
      expect((await runCli(['check-config'], { cwd: dir })).stdout).toMatch(/^config\/mailgate\.yaml: ok/m);
      // The operator's copy wins, and is what is validated: an error in it is reported against it.
      await writeFile(path.join(dir, 'config', 'mailgate.local.yaml'), `${shipped}limits: { maxMessageSise: 1MB }\n`);
      const local = await runCli(['check-config'], { cwd: dir });
      expect(local.stderr).toContain('config/mailgate.local.yaml: invalid configuration');
      expect(local.code).toBe(2);
    } finally {
      await removeDir(dir);
    }
  });

  it('git ignores local configs, secrets, keys and the Docker config directory', () => {
    const paths = ['config/mailgate.local.yaml', 'config/secrets/admin.token', 'config/keys/shop.example.mg1.key', 'docker/config/mailgate.yaml', 'data/admin.token'];
    const r = spawnSync('git', ['check-ignore', '--no-index', ...paths], { cwd: repoRoot, encoding: 'utf8' });
    expect(r.stdout.trim().split('\n')).toEqual(paths);
    expect(spawnSync('git', ['check-ignore', '--no-index', 'config/mailgate.yaml'], { cwd: repoRoot }).status).toBe(1);
  });
});
