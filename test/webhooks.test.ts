// Webhooks: a tenant's failures and suppressions reach a loopback HTTP receiver as signed JSON, a 500 is
// retried with the same delivery id, every attempt is in the delivery log, and private targets are refused
// unless the operator allows them.
import { describe, expect, it } from 'vitest';
import { useMailgate } from './helpers/use-mailgate.js';
import { startReceiver } from './helpers/webhook-receiver.js';
import { ADMIN_TOKEN, sinkUpstream, testConfig } from './helpers/config.js';
import { verifyWebhook } from '../src/webhooks/signature.js';
import { postJson } from '../src/webhooks/post.js';

describe('webhooks', () => {
  const w = useMailgate({
    prefix: 'mg-wh-',
    sinks: [{ rcptReply: (r) => (r.startsWith('nobody@') ? { code: 550, message: '5.1.1 <nobody@example.com>: Recipient address rejected: User unknown' } : undefined) }],
    config: ({ dir, sinks }) => testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('up', sinks[0]!.port)],
      systemUpstream: 'up',
      tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, password: shop-password } ] }', '{ id: other, name: Other, auth: [ { user: other, password: other-password } ] }'],
      extra: 'webhooks: { retrySchedule: [1s, 1s], timeout: 2s, allowPrivateTargets: true }',
    }),
  });
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const api = (path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
    fetch(`${w.mg.adminUrl}/api/v1${path}`, { method: init.method ?? 'GET', headers: init.headers ?? admin, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) });

  it('posts a signed failure event, retries after a 500 with the same delivery id, and logs both attempts', async () => {
    const receiver = await startReceiver([500]);
    const { token } = (await (await api('/tenants/shop/tokens', { method: 'POST', body: { name: 'hooks' } })).json()) as { token: string };
    const t = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const created = await api('/webhooks', { method: 'POST', headers: t, body: { tenant: 'shop', url: receiver.url, events: ['failed', 'suppressed'] } });
    expect(created.status).toBe(201);
    const hook = (await created.json()) as { id: string; secret: string };
    expect(hook.secret).toMatch(/^whsec_/);
    expect(JSON.stringify(await (await api(`/webhooks/${hook.id}`, { headers: t })).json())).not.toContain(hook.secret);
    // Another tenant's token cannot see or test it.
    const { token: otherToken } = (await (await api('/tenants/other/tokens', { method: 'POST', body: { name: 'o' } })).json()) as { token: string };
    expect((await api(`/webhooks/${hook.id}`, { headers: { authorization: `Bearer ${otherToken}` } })).status).toBe(403);
    expect((await api('/webhooks', { method: 'POST', headers: { authorization: `Bearer ${otherToken}`, 'content-type': 'application/json' }, body: { tenant: 'shop', url: receiver.url } })).status).toBe(403);

    await w.submit({ user: 'shop', pass: 'shop-password' })
      .sendMail({ from: 'orders@shop.test', to: 'nobody@example.com', subject: 'Order 17', text: 'x', headers: { 'X-Order-Id': 'A-17' } });

    // Two events: the failure, and the suppression the 550 "user unknown" causes; the first request gets a 500.
    const got = (await receiver.waitFor(3)).slice(0, 3);
    const first = got[0]!;
    expect(first.status).toBe(500);
    const second = got.find((r) => r !== first && r.headers['x-mailgate-delivery'] === first.headers['x-mailgate-delivery'])!;
    expect(second.status).toBe(200);
    expect(second.body).toBe(first.body);
    const failed = got.find((r) => r.status === 200 && r.headers['x-mailgate-event'] === 'failed')!;
    expect(verifyWebhook(hook.secret, failed.body, String(failed.headers['x-mailgate-signature']), Math.floor(Date.now() / 1000))).toBe(true);
    expect(verifyWebhook('whsec_wrong-secret-000000', failed.body, String(failed.headers['x-mailgate-signature']), Math.floor(Date.now() / 1000))).toBe(false);
    const payload = JSON.parse(failed.body) as { type: string; tenant: string; data: { recipient: string; reply: { code: number; text: string } } };
    expect(payload).toMatchObject({ type: 'failed', tenant: 'shop', data: { recipient: 'nobody@example.com', reply: { code: 550 } } });
    expect(payload.data.reply.text).toMatch(/User unknown/);
    const auto = got.find((r) => r.status === 200 && r.headers['x-mailgate-event'] === 'suppressed')!;
    expect(JSON.parse(auto.body)).toMatchObject({ type: 'suppressed', data: { address: 'nobody@example.com', reason: 'user-unknown', source: 'bounce' } });

    const log = (await (await api(`/webhooks/${hook.id}/deliveries`, { headers: t })).json()) as { deliveries: Array<{ outcome: string; status: number; attempt: number }> };
    expect(log.deliveries.map((d) => [d.attempt, d.outcome, d.status]).sort()).toEqual([[1, 'delivered', 200], [1, 'retrying', 500], [2, 'delivered', 200]]);

    // A suppression entry is an event too; a test delivery answers with the attempt.
    expect((await api('/suppression', { method: 'POST', headers: t, body: { tenant: 'shop', address: 'gone@example.com', reason: 'asked to stop' } })).status).toBe(201);
    expect((await api('/suppression', { method: 'POST', headers: t, body: { tenant: 'shop', address: 'kept@example.com' } })).status).toBe(201);
    const byReason = (await (await api('/suppression?tenant=shop&reason=asked', { headers: t })).json()) as { entries: Array<{ address: string }> };
    expect(byReason.entries.map((e) => e.address)).toEqual(['gone@example.com']);
    const byAddress = (await (await api('/suppression?tenant=shop&address=kept', { headers: t })).json()) as { entries: Array<{ address: string }> };
    expect(byAddress.entries.map((e) => e.address)).toEqual(['kept@example.com']);
    const suppressed = (await receiver.waitFor(5)).slice(3).map((r) => JSON.parse(r.body) as { type: string; data: { address: string } });
    expect(suppressed.find((p) => p.data.address === 'gone@example.com')).toMatchObject({ type: 'suppressed', data: { reason: 'asked to stop' } });
    const test = (await (await api(`/webhooks/${hook.id}/test`, { method: 'POST', headers: t })).json()) as { attempt: { outcome: string; status: number } };
    expect(test.attempt).toMatchObject({ outcome: 'delivered', status: 200 });
    expect(receiver.received.at(-1)!.headers['x-mailgate-event']).toBe('test');
    // Three suppression events (nobody@ by its 550, then the two added here), one delivery each; the 500 above may have hit either first event.
    expect(new Set(receiver.received.filter((r) => r.headers['x-mailgate-event'] === 'suppressed').map((r) => r.headers['x-mailgate-delivery'])).size).toBe(3);
    await receiver.close();
  });

  it('records an application error next to the mail errors of the same order and pushes it signed', async () => {
    const receiver = await startReceiver();
    const { token } = (await (await api('/tenants/shop/tokens', { method: 'POST', body: { name: 'app' } })).json()) as { token: string };
    const t = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const hook = (await (await api('/webhooks', { method: 'POST', headers: t, body: { tenant: 'shop', url: receiver.url, events: ['app-error'] } })).json()) as { id: string; secret: string };
    const before = ((await (await api('/errors/count?tenant=shop&since=0', { headers: t })).json()) as { count: number }).count;

    const bad = [
      { tenant: 'shop', type: 'late payment', message: 'x' },
      { tenant: 'shop', type: 'LATE_PAYMENT', message: '' },
      { tenant: 'shop', type: 'LATE_PAYMENT', message: 'x', phone: 'call me' },
      { tenant: 'shop', type: 'LATE_PAYMENT', message: 'x'.repeat(2001) },
      { tenant: 'shop', type: 'LATE_PAYMENT', message: 'x', severity: 'apocalyptic' },
    ];
    for (const body of bad) expect((await api('/errors', { method: 'POST', headers: t, body })).status).toBe(400);
    expect((await api('/errors', { method: 'POST', headers: t, body: { tenant: 'other', type: 'X', message: 'x' } })).status).toBe(403);

    const posted = await api('/errors', {
      method: 'POST', headers: t,
      body: { tenant: 'shop', type: 'PAYMENT_AFTER_DEADLINE', message: 'Payment for order A-17 arrived after the reservation expired', reference: 'A-17', email: 'Nobody@example.com', phone: '+49 30 1234567', severity: 'critical' },
    });
    expect(posted.status).toBe(201);
    const found = (await (await api('/errors?tenant=shop&reference=A-17', { headers: t })).json()) as { events: Array<{ type: string; code: string }> };
    expect(found.events.map((e) => e.type).sort()).toEqual(['app-error', 'failed']);
    expect(found.events.find((e) => e.type === 'app-error')!.code).toBe('PAYMENT_AFTER_DEADLINE');
    expect(((await (await api('/errors/count?tenant=shop&since=0', { headers: t })).json()) as { count: number }).count).toBe(before + 1);
    // Not visible to another tenant's search.
    expect(((await (await api('/errors?tenant=other&reference=A-17')).json()) as { events: unknown[] }).events).toHaveLength(0);

    const [got] = await receiver.waitFor(1);
    expect(got!.headers['x-mailgate-event']).toBe('app-error');
    expect(verifyWebhook(hook.secret, got!.body, String(got!.headers['x-mailgate-signature']), Math.floor(Date.now() / 1000))).toBe(true);
    expect(JSON.parse(got!.body)).toMatchObject({ type: 'app-error', tenant: 'shop', data: { code: 'PAYMENT_AFTER_DEADLINE', reference: 'A-17', severity: 'critical', recipient: 'nobody@example.com', phone: '+49 30 1234567' } });
    await api(`/webhooks/${hook.id}`, { method: 'DELETE', headers: t });
    await receiver.close();
  });

  it('gives up after the retry schedule and says why in the delivery log', async () => {
    const receiver = await startReceiver([503, 503, 503]);
    const hook = (await (await api('/webhooks', { method: 'POST', body: { tenant: 'other', url: receiver.url } })).json()) as { id: string };
    const test = (await (await api(`/webhooks/${hook.id}/test`, { method: 'POST' })).json()) as { attempt: { outcome: string; error: string } };
    expect(test.attempt).toMatchObject({ outcome: 'retrying', error: 'HTTP 503' });
    await receiver.waitFor(3);
    await new Promise((r) => setTimeout(r, 300));
    const log = (await (await api(`/webhooks/${hook.id}/deliveries`)).json()) as { deliveries: Array<{ outcome: string }> };
    expect(log.deliveries.map((d) => d.outcome)).toEqual(['gave-up', 'retrying', 'retrying']);
    await receiver.close();
  });

  it('refuses URLs that are not http(s) and unknown tenants', async () => {
    expect((await api('/webhooks', { method: 'POST', body: { tenant: 'shop', url: 'file:///etc/passwd' } })).status).toBe(400);
    expect((await api('/webhooks', { method: 'POST', body: { tenant: 'shop', url: 'http://user:pw@example.com/' } })).status).toBe(400);
    expect((await api('/webhooks', { method: 'POST', body: { tenant: 'nope', url: 'https://example.com/' } })).status).toBe(404);
  });
});

describe('webhook targets', () => {
  it('refuses loopback and private addresses unless allowed, also when a name resolves to one', async () => {
    const receiver = await startReceiver();
    const refused = await postJson(receiver.url, '{}', {}, { timeoutMs: 2000, allowPrivate: false });
    expect(refused.status).toBeUndefined();
    expect(refused.error).toMatch(/private address/);
    const byName = await postJson(receiver.url.replace('127.0.0.1', 'localhost'), '{}', {}, { timeoutMs: 2000, allowPrivate: false });
    expect(byName.error).toMatch(/private address/);
    expect(receiver.received).toHaveLength(0);
    expect((await postJson(receiver.url, '{}', {}, { timeoutMs: 2000, allowPrivate: true })).status).toBe(200);
    await receiver.close();
  });
});
