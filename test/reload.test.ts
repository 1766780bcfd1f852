// SIGHUP: tenants, upstreams, admin tokens and log level from the re-read config apply at once;
// a broken file or a clash with API-made tenants keeps the running configuration; other changes are named as needing a restart.
import fs from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { getHeader, type Sink } from './helpers/smtp-sink.js';
import { useMailgate } from './helpers/use-mailgate.js';
import { ADMIN_TOKEN, sinkUpstream, testConfig } from './helpers/config.js';

describe('configuration reload on SIGHUP', () => {
  const w = useMailgate({
    prefix: 'mg-reload-',
    sinks: [{}, {}],
    config: () => config(['{ id: shop, name: Shop, auth: [ { user: shop, password: shop-password } ] }']),
  });
  let sinkA: Sink;
  let sinkB: Sink;
  beforeAll(() => { [sinkA, sinkB] = w.sinks; }); // runs after the fixture's beforeAll has started them
  const config = (tenants: string[], upstream = 'a', extra = '') => testConfig({
    dataDir: `${w.dir}/data`, upstreams: [sinkUpstream('a', w.sinks[0]!.port), sinkUpstream('b', w.sinks[1]!.port)], systemUpstream: upstream, tenants, extra,
  });
  const send = (user: string, pass: string, subject: string) =>
    w.submit({ user, pass }).sendMail({ from: 'x@shop.test', to: 'buyer@example.com', subject, text: 'x' });
  const hup = async (after: number) => {
    w.mg.child.kill('SIGHUP');
    return w.mg.waitForLog((l, i = w.mg.logs.indexOf(l)) => i >= after && /reloaded|not reloaded/.test(String(l.msg)));
  };

  it('applies new tenants, upstreams and admin tokens without a restart', async () => {
    await send('shop', 'shop-password', 'before');
    await sinkA.waitFor(1);
    await fs.writeFile(w.configFile, config([
      '{ id: shop, name: Shop, upstream: b, auth: [ { user: shop, password: shop-password } ] }',
      '{ id: second, name: Second, auth: [ { user: second, password: second-password } ] }',
    ], 'a', 'limits: { maxRecipients: 5 }').replace('logLevel: info', 'logLevel: debug').replace(`token: ${ADMIN_TOKEN}`, 'token: a-new-admin-token-0123456789'));
    const line = await hup(w.mg.logs.length);
    expect(line.msg).toMatch(/configuration reloaded; changes to limits need a restart/);
    await send('shop', 'shop-password', 'after');
    expect(getHeader((await sinkB.waitFor(1))[0]!.headers, 'Subject')).toBe('after');
    await send('second', 'second-password', 'new tenant');
    await sinkA.waitFor(2);
    expect((await fetch(`${w.mg.adminUrl}/api/v1/tenants`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(401);
    expect((await fetch(`${w.mg.adminUrl}/api/v1/tenants`, { headers: { authorization: 'Bearer a-new-admin-token-0123456789' } })).status).toBe(200);
  });

  it('keeps the running configuration when the new file is invalid or clashes with API-made tenants', async () => {
    const good = await fs.readFile(w.configFile, 'utf8');
    await fs.writeFile(w.configFile, good.replace('upstream: b,', 'upstream: nowhere,'));
    const bad = await hup(w.mg.logs.length);
    expect(bad.msg).toMatch(/not reloaded, the file is invalid/);
    expect(JSON.stringify(bad.issues)).toContain('unknown upstream \\"nowhere\\"');
    await send('second', 'second-password', 'still works');
    await sinkA.waitFor(3);

    const admin = { authorization: 'Bearer a-new-admin-token-0123456789', 'content-type': 'application/json' };
    expect((await fetch(`${w.mg.adminUrl}/api/v1/tenants`, { method: 'POST', headers: admin, body: JSON.stringify({ id: 'apimade', name: 'API', auth: [{ user: 'apiuser', password: 'api-password-123' }] }) })).status).toBe(201);
    await fs.writeFile(w.configFile, good.replace('tenants:', 'tenants:\n  - { id: apimade, name: Clash, auth: [ { user: other, password: other-password } ] }'));
    const clash = await hup(w.mg.logs.length);
    expect(clash.msg).toMatch(/not reloaded; the running configuration stays/);
    expect(JSON.stringify(clash.issues)).toContain('clashes with API-made tenant apimade');
    await send('apiuser', 'api-password-123', 'api tenant still works');
    await sinkA.waitFor(4);
  });
});
