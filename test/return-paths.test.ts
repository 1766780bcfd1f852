// queue.returnPath: message sends a message to several recipients in one transaction per server, its
// return path naming the message ("b-<id>-m-<mac>@…"), instead of one transaction and return path per
// recipient (the default, `recipient`). Every recipient sees that shared return path, so a bounce to
// it never suppresses: the recipients a delivery status report names that the message was sent to get
// the bounce recorded and their state set; a report that does not name one of them in its status
// fields (free text is not trusted) is an operator warning about the message. Real sinks and the
// inbound listener over SMTP.
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

/** The same bounce as plain text, the way some MTAs write it: names guessed from text count for nothing. */
function textBounce(to: string, recipient: string): string {
  return [
    'From: MAILER-DAEMON@mx.example.com', `To: ${to}`, 'Subject: Undeliverable: Order 7', '',
    'Your message did not reach some or all of the intended recipients.', '',
    `    ${recipient}`, '    The e-mail account does not exist at the organization this message was sent to. #5.1.1', '',
  ].join('\r\n');
}

describe('several recipients, one transaction (queue.returnPath: message)', () => {
  const w = world('mg-retpath-', 'queue: { returnPath: message }');
  const suppressed = async () => ((await (await w.api('/suppression?tenant=shop')).json()) as { entries: Array<{ address: string }> }).entries.map((e) => e.address).sort();

  it('sends one transaction with the message return path; a bounce to it is recorded for the recipients a DSN names and suppresses no one', async () => {
    const to = ['anna@example.com', 'ben@example.com', 'cleo@example.com'];
    await w.submit({ user: 'shop', pass: 'correct-horse' }).sendMail({ from: 'orders@shop.test', to, subject: 'Order 7', text: 'x' });
    const [relayed] = await w.sink.waitFor(1);
    expect(relayed!.to.sort()).toEqual(to);
    expect(relayed!.from).toMatch(/^b-[0-9a-z]{20}-m-[0-9a-z]{10}@bounces\.relay\.test$/);
    await new Promise((r) => setTimeout(r, 300));
    expect(w.sink.messages).toHaveLength(1);

    // A DSN naming ben (and a stranger): ben's bounce is recorded, but nobody is suppressed — anna or
    // cleo saw the same return path and could have written it.
    await w.inbound().sendMail({ envelope: { from: '', to: relayed!.from }, raw: dsn(relayed!.from, ['ben@example.com', 'stranger@example.org']) });
    const { match } = await waitForEvent(w.mg, 'ben@example.com', 'bounced');
    expect(match).toMatchObject({ class: 'hard', reason: 'user-unknown', code: 'RECIPIENT_BOUNCED' });
    expect(match.detail).toMatch(/sent to 3 recipients in one transaction: recorded, not suppressed/);
    expect(await suppressed()).toEqual([]);
    expect((await eventsFor(w.mg, 'stranger@example.org'))).toEqual([]);

    // Plain text naming cleo: the name is a guess from free text, so the bounce is an operator warning about the message.
    await w.inbound().sendMail({ envelope: { from: '', to: relayed!.from }, raw: textBounce(relayed!.from, 'cleo@example.com') });
    await w.mg.waitForLog((l) => l.msg === 'inbound warning' && l.proven === false);
    const all = (await (await w.api('/errors?tenant=shop')).json()) as { events: Array<{ type: string; code?: string; recipient: string; detail?: string }> };
    const unnamed = all.events.find((e) => e.code === 'BOUNCE_UNATTRIBUTED');
    expect(unnamed).toMatchObject({ type: 'warning', recipient: '' });
    expect(unnamed?.detail).toMatch(/sent to 3 recipients in one transaction\) that does not say in a delivery status report which of them it is about \(its text names cleo@example\.com\): recorded, not acted on/);
    expect(await suppressed()).toEqual([]);
    expect((await eventsFor(w.mg, 'cleo@example.com')).map((e) => e.type)).toEqual(['accepted', 'delivered']);
  });

  it('a single recipient keeps its own return path', async () => {
    w.sink.messages.length = 0;
    await w.submit({ user: 'shop', pass: 'correct-horse' }).sendMail({ from: 'orders@shop.test', to: 'dora@example.com', subject: 'Order 8', text: 'x' });
    const [relayed] = await w.sink.waitFor(1);
    expect(relayed!.from).toMatch(/^b-[0-9a-z]{20}-0-[0-9a-z]{10}@bounces\.relay\.test$/);
  });
});

describe('queue.returnPath: recipient (the default)', () => {
  const w = world('mg-retpath-rcpt-');

  it('sends each recipient its own transaction and return path, and a bounce to it suppresses that recipient', async () => {
    await w.submit({ user: 'shop', pass: 'correct-horse' }).sendMail({ from: 'orders@shop.test', to: ['anna@example.com', 'ben@example.com'], subject: 'Order 9', text: 'x' });
    const got = await w.sink.waitFor(2);
    expect(got.map((m) => m.to)).toEqual(expect.arrayContaining([['anna@example.com'], ['ben@example.com']]));
    expect(got.map((m) => m.from.replace(/^b-[0-9a-z]{20}-(\d)-.*/, '$1')).sort()).toEqual(['0', '1']);
    const toBen = got.find((m) => m.to[0] === 'ben@example.com')!;
    await w.inbound().sendMail({ envelope: { from: '', to: toBen.from }, raw: dsn(toBen.from, ['ben@example.com']) });
    await waitForEvent(w.mg, 'ben@example.com', 'bounced');
    const entries = ((await (await w.api('/suppression?tenant=shop')).json()) as { entries: Array<{ address: string }> }).entries;
    expect(entries.map((e) => e.address)).toEqual(['ben@example.com']);
  });
});
