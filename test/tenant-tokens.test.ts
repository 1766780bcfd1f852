// Tenant API tokens: issued by an admin, good only for their own tenant's data, revocable.
import { describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { ADMIN_TOKEN, sinkUpstream, testConfig } from './helpers/config.js';
import { useMailgate } from './helpers/use-mailgate.js';

describe('tenant tokens', () => {
  const w = useMailgate({
    prefix: 'mg-tok-',
    sinks: [{}],
    config: ({ dir, sinks }) => testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('up', sinks[0]!.port)],
      systemUpstream: 'up',
      tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, password: correct-horse } ] }', '{ id: other, name: Other, networks: [ 127.0.0.2/32 ] }'],
    }),
  });
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

  it("sees only its own tenant's messages and errors, no admin routes, and stops working when revoked", async () => {
    const shopInfo = await nodemailer.createTransport({ host: w.mg.submission.host, port: w.mg.submission.port, secure: false, ignoreTLS: true, auth: { user: 'shop', pass: 'correct-horse' } })
      .sendMail({ from: 'a@shop.test', to: 'x@example.com', subject: 's', text: 'x' });
    const otherInfo = await nodemailer.createTransport({ host: w.mg.submission.host, port: w.mg.submission.port, secure: false, ignoreTLS: true, localAddress: '127.0.0.2' })
      .sendMail({ from: 'a@other.test', to: 'y@example.com', subject: 'o', text: 'y' });
    const shopId = shopInfo.response.split(' ').pop()!;
    const otherId = otherInfo.response.split(' ').pop()!;
    await w.sink.waitFor(2);

    const issued = await fetch(`${w.mg.adminUrl}/api/v1/tenants/shop/tokens`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'shop-admin' }) });
    expect(issued.status).toBe(201);
    const { token } = (await issued.json()) as { token: string };
    expect(token).toMatch(/^mgt_/);
    const t = { authorization: `Bearer ${token}` };

    expect((await fetch(`${w.mg.adminUrl}/api/v1/messages?tenant=shop`, { headers: t })).status).toBe(200);
    expect((await fetch(`${w.mg.adminUrl}/api/v1/messages/${shopId}`, { headers: t })).status).toBe(200);
    expect((await fetch(`${w.mg.adminUrl}/api/v1/errors/count?tenant=shop&since=0`, { headers: t })).status).toBe(200);
    expect((await fetch(`${w.mg.adminUrl}/api/v1/messages?tenant=other`, { headers: t })).status).toBe(403);
    expect((await fetch(`${w.mg.adminUrl}/api/v1/messages/${otherId}`, { headers: t })).status).toBe(404); // as if there were none
    expect((await fetch(`${w.mg.adminUrl}/api/v1/suppression/other/y@example.com`, { method: 'DELETE', headers: t })).status).toBe(403);
    expect((await fetch(`${w.mg.adminUrl}/api/v1/events`, { headers: t })).status).toBe(403);
    expect((await fetch(`${w.mg.adminUrl}/api/v1/tenants/shop/tokens`, { method: 'POST', headers: { ...t, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x' }) })).status).toBe(403);

    expect((await fetch(`${w.mg.adminUrl}/api/v1/tenants/shop/tokens/shop-admin`, { method: 'DELETE', headers: { authorization: admin.authorization } })).status).toBe(204);
    expect((await fetch(`${w.mg.adminUrl}/api/v1/messages?tenant=shop`, { headers: t })).status).toBe(401);
  });

  it('throttles an address and token prefix after ten failed logins on the admin API, a user and address on SMTP AUTH (runs last)', async () => {
    const bad = { authorization: 'Bearer mgt_not-a-real-token-000000000000' };
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) codes.push((await fetch(`${w.mg.adminUrl}/api/v1/messages?tenant=shop`, { headers: bad })).status);
    // Counted per address and token prefix: the revoked token above (another prefix) does not count here.
    expect(codes.filter((c) => c === 401).length).toBe(10);
    expect(codes.slice(10)).toEqual([429, 429]);
    // A valid token from the same address is never refused by it.
    expect((await fetch(`${w.mg.adminUrl}/api/v1/messages?tenant=shop`, { headers: admin })).status).toBe(200);

    const smtp = () => nodemailer.createTransport({ host: w.mg.submission.host, port: w.mg.submission.port, secure: false, ignoreTLS: true, auth: { user: 'shop', pass: 'wrong' } })
      .sendMail({ from: 'a@shop.test', to: 'x@example.com', text: 'x' }).catch((e: { responseCode?: number }) => e.responseCode);
    const replies: unknown[] = [];
    for (let i = 0; i < 11; i++) replies.push(await smtp());
    expect(replies.slice(0, 10).every((c) => c === 535)).toBe(true);
    expect(replies[10]).toBe(454);
  });
});
