// The scheduler and the bounce processor write the same message record: a delivery attempt's result
// and a bounce's outcome for a recipient must both survive whichever way their writes interleave —
// on LevelDB and on PostgreSQL (where another node may hold the row), with the real scheduler,
// spool and bounce processor.
import path from 'node:path';
import { Readable } from 'node:stream';
import pg from 'pg';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BounceProcessor } from '../src/bounces/processor.js';
import { verpAddress } from '../src/identity/verp.js';
import type { RecipientResult } from '../src/queue/delivery-result.js';
import { Scheduler } from '../src/queue/scheduler.js';
import { Spool } from '../src/queue/spool.js';
import { EventLog } from '../src/store/event-log.js';
import { openLevelStore } from '../src/store/level/index.js';
import type { Store } from '../src/store/ports.js';
import { openPostgresStore } from '../src/store/postgres/index.js';
import type { MessageRecord, RecipientState } from '../src/store/records.js';
import { SuppressionList } from '../src/store/suppression.js';
import { hasPostgres, noPostgresReason, startPostgres, type TestPostgres } from './helpers/postgres.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';

const secret = Buffer.alloc(32, 9);
const bounceDomain = 'bounces.relay.test';
const MIN = 60_000;
const log = pino({ level: 'silent' });

let pgServer: TestPostgres | undefined;
beforeAll(async () => {
  if (hasPostgres) pgServer = await startPostgres();
}, 60_000);
afterAll(async () => pgServer?.stop());

const engines: Array<{ name: string; skip?: string; open(dir: string): Promise<Store> }> = [
  { name: 'level', open: (dir) => openLevelStore(dir) },
  {
    name: 'postgres',
    ...(hasPostgres ? {} : { skip: noPostgresReason }),
    open: async () => openPostgresStore({ url: await pgServer!.database('race'), node: 'n1' }),
  },
];

function dsn(to: string, recipient: string): Buffer {
  return Buffer.from([
    'From: MAILER-DAEMON@mx.example.com', `To: ${to}`, 'Subject: Undelivered Mail Returned to Sender', 'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B"', '', '--B', 'Content-Type: text/plain', '', 'failed', '',
    '--B', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; mx.example.com', '',
    `Final-Recipient: rfc822; ${recipient}`, 'Action: failed', 'Status: 5.1.1', 'Diagnostic-Code: smtp; 550 5.1.1 user unknown', '',
    '--B', 'Content-Type: text/rfc822-headers', '', 'Message-ID: <x@y>', `To: ${recipient}`, '', '--B--', '',
  ].join('\r\n'));
}

const result = (recipient: string, outcome: 'delivered' | 'deferred'): RecipientResult => ({
  recipient, outcome, upstream: 'up',
  reply: outcome === 'delivered' ? { code: 250, text: 'ok' } : { code: 451, enhanced: '4.3.0', text: 'try later' },
});

const view = (r: MessageRecord | undefined) => r?.recipients.map((x) => [x.address, x.status, x.outcome?.type ?? null]);

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

for (const engine of engines) {
  describe.skipIf(engine.skip !== undefined)(`a delivery attempt and a bounce for the same message: ${engine.name}${engine.skip ? ` (skipped: ${engine.skip})` : ''}`, () => {
    let dir: string;
    let store: Store;
    let spool: Spool;
    let scheduler: Scheduler;
    let processor: BounceProcessor;
    /** What the next delivery attempt does; the default delivers every recipient. */
    let deliver: (recipients: string[]) => Promise<RecipientResult[]>;
    /** Runs before the bounce processor's commit (not the scheduler's). */
    let beforeBounceCommit: () => Promise<void>;
    let now = 0;

    beforeEach(async () => {
      now = Date.UTC(2030, 0, 1);
      dir = await makeTempDir('mg-race-');
      store = await engine.open(dir);
      spool = await Spool.open(path.join(dir, 'spool'), store, log);
      const events = new EventLog(store);
      deliver = async (recipients) => recipients.map((r) => result(r, 'delivered'));
      beforeBounceCommit = async () => undefined;
      const processorStore: Store = { ...store, commit: async (ops, opts) => { await beforeBounceCommit(); return store.commit(ops, opts); } };
      processor = new BounceProcessor({ spool, store: processorStore, events, suppression: new SuppressionList(store), verpSecret: secret, bounceDomain, log, now: () => now });
      scheduler = new Scheduler({
        spool, events, log, concurrency: 2, now: () => now, pollInterval: 20,
        policy: { retrySchedule: [10 * MIN], maxAge: 24 * 60 * MIN },
        deliverMessage: async (_record, recipients) => ({ results: await deliver(recipients) }),
      });
      scheduler.start();
    });
    afterEach(async () => {
      await scheduler.stop(2000);
      await spool.close();
      await store.close();
      await removeDir(dir);
    });

    /** A message to ann (index 0) and bob (index 1) with these states, due now. */
    async function message(id: string, ann: RecipientState['status'], bob: RecipientState['status']): Promise<MessageRecord> {
      const staged = await spool.stage(id, Readable.from([Buffer.from('Subject: x\r\n\r\nx\r\n')]), 1e6);
      const rcpt = (address: string, status: RecipientState['status']): RecipientState => ({ address, status, attempts: status === 'queued' ? 0 : 1, updatedAt: now });
      const record: MessageRecord = {
        id, tenant: 'shop', createdAt: now, dueAt: now + 10 * MIN, attempts: ann === 'queued' ? 0 : 1, envelope: { from: 'orders@shop.test', to: ['ann@example.com', 'bob@example.com'] },
        recipients: [rcpt('ann@example.com', ann), rcpt('bob@example.com', bob)], size: 10, body: staged.ref, source: { kind: 'smtp' }, state: 'queued',
      };
      await spool.enqueue(record, staged, []);
      return record;
    }

    const bounceAnn = async (id: string) => {
      const verp = verpAddress(secret, id, 0, bounceDomain);
      expect(await processor.process(dsn(verp, 'ann@example.com'), { from: '', to: [verp] })).toMatchObject({ status: 'recorded', recipient: 'ann@example.com' });
    };
    const bobSettled = (id: string) => async () => (await spool.get(id))?.recipients[1]?.status === 'delivered';

    it('ann delivered before, bob retried: ann\'s bounce recorded between the scheduler\'s read and its write is kept', async () => {
      const id = '000000000000000RACE1';
      await message(id, 'delivered', 'deferred');
      // The bounce lands just before the attempt's record is written.
      const update = spool.update.bind(spool);
      spool.update = async (record, previousDueAt, ops) => {
        if (record.id === id && record.attempts === 2) await bounceAnn(id);
        return update(record, previousDueAt, ops);
      };
      expect(await scheduler.retryNow(id)).toBe('queued');
      await until('bob delivered', bobSettled(id));
      const stored = await spool.get(id);
      expect(view(stored)).toEqual([['ann@example.com', 'delivered', 'bounced'], ['bob@example.com', 'delivered', null]]);
      expect(stored!.state).toBe('done');
    });

    it('nothing delivered when the attempt starts: ann\'s bounce recorded while it runs is kept', async () => {
      const id = '000000000000000RACE2';
      await message(id, 'queued', 'queued');
      // A smarthost that bounces at once: the bounce is processed before the attempt is recorded.
      deliver = async (recipients) => {
        await bounceAnn(id);
        return recipients.map((r) => result(r, r.startsWith('ann') ? 'delivered' : 'deferred'));
      };
      expect(await scheduler.retryNow(id)).toBe('queued');
      await until('the attempt recorded', async () => (await spool.get(id))?.attempts === 1);
      expect(view(await spool.get(id))).toEqual([['ann@example.com', 'delivered', 'bounced'], ['bob@example.com', 'deferred', null]]);
    });

    it('the bounce processor read the record before bob\'s delivery was recorded: its write keeps the delivery and the schedule', async () => {
      const id = '000000000000000RACE3';
      await message(id, 'delivered', 'deferred');
      // The processor has read the record; bob's retry is delivered and recorded before it writes.
      beforeBounceCommit = async () => {
        beforeBounceCommit = async () => undefined;
        expect(await scheduler.retryNow(id)).toBe('queued');
        await until('bob delivered', bobSettled(id));
      };
      await bounceAnn(id);
      const stored = await spool.get(id);
      expect(view(stored)).toEqual([['ann@example.com', 'delivered', 'bounced'], ['bob@example.com', 'delivered', null]]);
      expect(stored).toMatchObject({ state: 'done', dueAt: 0, attempts: 2 });
      // Not scheduled again: bob is not delivered twice.
      expect((await spool.due(Number.MAX_SAFE_INTEGER, 10)).map((d) => d.id)).not.toContain(id);
    });
  });
}

describe.skipIf(!hasPostgres)('PostgreSQL: writes of one message from several nodes', () => {
  const record = (over: Partial<MessageRecord> = {}): MessageRecord => ({
    id: 'NODES1', tenant: 'shop', createdAt: 1000, dueAt: 5000, attempts: 1, envelope: { from: 'orders@shop.test', to: ['ann@example.com', 'bob@example.com'] },
    recipients: [
      { address: 'ann@example.com', status: 'delivered', attempts: 1, updatedAt: 1000 },
      { address: 'bob@example.com', status: 'deferred', attempts: 1, updatedAt: 1000 },
    ],
    size: 10, body: { kind: 'segment', segment: 1, offset: 0, length: 10 }, source: { kind: 'smtp' }, state: 'queued', ...over,
  });

  it('a write that waited for another node\'s transaction on the message applies to what that transaction wrote', async () => {
    const url = await pgServer!.database('nodes');
    const [a, b] = [await openPostgresStore({ url, node: 'n1' }), await openPostgresStore({ url, node: 'n2' })];
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    const waiting = async (n: number) => until(`${n} waiting`, async () => Number((await holder.query(`select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`)).rows[0].n) >= n);
    try {
      const stale = record();
      const delivered = record({
        attempts: 2, dueAt: 0, state: 'done',
        recipients: [stale.recipients[0]!, { ...stale.recipients[1]!, status: 'delivered', attempts: 2, updatedAt: 2000 }],
      });
      const outcome = { type: 'bounced' as const, class: 'hard', reason: 'user-unknown', time: 1500 };
      // Both orders: the bounce (node b) first, then an attempt written from a record read before it
      // (node a); and the attempt first, then the bounce.
      for (const bounceFirst of [true, false]) {
        await a.commit([{ kind: 'message.add', record: stale }]);
        await holder.query('begin');
        await holder.query('select 1 from messages where id = $1 for update', [stale.id]);
        const bounce = () => b.commit([{ kind: 'message.outcome', id: stale.id, address: 'ann@example.com', outcome }]);
        const attempt = () => a.commit([{ kind: 'message.update', record: delivered, previousDueAt: stale.dueAt }]);
        const first = bounceFirst ? bounce() : attempt();
        await waiting(1);
        const second = bounceFirst ? attempt() : bounce();
        await waiting(2);
        await holder.query('commit');
        await Promise.all([first, second]);
        const stored = await a.messages.get(stale.id);
        expect(view(stored), `bounce first: ${bounceFirst}`).toEqual([['ann@example.com', 'delivered', 'bounced'], ['bob@example.com', 'delivered', null]]);
        expect(stored).toMatchObject({ state: 'done', attempts: 2 });
        expect(await a.messages.due(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
        await holder.query('delete from messages where id = $1', [stale.id]);
      }
    } finally {
      await holder.end();
      await a.close();
      await b.close();
    }
  });
});
