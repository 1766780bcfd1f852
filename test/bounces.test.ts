// Bounces end to end: a message relayed through mailgate, its DSN delivered over SMTP to the
// inbound listener, the error log entry, and suppression of the next message to that address.
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, sinkUpstream, testConfig } from './helpers/config.js';
import { eventsFor, waitForEvent } from './helpers/events.js';
import { useMailgate } from './helpers/use-mailgate.js';

function dsn(to: string, recipient: string, status: string, diagnostic: string): string {
  return [
    'Return-Path: <>', 'From: MAILER-DAEMON@mx.example.com (Mail Delivery System)', `To: ${to}`,
    'Subject: Undelivered Mail Returned to Sender', 'Auto-Submitted: auto-replied', 'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"', '',
    '--B1', 'Content-Type: text/plain', '', 'This is the mail system at host mx.example.com.', '',
    `<${recipient}>: host mx.example.com[192.0.2.1] said: ${diagnostic}`, '',
    '--B1', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; mx.example.com', '',
    `Final-Recipient: rfc822; ${recipient}`, 'Action: failed', `Status: ${status}`, `Diagnostic-Code: smtp; ${diagnostic}`, '',
    '--B1', 'Content-Type: text/rfc822-headers', '', 'Message-ID: <orig-1@shop.test>', `To: ${recipient}`, '', '--B1--', '',
  ].join('\r\n');
}

describe('bounces', () => {
  const w = useMailgate({
    prefix: 'mg-bounce-',
    sinks: [{
      rcptReply: (rcpt) => (rcpt.startsWith('nouser') ? { code: 550, message: `5.1.1 <${rcpt}>: Recipient address rejected: User unknown in virtual mailbox table` }
        : rcpt.startsWith('policy') ? { code: 550, message: '5.7.1 Message rejected due to local policy' } : undefined),
    }],
    config: ({ dir, sinks }) => testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('up', sinks[0]!.port)],
      tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, password: correct-horse } ], upstream: up }'],
    }),
  });
  const submit = () => w.submit({ user: 'shop', pass: 'correct-horse' });
  const inbound = () => w.inbound();

  it('records a DSN for a relayed message as a hard bounce and suppresses the next message to that address', async () => {
    await submit().sendMail({ from: 'orders@shop.test', to: 'gone@example.com', subject: 'Order 1', text: 'x', headers: { 'X-Order-Id': 'A-1001' } });
    const [relayed] = await w.sink.waitFor(1);
    const verp = relayed!.from;
    expect(verp).toMatch(/^b-.+@bounces\.relay\.test$/);

    await inbound().sendMail({ envelope: { from: '', to: verp }, raw: dsn(verp, 'gone@example.com', '5.1.1', '550 5.1.1 <gone@example.com>: Recipient address rejected: User unknown') });
    const { match } = await waitForEvent(w.mg, 'gone@example.com', 'bounced');
    expect(match).toMatchObject({ tenant: 'shop', class: 'hard', reason: 'user-unknown', code: 'RECIPIENT_BOUNCED', reply: { code: 550, enhanced: '5.1.1' } });

    const info = await submit().sendMail({ from: 'orders@shop.test', to: 'gone@example.com', subject: 'Order 2', text: 'x' });
    expect(info.response).toMatch(/^250 /); // legacy apps must not break: the SMTP session still succeeds
    const { match: suppressed } = await waitForEvent(w.mg, 'gone@example.com', 'failed');
    expect(suppressed).toMatchObject({ code: 'RECIPIENT_SUPPRESSED', class: 'hard', reason: 'user-unknown' });
    await new Promise((r) => setTimeout(r, 300));
    expect(w.sink.messages).toHaveLength(1);

    // The tenant's error log, newest first, and its counter.
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const page = (await (await fetch(`${w.mg.adminUrl}/api/v1/errors?tenant=shop&limit=10`, { headers: auth })).json()) as { events: Array<{ type: string; code?: string; recipient: string; advice?: string }> };
    expect(page.events.slice(0, 2).map((e) => [e.type, e.code])).toEqual([['failed', 'RECIPIENT_SUPPRESSED'], ['bounced', 'RECIPIENT_BOUNCED']]);
    // Each entry says in a shop admin's words what happened and what to do.
    expect(page.events[0]!.advice).toMatch(/suppression list.*Correct the address/);
    expect(page.events[1]!.advice).toMatch(/^The address does not exist\. .*correct it and re-send/);
    const count = (await (await fetch(`${w.mg.adminUrl}/api/v1/errors/count?tenant=shop&since=0`, { headers: auth })).json()) as { count: number };
    expect(count.count).toBe(2);
    expect((await fetch(`${w.mg.adminUrl}/api/v1/errors?tenant=shop&class=bogus`, { headers: auth })).status).toBe(400);
    // Support staff search by whatever the customer gives them: the order number, or the address.
    const byRef = (await (await fetch(`${w.mg.adminUrl}/api/v1/errors?tenant=shop&reference=a-1001`, { headers: auth })).json()) as { events: Array<{ type: string; recipient: string }> };
    expect(byRef.events.map((e) => [e.type, e.recipient])).toEqual([['bounced', 'gone@example.com']]);
    const byRcpt = (await (await fetch(`${w.mg.adminUrl}/api/v1/errors?tenant=shop&recipient=GONE@example.com`, { headers: auth })).json()) as { events: unknown[] };
    expect(byRcpt.events).toHaveLength(2);
    const otherTenant = (await (await fetch(`${w.mg.adminUrl}/api/v1/errors?tenant=other&recipient=gone@example.com`, { headers: auth })).json()) as { events: unknown[] };
    expect(otherTenant.events).toHaveLength(0);

    // Messages newest first, by recipient, by the shop's order number; one message with its history.
    type Msg = { id: string; createdAt: number; to: string[]; reference: string | null; recipients: Array<{ status: string }> };
    const all = (await (await fetch(`${w.mg.adminUrl}/api/v1/messages?tenant=shop`, { headers: auth })).json()) as { messages: Msg[] };
    expect(all.messages).toHaveLength(2);
    expect(all.messages[0]!.createdAt).toBeGreaterThanOrEqual(all.messages[1]!.createdAt);
    const failedOnes = (await (await fetch(`${w.mg.adminUrl}/api/v1/messages?tenant=shop&status=failed`, { headers: auth })).json()) as { messages: Msg[] };
    expect(failedOnes.messages).toHaveLength(1); // the suppressed one
    const byOrder = (await (await fetch(`${w.mg.adminUrl}/api/v1/messages?tenant=shop&reference=A-1001`, { headers: auth })).json()) as { messages: Msg[] };
    expect(byOrder.messages.map((m) => m.reference)).toEqual(['A-1001']);
    const detail = (await (await fetch(`${w.mg.adminUrl}/api/v1/messages/${byOrder.messages[0]!.id}`, { headers: auth })).json()) as { events: Array<{ type: string }>; identity: { mode: string } };
    expect(detail.events.map((e) => e.type)).toEqual(['accepted', 'delivered', 'bounced']);
    expect(detail.identity.mode).toBe('system-sender');
    expect((await fetch(`${w.mg.adminUrl}/api/v1/messages/00000000000000000000`, { headers: auth })).status).toBe(404);

    // The shop admin sees why the address is suppressed, fixes it, removes the entry; mail flows again.
    const list = (await (await fetch(`${w.mg.adminUrl}/api/v1/suppression?tenant=shop`, { headers: auth })).json()) as { entries: Array<{ address: string; reason: string; msgId: string }> };
    expect(list.entries).toEqual([expect.objectContaining({ address: 'gone@example.com', reason: 'user-unknown', source: 'bounce', rule: 'hard bounce: the address does not exist' })]);
    expect((await fetch(`${w.mg.adminUrl}/api/v1/suppression/shop/gone@example.com`, { method: 'DELETE', headers: auth })).status).toBe(204);
    expect((await fetch(`${w.mg.adminUrl}/api/v1/suppression/shop/gone@example.com`, { method: 'DELETE', headers: auth })).status).toBe(404);
    await submit().sendMail({ from: 'orders@shop.test', to: 'gone@example.com', subject: 'Order 2b', text: 'x' });
    await w.sink.waitFor(2);
    const added = await fetch(`${w.mg.adminUrl}/api/v1/suppression`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ tenant: 'shop', address: 'Blocked@Example.com', reason: 'buyer asked' }) });
    expect(added.status).toBe(201);
    expect((await fetch(`${w.mg.adminUrl}/api/v1/suppression`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ tenant: 'nope', address: 'a@example.com' }) })).status).toBe(404);
  });

  it("suppresses an address the receiving server refuses at RCPT as unknown (no bounce message will come), not one refused for policy", async () => {
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const before = w.sink.messages.length;
    await submit().sendMail({ from: 'orders@shop.test', to: 'nouser@example.com', subject: 'Order 5', text: 'x' });
    await submit().sendMail({ from: 'orders@shop.test', to: 'policy@example.com', subject: 'Order 6', text: 'x' });
    const { match: refused } = await waitForEvent(w.mg, 'nouser@example.com', 'failed');
    expect(refused).toMatchObject({ code: 'UPSTREAM_REJECTED', class: 'hard', reason: 'user-unknown', reply: { code: 550, enhanced: '5.1.1' } });
    const { match: policy } = await waitForEvent(w.mg, 'policy@example.com', 'failed');
    expect(policy).toMatchObject({ code: 'UPSTREAM_REJECTED', class: 'policy' });

    const list = (await (await fetch(`${w.mg.adminUrl}/api/v1/suppression?tenant=shop&address=example.com`, { headers: auth })).json()) as { entries: Array<{ address: string }> };
    const entry = (list.entries as Array<{ address: string; reason: string; source: string; diagnostic?: string; msgId: string }>).find((e) => e.address === 'nouser@example.com');
    expect(entry).toMatchObject({ reason: 'user-unknown', source: 'bounce', msgId: refused.msgId, diagnostic: expect.stringContaining('550 5.1.1') });
    expect(list.entries.map((e) => e.address)).not.toContain('policy@example.com');

    // The next message to it is answered 250 and not sent; the one refused for policy is tried again.
    await submit().sendMail({ from: 'orders@shop.test', to: 'nouser@example.com', subject: 'Order 7', text: 'x' });
    await submit().sendMail({ from: 'orders@shop.test', to: 'policy@example.com', subject: 'Order 8', text: 'x' });
    const events = async () => eventsFor(w.mg, 'nouser@example.com');
    const deadline = Date.now() + 5000;
    while (!(await events()).some((e) => e.code === 'RECIPIENT_SUPPRESSED') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect((await events()).map((e) => e.code).filter(Boolean)).toEqual(['UPSTREAM_REJECTED', 'RECIPIENT_SUPPRESSED']);
    const policyCodes = async () => (await eventsFor(w.mg, 'policy@example.com')).filter((e) => e.type === 'failed').map((e) => e.code);
    while ((await policyCodes()).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await policyCodes()).toEqual(['UPSTREAM_REJECTED', 'UPSTREAM_REJECTED']);
    expect(w.sink.messages.length).toBe(before);
  });

  it('ignores a bounce whose VERP token does not verify, and a soft bounce does not suppress', async () => {
    w.sink.messages.length = 0;
    await submit().sendMail({ from: 'orders@shop.test', to: 'full@example.com', subject: 'Order 3', text: 'x' });
    const [relayed] = await w.sink.waitFor(1);
    const forged = relayed!.from.replace(/-([0-9a-z]{10})@/, '-aaaaaaaaaa@');
    await inbound().sendMail({ envelope: { from: '', to: forged }, raw: dsn(forged, 'full@example.com', '5.1.1', '550 5.1.1 unknown') });
    await w.mg.waitForLog((l) => l.msg === 'forged bounce ignored: the VERP token does not verify');
    await inbound().sendMail({ envelope: { from: '', to: relayed!.from }, raw: dsn(relayed!.from, 'full@example.com', '5.2.2', '552 5.2.2 Mailbox full') });
    const { match } = await waitForEvent(w.mg, 'full@example.com', 'bounced');
    expect(match).toMatchObject({ class: 'soft', reason: 'mailbox-full' });
    expect((await eventsFor(w.mg, 'full@example.com')).filter((e) => e.type === 'bounced')).toHaveLength(1);
    await submit().sendMail({ from: 'orders@shop.test', to: 'full@example.com', subject: 'Order 4', text: 'x' });
    await w.sink.waitFor(2);
  });

  it('records a likely typo in a recipient domain with the suggestion, and still sends', async () => {
    await submit().sendMail({ from: 'orders@shop.test', to: 'anna@htmail.com', subject: 'Order 5', text: 'x' });
    const { match } = await waitForEvent(w.mg, 'anna@htmail.com', 'warning');
    expect(match).toMatchObject({ code: 'RECIPIENT_DOMAIN_TYPO', detail: 'the domain of anna@htmail.com looks like a typo: did you mean anna@hotmail.com?' });
    await waitForEvent(w.mg, 'anna@htmail.com', 'delivered');
  });

  it('refuses relaying and non-bounce addresses on the inbound listener, and survives malformed and large bounces', async () => {
    await expect(inbound().sendMail({ from: 'x@evil.test', to: 'victim@example.com', text: 'spam' })).rejects.toMatchObject({ responseCode: 554 });
    await expect(inbound().sendMail({ from: 'x@evil.test', to: 'random@bounces.relay.test', text: 'x' })).rejects.toMatchObject({ responseCode: 554 });
    const malformed = 'From: MAILER-DAEMON@x.test\r\nSubject: Undelivered Mail\r\nContent-Type: multipart/report; boundary="nope\r\n\r\n--nope\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822;';
    await inbound().sendMail({ envelope: { from: '', to: 'postmaster@bounces.relay.test' }, raw: malformed });
    const big = `From: MAILER-DAEMON@x.test\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\n${'x'.repeat(998)}\r\n`.repeat(9000);
    await inbound().sendMail({ envelope: { from: '', to: 'postmaster@bounces.relay.test' }, raw: big });
    await w.mg.waitForLog((l) => typeof l.msg === 'string' && /not attributed|not a bounce|could not be parsed/.test(l.msg as string) && w.mg.logs.filter((x) => x.msg === 'inbound message stored').length >= 2, 20_000);
    expect((await fetch(`${w.mg.adminUrl}/healthz`)).status).toBe(200);
  });

  it('limits how many connections one address may open per minute on the inbound listener (runs last: it uses up the budget)', async () => {
    const net = await import('node:net');
    const greet = () => new Promise<string>((resolve) => {
      const sock = net.connect(w.mg.inbound.port, '127.0.0.1');
      sock.setEncoding('latin1');
      sock.once('data', (d: string) => { sock.destroy(); resolve(d.slice(0, 3)); });
      sock.once('error', () => resolve('err'));
    });
    const codes = await Promise.all(Array.from({ length: 130 }, greet));
    expect(codes.filter((c) => c === '220').length).toBeLessThanOrEqual(120);
    expect(codes).toContain('421');
  });
});
