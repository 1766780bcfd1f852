// A shop's own SMTP server is checked on the address actually connected to at every delivery and test
// mail, not only when it is saved: a host name that resolved to a public address when the shop admin
// saved it and points inside the operator's network later (DNS rebinding) is refused then. Here the
// operator first allows private upstreams (the sink is on loopback), the shop saves two of its own
// (an IP and a name), then the operator turns the switch off: the saved upstreams must stop working,
// while the operator's own upstream on loopback keeps delivering.
import { describe, expect, it } from 'vitest';
import { waitForEvent } from '../helpers/events.js';
import { startMailgate, writeConfig } from '../helpers/mailgate-process.js';
import { sinkUpstream, testConfig } from '../helpers/config.js';
import { useMailgate } from '../helpers/use-mailgate.js';

describe("a shop's own upstream that points inside the network after it was saved", () => {
  const config = (allow: boolean) => testConfig({
    dataDir: `${w.dir}/data`,
    upstreams: [sinkUpstream('system', w.sinks[1]!.port)],
    systemUpstream: 'system',
    tenants: [],
    admin: `allowPrivateTenantUpstreams: ${allow}`,
  });
  const w = useMailgate({ prefix: 'mg-rebind-', sinks: [{}, {}], config: () => config(true) });

  it('is refused at delivery and in the test mail once private targets are no longer allowed', async () => {
    // A tenant made through the API (its upstream is the shop admin's to choose).
    expect((await w.api('/tenants', { method: 'POST', body: { id: 'shop', name: 'Shop', from: { address: 'orders@shop.test' }, auth: [{ user: 'shop', password: 'shop-password' }] } })).status).toBe(201);
    const { token } = (await (await w.api('/tenants/shop/tokens', { method: 'POST', body: { name: 'console' } })).json()) as { token: string };
    for (const [name, host] of [['own-ip', '127.0.0.1'], ['own-name', 'localhost']] as const) {
      expect((await w.api('/upstreams/system/copy', { method: 'POST', body: { name }, token })).status).toBe(201);
      expect((await w.api(`/upstreams/${name}`, { method: 'PATCH', body: { host, port: w.sink.port, tls: 'none' }, token })).status).toBe(200);
    }
    expect((await w.api('/tenants/shop/upstream', { method: 'PUT', body: { upstream: 'own-ip' }, token })).status).toBe(200);
    await w.submit({ user: 'shop', pass: 'shop-password' }).sendMail({ from: 'orders@shop.test', to: 'first@example.com', subject: 'allowed', text: 'x' });
    await w.sink.waitFor(1); // while allowed, the shop's server on loopback gets the mail

    // The operator turns private targets off (a restart applies it).
    await w.mg.kill();
    await writeConfig(w.dir, config(false));
    w.mg = await startMailgate({ configFile: w.configFile });

    await w.submit({ user: 'shop', pass: 'shop-password' }).sendMail({ from: 'orders@shop.test', to: 'second@example.com', subject: 'refused', text: 'x' });
    const { match } = await waitForEvent(w.mg, 'second@example.com', 'deferred');
    expect(match).toMatchObject({ code: 'UPSTREAM_PRIVATE_ADDRESS', upstream: 'own-ip' });
    expect(match.reply?.text).toMatch(/127\.0\.0\.1 is a private address \(set admin\.allowPrivateTenantUpstreams to allow\)/);

    // A name resolving inside the network: refused on the looked-up address.
    expect((await w.api('/tenants/shop/upstream', { method: 'PUT', body: { upstream: 'own-name' }, token })).status).toBe(200);
    await w.submit({ user: 'shop', pass: 'shop-password' }).sendMail({ from: 'orders@shop.test', to: 'third@example.com', subject: 'refused too', text: 'x' });
    const byName = await waitForEvent(w.mg, 'third@example.com', 'deferred');
    expect(byName.match).toMatchObject({ code: 'UPSTREAM_PRIVATE_ADDRESS', upstream: 'own-name' });
    expect(byName.match.reply?.text).toMatch(/localhost resolves only to private addresses \((127\.0\.0\.1|::1)[^)]*\); set admin\.allowPrivateTenantUpstreams to allow/);

    // The test mail says the same and sends nothing.
    const tested = await w.api('/upstreams/own-name/test', { method: 'POST', body: { to: 'owner@shop.test' }, token });
    expect(tested.status).toBe(400);
    expect(await tested.json()).toMatchObject({ error: 'PRIVATE_HOST', message: expect.stringMatching(/loopback\/private address/) });
    expect(w.sink.messages).toHaveLength(1);

    // The operator's own upstream on loopback is not affected.
    expect((await w.api('/tenants/shop/upstream', { method: 'PUT', body: { upstream: null }, token })).status).toBe(200);
    await w.submit({ user: 'shop', pass: 'shop-password' }).sendMail({ from: 'orders@shop.test', to: 'fourth@example.com', subject: 'system', text: 'x' });
    const [viaSystem] = await w.sinks[1]!.waitFor(1);
    expect(viaSystem!.to).toEqual(['fourth@example.com']);
  });
});
