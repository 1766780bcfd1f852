// Direct MX delivery against a real DNS server on loopback: preference order with fallback,
// implicit MX, and DNS answers that fail a recipient (no such domain, null MX). MX hosts on loopback
// or private addresses are refused unless the upstream allows them (the sinks here are on loopback,
// so the delivery tests set allowPrivateAddresses).
import { Resolver } from 'node:dns/promises';
import { describe, expect, it } from 'vitest';
import { resolveMx } from '../src/delivery/mx.js';
import type { Zone } from './helpers/dns-server.js';
import type { MailgateProcess } from './helpers/mailgate-process.js';
import { useMailgate } from './helpers/use-mailgate.js';
import { ADMIN_TOKEN, testConfig } from './helpers/config.js';
import { waitForEvent } from './helpers/events.js';

const finalEvent = async (mg: MailgateProcess, rcpt: string) => (await waitForEvent(mg, rcpt, ['delivered', 'failed'])).match;

/** A sink, a DNS server with `records`, and mailgate delivering direct to MX on the sink's port (`mxOptions` added to the upstream). */
function useMxWorld(prefix: string, records: Zone, mxOptions = '') {
  return useMailgate({
    prefix,
    sinks: [{}],
    dns: records,
    config: ({ dir, sinks, dns }) => testConfig({
      dataDir: `${dir}/data`,
      upstreams: [`{ name: direct, type: mx, port: ${sinks[0]!.port}${mxOptions} }`],
      tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, password: correct-horse } ] }'],
      extra: `dns: { servers: [ "${dns.address}" ] }\nqueue: { retrySchedule: [1h], maxAge: 1d }`,
    }),
  });
}

describe('direct MX delivery', () => {
  const w = useMxWorld('mg-mx-', {
    // mx1 (preferred) has no listener at 127.0.0.3: delivery falls back to mx2.
    'buyers.test': { MX: [{ preference: 20, exchange: 'mx2.buyers.test' }, { preference: 10, exchange: 'mx1.buyers.test' }] },
    'mx1.buyers.test': { A: ['127.0.0.3'] },
    'mx2.buyers.test': { A: ['127.0.0.1'] },
    'nomx.test': { A: ['127.0.0.1'] },
    'nullmx.test': { MX: [{ preference: 0, exchange: '.' }] },
  }, ', allowPrivateAddresses: true');

  it('delivers to each domain through its MX hosts in preference order, one transaction per recipient', async () => {
    await w.submit({ user: 'shop', pass: 'correct-horse' }).sendMail({
      envelope: { from: 'orders@shop.test', to: ['a@buyers.test', 'b@buyers.test', 'c@nomx.test', 'd@nxdomain.test', 'e@nullmx.test'] },
      raw: 'Subject: mx\r\n\r\nhello\r\n',
    });
    const msgs = await w.sink.waitFor(3);
    expect(msgs.map((m) => m.to.join(',')).sort()).toEqual(['a@buyers.test', 'b@buyers.test', 'c@nomx.test']);

    expect(await finalEvent(w.mg, 'a@buyers.test')).toMatchObject({ type: 'delivered', upstream: 'direct/mx2.buyers.test' });
    expect(await finalEvent(w.mg, 'c@nomx.test')).toMatchObject({ type: 'delivered', upstream: 'direct/nomx.test' });
    expect(await finalEvent(w.mg, 'd@nxdomain.test')).toMatchObject({
      type: 'failed', code: 'DOMAIN_NOT_FOUND', reply: { code: 550, enhanced: '5.1.2' },
    });
    expect(await finalEvent(w.mg, 'e@nullmx.test')).toMatchObject({ type: 'failed', code: 'DOMAIN_NULL_MX', reply: { code: 556 }, class: 'hard', reason: 'domain-accepts-no-mail' });
    // Our own DNS answer is a permanent failure of the domain, treated like a domain that does not
    // exist: this message fails for good, and no address is suppressed (the DNS may change; a server
    // that refuses with 556 5.1.10 suppresses its one address, like a refused unknown domain).
    const suppressed = ((await (await w.api('/suppression?tenant=shop')).json()) as { entries: unknown[] }).entries;
    expect(suppressed).toEqual([]);
    // The preferred host was asked first.
    const aQueries = w.dns.queries.filter((q) => q.type === 'A').map((q) => q.name);
    expect(aQueries.indexOf('mx1.buyers.test')).toBeLessThan(aQueries.indexOf('mx2.buyers.test'));
  });
});

describe('direct MX delivery to loopback and private addresses', () => {
  // Same port as the sink and no allowPrivateAddresses: the default.
  const w = useMxWorld('mg-mx-private-', {
    'lan.test': { MX: [{ preference: 10, exchange: 'mx.lan.test' }] },
    'mx.lan.test': { A: ['127.0.0.1'] },
    'lan-nomx.test': { A: ['127.0.0.1'], AAAA: ['::ffff:127.0.0.1'] },
    // Loopback, private, link-local and shared addresses, and a public one (TEST-NET, never connected to here).
    'mixed.test': { MX: [{ preference: 10, exchange: 'mx1.mixed.test' }, { preference: 20, exchange: 'mx2.mixed.test' }] },
    'mx1.mixed.test': { A: ['10.1.2.3', '169.254.1.1'], AAAA: ['::1', 'fd00::1', 'fe80::1'] },
    'mx2.mixed.test': { A: ['100.64.0.1', '192.0.2.25', '93.184.216.34', '172.16.5.5'] },
    'ten.test': { MX: [{ preference: 10, exchange: 'a.ten.test' }, { preference: 10, exchange: 'b.ten.test' }] },
    'a.ten.test': { A: ['10.0.0.5', '0.1.2.3'] },
    'b.ten.test': { A: ['192.168.1.5'] },
  });

  it('fails a recipient whose MX host or implicit MX resolves only to loopback, with a reply that says why, and never connects', async () => {
    await w.submit({ user: 'shop', pass: 'correct-horse' }).sendMail({ envelope: { from: 'orders@shop.test', to: ['a@lan.test', 'b@lan-nomx.test'] }, raw: 'Subject: mx\r\n\r\nhello\r\n' });

    expect(await finalEvent(w.mg, 'a@lan.test')).toMatchObject({
      type: 'failed', code: 'DOMAIN_PRIVATE_MAIL_HOST', upstream: 'direct',
      reply: { code: 550, enhanced: '5.4.4', text: 'MX host mx.lan.test resolves only to private/loopback addresses (127.0.0.1); refusing to deliver' },
    });
    expect(await finalEvent(w.mg, 'b@lan-nomx.test')).toMatchObject({
      type: 'failed', code: 'DOMAIN_PRIVATE_MAIL_HOST',
      reply: { code: 550, enhanced: '5.4.4', text: 'lan-nomx.test has no MX record and resolves only to private/loopback addresses (127.0.0.1, ::ffff:127.0.0.1); refusing to deliver' },
    });
    // In the tenant's error log like any other failure.
    const res = await fetch(`${w.mg.adminUrl}/api/v1/errors?tenant=shop&recipient=a@lan.test`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(((await res.json()) as { events: unknown[] }).events).toEqual([expect.objectContaining({ type: 'failed', code: 'DOMAIN_PRIVATE_MAIL_HOST' })]);
    expect(w.sink.connectionCount).toBe(0);
    expect(w.sink.messages).toHaveLength(0);
  });

  it('refuses the same in the admin API\'s test mail through the MX upstream', async () => {
    const res = await fetch(`${w.mg.adminUrl}/api/v1/upstreams/direct/test`, {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ to: 'x@lan.test' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: false, reply: { code: 550, enhanced: '5.4.4', text: expect.stringContaining('MX host mx.lan.test resolves only to private/loopback addresses (127.0.0.1)') }, dialogue: [] });
    expect(w.sink.connectionCount).toBe(0);
  });

  it('keeps only the public addresses of a route, and refuses one with none, unless allowed', async () => {
    const resolver = new Resolver();
    resolver.setServers([w.dns.address]);
    expect(await resolveMx(resolver, 'mixed.test')).toEqual({ ok: true, hosts: [{ name: 'mx2.mixed.test', addresses: ['93.184.216.34'] }] });
    expect(await resolveMx(resolver, 'ten.test')).toMatchObject({
      ok: false, outcome: 'failed', code: 'DOMAIN_PRIVATE_MAIL_HOST',
      reply: { code: 550, enhanced: '5.4.4', text: expect.stringMatching(/^MX hosts (a\.ten\.test, b\.ten\.test|b\.ten\.test, a\.ten\.test) resolve only to private\/loopback addresses \(/) },
    });
    expect(await resolveMx(resolver, '[127.0.0.1]')).toMatchObject({ ok: false, code: 'DOMAIN_PRIVATE_MAIL_HOST', reply: { code: 550, enhanced: '5.4.4' } });
    expect(await resolveMx(resolver, 'mixed.test', { allowPrivateAddresses: true })).toMatchObject({
      ok: true, hosts: [{ name: 'mx1.mixed.test', addresses: ['10.1.2.3', '169.254.1.1', '::1', 'fd00::1', 'fe80::1'] }, { name: 'mx2.mixed.test' }],
    });
  });
});
