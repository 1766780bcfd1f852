// Setup warnings (issue 20): a short host name, no system DKIM key, placeholder sender and bounce
// domains, a sender domain without DNS records (a loopback DNS server with an empty zone), next to
// the tracking warnings — logged at start, printed by check-config, answered by GET /warnings
// (admins only) and shown on the console's overview to an admin, not to a shop.
import { describe, expect, it } from 'vitest';
import { configWarnings, isPlaceholderDomain } from '../src/config/warnings.js';
import { parseConfig } from '../src/config/load.js';
import { findChromium, launchChromium } from './helpers/browser.js';
import { ADMIN_TOKEN, testConfig } from './helpers/config.js';
import { runCli } from './helpers/mailgate-process.js';
import { useMailgate } from './helpers/use-mailgate.js';

const SHORT = /system\.hostname is "mailhost", this machine's short name \(the default\), not a full domain name: set system\.hostname to the relay's public name/;
const NO_DKIM = /no DKIM key for the system sender \(system\.dkim\): mail sent as noreply@relay\.example\.net is not signed/;
const PLACEHOLDER_SENDER = 'system.sender.address uses "relay.example.net", a placeholder';
const NO_DNS = /sender domain shop\.example\.org \(tenant shop\) is not set up in DNS, so its mail leaves with the system sender instead: .*shop\.example\.org/;

describe('the config\'s own warnings (pure)', () => {
  const config = (system: string, admin = `admin: { tokens: [ { name: ops, token: ${ADMIN_TOKEN} } ] }`) => parseConfig(`dataDir: /tmp/x\n${system}\n${admin}\n`, { baseDir: '/tmp', env: {} });

  it('says nothing about a finished setup', () => {
    const done = config('system: { hostname: relay.shop.org, sender: { address: noreply@shop.org }, bounceDomain: bounces.shop.org }');
    expect(configWarnings(done)).toEqual([expect.stringMatching(/^no DKIM key for the system sender/)]);
    expect(configWarnings({ ...done, system: { ...done.system, dkim: { domain: 'shop.org', selector: 'mg1', privateKey: 'k' } } })).toEqual([]);
  });

  it('names the placeholder, the short name and the missing token, and where a generated token is', () => {
    const c = config('system: { hostname: relay.example.net, sender: { address: noreply@shop.org }, bounceDomain: bounces.shop.org }', 'admin: { tokens: [] }');
    const ws = configWarnings(c);
    expect(ws[0]).toMatch(/^no admin token in the config \(admin\.tokens\): mailgate makes one in the data directory on its first start/);
    expect(ws[1]).toMatch(/^system\.hostname is "relay\.example\.net", a placeholder: set system\.hostname/);
    expect(configWarnings(c, { generatedTokenFile: '/d/admin.token' })[0]).toContain('mailgate uses the one it generated in /d/admin.token');
    expect(['relay.example.net', 'example.com', 'shop.example', 'a.test', 'x.invalid'].every(isPlaceholderDomain)).toBe(true);
    expect(['shop.org', 'example-shop.com', 'examples.net'].some(isPlaceholderDomain)).toBe(false);
  });
});

describe('the DANE warning (pure)', () => {
  const dane = (dns: string) => configWarnings(parseConfig(
    `dataDir: /tmp/x\nsystem: { hostname: relay.shop.org, sender: { address: noreply@shop.org }, bounceDomain: bounces.shop.org }\nadmin: { tokens: [ { name: ops, token: ${ADMIN_TOKEN} } ] }\nupstreams: [ { name: direct, type: mx, dane: true } ]\n${dns}`,
    { baseDir: '/tmp', env: {} },
  )).filter((w) => w.includes('DANE'));

  it('asks for a validating resolver on this host when DANE is on', () => {
    expect(dane('')).toEqual([expect.stringMatching(/^upstream "direct" checks DANE, which trusts the DNSSEC flag of the resolvers in dns\.servers \(none: the system's\)/)]);
    expect(dane('dns: { servers: [ 9.9.9.9 ] }')).toEqual([expect.stringContaining('(9.9.9.9); that flag can be forged')]);
    expect(dane('dns: { servers: [ "127.0.0.1:5353", "::1" ] }')).toEqual([]);
  });
});

describe('setup warnings of a running relay', () => {
  const w = useMailgate({
    prefix: 'mg-warn-',
    dns: { 'other.test': { TXT: ['v=spf1 -all'] } },
    config: ({ dir, dns }) => testConfig({
      dataDir: `${dir}/data`,
      tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, password: shop-password } ], domains: [ { domain: shop.example.org } ] }'],
      extra: `dns: { servers: [ "${dns.address}" ] }`,
    }).replace('system: { hostname: relay.test, sender: { address: noreply@relay.test, name: Relay }, bounceDomain: bounces.relay.test,', 'system: { hostname: mailhost, sender: { address: noreply@relay.example.net, name: Relay }, bounceDomain: bounces.relay.example.net,'),
  });

  it('logs each at start and answers them to an admin, not to a shop', async () => {
    for (const re of [SHORT, NO_DKIM, NO_DNS]) await w.mg.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('config warning: ') && re.test(l.msg));
    const r = await w.api('/warnings');
    expect(r.status).toBe(200);
    const { warnings } = (await r.json()) as { warnings: string[] };
    expect(warnings.some((x) => SHORT.test(x))).toBe(true);
    expect(warnings.some((x) => NO_DKIM.test(x))).toBe(true);
    expect(warnings).toContain(`${PLACEHOLDER_SENDER}: set it to a domain of yours (receiving servers refuse mail from a domain that does not exist)`);
    expect(warnings.some((x) => NO_DNS.test(x))).toBe(true);
    expect(warnings.some((x) => x.startsWith('no admin token'))).toBe(false); // the config has one
    const shopToken = ((await (await w.api('/tenants/shop/tokens', { method: 'POST', body: { name: 'shop-admin' } })).json()) as { token: string }).token;
    expect((await w.api('/warnings', { token: shopToken })).status).toBe(403);
  });

  it('check-config prints the same warnings and exits 0', async () => {
    const r = await runCli(['check-config', '--config', w.configFile]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^warning: ${SHORT.source}`, 'm'));
    expect(r.stderr).toMatch(new RegExp(`^warning: ${NO_DKIM.source}`, 'm'));
    expect(r.stderr).toMatch(new RegExp(`^warning: ${NO_DNS.source}`, 'm'));
    expect(r.stdout).toMatch(/: ok \(\d+ warnings\)$/m);
  });

  it('`admin token` refers to the config\'s own tokens by name, never printing them', async () => {
    const r = await runCli(['admin', 'token', '--config', w.configFile]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('lists its admin tokens (admin.tokens: ops); mailgate generates none');
    expect(r.stderr + r.stdout).not.toContain(ADMIN_TOKEN);
  });

  it.skipIf(!findChromium())('the console\'s overview shows them to an admin, and not to a shop', async () => {
    const shopToken = ((await (await w.api('/tenants/shop/tokens', { method: 'POST', body: { name: 'shop-console' } })).json()) as { token: string }).token;
    const browser = await launchChromium(findChromium()!);
    try {
      for (const [token, shown] of [[ADMIN_TOKEN, true], [shopToken, false]] as const) {
        const page = await (await browser.newContext()).newPage();
        await page.goto(`${w.mg.adminUrl}/`);
        await page.fill('input[name=token]', token);
        await Promise.all([page.waitForURL(`${w.mg.adminUrl}/`), page.click('#signin-form button[type=submit]')]);
        await page.waitForSelector('#search-box');
        if (shown) {
          const banner = (await page.textContent('#setup-warnings'))!;
          expect(banner).toContain('This relay\'s setup is not finished.');
          expect(banner).toMatch(SHORT);
          expect(banner).toMatch(NO_DNS);
        } else {
          expect(await page.$('#setup-warnings')).toBeNull();
        }
      }
    } finally {
      await browser.close();
    }
  });
});
