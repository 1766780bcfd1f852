// End to end through a real mailgate process: SMTP client → mailgate → loopback sink upstream.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { startSink, type Sink } from './helpers/smtp-sink.js';
import { startMailgate, writeConfig, type MailgateProcess } from './helpers/mailgate-process.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';
import { useMailgate } from './helpers/use-mailgate.js';
import { ADMIN_TOKEN, sinkUpstream, testConfig } from './helpers/config.js';
import { eventsFor, waitForEvent } from './helpers/events.js';
import { openDialogue } from './helpers/smtp-dialogue.js';

function client(mg: MailgateProcess, auth?: { user: string; pass: string }, localAddress?: string) {
  return nodemailer.createTransport({
    host: mg.submission.host, port: mg.submission.port, secure: false, ignoreTLS: true,
    ...(auth ? { auth } : {}), ...(localAddress ? { localAddress } : {}),
  });
}

describe('relay through a tenant upstream', () => {
  const w = useMailgate({
    prefix: 'mg-relay-',
    sinks: [{ rcptReply: (r) => (r.startsWith('nobody@') ? { code: 550, message: '5.1.1 <nobody@x.test>: Recipient address rejected: User unknown' } : undefined) }],
    config: ({ dir, sinks }) => testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('shop-smtp', sinks[0]!.port)],
      tenants: [
        '{ id: shop, name: Shop, auth: [ { user: shop, password: correct-horse } ], upstream: shop-smtp }',
        '{ id: legacy, name: Legacy Shop, networks: [ 127.0.0.2/32 ], upstream: shop-smtp }',
      ],
      extra: 'limits: { maxMessageSize: 20000, maxRecipients: 5 }\nqueue: { retrySchedule: [1s], maxAge: 1h }',
    }),
  });
  afterEach(() => { w.sink.messages.length = 0; });

  it('relays the body unchanged, one VERP transaction per recipient, and replies with the queue id', async () => {
    const info = await client(w.mg, { user: 'shop', pass: 'correct-horse' }).sendMail({
      envelope: { from: 'orders@shop.test', to: ['buyer@example.test', 'second@example.test'] },
      raw: 'From: Shop <orders@shop.test>\r\nTo: buyer@example.test\r\nSubject: Your order\r\nMessage-ID: <order-1@shop.test>\r\n\r\nThank you for your order.\r\n.leading dot line\r\n',
    });
    expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as [0-9A-Z]{20}$/);
    const id = info.response.split(' ').pop()!;
    const msgs = await w.sink.waitFor(2);
    const byRcpt = new Map(msgs.map((m) => [m.to.join(','), m]));
    expect([...byRcpt.keys()].sort()).toEqual(['buyer@example.test', 'second@example.test']);
    const [first, second] = [byRcpt.get('buyer@example.test')!, byRcpt.get('second@example.test')!];
    // The return path names message and recipient (VERP on the bounce domain).
    expect(first.from).toMatch(new RegExp(`^b-${id.toLowerCase()}-0-[0-9a-z]{10}@bounces\\.relay\\.test$`));
    expect(second.from).toMatch(new RegExp(`^b-${id.toLowerCase()}-1-[0-9a-z]{10}@bounces\\.relay\\.test$`));
    for (const m of [first, second]) {
      expect(m.messageId).toBe('<order-1@shop.test>');
      expect(m.raw.toString()).toContain('\r\n\r\nThank you for your order.\r\n.leading dot line\r\n');
      expect(m.raw.toString()).toMatch(/^Received: from [^\r]+\r\n\tby relay\.test \(mailgate\) with ESMTPA id /);
    }
    const { events: evs } = await waitForEvent(w.mg, 'buyer@example.test', 'delivered');
    expect(evs.map((e) => e.type)).toEqual(['accepted', 'delivered']);
    expect(evs[1]).toMatchObject({ msgId: id, upstream: 'shop-smtp', reply: { code: 250 } });
    const metrics = await (await fetch(`${w.mg.adminUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    expect(metrics).toMatch(/^mailgate_recipients_delivered_total\{tenant="shop"\} [1-9]/m);
    expect(metrics).toMatch(/^mailgate_delivery_latency_seconds_count [1-9]/m);
  });

  it('refuses a wrong password with 535', async () => {
    await expect(client(w.mg, { user: 'shop', pass: 'wrong' }).sendMail({ from: 'a@shop.test', to: 'b@example.test', text: 'x' }))
      .rejects.toMatchObject({ responseCode: 535 });
    await expect(client(w.mg, { user: 'nobody', pass: 'correct-horse' }).sendMail({ from: 'a@shop.test', to: 'b@example.test', text: 'x' }))
      .rejects.toMatchObject({ responseCode: 535 });
  });

  it('refuses to relay for an unauthenticated client outside every tenant network', async () => {
    const err = await client(w.mg).sendMail({ from: 'a@evil.test', to: 'victim@example.test', text: 'spam' }).catch((e: Error & { responseCode?: number; response?: string }) => e);
    expect(err).toMatchObject({ responseCode: 554 });
    expect((err as { response: string }).response).toMatch(/Relay access denied/);
    expect(w.sink.messages).toHaveLength(0);
  });

  it('accepts a client of a trusted network without AUTH', async () => {
    const info = await client(w.mg, undefined, '127.0.0.2').sendMail({ from: 'legacy@legacy.test', to: 'buyer2@example.test', subject: 'net', text: 'by network' });
    expect(info.response).toMatch(/queued as/);
    const [msg] = await w.sink.waitFor(1);
    expect(msg!.to).toEqual(['buyer2@example.test']);
  });

  it('answers 552 to a message over the size limit and relays nothing', async () => {
    const err = await client(w.mg, { user: 'shop', pass: 'correct-horse' })
      .sendMail({ from: 'a@shop.test', to: 'big@example.test', text: 'x'.repeat(30_000) })
      .catch((e: Error) => e);
    expect(err).toMatchObject({ responseCode: 552 });
    await new Promise((r) => setTimeout(r, 300));
    expect(w.sink.messages).toHaveLength(0);
    expect(await eventsFor(w.mg, 'big@example.test')).toEqual([]);
  });

  it('fails one rejected recipient and delivers the other', async () => {
    await client(w.mg, { user: 'shop', pass: 'correct-horse' }).sendMail({
      envelope: { from: 'orders@shop.test', to: ['nobody@example.test', 'somebody@example.test'] },
      raw: 'Subject: two\r\n\r\nbody\r\n',
    });
    const [msg] = await w.sink.waitFor(1);
    expect(msg!.to).toEqual(['somebody@example.test']);
    const { match: failed } = await waitForEvent(w.mg, 'nobody@example.test', 'failed');
    expect(failed.reply).toEqual({ code: 550, enhanced: '5.1.1', text: '<nobody@x.test>: Recipient address rejected: User unknown', command: 'RCPT' });
    expect(failed.code).toBe('UPSTREAM_REJECTED');
    expect(failed).toMatchObject({ class: 'hard', reason: 'user-unknown' });
    await waitForEvent(w.mg, 'somebody@example.test', 'delivered');
  });

  it('re-sends a failed message to a corrected address, linked to the original', async () => {
    const info = await client(w.mg, { user: 'shop', pass: 'correct-horse' }).sendMail({
      envelope: { from: 'orders@shop.test', to: ['nobody@typo.test'] },
      raw: 'Subject: ticket 99\r\nMessage-ID: <ticket-99@shop.test>\r\n\r\nYour ticket\r\n',
    });
    const id = info.response.split(' ').pop()!;
    await waitForEvent(w.mg, 'nobody@typo.test', 'failed');
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const res = await fetch(`${w.mg.adminUrl}/api/v1/messages/${id}/resend`, { method: 'POST', headers: auth, body: JSON.stringify({ recipient: 'fixed@example.test' }) });
    expect(res.status).toBe(201);
    const { id: newId, resendOf } = (await res.json()) as { id: string; resendOf: string };
    expect(resendOf).toBe(id);
    expect(newId).not.toBe(id);
    const [msg] = await w.sink.waitFor(1);
    expect(msg!.to).toEqual(['fixed@example.test']);
    expect(msg!.messageId).toBe('<ticket-99@shop.test>');
    expect(msg!.raw.toString()).toContain('\r\n\r\nYour ticket\r\n');
    expect((await waitForEvent(w.mg, 'nobody@typo.test', 'resent')).match).toMatchObject({ msgId: id });
    const bad = await fetch(`${w.mg.adminUrl}/api/v1/messages/${id}/resend`, { method: 'POST', headers: auth, body: JSON.stringify({ recipient: 'not an address' }) });
    expect(bad.status).toBe(400);
    expect((await fetch(`${w.mg.adminUrl}/api/v1/messages/0000000000000000000Z/resend`, { method: 'POST', headers: auth, body: '{}' })).status).toBe(404);
  });

  it('records a rejected internationalised address as failed, never as delivered', async () => {
    await client(w.mg, { user: 'shop', pass: 'correct-horse' }).sendMail({
      envelope: { from: 'orders@shop.test', to: ['nobody@müller.example', 'max@müller.example'] },
      raw: 'Subject: idn\r\n\r\nbody\r\n',
    });
    const { match } = await waitForEvent(w.mg, 'nobody@müller.example', ['failed', 'delivered']);
    expect(match).toMatchObject({ type: 'failed', reply: { code: 550 } });
    expect((await waitForEvent(w.mg, 'max@müller.example', ['failed', 'delivered'])).match.type).toBe('delivered');
  });

  it('greets submission clients at once: an app that talks first is not refused as an early talker', async () => {
    const net = await import('node:net');
    const replies = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(w.mg.submission.port, '127.0.0.1', () => sock.write('EHLO eager.test\r\n'));
      let text = '';
      sock.setEncoding('latin1');
      sock.on('data', (c: string) => {
        text += c;
        if (/^250 /m.test(text) || /^[45]\d\d /m.test(text)) { sock.end(); resolve(text); }
      });
      sock.on('error', reject);
    });
    expect(replies).toMatch(/^220 /);
    expect(replies).toMatch(/^250 /m);
    expect(replies).not.toMatch(/too soon/i);
  });

  it('advertises SIZE, PIPELINING, 8BITMIME and SMTPUTF8, and limits recipients', async () => {
    const d = await openDialogue(w.mg.submission.port);
    const [ehlo] = await d.send('EHLO client.test\r\n');
    for (const ext of ['SIZE 20000', 'PIPELINING', '8BITMIME', 'SMTPUTF8', 'AUTH PLAIN LOGIN']) expect(ehlo).toContain(ext);
    const auth = Buffer.from('\0shop\0correct-horse').toString('base64');
    // Pipelined: one write, one reply per command.
    const rcpts = Array.from({ length: 6 }, (_, i) => `RCPT TO:<r${i}@example.test>\r\n`).join('');
    const replies = await d.send(`AUTH PLAIN ${auth}\r\nMAIL FROM:<a@shop.test>\r\n${rcpts}`, 8);
    expect(replies[0]).toMatch(/^235/);
    expect(replies.slice(2, 7).every((r) => r.startsWith('250'))).toBe(true);
    expect(replies[7]).toMatch(/^452 4\.5\.3/);
    await d.close();
  });

  it('relays an SMTPUTF8 message with 8-bit headers intact', async () => {
    const d = await openDialogue(w.mg.submission.port);
    await d.send('EHLO client.test\r\n');
    await d.send(`AUTH PLAIN ${Buffer.from('\0shop\0correct-horse').toString('base64')}\r\n`);
    await d.send('MAIL FROM:<bestellung@shop.test> SMTPUTF8 BODY=8BITMIME\r\n');
    await d.send('RCPT TO:<käufer@example.test>\r\n');
    await d.send('DATA\r\n');
    const [done] = await d.send(Buffer.from('Subject: Bestätigung\r\nFrom: bestellung@shop.test\r\n\r\nGrüße\r\n.\r\n', 'utf8'));
    expect(done).toMatch(/^250 2\.0\.0 Ok: queued as/);
    await d.close();
    const [msg] = await w.sink.waitFor(1);
    expect(msg!.to).toEqual(['käufer@example.test']);
    expect(msg!.raw.toString('utf8')).toContain('Subject: Bestätigung\r\n');
    expect(msg!.raw.toString('utf8')).toContain('Grüße\r\n');
  });

  it('never lets bare-LF end-of-data tricks turn one DATA into two messages', async () => {
    const d = await openDialogue(w.mg.submission.port);
    await d.send('EHLO client.test\r\n');
    await d.send(`AUTH PLAIN ${Buffer.from('\0shop\0correct-horse').toString('base64')}\r\n`);
    await d.send('MAIL FROM:<a@shop.test>\r\n');
    await d.send('RCPT TO:<smuggle@example.test>\r\n');
    await d.send('DATA\r\n');
    const smuggled =
      'Subject: one\r\n\r\nfirst part\n.\nMAIL FROM:<evil@evil.test>\nRCPT TO:<victim@example.test>\nDATA\nsmuggled\n.\r' +
      '\nmore\r.\r\nstill data\r\n.\r\n';
    const [reply] = await d.send(smuggled);
    expect(reply).toMatch(/^250 2\.0\.0 Ok: queued as/);
    await d.close();
    const [msg] = await w.sink.waitFor(1);
    await new Promise((r) => setTimeout(r, 500));
    expect(w.sink.messages).toHaveLength(1);
    expect(msg!.to).toEqual(['smuggle@example.test']);
    const body = msg!.raw.toString();
    expect(body).toContain('MAIL FROM:<evil@evil.test>');
    expect(body).toContain('still data');
    // What reached the upstream has only CRLF line ends.
    expect(/[^\r]\n|\r[^\n]/.test(body)).toBe(false);
    expect(await eventsFor(w.mg, 'victim@example.test')).toEqual([]);
  });
});

describe('retries', () => {
  let dir: string;
  let mg: MailgateProcess;
  let sink: Sink | undefined;

  afterAll(async () => {
    await mg?.kill();
    await sink?.close();
    await removeDir(dir);
  });

  it('defers while the upstream is down and delivers once it is back', async () => {
    dir = await makeTempDir('mg-retry-');
    const probe = await startSink();
    const port = probe.port;
    await probe.close();
    const cfg = await writeConfig(dir, testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('flaky', port)],
      tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, password: correct-horse } ], upstream: flaky }'],
      extra: 'queue: { retrySchedule: [1s], maxAge: 1h }',
    }));
    mg = await startMailgate({ configFile: cfg });
    await client(mg, { user: 'shop', pass: 'correct-horse' }).sendMail({ from: 'a@shop.test', to: 'later@example.test', subject: 's', text: 'retry me' });
    const { match: deferred } = await waitForEvent(mg, 'later@example.test', 'deferred');
    expect(deferred.code).toBe('UPSTREAM_UNREACHABLE');
    expect(deferred.reply!.text).toMatch(/ECONNREFUSED/);
    sink = await startSink({ port });
    const [msg] = await sink.waitFor(1, 15_000);
    expect(msg!.to).toEqual(['later@example.test']);
    const { events: evs } = await waitForEvent(mg, 'later@example.test', 'delivered');
    expect(evs.filter((e) => e.type === 'delivered')).toHaveLength(1);
    // Every log line about a message names the message and its tenant, the deferred and delivered attempts included.
    const about = mg.logs.filter((l) => 'msgId' in l);
    expect(about.length).toBeGreaterThanOrEqual(3);
    expect(about.filter((l) => l.tenant !== 'shop')).toEqual([]);
  });
});
