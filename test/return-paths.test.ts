// A message to several recipients goes out in one transaction per server, its return path naming the
// message ("b-<id>-m-<mac>@…") instead of one transaction and return path per recipient (issue 22: the
// cost per transaction). A bounce to that return path suppresses only the recipients it names that the
// message was sent to; one that names none of them is recorded against the message and suppresses no
// one. queue.returnPath: recipient keeps one transaction per recipient. Real sinks and the inbound
// listener over SMTP.
import { describe, expect, it } from 'vitest';
import { sinkUpstream, testConfig } from './helpers/config.js';
import { eventsFor, waitForEvent } from './helpers/events.js';
import { useMailgate } from './helpers/use-mailgate.js';

/** A DSN naming `recipients` (each failed with 5.1.1), sent back to `to`. */
function dsn(to: string, recipients: string[]): string {
  return [
    'From: MAILER-DAEMON@mx.example.com (Mail Delivery System)', `To: ${to}`, 'Subject: Undelivered Mail Returned to Sender',
    'MIME-Version: 1.0', 'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"', '',
    '--B1', 'Content-Type: text/plain', '', 'This is the mail system at host mx.example.com.', '',
    ...recipients.map((r) => `<${r}>: host mx.example.com[192.0.2.1] said: 550 5.1.1 User unknown (in reply to RCPT TO command)\r\n`),
    '--B1', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; mx.example.com', '',
    ...recipients.map((r) => `Final-Recipient: rfc822; ${r}\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\r\n`),
    '--B1--', '',
  ].join('\r\n');
}

const world = (prefix: string, extra = '') => useMailgate({
  prefix,
  sinks: [{}],
  config: ({ dir, sinks }) => testConfig({
    dataDir: `${dir}/data`,
    upstreams: [sinkUpstream('up', sinks[0]!.port)],
    tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, password: correct-horse } ], upstream: up }'],
    extra,
  }),
});

describe('several recipients, one transaction (queue.returnPath: message, the default)', () => {
  const w = world('mg-retpath-');
  const suppressed = async () => ((await (await w.api('/suppression?tenant=shop')).json()) as { entries: Array<{ address: string }> }).entries.map((e) => e.address).sort();

  it('sends one transaction with the message return path, and suppresses only the recipients a bounce names', async () => {
    const to = ['anna@example.com', 'ben@example.com', 'cleo@example.com'];
    await w.submit({ user: 'shop', pass: 'correct-horse' }).sendMail({ from: 'orders@shop.test', to, subject: 'Order 7', text: 'x' });
    const [relayed] = await w.sink.waitFor(1);
    expect(relayed!.to.sort()).toEqual(to);
    expect(relayed!.from).toMatch(/^b-[0-9a-z]{20}-m-[0-9a-z]{10}@bounces\.relay\.test$/);
    await new Promise((r) => setTimeout(r, 300));
    expect(w.sink.messages).toHaveLength(1);

    // A bounce naming ben (and a stranger): ben is suppressed, the stranger and the others are not.
    await w.inbound().sendMail({ envelope: { from: '', to: relayed!.from }, raw: dsn(relayed!.from, ['ben@example.com', 'stranger@example.org']) });
    const { match } = await waitForEvent(w.mg, 'ben@example.com', 'bounced');
    expect(match).toMatchObject({ class: 'hard', reason: 'user-unknown', code: 'RECIPIENT_BOUNCED' });
    expect(match.detail).toBeUndefined();
    expect(await suppressed()).toEqual(['ben@example.com']);

    // A bounce to the same return path that names none of the message's recipients: recorded, not acted on.
    await w.inbound().sendMail({ envelope: { from: '', to: relayed!.from }, raw: dsn(relayed!.from, ['forwarded@elsewhere.example']) });
    await w.mg.waitForLog((l) => l.msg === 'inbound bounced' && l.proven === false);
    const all = (await (await w.api('/errors?tenant=shop')).json()) as { events: Array<{ type: string; recipient: string; detail?: string }> };
    const unnamed = all.events.find((e) => e.type === 'bounced' && e.recipient === '');
    expect(unnamed?.detail).toMatch(/sent to 3 recipients in one transaction\) that does not name one of them \(it names forwarded@elsewhere\.example\): recorded, not acted on/);
    expect(await suppressed()).toEqual(['ben@example.com']);
    expect((await eventsFor(w.mg, 'anna@example.com')).map((e) => e.type)).toEqual(['accepted', 'delivered']);
  });

  it('a single recipient keeps its own return path', async () => {
    w.sink.messages.length = 0;
    await w.submit({ user: 'shop', pass: 'correct-horse' }).sendMail({ from: 'orders@shop.test', to: 'dora@example.com', subject: 'Order 8', text: 'x' });
    const [relayed] = await w.sink.waitFor(1);
    expect(relayed!.from).toMatch(/^b-[0-9a-z]{20}-0-[0-9a-z]{10}@bounces\.relay\.test$/);
  });
});

describe('queue.returnPath: recipient', () => {
  const w = world('mg-retpath-rcpt-', 'queue: { returnPath: recipient }');

  it('sends each recipient its own transaction and return path', async () => {
    await w.submit({ user: 'shop', pass: 'correct-horse' }).sendMail({ from: 'orders@shop.test', to: ['anna@example.com', 'ben@example.com'], subject: 'Order 9', text: 'x' });
    const got = await w.sink.waitFor(2);
    expect(got.map((m) => m.to)).toEqual(expect.arrayContaining([['anna@example.com'], ['ben@example.com']]));
    expect(got.map((m) => m.from.replace(/^b-[0-9a-z]{20}-(\d)-.*/, '$1')).sort()).toEqual(['0', '1']);
  });
});
