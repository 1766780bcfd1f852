// A message's whole life as a shop admin follows it: delivered through a smarthost, then a bounce
// days later changes the recipient's state (hard or soft, with the remote server's words); a
// complaint too. The Message-ID mailgate added is stored and found; the content is kept after
// delivery (retention.bodies), so its raw source can be read and it can be re-sent to a corrected
// address; `mailgate show` prints both. A short retention in a second relay shows the content going.
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, sinkUpstream, testConfig } from './helpers/config.js';
import { waitForEvent } from './helpers/events.js';
import { runCli } from './helpers/mailgate-process.js';
import { useMailgate } from './helpers/use-mailgate.js';

function dsn(to: string, recipient: string, status: string, diagnostic: string): string {
  return [
    'From: MAILER-DAEMON@mx.example.com', `To: ${to}`, 'Subject: Undelivered Mail Returned to Sender', 'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"', '',
    '--B1', 'Content-Type: text/plain', '', `<${recipient}>: host mx.example.com said: ${diagnostic}`, '',
    '--B1', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; mx.example.com', '',
    `Final-Recipient: rfc822; ${recipient}`, 'Action: failed', `Status: ${status}`, `Diagnostic-Code: smtp; ${diagnostic}`, '',
    '--B1--', '',
  ].join('\r\n');
}

function arf(to: string, recipient: string): string {
  return [
    'From: fbl@isp.example', `To: ${to}`, 'Subject: complaint', 'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report; boundary="F"', '',
    '--F', 'Content-Type: text/plain', '', 'This is an email abuse report', '',
    '--F', 'Content-Type: message/feedback-report', '', 'Feedback-Type: abuse', 'User-Agent: ExampleFBL/1.0', 'Version: 1', `Original-Rcpt-To: <${recipient}>`, '',
    '--F', 'Content-Type: text/rfc822-headers', '', `To: ${recipient}`, '', '--F--', '',
  ].join('\r\n');
}

/** A message as an old PHP app writes it: no Message-ID of its own. */
const raw = (to: string, subject: string) => [
  'From: orders@shop.test', `To: ${to}`, `Subject: ${subject}`, 'X-Order-Id: A-7', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '',
  'Your order A-7 is confirmed.', 'Ticket code: 4711', '',
].join('\r\n');

type Recipient = { address: string; status: string; delivery: string; outcome?: { type: string; class?: string; reason?: string; diagnostic?: string } };
type Message = { id: string; messageId: string | null; contentKeptUntil: number | null; recipients: Recipient[] };

describe('a message after delivery', () => {
  const w = useMailgate({
    prefix: 'mg-life-',
    sinks: [{}],
    config: ({ dir, sinks }) => testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('smarthost', sinks[0]!.port)],
      tenants: [
        '{ id: shop, name: Shop, auth: [ { user: shop, password: correct-horse } ], upstream: smarthost }',
        '{ id: other, name: Other, auth: [ { user: other, password: correct-horse } ], upstream: smarthost }',
      ],
    }),
  });
  const json = async <T>(path: string, init?: Parameters<typeof w.api>[1]) => {
    const r = await w.api(path, init);
    return { status: r.status, body: (await r.json()) as T };
  };
  /** Sends one message, waits for it at the smarthost; its queue id and VERP return path. */
  const deliver = async (to: string, subject: string) => {
    const before = w.sink.messages.length;
    const info = await w.submit({ user: 'shop', pass: 'correct-horse' }).sendMail({ envelope: { from: 'orders@shop.test', to: [to] }, raw: raw(to, subject) });
    const id = info.response.split(' ').pop()!;
    const [, relayed] = [await w.sink.waitFor(before + 1), w.sink.messages[before]!];
    await waitForEvent(w.mg, to, 'delivered');
    return { id, verp: relayed.from, relayed };
  };

  it('finds messages by a part of the recipient\'s name as the To header gives it', async () => {
    const info = await w.submit({ user: 'shop', pass: 'correct-horse' }).sendMail({ from: 'orders@shop.test', to: '"Schmidt, Anna" <anna.s@example.com>', subject: 'Order 9', text: 'x' });
    const id = info.response.split(' ').pop()!;
    await waitForEvent(w.mg, 'anna.s@example.com', 'delivered'); // at the sink before the next test counts it
    for (const part of ['schmidt', 'ANNA', 'anna']) {
      const found = (await json<{ messages: Message[] }>(`/messages?tenant=shop&name=${part}`)).body.messages.map((m) => m.id);
      expect(found, part).toContain(id);
    }
    expect((await json<{ messages: Message[] }>('/messages?tenant=shop&name=example')).body.messages.map((m) => m.id)).not.toContain(id); // not the address
    expect((await json<{ messages: Message[] }>('/messages?tenant=other&name=schmidt')).body.messages).toEqual([]);
  });

  it('stores the Message-ID it added, and finds the message by it', async () => {
    const { id, relayed } = await deliver('anna@example.com', 'Order A-7');
    const header = /^Message-ID: (.*)$/im.exec(relayed.raw.toString())![1]!.trim();
    const m = (await json<Message>(`/messages/${id}`)).body;
    expect(m.messageId).toBe(header);
    expect(header.toLowerCase()).toContain(id.toLowerCase());
    const found = (await json<{ messages: Message[] }>(`/messages?tenant=shop&messageId=${encodeURIComponent(header)}`)).body.messages;
    expect(found.map((x) => x.id)).toEqual([id]);
    // Another shop does not find it by its Message-ID.
    expect((await json<{ messages: Message[] }>(`/messages?tenant=other&messageId=${encodeURIComponent(header)}`)).body.messages).toEqual([]);
  });

  it('a later hard bounce, soft bounce and complaint change the recipient from delivered, with the reason and the server\'s words', async () => {
    const hard = await deliver('gone@example.com', 'Order 1');
    const soft = await deliver('full@example.com', 'Order 2');
    const complaint = await deliver('angry@example.com', 'Order 3');
    expect((await json<Message>(`/messages/${hard.id}`)).body.recipients[0]).toMatchObject({ status: 'delivered' });

    await w.inbound().sendMail({ envelope: { from: '', to: hard.verp }, raw: dsn(hard.verp, 'gone@example.com', '5.1.1', '550 5.1.1 <gone@example.com>: User unknown') });
    await w.inbound().sendMail({ envelope: { from: '', to: soft.verp }, raw: dsn(soft.verp, 'full@example.com', '5.2.2', '552 5.2.2 Mailbox full, quota exceeded') });
    await w.inbound().sendMail({ envelope: { from: '', to: complaint.verp }, raw: arf(complaint.verp, 'angry@example.com') });
    await waitForEvent(w.mg, 'gone@example.com', 'bounced');
    await waitForEvent(w.mg, 'full@example.com', 'bounced');
    await waitForEvent(w.mg, 'angry@example.com', 'complained');

    const h = (await json<Message>(`/messages/${hard.id}`)).body.recipients[0]!;
    expect(h).toMatchObject({ status: 'bounced', delivery: 'delivered', outcome: { type: 'bounced', class: 'hard', reason: 'user-unknown' } });
    expect(h.outcome!.diagnostic).toContain('User unknown');
    const s = (await json<Message>(`/messages/${soft.id}`)).body.recipients[0]!;
    expect(s).toMatchObject({ status: 'bounced', outcome: { class: 'soft', reason: 'mailbox-full' } });
    expect((await json<Message>(`/messages/${complaint.id}`)).body.recipients[0]).toMatchObject({ status: 'complained' });

    // Lists agree, and filter by the new states.
    const bounced = (await json<{ messages: Message[] }>('/messages?tenant=shop&status=bounced')).body.messages.map((m) => m.id).sort();
    expect(bounced).toEqual([hard.id, soft.id].sort());
    const listed = (await json<{ messages: Message[] }>('/messages?tenant=shop&recipient=gone@example.com')).body.messages[0]!;
    expect(listed.recipients[0]!.status).toBe('bounced');
    expect((await json<{ messages: Message[] }>('/messages?tenant=shop&status=complained')).body.messages.map((m) => m.id)).toEqual([complaint.id]);

    // The next message to the hard-bounced address is not sent: its recipient reads "suppressed".
    const info = await w.submit({ user: 'shop', pass: 'correct-horse' }).sendMail({ envelope: { from: 'orders@shop.test', to: ['gone@example.com'] }, raw: raw('gone@example.com', 'Order 4') });
    const next = (await json<Message>(`/messages/${info.response.split(' ').pop()}`)).body.recipients[0]!;
    expect(next).toMatchObject({ status: 'suppressed', delivery: 'failed', outcome: { type: 'suppressed', class: 'hard' } });
  });

  it('keeps the content after delivery: raw source for its tenant only, and a re-send to a corrected address after the bounce', async () => {
    const { id, verp } = await deliver('anna@exampel.com', 'Tickets for Saturday');
    await w.inbound().sendMail({ envelope: { from: '', to: verp }, raw: dsn(verp, 'anna@exampel.com', '5.1.2', '550 5.1.2 Host unknown: domain exampel.com') });
    await waitForEvent(w.mg, 'anna@exampel.com', 'bounced');

    const m = (await json<Message>(`/messages/${id}`)).body;
    const week = 7 * 24 * 3600 * 1000;
    expect(m.contentKeptUntil).toBeGreaterThan(Date.now() + week - 60_000);

    const source = await w.api(`/messages/${id}/raw`);
    expect(source.status).toBe(200);
    expect(source.headers.get('content-type')).toMatch(/^message\/rfc822/);
    const text = await source.text();
    expect(text).toContain('Subject: Tickets for Saturday');
    expect(text).toContain('Ticket code: 4711');
    expect(text).not.toMatch(/^DKIM-Signature:/im); // as the app sent it
    const head = await w.api(`/messages/${id}/raw?maxBytes=20`);
    expect((await head.text()).length).toBe(20);

    // Another shop's token: 403; an unknown id: 404.
    const token = (await json<{ token: string }>('/tenants/other/tokens', { method: 'POST', body: { name: 'support' } })).body.token;
    expect((await w.api(`/messages/${id}/raw`, { token })).status).toBe(404); // as if there were none: nothing learnt of another shop's ids
    expect((await w.api('/messages/AAAAAAAAAAAAAAAAAAAA/raw')).status).toBe(404);

    // The mistyped address bounced and is suppressed: re-sending to it would fail at once, so it is refused with the reason.
    const again = await w.api(`/messages/${id}/resend`, { method: 'POST', body: { recipient: 'anna@exampel.com' } });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: 'SUPPRESSED', message: expect.stringMatching(/^anna@exampel\.com \(.+\) is on the suppression list, so the message would not go out: correct the address/) });
    const before = w.sink.messages.length;
    const resent = await json<{ id: string }>(`/messages/${id}/resend`, { method: 'POST', body: { recipient: 'anna@example.com' } });
    expect(resent.status).toBe(201);
    const [, copy] = [await w.sink.waitFor(before + 1), w.sink.messages[before]!];
    expect(copy.to).toEqual(['anna@example.com']);
    expect(copy.raw.toString()).toContain('Ticket code: 4711');

    const shown = await runCli(['show', id.toLowerCase(), '--config', w.configFile], { env: { MAILGATE_TOKEN: ADMIN_TOKEN } });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/recipient: anna@exampel\.com {2}bounced/);
    expect(shown.stdout).toContain('Subject: Tickets for Saturday');
  });
});

describe('a short retention', () => {
  const w = useMailgate({
    prefix: 'mg-retention-',
    sinks: [{}],
    config: ({ dir, sinks }) => testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('smarthost', sinks[0]!.port)],
      tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, password: correct-horse } ], upstream: smarthost }'],
      extra: 'retention: { bodies: 2s }',
    }),
  });

  it('lets the content go when its time is up: raw source and re-send answer 410', async () => {
    const info = await w.submit({ user: 'shop', pass: 'correct-horse' }).sendMail({ envelope: { from: 'orders@shop.test', to: ['bob@example.com'] }, raw: raw('bob@example.com', 'Order') });
    const id = info.response.split(' ').pop()!;
    await w.sink.waitFor(1);
    await waitForEvent(w.mg, 'bob@example.com', 'delivered');
    expect((await w.api(`/messages/${id}/raw`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2500));
    const gone = await w.api(`/messages/${id}/raw`);
    expect(gone.status).toBe(410);
    expect(((await gone.json()) as { error: string }).error).toBe('BODY_GONE');
    expect((await w.api(`/messages/${id}/resend`, { method: 'POST', body: { recipient: 'bob@example.org' } })).status).toBe(410);
    expect(((await (await w.api(`/messages/${id}`)).json()) as Message).contentKeptUntil).toBeNull();
  });
});

describe('a recipient deferred again and again', () => {
  let tries = 0;
  const w = useMailgate({
    prefix: 'mg-deferred-',
    sinks: [{ rcptReply: () => (++tries <= 3 ? { code: 451, message: '4.7.1 greylisted, try again later' } : undefined) }],
    config: ({ dir, sinks }) => testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('smarthost', sinks[0]!.port)],
      tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, password: correct-horse } ], upstream: smarthost }'],
      extra: 'queue: { retrySchedule: [1s] }',
    }),
  });

  it('is in the error log and its counter once, while its message history has every attempt', async () => {
    const info = await w.submit({ user: 'shop', pass: 'correct-horse' }).sendMail({ envelope: { from: 'orders@shop.test', to: ['slow@example.com'] }, raw: raw('slow@example.com', 'Order') });
    const id = info.response.split(' ').pop()!;
    await w.sink.waitFor(1, 15_000);
    await waitForEvent(w.mg, 'slow@example.com', 'delivered');
    const errors = (await (await w.api('/errors?tenant=shop')).json()) as { events: Array<{ type: string }> };
    expect(errors.events.map((e) => e.type)).toEqual(['deferred']);
    expect(((await (await w.api('/errors/count?tenant=shop&since=0')).json()) as { count: number }).count).toBe(1);
    const history = (await (await w.api(`/messages/${id}`)).json()) as { events: Array<{ type: string }> };
    expect(history.events.filter((e) => e.type === 'deferred')).toHaveLength(3);
  }, 30_000);
});
