// Tenants and upstreams through the admin API, against the listening server: created ones work for the
// next SMTP login and message without a restart and survive one; config-declared ones are read-only;
// validation names the field; credential rotation revokes API tokens unless asked not to.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { startSink, type Sink } from './helpers/smtp-sink.js';
import { startMailgate, writeConfig, type MailgateProcess } from './helpers/mailgate-process.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';
import { ADMIN_TOKEN, sinkUpstream, testConfig } from './helpers/config.js';
import { useMailgate } from './helpers/use-mailgate.js';

describe('tenants and upstreams through the admin API', () => {
  let dir: string;
  let systemSink: Sink;
  let shopSink: Sink;
  let configFile: string;
  let mg: MailgateProcess;
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const api = (path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
    fetch(`${mg.adminUrl}/api/v1${path}`, {
      method: init.method ?? 'GET',
      headers: init.headers ?? admin,
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
  const send = (user: string, pass: string, to = 'buyer@example.com') =>
    nodemailer.createTransport({ host: mg.submission.host, port: mg.submission.port, secure: false, ignoreTLS: true, auth: { user, pass } })
      .sendMail({ from: 'orders@new-shop.test', to, subject: 'order', text: 'thanks' });

  beforeAll(async () => {
    dir = await makeTempDir('mg-dir-');
    systemSink = await startSink();
    shopSink = await startSink({ auth: { user: 'relay-user', password: 'relay-secret' } });
    configFile = await writeConfig(dir, testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('system', systemSink.port), '{ name: shared, host: 127.0.0.1, port: 1, tls: none, auth: { user: relay-user, password: relay-secret } }'],
      systemUpstream: 'system',
      tenants: ['{ id: fixed, name: Fixed, auth: [ { user: fixed, password: fixed-password } ] }'],
      // The sinks are on 127.0.0.1; shop admins' upstreams may point there only with this switch.
      admin: 'allowPrivateTenantUpstreams: true',
    }));
    mg = await startMailgate({ configFile });
  });
  afterAll(async () => {
    await mg?.kill();
    await systemSink?.close();
    await shopSink?.close();
    await removeDir(dir);
  });

  it('copies a config upstream into an editable one and masks its password', async () => {
    const copy = await api('/upstreams/shared/copy', { method: 'POST', body: { name: 'shop-relay' } });
    expect(copy.status).toBe(201);
    expect(await copy.json()).toMatchObject({ name: 'shop-relay', source: 'store', readOnly: false, auth: { user: 'relay-user', password: '********' } });
    const edited = await api('/upstreams/shop-relay', { method: 'PATCH', body: { port: shopSink.port } });
    expect(edited.status).toBe(200);
    expect(await edited.json()).toMatchObject({ port: shopSink.port, host: '127.0.0.1' });
    const list = JSON.stringify(await (await api('/upstreams')).json());
    expect(list).not.toContain('relay-secret');
  });

  it('refuses to change config-declared upstreams and tenants and the system upstream (409 with a reason)', async () => {
    const r1 = await api('/upstreams/shared', { method: 'PATCH', body: { port: 2 } });
    expect(r1.status).toBe(409);
    expect(((await r1.json()) as { message: string }).message).toMatch(/config file/);
    const r2 = await api('/upstreams/system', { method: 'DELETE' });
    expect(r2.status).toBe(409);
    expect(((await r2.json()) as { message: string }).message).toMatch(/system upstream/);
    const r3 = await api('/tenants/fixed', { method: 'PATCH', body: { name: 'Renamed' } });
    expect(r3.status).toBe(409);
    expect((await api('/tenants/fixed/credentials', { method: 'POST', body: { user: 'x' } })).status).toBe(409);
  });

  it('validates a new tenant by the config file rules, naming the field', async () => {
    const bad = await api('/tenants', { method: 'POST', body: { id: 'broken', name: 'B', domains: [{ domain: 'not a domain' }], upstream: 'nowhere', networks: ['10.0.0.0/33'] } });
    expect(bad.status).toBe(400);
    const { issues } = (await bad.json()) as { issues: string[] };
    expect(issues).toEqual(expect.arrayContaining([expect.stringMatching(/^upstream: unknown upstream "nowhere"/), expect.stringMatching(/^domains\[0\]\.domain: /), expect.stringMatching(/^networks\[0\]: /)]));
    const asText = await fetch(`${mg.adminUrl}/api/v1/tenants`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/plain' }, body: '{"id":"x","name":"X"}' });
    expect(asText.status).toBe(415);
    expect(await asText.json()).toMatchObject({ error: 'UNSUPPORTED_MEDIA_TYPE' });
    // No body at all is no body, whatever type the client names (fetch's POST with body '' sends text/plain).
    const empty = await fetch(`${mg.adminUrl}/api/v1/queue/flush`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/plain;charset=UTF-8' }, body: '' });
    expect(empty.status).toBe(200);
    const typo = await api('/tenants', { method: 'POST', body: { id: 'typo', name: 'T', limits: { messagesPerMinut: 10 } } });
    expect(typo.status).toBe(400);
    expect(await typo.json()).toEqual({ error: 'UNKNOWN_PARAMETER', message: expect.stringMatching(/^unknown body field: limits\.messagesPerMinut; limits takes messagesPerMinute, /) });
    // A network of "everyone" would be an open relay for this tenant.
    const open = await api('/tenants', { method: 'POST', body: { id: 'open', name: 'Open', networks: ['0.0.0.0/0', '::/0'] } });
    expect(open.status).toBe(400);
    expect(((await open.json()) as { issues: string[] }).issues).toEqual([expect.stringMatching(/^networks\[0\]: network "0\.0\.0\.0\/0" is too wide.*open relay/), expect.stringMatching(/^networks\[1\]: network "::\/0" is too wide/)]);
    const schema = await api('/tenants', { method: 'POST', body: { id: 'Upper Case', name: 'x' } });
    expect(schema.status).toBe(400);
    expect(((await schema.json()) as { message: string }).message).toMatch(/id/);
    const secretFile = await api('/tenants', { method: 'POST', body: { id: 'sneaky', name: 'S', auth: [{ user: 's', passwordFile: '/etc/shadow' }] } });
    expect(secretFile.status).toBe(400);
    const dupUser = await api('/tenants', { method: 'POST', body: { id: 'dup', name: 'D', auth: [{ user: 'fixed', password: 'long-enough-password' }] } });
    expect(dupUser.status).toBe(409);
    expect(((await dupUser.json()) as { message: string }).message).toMatch(/fixed exists already/);
  });

  it('a tenant created through the API logs in and relays through its own upstream at once', async () => {
    const created = await api('/tenants', {
      method: 'POST',
      body: { id: 'newshop', name: 'New Shop', upstream: 'shop-relay', domains: [{ domain: 'new-shop.test', dkim: { selector: 'mg1', generate: 'ed25519' } }] },
    });
    expect(created.status).toBe(201);
    const view = (await created.json()) as { domains: Array<{ domain: string; selectors: string[] }>; effectiveUpstream: string };
    expect(view.domains).toEqual([expect.objectContaining({ domain: 'new-shop.test', selectors: ['mg1'] })]);
    expect(view.effectiveUpstream).toBe('shop-relay');
    expect(JSON.stringify(view)).not.toMatch(/PRIVATE KEY/);

    const cred = await api('/tenants/newshop/credentials', { method: 'POST', body: { user: 'newshop-app' } });
    expect(cred.status).toBe(201);
    const { password } = (await cred.json()) as { password: string };
    expect(password.length).toBeGreaterThanOrEqual(20);

    await send('newshop-app', password);
    const [msg] = await shopSink.waitFor(1);
    expect(msg!.user).toBe('relay-user');
    expect(msg!.to).toEqual(['buyer@example.com']);
    expect(systemSink.messages).toHaveLength(0);

    // Pointing the tenant back at the system upstream takes effect for the next message.
    expect((await api('/tenants/newshop', { method: 'PATCH', body: { upstream: null } })).status).toBe(200);
    await send('newshop-app', password);
    await systemSink.waitFor(1);
    expect(shopSink.messages).toHaveLength(1);
    // The domain kept its key through the PATCH.
    expect(((await (await api('/tenants/newshop')).json()) as { domains: Array<{ selectors: string[] }> }).domains[0]!.selectors).toEqual(['mg1']);
  });

  it('rotating a password stops the old one and revokes API tokens unless keepApiTokens is asked for', async () => {
    const { password: first } = (await (await api('/tenants/newshop/credentials', { method: 'POST', body: { user: 'rot', password: 'first-password-123' } })).json()) as { password: string };
    expect(first).toBe('first-password-123');
    const { token } = (await (await api('/tenants/newshop/tokens', { method: 'POST', body: { name: 'console' } })).json()) as { token: string };
    const t = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

    // A tenant token sees its own tenant and nothing else.
    expect((await api('/tenants/newshop', { headers: t })).status).toBe(200);
    expect((await api('/tenants/fixed', { headers: t })).status).toBe(403);
    expect((await api('/tenants', { headers: t })).status).toBe(403);
    // Upstreams: a shop admin sees only the system one and its own (not the operators' shared one).
    expect(((await (await api('/upstreams', { headers: t })).json()) as { upstreams: Array<{ name: string }> }).upstreams.map((u) => u.name)).not.toContain('shared');
    expect((await api('/tenants', { method: 'POST', headers: t, body: { id: 'evil', name: 'E' } })).status).toBe(403);
    expect((await api('/tenants/newshop', { headers: { authorization: 'Bearer nope' } })).status).toBe(401);

    const kept = await api('/tenants/newshop/credentials/rot/rotate', { method: 'POST', headers: t, body: { keepApiTokens: true } });
    expect(kept.status).toBe(200);
    const keptBody = (await kept.json()) as { password: string; revokedApiTokens: number };
    expect(keptBody.revokedApiTokens).toBe(0);
    await expect(send('rot', first)).rejects.toMatchObject({ responseCode: 535 });
    await send('rot', keptBody.password);
    expect((await api('/tenants/newshop', { headers: t })).status).toBe(200);

    const rotated = await api('/tenants/newshop/credentials/rot/rotate', { method: 'POST', headers: t, body: { password: 'second-password-456' } });
    expect(rotated.status).toBe(200);
    expect(((await rotated.json()) as { revokedApiTokens: number }).revokedApiTokens).toBe(1);
    expect((await api('/tenants/newshop', { headers: t })).status).toBe(401);
    await send('rot', 'second-password-456');

    expect((await api('/tenants/newshop/credentials/rot', { method: 'DELETE' })).status).toBe(204);
    await expect(send('rot', 'second-password-456')).rejects.toMatchObject({ responseCode: 535 });
  });

  it('keeps API-made tenants and upstreams across a restart', async () => {
    expect(await mg.kill()).toBe(0);
    mg = await startMailgate({ configFile });
    const t = (await (await api('/tenants/newshop')).json()) as { credentials: Array<{ user: string }>; source: string };
    expect(t.source).toBe('store');
    expect(t.credentials.map((c) => c.user)).toContain('newshop-app');
    expect((await api('/upstreams/shop-relay')).status).toBe(200);
  });

  it('refuses to delete an upstream in use or a tenant with queued mail, and deletes an idle one', async () => {
    expect((await api('/tenants/newshop', { method: 'PATCH', body: { upstream: 'shop-relay' } })).status).toBe(200);
    const inUse = await api('/upstreams/shop-relay', { method: 'DELETE' });
    expect(inUse.status).toBe(409);
    expect(((await inUse.json()) as { message: string }).message).toMatch(/used by tenant newshop/);

    // A tenant whose upstream does not answer keeps its message queued.
    expect((await api('/upstreams', { method: 'POST', body: { name: 'dead', host: '127.0.0.1', port: 1, tls: 'none' } })).status).toBe(201);
    expect((await api('/tenants', { method: 'POST', body: { id: 'stuck', name: 'Stuck', upstream: 'dead', auth: [{ user: 'stuck', password: 'stuck-password-1' }] } })).status).toBe(201);
    await send('stuck', 'stuck-password-1');
    const refused = await api('/tenants/stuck', { method: 'DELETE' });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: string }).error).toBe('MESSAGES_QUEUED');

    expect((await api('/tenants', { method: 'POST', body: { id: 'gone', name: 'Gone', auth: [{ user: 'gone', password: 'gone-password-1' }] } })).status).toBe(201);
    const del = await api('/tenants/gone', { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect((await api('/tenants/gone')).status).toBe(404);
    await expect(send('gone', 'gone-password-1')).rejects.toMatchObject({ responseCode: 535 });
  });

  it('lets a shop admin copy, edit, test and use an upstream of its own, and nothing of other tenants', async () => {
    expect((await api('/tenants', { method: 'POST', body: { id: 'selfserve', name: 'Self Serve', from: { address: 'orders@new-shop.test' }, auth: [{ user: 'selfserve', password: 'selfserve-pass-1' }] } })).status).toBe(201);
    const { token } = (await (await api('/tenants/selfserve/tokens', { method: 'POST', body: { name: 'console' } })).json()) as { token: string };
    const shop = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    // Sees the system upstream only (read-only), not the operators' or other shops' upstreams.
    const before = (await (await api('/upstreams', { headers: shop })).json()) as { upstreams: Array<{ name: string; readOnly: boolean }> };
    expect(before.upstreams).toEqual([expect.objectContaining({ name: 'system', readOnly: true })]);
    expect((await api('/upstreams/shop-relay', { headers: shop })).status).toBe(404);
    expect((await api('/upstreams/system', { method: 'PATCH', body: { port: 2 }, headers: shop })).status).toBe(403);
    // Copying the operator's upstream that has a login gives a copy without it (the password must not follow a copy
    // whose host the shop then changes).
    expect((await api('/tenants/selfserve', { method: 'PATCH', body: { upstream: 'shared' } })).status).toBe(200);
    const leaked = await api('/upstreams/shared/copy', { method: 'POST', body: { name: 'selfserve-probe' }, headers: shop });
    expect(leaked.status).toBe(201);
    expect(await leaked.json()).toMatchObject({ owner: 'selfserve', auth: null });
    expect((await api('/upstreams/selfserve-probe', { method: 'DELETE', headers: shop })).status).toBe(204);
    expect((await api('/tenants/selfserve', { method: 'PATCH', body: { upstream: null } })).status).toBe(200);
    // Copy the system upstream, point it at its own server with its login, test it, use it.
    expect((await api('/upstreams/system/copy', { method: 'POST', body: { name: 'selfserve-smtp' }, headers: shop })).status).toBe(201);
    const edited = await api('/upstreams/selfserve-smtp', { method: 'PATCH', body: { port: shopSink.port, auth: { user: 'relay-user', password: 'relay-secret' } }, headers: shop });
    expect(edited.status).toBe(200);
    expect(await edited.json()).toMatchObject({ owner: 'selfserve', readOnly: false, auth: { password: '********' } });
    const tested = (await (await api('/upstreams/selfserve-smtp/test', { method: 'POST', body: { to: 'owner@new-shop.test' }, headers: shop })).json()) as { ok: boolean };
    expect(tested.ok).toBe(true);
    expect((await api('/tenants/selfserve/upstream', { method: 'PUT', body: { upstream: 'shop-relay' }, headers: shop })).status).toBe(400);
    expect((await api('/tenants/selfserve/upstream', { method: 'PUT', body: { upstream: 'selfserve-smtp' }, headers: shop })).status).toBe(200);
    shopSink.messages.length = 0;
    await send('selfserve', 'selfserve-pass-1');
    const [m] = await shopSink.waitFor(1);
    expect(m!.user).toBe('relay-user');
    // Operators still see and manage it; another shop does not see it.
    expect((await api('/upstreams/selfserve-smtp')).status).toBe(200);
    const { token: other } = (await (await api('/tenants/newshop/tokens', { method: 'POST', body: { name: 'peek' } })).json()) as { token: string };
    expect((await api('/upstreams/selfserve-smtp', { headers: { authorization: `Bearer ${other}` } })).status).toBe(404);
    expect((await api('/tenants/selfserve/upstream', { method: 'PUT', body: { upstream: null }, headers: { authorization: `Bearer ${other}`, 'content-type': 'application/json' } })).status).toBe(403);
  });
});

describe('a shop admin whose only upstream is the MX-type system one', () => {
  const w = useMailgate({
    prefix: 'mg-mxcopy-',
    sinks: [{}],
    config: ({ dir }) => testConfig({
      dataDir: `${dir}/data`,
      upstreams: ['{ name: direct, type: mx, requireTls: true }'],
      tenants: ['{ id: shop, name: Shop, from: { address: orders@shop.test }, auth: [ { user: shop, password: shop-password } ] }'],
      admin: 'allowPrivateTenantUpstreams: true',
    }),
  });

  it('refuses a webhook aimed at this machine or the LAN when it is made, not by retrying it for ever', async () => {
    for (const url of ['http://127.0.0.1:8080/hook', 'http://[::1]/hook', 'http://10.1.2.3/hook', 'http://localhost:3000/hook']) {
      const res = await w.api('/webhooks', { method: 'POST', body: { tenant: 'shop', url } });
      expect(res.status, url).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'PRIVATE_HOST', message: expect.stringMatching(/^url: .*\(set webhooks\.allowPrivateTargets to allow\)$/) });
    }
    const made = await w.api('/webhooks', { method: 'POST', body: { tenant: 'shop', url: 'https://hooks.example.com/mail' } });
    expect(made.status).toBe(201);
    const { id } = (await made.json()) as { id: string };
    expect((await w.api(`/webhooks/${id}`, { method: 'PATCH', body: { url: 'http://192.168.1.10/' } })).status).toBe(400);
  });

  it('copies it and turns the copy into its own SMTP server (the MX-only keys are dropped, the rest applies)', async () => {
    const { token } = (await (await w.api('/tenants/shop/tokens', { method: 'POST', body: { name: 'console' } })).json()) as { token: string };
    const seen = (await (await w.api('/upstreams', { token })).json()) as { upstreams: Array<{ name: string; type: string }> };
    expect(seen.upstreams).toEqual([expect.objectContaining({ name: 'direct', type: 'mx' })]);
    expect((await w.api('/upstreams/direct/copy', { method: 'POST', body: { name: 'my-smtp' }, token })).status).toBe(201);
    const edited = await w.api('/upstreams/my-smtp', { method: 'PATCH', body: { type: 'smtp', host: '127.0.0.1', port: w.sink.port, tls: 'none' }, token });
    expect(edited.status, await edited.clone().text()).toBe(200);
    const body = (await edited.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ name: 'my-smtp', type: 'smtp', host: '127.0.0.1', port: w.sink.port, tls: 'none', owner: 'shop', readOnly: false, maxConnections: 10 });
    expect(body).not.toHaveProperty('requireTls');
    const tested = (await (await w.api('/upstreams/my-smtp/test', { method: 'POST', body: { to: 'owner@shop.test' }, token })).json()) as { ok: boolean };
    expect(tested.ok).toBe(true);
    await w.sink.waitFor(1);
    // And back: an SMTP upstream made an MX one loses host, TLS mode and login.
    const back = await w.api('/upstreams/my-smtp', { method: 'PATCH', body: { type: 'mx' }, token });
    expect(back.status, await back.clone().text()).toBe(200);
    expect(await back.json()).not.toHaveProperty('host');
  });
});
