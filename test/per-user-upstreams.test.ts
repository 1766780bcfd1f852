// Seed 000: each SMTP login (and each trusted network) of a tenant may send through its own upstream
// under its own default sender; without one, the tenant's apply. Changing it applies to the next message.
import { beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { getHeader, type Sink } from './helpers/smtp-sink.js';
import { useMailgate } from './helpers/use-mailgate.js';
import { ADMIN_TOKEN, sinkUpstream, testConfig } from './helpers/config.js';

describe('upstream and sender per SMTP user', () => {
  const w = useMailgate({
    prefix: 'mg-peruser-',
    sinks: [{}, {}, {}],
    config: ({ dir, sinks: [tenantSink, aliceSink, boxOfficeSink] }) => testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('organiser-smtp', tenantSink.port), sinkUpstream('brand-a-smtp', aliceSink.port), sinkUpstream('box-office-smtp', boxOfficeSink.port)],
      tenants: [[
        '{ id: organiser, name: Organiser, upstream: organiser-smtp, from: { address: info@organiser.test, name: Organiser },',
        '  auth: [ { user: alice, password: alice-password, upstream: brand-a-smtp, from: { address: tickets@brand-a.test, name: Brand A } }, { user: bob, password: bob-password } ],',
        '  networks: [ 127.0.0.0/29, { cidr: 127.0.0.3/32, upstream: box-office-smtp } ] }',
      ].join('\n    ')],
    }),
  });
  let tenantSink: Sink;
  let aliceSink: Sink;
  let boxOfficeSink: Sink;
  beforeAll(() => { [tenantSink, aliceSink, boxOfficeSink] = w.sinks; }); // runs after the fixture's beforeAll has started them
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const api = (path: string, method = 'GET', body?: unknown) =>
    fetch(`${w.mg.adminUrl}/api/v1${path}`, { method, headers: admin, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const send = (opts: { user?: string; pass?: string; localAddress?: string }, subject: string) =>
    nodemailer.createTransport({
      host: w.mg.submission.host, port: w.mg.submission.port, secure: false, ignoreTLS: true,
      ...(opts.user ? { auth: { user: opts.user, pass: opts.pass! } } : {}), ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    }).sendMail({ envelope: { from: 'events@organiser.test', to: ['buyer@example.com'] }, to: 'buyer@example.com', subject, text: 'ticket' });

  it('sends each login through its own upstream, a login without one through the tenant upstream', async () => {
    const alice = await send({ user: 'alice', pass: 'alice-password' }, 'from alice');
    await send({ user: 'bob', pass: 'bob-password' }, 'from bob');
    const [a] = await aliceSink.waitFor(1);
    const [b] = await tenantSink.waitFor(1);
    expect(getHeader(a!.headers, 'Subject')).toBe('from alice');
    expect(getHeader(b!.headers, 'Subject')).toBe('from bob');
    // Each login's own sender identity: no verified domain, so the system sender with their display name and Reply-To.
    expect(getHeader(a!.headers, 'From')).toMatch(/Brand A.*noreply@relay\.test/);
    expect(getHeader(a!.headers, 'Reply-To')).toMatch(/tickets@brand-a\.test/);
    expect(getHeader(b!.headers, 'Reply-To')).toMatch(/info@organiser\.test/);

    // The API shows which login and upstream a message used.
    const id = alice.response.split(' ').pop()!;
    const msg = (await (await api(`/messages/${id}`)).json()) as { credential: string; recipients: Array<{ lastUpstream: string }> };
    expect(msg.credential).toBe('alice');
    expect(msg.recipients[0]!.lastUpstream).toBe('brand-a-smtp');
  });

  it('picks the most specific trusted network', async () => {
    await send({ localAddress: '127.0.0.3' }, 'box office');
    await send({ localAddress: '127.0.0.2' }, 'back office');
    expect(getHeader((await boxOfficeSink.waitFor(1))[0]!.headers, 'Subject')).toBe('box office');
    await tenantSink.waitFor(2);
    expect(getHeader(tenantSink.messages[1]!.headers, 'Subject')).toBe('back office');
  });

  it("changes an API-made login's upstream for its next message, without a restart", async () => {
    expect((await api('/tenants', 'POST', { id: 'partner', name: 'Partner', upstream: 'organiser-smtp' })).status).toBe(201);
    const cred = await api('/tenants/partner/credentials', 'POST', { user: 'carol', password: 'carol-password-1', upstream: 'brand-a-smtp' });
    expect(cred.status).toBe(201);
    await send({ user: 'carol', pass: 'carol-password-1' }, 'carol 1');
    await aliceSink.waitFor(2);
    const patched = await api('/tenants/partner/credentials/carol', 'PATCH', { upstream: 'box-office-smtp' });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ user: 'carol', upstream: 'box-office-smtp' });
    await send({ user: 'carol', pass: 'carol-password-1' }, 'carol 2');
    await boxOfficeSink.waitFor(2);
    expect(getHeader(boxOfficeSink.messages[1]!.headers, 'Subject')).toBe('carol 2');
    expect((await api('/tenants/partner/credentials/carol', 'PATCH', { upstream: 'nowhere' })).status).toBe(400);
    expect((await api('/upstreams/box-office-smtp', 'DELETE')).status).toBe(409);
    // Cleared: the tenant's upstream applies again.
    expect((await api('/tenants/partner/credentials/carol', 'PATCH', { upstream: null })).status).toBe(200);
    await send({ user: 'carol', pass: 'carol-password-1' }, 'carol 3');
    await tenantSink.waitFor(3);
    expect(getHeader(tenantSink.messages[2]!.headers, 'Subject')).toBe('carol 3');
  });
});
