// Sender identity end to end, asserted on the bytes the upstream sink receives: verified tenant
// domain, unverified domain, free-mail From, existing Reply-To, non-ASCII display name, header
// injection through the display name. Signatures are checked with dkimpy against the loopback DNS.
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { dkimVerify } from './helpers/dkim-verify.js';
import { describe, expect, it } from 'vitest';
import { dkimRecord } from '../src/identity/dns-records.js';
import { getHeader, getHeaders, type SinkMessage } from './helpers/smtp-sink.js';
import { useMailgate } from './helpers/use-mailgate.js';
import { ADMIN_TOKEN, sinkUpstream, testConfig } from './helpers/config.js';
import { waitForEvent } from './helpers/events.js';

const tenantKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const systemKey = generateKeyPairSync('ed25519').privateKey;
const tenantEdKey = generateKeyPairSync('ed25519').privateKey;

/** Each DKIM signature's verdict from dkimpy. */
async function dkimResults(dnsPort: number, raw: Buffer) {
  return (await dkimVerify(dnsPort, raw)).results;
}

/** Threads of the mailgate process in each mode: the thread-less mode must really run without the delivery thread. */
const threads = new Map<boolean, number>();

// Both delivery modes (queue.deliveryThread): a thread of its own, or the main event loop with the signature on libuv's pool.
describe.each([true, false])('sender identity (deliveryThread: %s)', (deliveryThread) => {
  const w = useMailgate({
    prefix: 'mg-ident-',
    sinks: [{}],
    dns: {
      'verified.test': { TXT: ['v=spf1 include:_spf.relay.test -all'] },
      'mg1._domainkey.verified.test': { TXT: [dkimRecord(tenantKey)] },
      '_dmarc.verified.test': { TXT: ['v=DMARC1; p=reject'] },
      'unverified.test': { TXT: ['v=spf1 include:_spf.other.example -all'] },
      'sys._domainkey.relay.test': { TXT: [dkimRecord(systemKey)] },
      // Two keys published: both sign. rotate.test publishes only the old selector: the new one waits.
      'dual.test': { TXT: ['v=spf1 include:_spf.relay.test -all'] },
      'r1._domainkey.dual.test': { TXT: [dkimRecord(tenantKey)] },
      'e1._domainkey.dual.test': { TXT: [dkimRecord(tenantEdKey)] },
      'rotate.test': { TXT: ['v=spf1 include:_spf.relay.test -all'] },
      'old._domainkey.rotate.test': { TXT: [dkimRecord(tenantKey)] },
    },
    config: async ({ dir, sinks, dns }) => {
      await fs.writeFile(path.join(dir, 'tenant.key'), tenantKey.export({ type: 'pkcs8', format: 'pem' }));
      await fs.writeFile(path.join(dir, 'system.key'), systemKey.export({ type: 'pkcs8', format: 'pem' }));
      await fs.writeFile(path.join(dir, 'tenant-ed.key'), tenantEdKey.export({ type: 'pkcs8', format: 'pem' }));
      return testConfig({
        dataDir: `${dir}/data`,
        upstreams: [sinkUpstream('up', sinks[0]!.port)],
        systemUpstream: 'up',
        tenants: [`{ id: shop, name: "Bücher & Co", auth: [ { user: shop, password: correct-horse } ], upstream: up, domains: [
          { domain: verified.test, dkim: { selector: mg1, privateKeyFile: ${dir}/tenant.key } },
          { domain: unverified.test, dkim: { selector: mg1, privateKeyFile: ${dir}/tenant.key } },
          { domain: dual.test, dkim: [ { selector: r1, privateKeyFile: ${dir}/tenant.key }, { selector: e1, privateKeyFile: ${dir}/tenant-ed.key } ] },
          { domain: rotate.test, dkim: [ { selector: old, privateKeyFile: ${dir}/tenant.key }, { selector: new, privateKeyFile: ${dir}/tenant-ed.key } ] } ] }`],
        extra: `dns: { servers: [ "${dns.address}" ] }\nqueue: { deliveryThread: ${deliveryThread} }`,
        system: `spf: { include: _spf.relay.test }, dkim: { domain: relay.test, selector: sys, privateKeyFile: ${dir}/system.key }`,
      });
    },
  });
  let seq = 0;

  async function send(raw: string, from = 'orders@verified.test'): Promise<SinkMessage> {
    const to = `buyer${++seq}@example.test`;
    await w.submit({ user: 'shop', pass: 'correct-horse' }).sendMail({ envelope: { from, to }, raw: Buffer.from(raw.replace(/\n/g, '\r\n'), 'utf8') });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const m = w.sink.messages.find((x) => x.to.includes(to));
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`nothing for ${to}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('keeps From for a verified tenant domain and signs with d= that domain', async () => {
    const m = await send('From: Shop <orders@verified.test>\nTo: buyer@example.test\nSubject: Order 7\nBcc: secret@example.test\n\nThanks.\n');
    expect(getHeader(m.headers, 'From')).toBe('Shop <orders@verified.test>');
    expect(getHeader(m.headers, 'Reply-To')).toBeUndefined();
    expect(getHeader(m.headers, 'Bcc')).toBeUndefined();
    // Our Message-ID carries a MAC tag, so a bounce sent back without the return path can prove it is about this message.
    expect(getHeader(m.headers, 'Message-ID')).toMatch(/^<[0-9a-z]{20}\.[0-9a-z]{12}@verified\.test>$/);
    const sigs = await dkimResults(w.dns.port, m.raw);
    expect(sigs).toEqual([expect.objectContaining({ d: 'verified.test', a: 'rsa-sha256', ok: true })]);
  });

  it('sends an unverified domain as the system sender with Reply-To, and records a warning naming the missing records', async () => {
    const m = await send('From: Shop <orders@unverified.test>\nTo: buyer@example.test\nSubject: Order 8\n\nThanks.\n', 'orders@unverified.test');
    expect(getHeader(m.headers, 'From')).toBe('=?UTF-8?Q?B=C3=BCcher_=26_Co?= <noreply@relay.test>');
    expect(getHeader(m.headers, 'Reply-To')).toBe('Shop <orders@unverified.test>');
    expect(await dkimResults(w.dns.port, m.raw)).toEqual([expect.objectContaining({ d: 'relay.test', a: 'ed25519-sha256', ok: true })]);
    const { match } = await waitForEvent(w.mg, 'orders@unverified.test', 'sender-rewritten');
    expect((match as unknown as { detail: string }).detail).toContain('the SPF record of unverified.test does not authorise this relay: add include:_spf.relay.test');
    expect((match as unknown as { detail: string }).detail).toContain('no DKIM key at mg1._domainkey.unverified.test');
  });

  it('puts an unverified sender domain in the error log once, as an uncounted warning, however many messages it sends', async () => {
    for (let i = 0; i < 3; i++) await send(`From: orders@unverified.test\nTo: b@example.test\nSubject: Order 2${i}\n\nx\n`, 'orders@unverified.test');
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const page = (await (await fetch(`${w.mg.adminUrl}/api/v1/errors?tenant=shop&limit=100`, { headers: auth })).json()) as { events: Array<{ type: string; code?: string; msgId: string }> };
    // Four messages from the domain (the test above sent one): one warning, no per-message rows.
    expect(page.events.filter((e) => e.code === 'SENDER_REWRITTEN').map((e) => e.type)).toEqual(['warning']);
    expect(page.events.some((e) => e.type === 'sender-rewritten')).toBe(false);
    const count = (await (await fetch(`${w.mg.adminUrl}/api/v1/errors/count?tenant=shop&since=0`, { headers: auth })).json()) as { count: number };
    expect(count.count).toBe(0);
    // Each message still says so in its own history.
    const msgs = (await (await fetch(`${w.mg.adminUrl}/api/v1/messages?tenant=shop&limit=3`, { headers: auth })).json()) as { messages: Array<{ id: string }> };
    const history = (await (await fetch(`${w.mg.adminUrl}/api/v1/messages/${msgs.messages[0]!.id}`, { headers: auth })).json()) as { events: Array<{ type: string }> };
    expect(history.events.map((e) => e.type)).toContain('sender-rewritten');
  });

  it('sends free-mail From as the system sender and keeps an existing Reply-To', async () => {
    const m = await send('From: Shop Owner <shop.owner@gmail.com>\nReply-To: support@verified.test\nTo: b@example.test\nSubject: x\n\nx\n');
    expect(getHeader(m.headers, 'From')).toBe('=?UTF-8?Q?B=C3=BCcher_=26_Co?= <noreply@relay.test>');
    expect(getHeaders(m.headers, 'Reply-To')).toEqual(['support@verified.test']);
  });

  it('signs with rsa and ed25519 when both keys are configured and published', async () => {
    const m = await send('From: orders@dual.test\nTo: b@example.test\nSubject: two keys\n\nx\n', 'orders@dual.test');
    expect(getHeader(m.headers, 'From')).toBe('orders@dual.test');
    const sigs = await dkimResults(w.dns.port, m.raw);
    expect(sigs.map((x) => [x.d, x.a, x.ok])).toEqual([['dual.test', 'rsa-sha256', true], ['dual.test', 'ed25519-sha256', true]]);
  });

  it('during key rotation signs only with the selector whose record is published', async () => {
    const m = await send('From: orders@rotate.test\nTo: b@example.test\nSubject: rotation\n\nx\n', 'orders@rotate.test');
    expect(getHeader(m.headers, 'From')).toBe('orders@rotate.test');
    const sigs = await dkimResults(w.dns.port, m.raw);
    expect(sigs.map((x) => [x.d, x.ok])).toEqual([['rotate.test', true]]);
    expect(getHeaders(m.headers, 'DKIM-Signature')[0]).toMatch(/s=old;/);
  });

  it("shows each domain's DNS state over the admin API and re-checks on demand", async () => {
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const list = (await (await fetch(`${w.mg.adminUrl}/api/v1/domains`, { headers: auth })).json()) as { domains: Array<{ domain: string; check: { verified: boolean; checkedAt: number } }> };
    const unverified = list.domains.find((d) => d.domain === 'unverified.test')!;
    expect(unverified.check.verified).toBe(false);
    // The tenant publishes the missing records; "check now" sees them.
    w.dns.set('unverified.test', { TXT: ['v=spf1 include:_spf.relay.test -all'] });
    w.dns.set('mg1._domainkey.unverified.test', { TXT: [dkimRecord(tenantKey)] });
    const res = await fetch(`${w.mg.adminUrl}/api/v1/domains/unverified.test/verify`, { method: 'POST', headers: auth });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { check: { verified: boolean; checkedAt: number; dmarc: { message: string } } };
    expect(body.check.verified).toBe(true);
    expect(body.check.checkedAt).toBeGreaterThan(unverified.check.checkedAt);
    expect(body.check.dmarc.message).toBe('no DMARC record at _dmarc.unverified.test: publish TXT "v=DMARC1; p=none; rua=mailto:dmarc@unverified.test" (recommended; start with p=none)');
    expect((await fetch(`${w.mg.adminUrl}/api/v1/domains/nope.test/verify`, { method: 'POST', headers: auth })).status).toBe(404);
    // The shop admin sees (and re-checks) its own domains with its own token; an admin can filter by tenant.
    const issued = (await (await fetch(`${w.mg.adminUrl}/api/v1/tenants/shop/tokens`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'dns' }) })).json()) as { token: string };
    const shopAuth = { authorization: `Bearer ${issued.token}` };
    const own = (await (await fetch(`${w.mg.adminUrl}/api/v1/domains`, { headers: shopAuth })).json()) as { domains: Array<{ tenant: string; domain: string }> };
    expect(own.domains.map((d) => d.domain)).toContain('unverified.test');
    expect(own.domains.every((d) => d.tenant === 'shop')).toBe(true);
    expect((await fetch(`${w.mg.adminUrl}/api/v1/domains?tenant=other`, { headers: shopAuth })).status).toBe(403);
    expect((await fetch(`${w.mg.adminUrl}/api/v1/domains/unverified.test/verify`, { method: 'POST', headers: shopAuth })).status).toBe(200);
    expect(((await (await fetch(`${w.mg.adminUrl}/api/v1/domains?tenant=other`, { headers: auth })).json()) as { domains: unknown[] }).domains).toEqual([]);
    // From now on mail from that domain keeps its From.
    const m = await send('From: orders@unverified.test\nTo: b@example.test\nSubject: now verified\n\nx\n', 'orders@unverified.test');
    expect(getHeader(m.headers, 'From')).toBe('orders@unverified.test');
  });

  it('cannot be made to add a header through the display name', async () => {
    const m = await send('From: =?UTF-8?Q?Evil=0D=0ABcc:_x@evil.test?= <orders@gmail.com>\nTo: b@example.test\nSubject: inject\n\nx\n');
    expect(getHeader(m.headers, 'Bcc')).toBeUndefined();
    expect(getHeaders(m.headers, 'From')).toHaveLength(1);
    expect(getHeader(m.headers, 'Reply-To')).toBe('=?UTF-8?Q?Evil=0D=0ABcc:_x@evil.test?= <orders@gmail.com>');
    expect(m.raw.toString('latin1')).not.toMatch(/^Bcc:/im);
  });

  it('runs outbound SMTP in the mode configured', async () => {
    await send('From: Shop <orders@verified.test>\nTo: buyer@example.test\nSubject: Threads\n\nHi.\n');
    threads.set(deliveryThread, (await fs.readdir(`/proc/${w.mg.pid}/task`)).length);
    if (!deliveryThread) expect(threads.get(false)).toBeLessThan(threads.get(true)!);
  });
});
