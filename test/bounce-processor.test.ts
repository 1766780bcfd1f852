// The bounce processor on a real store: soft bounces suppress only after repeated failures over
// days with no delivery in between (deliveries through the real scheduler to a loopback SMTP sink),
// and a bounce sent back without the VERP token is attributed by the original Message-ID.
import { Resolver } from 'node:dns/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BounceProcessor, deliveryOutcomeOps } from '../src/bounces/processor.js';
import { SOFT_LIMIT, SoftBounceCounter } from '../src/bounces/soft-bounces.js';
import type { SmtpUpstream } from '../src/config/types.js';
import { Deliverer } from '../src/delivery/deliverer.js';
import { messageIdTag, verpAddress } from '../src/identity/verp.js';
import { newQueueId } from '../src/queue/ids.js';
import { Scheduler } from '../src/queue/scheduler.js';
import { Spool } from '../src/queue/spool.js';
import type { MessageRecord, QueueEvent } from '../src/store/records.js';
import { EventLog } from '../src/store/event-log.js';
import { openStore, type Store } from '../src/store/open.js';
import { SuppressionList } from '../src/store/suppression.js';
import { openBounceWorld, type BounceWorld } from './helpers/bounce-world.js';
import { startSink, type Sink } from './helpers/smtp-sink.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';

const DAY = 24 * 60 * 60 * 1000;
const secret = Buffer.alloc(32, 7);
const bounceDomain = 'bounces.relay.test';

function dsn(to: string, recipient: string, status: string, diagnostic: string, messageId = '<x@y>'): Buffer {
  return Buffer.from([
    'From: MAILER-DAEMON@mx.example.com', `To: ${to}`, 'Subject: Undelivered Mail Returned to Sender', 'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B"', '', '--B', 'Content-Type: text/plain', '', 'failed', '',
    '--B', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; mx.example.com', '',
    `Final-Recipient: rfc822; ${recipient}`, 'Action: failed', `Status: ${status}`, `Diagnostic-Code: smtp; ${diagnostic}`, '',
    '--B', 'Content-Type: text/rfc822-headers', '', `Message-ID: ${messageId}`, `To: ${recipient}`, '', '--B--', '',
  ].join('\r\n'));
}

describe('bounce processor', () => {
  let now = 0;
  let world: BounceWorld;
  let processor: BounceProcessor;
  let suppression: SuppressionList;

  beforeEach(async () => {
    world = await openBounceWorld({ secret, bounceDomain, now: () => now });
    ({ processor, suppression } = world);
  });
  afterEach(() => world.close());

  const message = (id: string, to: string | string[], messageId?: string) => world.message(id, to, messageId ? { messageId } : {});

  it('suppresses a mailbox that keeps bouncing soft for days, not one that bounces soft once', async () => {
    await message('0000000000000000000A', 'full@example.com');
    const verp = verpAddress(secret, '0000000000000000000A', 0, bounceDomain);
    for (const [day, expected] of [[0, false], [1, false], [2.5, false], [3.2, true]] as const) {
      now = day * DAY;
      const r = await processor.process(dsn(verp, 'full@example.com', '4.2.2', '452 4.2.2 Mailbox full'), { from: '', to: [verp] });
      expect(r).toMatchObject({ status: 'recorded', class: 'soft', reason: 'mailbox-full' });
      expect(Boolean(await suppression.get('shop', 'full@example.com')), `day ${day}`).toBe(expected);
    }
  });

  it('two bounces for one message processed at once both keep their recipient\'s state (one report per message at a time)', async () => {
    await message('0000000000000000000E', ['ann@example.com', 'bob@example.com']);
    const verps = [0, 1].map((i) => verpAddress(secret, '0000000000000000000E', i, bounceDomain));
    await Promise.all([
      processor.process(dsn(verps[0]!, 'ann@example.com', '5.1.1', '550 5.1.1 user unknown'), { from: '', to: [verps[0]!] }),
      processor.process(dsn(verps[1]!, 'bob@example.com', '5.1.1', '550 5.1.1 user unknown'), { from: '', to: [verps[1]!] }),
    ]);
    const record = await world.spool.get('0000000000000000000E');
    expect(record!.recipients.map((r) => [r.address, r.outcome?.type])).toEqual([['ann@example.com', 'bounced'], ['bob@example.com', 'bounced']]);
  });

  it('attributes a bounce without VERP token by the original Message-ID, and suppresses only when it proves it is ours', async () => {
    const postmaster = { from: '', to: ['postmaster@bounces.relay.test'] };
    // The app's own Message-ID: anyone who saw the mail knows it. Recorded for the shop, never acted on.
    await message('0000000000000000000B', 'gone@example.com', '<order-42@shop.test>');
    const r = await processor.process(dsn('orders@shop.test', 'gone@example.com', '5.1.1', '550 5.1.1 user unknown', '<order-42@shop.test>'), postmaster);
    expect(r).toMatchObject({ status: 'recorded', msgId: '0000000000000000000B', recipient: 'gone@example.com', class: 'hard' });
    expect(await suppression.get('shop', 'gone@example.com')).toBeUndefined();
    const [recorded] = await world.events.byMessage('0000000000000000000B');
    expect(recorded).toMatchObject({ type: 'bounced', detail: 'bounce without our return path: recorded, not acted on' });
    // Our Message-ID with its MAC tag, naming a recipient of that message: proven, suppressed.
    const own = `<0000000000000000000c.${messageIdTag(secret, '0000000000000000000C')}@relay.test>`;
    await message('0000000000000000000C', 'left@example.com');
    await processor.process(dsn('orders@shop.test', 'left@example.com', '5.1.1', '550 5.1.1 user unknown', own), postmaster);
    expect(await suppression.get('shop', 'left@example.com')).toMatchObject({ reason: 'user-unknown', msgId: '0000000000000000000C' });
    // A forger who knows a queue id but not the tag, or names someone the message did not go to: nothing suppressed.
    await message('0000000000000000000D', 'buyer@example.com');
    await processor.process(dsn('orders@shop.test', 'buyer@example.com', '5.1.1', '550 5.1.1 user unknown', '<0000000000000000000d.aaaaaaaaaaaa@relay.test>'), postmaster);
    await processor.process(dsn('orders@shop.test', 'other@example.com', '5.1.1', '550 5.1.1 user unknown', `<0000000000000000000d.${messageIdTag(secret, '0000000000000000000D')}@relay.test>`), postmaster);
    expect(await suppression.get('shop', 'buyer@example.com')).toBeUndefined();
    expect((await world.events.byMessage('0000000000000000000D')).map((e) => e.detail)).toEqual([
      'bounce without our return path: recorded, not acted on',
      'bounce without our return path (it names other@example.com): recorded, not acted on',
    ]);
    const unknown = await processor.process(dsn('orders@shop.test', 'x@example.com', '5.1.1', '550 5.1.1 user unknown', '<nobody@shop.test>'), postmaster);
    expect(unknown).toMatchObject({ status: 'ignored' });
  });
});

describe('soft-bounce count and deliveries in between', () => {
  const log = pino({ level: 'silent' });
  const START = Date.UTC(2030, 0, 1);
  let dir: string;
  let store: Store;
  let spool: Spool;
  let sink: Sink;
  let deliverer: Deliverer;
  let scheduler: Scheduler;
  let events: EventLog;
  let processor: BounceProcessor;
  let suppression: SuppressionList;
  /** One clock for the scheduler's delivered events and the processor's bounces. */
  let now = START;

  beforeEach(async () => {
    now = START;
    dir = await makeTempDir('mg-bp-soft-');
    store = await openStore(dir);
    spool = await Spool.open(path.join(dir, 'spool'), store, log);
    events = new EventLog(store);
    suppression = new SuppressionList(store);
    processor = new BounceProcessor({ spool, store, events, suppression, verpSecret: secret, bounceDomain, log, now: () => now });
    sink = await startSink();
    const upstream: SmtpUpstream = { name: 'up', type: 'smtp', host: '127.0.0.1', port: sink.port, tls: 'none', tlsVerify: false, maxConnections: 2, source: 'config' };
    deliverer = new Deliverer({ hostname: 'relay.test', resolver: new Resolver(), log, secure: { mtaStsPort: 443 } });
    scheduler = new Scheduler({
      spool, events, log, concurrency: 4, now: () => now,
      policy: { retrySchedule: [DAY], maxAge: 30 * DAY },
      deliverMessage: async (record, recipients) => ({
        results: await deliverer.deliver(upstream, { from: record.envelope.from, to: recipients }, () => Buffer.from('Subject: x\r\n\r\nx\r\n')),
      }),
    });
    scheduler.start();
  });
  afterEach(async () => {
    await scheduler.stop(1000);
    await deliverer.close();
    await sink.close();
    await spool.close();
    await store.close();
    await removeDir(dir);
  });

  /** Queues a message to `to` at `day` and waits until the scheduler recorded it delivered to the sink. */
  async function deliver(to: string, day: number): Promise<string> {
    now = START + day * DAY;
    const id = newQueueId(now);
    const staged = await spool.stage(id, Readable.from([Buffer.from('Subject: x\r\n\r\nx\r\n')]), 1e6);
    const record: MessageRecord = {
      id, tenant: 'shop', createdAt: now, dueAt: now, attempts: 0, envelope: { from: 'a@shop.test', to: [to] },
      recipients: [{ address: to, status: 'queued', attempts: 0, updatedAt: now }], size: 10, body: staged.ref, source: { kind: 'smtp' }, state: 'queued',
    };
    await spool.enqueue(record, staged, []);
    scheduler.push(record);
    for (let i = 0; i < 500 && !(await events.byMessage(id)).some((e) => e.type === 'delivered'); i++) await new Promise((r) => setTimeout(r, 20));
    expect((await events.byMessage(id)).map((e) => e.type)).toContain('delivered');
    expect(sink.messages.some((m) => m.to.some((t) => t.toLowerCase() === to.toLowerCase()))).toBe(true);
    return id;
  }

  /** A "mailbox full" DSN for message `id` at `day`; resolves with whether the address is suppressed afterwards. */
  async function softBounce(id: string, to: string, day: number): Promise<boolean> {
    now = START + day * DAY;
    const verp = verpAddress(secret, id, 0, bounceDomain);
    const r = await processor.process(dsn(verp, to, '4.2.2', '452 4.2.2 Mailbox full'), { from: '', to: [verp] });
    expect(r).toMatchObject({ status: 'recorded', class: 'soft', reason: 'mailbox-full' });
    return Boolean(await suppression.get('shop', to));
  }

  it('starts the count again when another message reached the address since the last soft bounce', async () => {
    // Two mailboxes fill up the same way; one of them gets a message through in between.
    const recovered = 'Full@Example.com';
    const stillFull = 'still-full@example.com';
    const first: Record<string, string> = { [recovered]: await deliver(recovered, 0), [stillFull]: await deliver(stillFull, 0) };
    for (let n = 1; n < SOFT_LIMIT.count; n++) {
      for (const to of [recovered, stillFull]) expect(await softBounce(first[to]!, to, n - 0.9), `${to}, soft bounce ${n}`).toBe(false);
    }
    await deliver(recovered.toLowerCase(), SOFT_LIMIT.count - 0.5);
    const day = SOFT_LIMIT.spanMs / DAY + 0.5;
    expect(await softBounce(first[stillFull]!, stillFull, day), 'no delivery in between: suppressed').toBe(true);
    expect(await softBounce(first[recovered]!, recovered, day), 'delivered in between: counted from 1 again').toBe(false);
  });

  it('does not count the delivery of the message that is bouncing, so mail that is accepted and then bounces still suppresses', async () => {
    const to = 'full@example.com';
    for (let n = 1; n <= SOFT_LIMIT.count; n++) {
      const day = ((n - 1) * (SOFT_LIMIT.spanMs / DAY + 0.5)) / (SOFT_LIMIT.count - 1);
      const id = await deliver(to, day);
      expect(await softBounce(id, to, day + 0.1), `soft bounce ${n}`).toBe(n === SOFT_LIMIT.count);
    }
  });
});

describe('refusals during delivery count like bounces', () => {
  let world: BounceWorld;
  beforeEach(async () => {
    world = await openBounceWorld({ secret, bounceDomain });
  });
  afterEach(() => world.close());

  const refusal = (type: 'deferred' | 'failed', day: number, reply: { code: number; enhanced?: string; text: string; command?: 'RCPT' | 'DATA' }, cls: string, reason: string): QueueEvent => ({
    time: day * DAY, type, msgId: `M${day}`, tenant: 'shop', recipient: 'full@example.com', code: type === 'failed' ? 'UPSTREAM_REJECTED' : 'UPSTREAM_DEFERRED', class: cls, reason, reply,
  });

  it('a mailbox that answers "452 4.2.2 Mailbox full" at RCPT for three days is suppressed, with the rule', async () => {
    const counter = new SoftBounceCounter(world.store, world.events);
    const full = { code: 452, enhanced: '4.2.2', text: 'Mailbox full', command: 'RCPT' as const };
    for (const [day, expected] of [[0, false], [1.5, false], [3.1, true]] as const) {
      const ops = await deliveryOutcomeOps(refusal('deferred', day, full, 'soft', 'mailbox-full'), world.suppression, counter);
      await world.store.commit(ops);
      expect(Boolean(await world.suppression.get('shop', 'full@example.com')), `day ${day}`).toBe(expected);
    }
    expect(await world.suppression.get('shop', 'full@example.com')).toMatchObject({ reason: 'mailbox-full', rule: '3 soft bounces (mailbox-full) over 3 days with no delivery in between', diagnostic: '452 4.2.2 Mailbox full' });
  });

  it('a 5xx about the address suppresses at once; network trouble and our own expiry never count', async () => {
    const counter = new SoftBounceCounter(world.store, world.events);
    const unknown = await deliveryOutcomeOps(refusal('failed', 0, { code: 550, enhanced: '5.1.1', text: 'User unknown', command: 'RCPT' }, 'hard', 'user-unknown'), world.suppression, counter);
    expect(unknown.length).toBeGreaterThan(0);
    for (let day = 0; day < 10; day++) {
      expect(await deliveryOutcomeOps(refusal('deferred', day, { code: 421, text: 'connection timed out' }, 'soft', 'network'), world.suppression, counter)).toEqual([]);
      expect(await deliveryOutcomeOps({ ...refusal('failed', day, { code: 451, text: 'expired' }, 'soft', 'expired'), type: 'expired', code: 'MESSAGE_EXPIRED' }, world.suppression, counter)).toEqual([]);
    }
  });
});
