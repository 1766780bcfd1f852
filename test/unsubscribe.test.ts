// Seed 001: buyers may unsubscribe from optional notices, never from mandatory ones. Asserted on what the
// upstream sink receives (List-Unsubscribe headers, signed), on the public one-click endpoint over real
// HTTP, on the mailto address over real SMTP, and on the next messages.
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dkimRecord } from '../src/identity/dns-records.js';
import { dkimVerify } from './helpers/dkim-verify.js';
import { getHeader, type SinkMessage } from './helpers/smtp-sink.js';
import { useMailgate } from './helpers/use-mailgate.js';
import { ADMIN_TOKEN, sinkUpstream, testConfig } from './helpers/config.js';

const systemKey = generateKeyPairSync('ed25519').privateKey;

describe('opt-out of optional notices', () => {
  const w = useMailgate({
    prefix: 'mg-unsub-',
    sinks: [{}],
    dns: { 'sys._domainkey.relay.test': { TXT: [dkimRecord(systemKey)] } },
    config: async ({ dir, sinks, dns }) => {
      await fs.writeFile(path.join(dir, 'system.key'), systemKey.export({ type: 'pkcs8', format: 'pem' }));
      return testConfig({
        dataDir: `${dir}/data`,
        upstreams: [sinkUpstream('up', sinks[0]!.port)],
        systemUpstream: 'up',
        tenants: [[
          '{ id: shop, name: "Shop <Best>", auth: [ { user: shop, password: shop-password } ],',
          '  categories: { payment-received: optional, refund-done: optional, payment-details: mandatory },',
          '  categoryRules: [ { subject: "^Refund (done|issued)", category: refund-done } ] }',
        ].join('\n    ')],
        extra: `dns: { servers: [ "127.0.0.1:${dns.port}" ] }`,
        system: `unsubscribeUrl: "https://relay.test/unsubscribe", dkim: { domain: relay.test, selector: sys, privateKeyFile: ${dir}/system.key }`,
      });
    },
  });
  let seq = 0;
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

  /** Sends one message; resolves with what the sink got for it, or undefined if nothing came within `waitMs`. */
  async function send(to: string, subject: string, category?: string, waitMs = 5000): Promise<{ id: string; got?: SinkMessage }> {
    const marker = `m${++seq}`;
    const info = await w.submit({ user: 'shop', pass: 'shop-password' })
      .sendMail({ from: 'orders@shop.test', to, subject, text: `body ${marker}`, headers: { 'X-Marker': marker, ...(category ? { 'X-Mailgate-Category': category } : {}) } });
    const id = info.response.split(' ').pop()!;
    const until = Date.now() + waitMs;
    while (Date.now() < until) {
      const got = w.sink.messages.find((m) => getHeader(m.headers, 'X-Marker') === marker);
      if (got) return { id, got };
      await new Promise((r) => setTimeout(r, 50));
    }
    return { id };
  }
  const tokenOf = (m: SinkMessage) => /<https:\/\/relay\.test\/unsubscribe\/([^>]+)>/.exec(getHeader(m.headers, 'List-Unsubscribe') ?? '')![1]!;

  it('adds signed one-click List-Unsubscribe headers to optional categories only', async () => {
    const optional = (await send('anna@example.com', 'Payment received', 'payment-received')).got!;
    expect(getHeader(optional.headers, 'List-Unsubscribe')).toMatch(/^<https:\/\/relay\.test\/unsubscribe\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}>, <mailto:unsubscribe\+[A-Za-z0-9_.-]+@bounces\.relay\.test>$/);
    expect(getHeader(optional.headers, 'List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');
    expect(getHeader(optional.headers, 'X-Mailgate-Category')).toBeUndefined();
    const { code, results } = await dkimVerify(w.dns.port, optional.raw);
    expect(code).toBe(0);
    expect(results).toEqual([expect.objectContaining({ d: 'relay.test', ok: true })]);
    expect(results[0]!.h.toLowerCase().split(':')).toEqual(expect.arrayContaining(['list-unsubscribe', 'list-unsubscribe-post']));

    const mandatory = (await send('anna@example.com', 'Your payment details', 'payment-details')).got!;
    expect(getHeader(mandatory.headers, 'List-Unsubscribe')).toBeUndefined();
    const unknown = (await send('anna@example.com', 'Something else', 'newsletter-we-forgot')).got!;
    expect(getHeader(unknown.headers, 'List-Unsubscribe')).toBeUndefined();
    // A tenant rule by subject (RFC 2047-encoded subjects are decoded first).
    const byRule = (await send('anna@example.com', 'Refund done for order 5 – €12')).got!;
    expect(getHeader(byRule.headers, 'List-Unsubscribe')).toMatch(/^<https:/);
  });

  it('one click stops the next optional message and not the next mandatory one; a forged link is refused', async () => {
    const first = (await send('bert@example.com', 'Payment received', 'payment-received')).got!;
    const token = tokenOf(first);
    const page = await fetch(`${w.mg.adminUrl}/unsubscribe/${token}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('bert@example.com');
    expect(html).toContain('Shop &lt;Best&gt;');
    expect(html).not.toContain('Shop <Best>');

    const forged = token.replace(/^./, (c) => (c === 'W' ? 'X' : 'W'));
    expect((await fetch(`${w.mg.adminUrl}/unsubscribe/${forged}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' })).status).toBe(400);
    const otherAddress = Buffer.from(JSON.stringify(['shop', 'payment-received', 'carl@example.com'])).toString('base64url');
    expect((await fetch(`${w.mg.adminUrl}/unsubscribe/${otherAddress}.${token.split('.')[1]}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' })).status).toBe(400);

    const click = await fetch(`${w.mg.adminUrl}/unsubscribe/${token}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect(click.status).toBe(200);

    const next = await send('bert@example.com', 'Payment received again', 'payment-received', 1500);
    expect(next.got).toBeUndefined();
    const errors = (await (await fetch(`${w.mg.adminUrl}/api/v1/errors?tenant=shop&msgId=${next.id}`, { headers: admin })).json()) as { events: Array<{ code: string }> };
    expect(errors.events.map((e) => e.code)).toEqual(['RECIPIENT_UNSUBSCRIBED']);
    expect((await send('bert@example.com', 'Payment details', 'payment-details')).got).toBeDefined();
    // Another optional category is not affected.
    expect((await send('bert@example.com', 'Refund issued', 'refund-done')).got).toBeDefined();

    const list = (await (await fetch(`${w.mg.adminUrl}/api/v1/optouts?tenant=shop`, { headers: admin })).json()) as { optOuts: Array<{ address: string; category: string; via: string }> };
    expect(list.optOuts).toEqual([expect.objectContaining({ address: 'bert@example.com', category: 'payment-received', via: 'one-click' })]);
    expect((await fetch(`${w.mg.adminUrl}/api/v1/optouts/shop/payment-received/bert@example.com`, { method: 'DELETE', headers: admin })).status).toBe(204);
    expect((await send('bert@example.com', 'Payment received once more', 'payment-received')).got).toBeDefined();
  });

  it('unsubscribes by mail to the mailto address, and refuses forged ones at RCPT', async () => {
    const m = (await send('dora@example.com', 'Payment received', 'payment-received')).got!;
    const mailto = /<mailto:([^>]+)>/.exec(getHeader(m.headers, 'List-Unsubscribe')!)![1]!;
    const inbound = w.inbound();
    const info = await inbound.sendMail({ from: 'dora@example.com', to: mailto, subject: 'unsubscribe', text: '' });
    expect(info.response).toMatch(/^250 .*unsubscribed/);
    await expect(inbound.sendMail({ from: 'x@example.com', to: mailto.replace(/\+./, '+Z'), text: '' })).rejects.toMatchObject({ responseCode: 550 });
    const list = (await (await fetch(`${w.mg.adminUrl}/api/v1/optouts?tenant=shop&address=dora@example.com`, { headers: admin })).json()) as { optOuts: Array<{ via: string }> };
    expect(list.optOuts).toEqual([expect.objectContaining({ via: 'mailto' })]);
    expect((await send('dora@example.com', 'Payment received', 'payment-received', 1500)).got).toBeUndefined();
  });
});
