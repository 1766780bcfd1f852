// The store's contract: every port behaves the same on every engine — the embedded LevelDB in a temp
// dir and a real PostgreSQL started for this file (a fresh database per test). What a port promises
// (order, case, paging, atomic commits, last-write-wins of state) is checked here once for both.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store, StoreOp } from '../src/store/ports.js';
import type { MessageRecord, QueueEvent } from '../src/store/records.js';
import { openLevelStore } from '../src/store/level/index.js';
import { openPostgresStore } from '../src/store/postgres/index.js';
import { hasPostgres, noPostgresReason, startPostgres, type TestPostgres } from './helpers/postgres.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';
import pino from 'pino';
import { RetentionJob } from '../src/retention/job.js';

let pgServer: TestPostgres | undefined;
beforeAll(async () => {
  if (hasPostgres) pgServer = await startPostgres();
}, 60_000);
afterAll(async () => pgServer?.stop());

interface Engine {
  name: string;
  skip?: string;
  open(): Promise<{ store: Store; done(): Promise<void> }>;
}

const engines: Engine[] = [
  {
    name: 'level',
    async open() {
      const dir = await makeTempDir('mg-contract-');
      const store = await openLevelStore(dir);
      return { store, done: async () => { await store.close(); await removeDir(dir); } };
    },
  },
  {
    name: 'postgres',
    ...(hasPostgres ? {} : { skip: noPostgresReason }),
    async open() {
      const store = await openPostgresStore({ url: await pgServer!.database('contract'), node: 'n1' });
      return { store, done: () => store.close() };
    },
  },
];

function record(id: string, over: Partial<MessageRecord> = {}): MessageRecord {
  return {
    id, tenant: 'shop', createdAt: 1000, dueAt: 2000, attempts: 0, envelope: { from: 'orders@shop.test', to: ['a@buyer.test'] },
    recipients: [{ address: 'a@buyer.test', status: 'queued', attempts: 0, updatedAt: 1000 }], size: 10,
    body: { kind: 'segment', segment: 1, offset: 0, length: 10 }, source: { kind: 'smtp' }, state: 'queued', ...over,
  };
}

let seq = 0;
function event(over: Partial<QueueEvent>): StoreOp {
  return { kind: 'event.add', id: `e${(seq++).toString().padStart(6, '0')}`, event: { time: 1000, type: 'accepted', msgId: 'M1', tenant: 'shop', recipient: 'a@buyer.test', ...over } };
}

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

for (const engine of engines) {
  describe.skipIf(engine.skip !== undefined)(`store contract: ${engine.name}${engine.skip ? ` (skipped: ${engine.skip})` : ''}`, () => {
    const withStore = (fn: (store: Store) => Promise<void>) => async () => {
      const { store, done } = await engine.open();
      try {
        await fn(store);
      } finally {
        await done();
      }
    };

    it('messages: schedule, updates, keep list and the indexes', withStore(async (store) => {
      await store.commit([
        { kind: 'message.add', record: record('B', { dueAt: 3000, messageId: '<Order-1@Shop.test>', reference: 'ORD-9' }) },
        { kind: 'message.add', record: record('A', { dueAt: 2000 }) },
        { kind: 'message.add', record: record('C', { state: 'done', dueAt: 0 }) },
      ]);
      expect((await store.messages.get('B'))?.reference).toBe('ORD-9');
      expect(await store.messages.get('nope')).toBeUndefined();
      expect(await store.messages.due(2500, 10)).toEqual([{ id: 'A', dueAt: 2000 }]);
      expect(await store.messages.due(9999, 1)).toEqual([{ id: 'A', dueAt: 2000 }]);
      expect(await store.messages.nextDue()).toBe(2000);
      expect(await store.messages.depth()).toBe(2);
      expect((await all(store.messages.queued())).map((r) => r.id)).toEqual(['A', 'B']);
      expect(await store.messages.byMessageId('<order-1@shop.TEST>')).toBe('B');
      expect(await store.messages.byReference('shop', 'ord-9', 10)).toEqual(['B']);
      expect(await store.messages.byReference('shop', '<ORDER-1@shop.test>', 10)).toEqual(['B']);
      expect(await store.messages.byReference('other', 'ORD-9', 10)).toEqual([]);
      await store.commit([{ kind: 'reference.add', tenant: 'shop', reference: 'ORD-9', msgId: 'APPERR1' }]);
      expect(await store.messages.byReference('shop', 'ORD-9', 10)).toEqual(['APPERR1', 'B']);

      // rescheduled, then done and kept for a re-send, then released
      const a = (await store.messages.get('A'))!;
      await store.commit([{ kind: 'message.update', record: { ...a, dueAt: 5000, attempts: 1 }, previousDueAt: 2000 }]);
      expect(await store.messages.due(9999, 10)).toEqual([{ id: 'B', dueAt: 3000 }, { id: 'A', dueAt: 5000 }]);
      await store.commit([{ kind: 'message.update', record: { ...a, dueAt: 0, state: 'done', keptUntil: 8000 }, previousDueAt: 5000, keepUntil: 8000 }]);
      expect(await store.messages.due(9999, 10)).toEqual([{ id: 'B', dueAt: 3000 }]);
      expect((await store.messages.get('A'))?.state).toBe('done');
      expect(await all(store.messages.keptUntil(7999))).toEqual([]);
      expect(await all(store.messages.keptUntil(8000))).toEqual([{ id: 'A', keptUntil: 8000 }]);
      expect((await all(store.messages.withBodies())).map((r) => r.id).sort()).toEqual(['A', 'B']);
      await store.commit([{ kind: 'message.released', id: 'A', keptUntil: 8000 }]);
      expect(await all(store.messages.keptUntil(99999))).toEqual([]);
      expect((await all(store.messages.withBodies())).map((r) => r.id)).toEqual(['B']);
    }));

    it('messages: an outcome is set on the record as stored; an update keeps a stored outcome unless its own is later', withStore(async (store) => {
      const read = record('O', {
        envelope: { from: 'orders@shop.test', to: ['a@buyer.test', 'B@buyer.test'] },
        recipients: [{ address: 'a@buyer.test', status: 'delivered', attempts: 1, updatedAt: 1000 }, { address: 'B@buyer.test', status: 'deferred', attempts: 1, updatedAt: 1000 }],
      });
      await store.commit([{ kind: 'message.add', record: read }]);
      const outcomes = async () => (await store.messages.get('O'))!.recipients.map((r) => r.outcome ?? null);
      const bounced = { type: 'bounced' as const, class: 'hard', reason: 'user-unknown', time: 3000 };
      await store.commit([{ kind: 'message.outcome', id: 'O', address: 'a@buyer.test', outcome: bounced }, { kind: 'message.outcome', id: 'GONE', address: 'a@buyer.test', outcome: bounced }]);
      expect(await store.messages.get('GONE')).toBeUndefined();
      // An attempt recorded from the record as read before the bounce.
      await store.commit([{ kind: 'message.update', record: { ...read, dueAt: 5000, attempts: 2 }, previousDueAt: 2000 }]);
      expect(await outcomes()).toEqual([bounced, null]);
      expect(await store.messages.due(9999, 10)).toEqual([{ id: 'O', dueAt: 5000 }]);
      // An outcome and an update of the message in one commit: both apply, the schedule follows the update.
      const complained = { type: 'complained' as const, class: 'complaint', reason: 'abuse', time: 4000 };
      await store.commit([
        { kind: 'message.outcome', id: 'O', address: 'B@buyer.test', outcome: complained },
        { kind: 'message.update', record: { ...read, dueAt: 0, state: 'done', attempts: 3 }, previousDueAt: 5000 },
      ]);
      expect(await outcomes()).toEqual([bounced, complained]);
      expect(await store.messages.get('O')).toMatchObject({ state: 'done', attempts: 3 });
      expect(await store.messages.due(9999, 10)).toEqual([]);
      // A later outcome the written record carries replaces the stored one; an earlier one does not.
      const stored = (await store.messages.get('O'))!;
      const later = { ...complained, time: 6000 };
      await store.commit([{ kind: 'message.update', record: { ...stored, recipients: [{ ...stored.recipients[0]!, outcome: later }, { ...stored.recipients[1]!, outcome: { ...bounced, time: 1 } }] }, previousDueAt: 0 }]);
      expect(await outcomes()).toEqual([later, complained]);
      // An adopted record (read at a hand-over) keeps them alike.
      await store.commit([{ kind: 'message.adopted', record: { ...read, body: { kind: 'segment', segment: 9, offset: 0, length: 10 } } }]);
      expect(await outcomes()).toEqual([later, complained]);
      expect((await store.messages.get('O'))!.body).toEqual({ kind: 'segment', segment: 9, offset: 0, length: 10 });
    }));

    it('messages: a tenant\'s list is newest first, bounded by from/to, paged without repeats, filtered with bounded work', withStore(async (store) => {
      const ops: StoreOp[] = [];
      for (let i = 0; i < 25; i++) ops.push({ kind: 'message.add', record: record(`M${String(i).padStart(2, '0')}`, { createdAt: 1000 + i * 10, subject: i % 5 === 0 ? 'hit' : 'miss' }) });
      ops.push({ kind: 'message.add', record: record('OTHER', { tenant: 'other', createdAt: 1100 }) });
      await store.commit(ops);
      const first = await store.messages.listByTenant('shop', { limit: 10 });
      expect(first.messages.map((m) => m.id)).toEqual(['M24', 'M23', 'M22', 'M21', 'M20', 'M19', 'M18', 'M17', 'M16', 'M15']);
      const seen = [...first.messages.map((m) => m.id)];
      let cursor = first.cursor;
      while (cursor) {
        const page = await store.messages.listByTenant('shop', { limit: 10, cursor });
        seen.push(...page.messages.map((m) => m.id));
        cursor = page.cursor;
      }
      expect(seen).toHaveLength(25);
      expect(new Set(seen).size).toBe(25);
      const window = await store.messages.listByTenant('shop', { limit: 100, from: 1050, to: 1100 });
      expect(window.messages.map((m) => m.id)).toEqual(['M09', 'M08', 'M07', 'M06', 'M05']);
      const hits = await store.messages.listByTenant('shop', { limit: 100, filter: (r) => r.subject === 'hit' });
      expect(hits.messages.map((m) => m.id)).toEqual(['M20', 'M15', 'M10', 'M05', 'M00']);
      // a rare match: one page scans at most 50 × limit records, then hands back a cursor
      const bounded = await store.messages.listByTenant('shop', { limit: 0.2, filter: () => false });
      expect(bounded.messages).toEqual([]);
      expect(bounded.cursor).toBeDefined();
      // a damaged cursor is not an error
      await expect(store.messages.listByTenant('shop', { limit: 5, cursor: 'garbage\u0000' })).resolves.toBeDefined();
    }));

    it('events: by recipient and message oldest first; the error log per tenant, newest first, paged; counts; delivered-since', withStore(async (store) => {
      await store.commit([
        event({ time: 1000, type: 'accepted', msgId: 'M1', recipient: 'Buyer@Example.test' }),
        event({ time: 2000, type: 'deferred', msgId: 'M1', recipient: 'buyer@example.test', class: 'soft' }),
        event({ time: 3000, type: 'failed', msgId: 'M1', recipient: 'buyer@example.test', class: 'hard' }),
        event({ time: 3000, type: 'failed', msgId: 'M2', recipient: 'other@example.test', class: 'hard' }),
        event({ time: 4000, type: 'delivered', msgId: 'M3', recipient: 'buyer@example.test' }),
        event({ time: 5000, type: 'bounced', msgId: 'M4', recipient: 'x@example.test', tenant: 'other', class: 'hard' }),
      ]);
      expect((await store.events.byRecipient('BUYER@example.test', 100)).map((e) => e.type)).toEqual(['accepted', 'deferred', 'failed', 'delivered']);
      expect((await store.events.byRecipient('buyer@example.test', 2)).map((e) => e.type)).toEqual(['accepted', 'deferred']);
      expect((await store.events.byMessage('M1', 100)).map((e) => e.time)).toEqual([1000, 2000, 3000]);
      const errors = await store.events.errors('shop', {});
      expect(errors.events.map((e) => `${e.time}:${e.msgId}`)).toEqual(['3000:M2', '3000:M1', '2000:M1']);
      expect(errors.cursor).toBeUndefined();
      const p1 = await store.events.errors('shop', { limit: 2 });
      expect(p1.events.map((e) => e.msgId)).toEqual(['M2', 'M1']);
      const p2 = await store.events.errors('shop', { limit: 2, cursor: p1.cursor! });
      expect(p2.events.map((e) => `${e.time}:${e.msgId}`)).toEqual(['2000:M1']);
      expect((await store.events.errors('shop', { class: 'soft' })).events.map((e) => e.type)).toEqual(['deferred']);
      expect((await store.events.errors('shop', { since: 2500, until: 9999 })).events).toHaveLength(2);
      expect(await store.events.countErrors('shop', 2500)).toBe(2);
      expect(await store.events.countErrors('other', 0)).toBe(1);
      expect(await store.events.deliveredSince('shop', 'BUYER@example.test', 3500, 'M1')).toBe(true);
      expect(await store.events.deliveredSince('shop', 'buyer@example.test', 3500, 'M3')).toBe(false);
      expect(await store.events.deliveredSince('shop', 'buyer@example.test', 4001, 'M1')).toBe(false);
      expect(await store.events.deliveredSince('other', 'buyer@example.test', 0, 'M1')).toBe(false);
      expect((await store.events.recent(2)).map((e) => e.time)).toEqual([5000, 4000]);
      // the same event id twice is one event
      const again: StoreOp = { kind: 'event.add', id: 'dup', event: { time: 6000, type: 'failed', msgId: 'M9', tenant: 'dup', recipient: 'd@x.test' } };
      await store.commit([again]);
      await store.commit([again]);
      expect(await store.events.countErrors('dup', 0)).toBe(1);
      // A recipient's repeated deferral and a per-message sender rewrite stay out of the error log;
      // a warning is listed but not counted.
      await store.commit([
        event({ time: 7000, type: 'deferred', msgId: 'N1', recipient: 'n@x.test', tenant: 'quiet' }),
        event({ time: 7100, type: 'deferred', msgId: 'N1', recipient: 'n@x.test', tenant: 'quiet', repeated: true }),
        event({ time: 7200, type: 'sender-rewritten', msgId: 'N1', recipient: 'shop@x.test', tenant: 'quiet' }),
        event({ time: 7300, type: 'warning', msgId: 'N1', recipient: 'shop@x.test', tenant: 'quiet', code: 'SENDER_REWRITTEN' }),
      ]);
      expect((await store.events.errors('quiet', {})).events.map((e) => e.time)).toEqual([7300, 7000]);
      expect(await store.events.countErrors('quiet', 0)).toBe(1);
      expect((await store.events.byMessage('N1', 10))).toHaveLength(4);
    }));

    it('delivery statistics: hourly totals and per-domain / per-upstream days, per tenant and for all; an event written twice counts once', withStore(async (store) => {
      const H = 3600_000;
      const t0 = 1_700_000_000_000 - (1_700_000_000_000 % (24 * H)); // a UTC midnight
      const once = event({ time: t0 + 10, type: 'accepted', msgId: 'S1', recipient: 'a@gmail.test' });
      await store.commit([
        once,
        event({ time: t0 + 20, type: 'accepted', msgId: 'S2', recipient: 'b@Outlook.test' }),
        event({ time: t0 + 30, type: 'delivered', msgId: 'S1', recipient: 'a@gmail.test', upstream: 'smarthost' }),
        event({ time: t0 + 40, type: 'deferred', msgId: 'S2', recipient: 'b@outlook.test', upstream: 'smarthost' }),
        event({ time: t0 + 50, type: 'deferred', msgId: 'S2', recipient: 'b@outlook.test', upstream: 'smarthost', repeated: true }),
        event({ time: t0 + H + 5, type: 'bounced', msgId: 'S1', recipient: 'a@gmail.test', class: 'hard' }),
        event({ time: t0 + H + 6, type: 'bounced', msgId: 'S2', recipient: 'b@outlook.test', class: 'soft' }),
        event({ time: t0 + H + 7, type: 'complained', msgId: 'S3', recipient: 'c@gmail.test' }),
        event({ time: t0 + H + 8, type: 'failed', msgId: 'S4', recipient: 'd@gmail.test', code: 'RECIPIENT_SUPPRESSED' }),
        event({ time: t0 + H + 9, type: 'auto-replied', msgId: 'S5', recipient: 'e@gmail.test' }),
        // A bounce names the server that reported it, no upstream of ours; an operator's delete is no outcome.
        event({ time: t0 + H + 10, type: 'bounced', msgId: 'S6', recipient: 'f@gmail.test', class: 'hard', upstream: 'mx.gmail.test' }),
        event({ time: t0 + H + 11, type: 'failed', msgId: 'S7', recipient: 'g@gmail.test', code: 'DELETED_BY_ADMIN' }),
        event({ time: t0 + 2 * H, type: 'accepted', msgId: 'T1', recipient: 'x@gmail.test', tenant: 'other' }),
      ]);
      await store.commit([once]);
      const hours = await store.stats.hourly({ tenant: 'shop', from: t0, to: t0 + 24 * H });
      expect(hours.map((h) => h.time)).toEqual([t0, t0 + H]);
      expect(hours[0]!.counts).toMatchObject({ accepted: 2, delivered: 1, deferred: 1, bouncedHard: 0 });
      expect(hours[1]!.counts).toMatchObject({ bouncedHard: 2, bouncedSoft: 1, complained: 1, suppressed: 1, accepted: 0, failed: 0 });
      const all = await store.stats.hourly({ from: t0, to: t0 + 24 * H });
      expect(all.map((h) => [h.time, h.counts.accepted])).toEqual([[t0, 2], [t0 + H, 0], [t0 + 2 * H, 1]]);
      expect(await store.stats.hourly({ tenant: 'shop', from: t0 + H, to: t0 + 2 * H })).toHaveLength(1);
      const domains = Object.fromEntries((await store.stats.breakdown({ tenant: 'shop', from: t0 + 5 * H, to: t0 + 24 * H, by: 'domain' })).map((d) => [d.key, d.counts]));
      expect(Object.keys(domains).sort()).toEqual(['gmail.test', 'outlook.test']);
      expect(domains['gmail.test']).toMatchObject({ accepted: 1, delivered: 1, bouncedHard: 2, complained: 1, suppressed: 1, failed: 0 });
      expect(domains['outlook.test']).toMatchObject({ accepted: 1, deferred: 1, bouncedSoft: 1 });
      const upstreams = await store.stats.breakdown({ from: t0, to: t0 + 24 * H, by: 'upstream' });
      expect(upstreams).toEqual([{ key: 'smarthost', counts: expect.objectContaining({ delivered: 1, deferred: 1 }) }]);
      const everyone = await store.stats.breakdown({ from: t0, to: t0 + 24 * H, by: 'domain' });
      expect(everyone.find((d) => d.key === 'gmail.test')!.counts.accepted).toBe(2);
    }));

    it('retention: old events go with their index entries; old finished messages go unless their content is kept; the queue stays', withStore(async (store) => {
      await store.commit([
        event({ time: 1000, type: 'failed', msgId: 'OLD', recipient: 'old@x.test' }),
        event({ time: 1500, type: 'accepted', msgId: 'OLD', recipient: 'old@x.test' }),
        event({ time: 9000, type: 'failed', msgId: 'NEW', recipient: 'old@x.test' }),
        { kind: 'message.add', record: record('DONE', { createdAt: 1000, state: 'done', dueAt: 0, reference: 'ORD-1', messageId: '<done@shop.test>' }) },
        { kind: 'message.add', record: record('KEPT', { createdAt: 1000, state: 'done', dueAt: 0 }) },
        { kind: 'message.add', record: record('QUEUED', { createdAt: 1000, dueAt: 2000 }) },
        { kind: 'message.add', record: record('RECENT', { createdAt: 9000, state: 'done', dueAt: 0 }) },
        { kind: 'message.add', record: record('OTHER', { tenant: 'other', createdAt: 1000, state: 'done', dueAt: 0 }) },
      ]);
      const kept = (await store.messages.get('KEPT'))!;
      await store.commit([{ kind: 'message.update', record: { ...kept, keptUntil: 20_000 }, previousDueAt: 0, keepUntil: 20_000 }]);
      const job = new RetentionJob(store, { events: 3000 }, pino({ level: 'silent' }), () => 5000);
      expect(await job.runOnce()).toEqual({ events: 2, messages: 2 });
      expect((await store.events.byRecipient('old@x.test', 10)).map((e) => e.msgId)).toEqual(['NEW']);
      expect(await store.events.byMessage('OLD', 10)).toEqual([]);
      expect((await store.events.errors('shop', {})).events.map((e) => e.msgId)).toEqual(['NEW']);
      for (const gone of ['DONE', 'OTHER']) expect(await store.messages.get(gone)).toBeUndefined();
      for (const stays of ['KEPT', 'QUEUED', 'RECENT']) expect(await store.messages.get(stays)).toBeDefined();
      expect(await store.messages.byReference('shop', 'ORD-1', 10)).toEqual([]);
      expect((await store.messages.listByTenant('shop', { limit: 10 })).messages.map((m) => m.id).sort()).toEqual(['KEPT', 'QUEUED', 'RECENT']);
      expect(await job.runOnce()).toEqual({ events: 0, messages: 0 });
    }));

    it('suppression and soft-bounce counters: per tenant, any case, filtered lists, last write wins', withStore(async (store) => {
      await store.commit([
        { kind: 'suppression.add', entry: { tenant: 'shop', address: 'Gone@Example.test', class: 'hard', reason: 'user-unknown', time: 1, source: 'bounce' } },
        { kind: 'suppression.add', entry: { tenant: 'shop', address: 'angry@example.test', class: 'complaint', reason: 'abuse', time: 2, source: 'complaint' } },
        { kind: 'suppression.add', entry: { tenant: 'other', address: 'gone@example.test', class: 'hard', reason: 'user-unknown', time: 3, source: 'bounce' } },
      ]);
      expect((await store.suppression.get('shop', 'GONE@example.test'))?.address).toBe('gone@example.test');
      expect(await store.suppression.get('shop', 'nobody@example.test')).toBeUndefined();
      expect((await store.suppression.list('shop', {})).map((e) => e.address)).toEqual(['angry@example.test', 'gone@example.test']);
      expect((await store.suppression.list('shop', { address: 'GON' })).map((e) => e.address)).toEqual(['gone@example.test']);
      expect((await store.suppression.list('shop', { reason: 'complaint' })).map((e) => e.address)).toEqual(['angry@example.test']);
      expect((await store.suppression.list('shop', { reason: 'unknown' })).map((e) => e.address)).toEqual(['gone@example.test']);
      expect((await store.suppression.list('shop', { address: '%' })).map((e) => e.address)).toEqual([]);
      await store.suppression.remove('shop', 'gone@EXAMPLE.test');
      expect(await store.suppression.get('shop', 'gone@example.test')).toBeUndefined();
      expect(await store.suppression.get('other', 'gone@example.test')).toBeDefined();

      await store.commit([
        { kind: 'soft-bounces.set', tenant: 'shop', address: 'Full@x.test', count: { first: 1, last: 1, count: 1 } },
        { kind: 'soft-bounces.set', tenant: 'shop', address: 'full@x.test', count: { first: 1, last: 5, count: 2 } },
      ]);
      expect(await store.softBounces.get('shop', 'FULL@x.test')).toEqual({ first: 1, last: 5, count: 2 });
      await store.commit([
        { kind: 'soft-bounces.clear', tenant: 'shop', address: 'full@x.test' },
        { kind: 'soft-bounces.set', tenant: 'shop', address: 'again@x.test', count: { first: 7, last: 7, count: 1 } },
      ]);
      expect(await store.softBounces.get('shop', 'full@x.test')).toBeUndefined();
      expect(await store.softBounces.get('shop', 'again@x.test')).toEqual({ first: 7, last: 7, count: 1 });
    }));

    it('opt-outs, tenants, upstreams, API tokens, sign-ins and domain checks', withStore(async (store) => {
      await store.optOuts.add({ tenant: 'shop', category: 'news', address: 'Reader@x.test', time: 1, via: 'one-click' });
      await store.optOuts.add({ tenant: 'shop', category: 'alerts', address: 'reader@x.test', time: 2, via: 'page' });
      expect(await store.optOuts.has('shop', 'news', 'READER@x.test')).toBe(true);
      expect(await store.optOuts.has('shop', 'orders', 'reader@x.test')).toBe(false);
      expect((await store.optOuts.list('shop')).map((o) => o.category)).toEqual(['alerts', 'news']);
      expect((await store.optOuts.list('shop', { category: 'news' })).map((o) => o.address)).toEqual(['reader@x.test']);
      expect(await store.optOuts.remove('shop', 'news', 'reader@x.test')).toBe(true);
      expect(await store.optOuts.remove('shop', 'news', 'reader@x.test')).toBe(false);

      const tenant = { id: 'shop', name: 'Shop', auth: [{ user: 'shop', passwordHash: Buffer.from([1, 2, 255]), passwordSalt: Buffer.from([9]) }], networks: [], domains: [], source: 'api' };
      await store.tenants.putTenant(tenant as never);
      await store.tenants.putTenant({ ...tenant, id: 'another' } as never);
      const tenants = await store.tenants.tenants();
      expect(tenants.map((t) => t.id)).toEqual(['another', 'shop']);
      expect(tenants[1]!.auth[0]!.passwordHash.equals(Buffer.from([1, 2, 255]))).toBe(true);
      await store.tenants.deleteTenant('another');
      expect((await store.tenants.tenants()).map((t) => t.id)).toEqual(['shop']);
      await store.tenants.putUpstream({ name: 'smarthost', type: 'smtp', host: 'mail.example.test', port: 587 } as never);
      expect((await store.tenants.upstreams()).map((u) => u.name)).toEqual(['smarthost']);
      await store.tenants.deleteUpstream('smarthost');
      expect(await store.tenants.upstreams()).toEqual([]);

      await store.apiTokens.save('h1', { tenant: 'shop', name: 'erp', createdAt: 1 });
      await store.apiTokens.save('h2', { tenant: 'shop', name: 'erp', createdAt: 2 });
      await store.apiTokens.save('h3', { tenant: 'shop', name: 'cms', createdAt: 3 });
      expect(await store.apiTokens.byHash('h1')).toBeUndefined();
      expect(await store.apiTokens.byHash('h2')).toEqual({ tenant: 'shop', name: 'erp', createdAt: 2 });
      expect(await store.apiTokens.names('shop')).toEqual(['cms', 'erp']);
      expect(await store.apiTokens.remove('shop', 'erp')).toBe(true);
      expect(await store.apiTokens.remove('shop', 'erp')).toBe(false);
      expect(await store.apiTokens.byHash('h2')).toBeUndefined();

      await store.signIns.set('tok', 5);
      await store.signIns.set('tok', 6);
      expect(await store.signIns.get('tok')).toBe(6);
      expect(await store.signIns.get('nope')).toBeUndefined();
      await store.domains.put('shop.test', { verified: true });
      await store.domains.put('a.test', { verified: false });
      expect(await store.domains.all()).toEqual([['a.test', { verified: false }], ['shop.test', { verified: true }]]);
    }));

    it('webhooks: subscriptions, the outbox in due order, settle with a next try, the log newest first', withStore(async (store) => {
      const hook = { id: 'wh1', tenant: 'shop', url: 'https://x.test/hook', secret: 's', events: ['failed' as const], active: true, createdAt: 1 };
      await store.webhooks.put(hook);
      expect(await store.webhooks.all()).toEqual([hook]);
      const d = (id: string) => ({ id, webhookId: 'wh1', tenant: 'shop', type: 'failed' as const, payload: '{}', attempt: 1, firstAt: 1 });
      await store.commit([{ kind: 'webhook.enqueue', delivery: d('d2'), dueAt: 200 }, { kind: 'webhook.enqueue', delivery: d('d1'), dueAt: 100 }]);
      const due = await store.webhooks.due(150, 10);
      expect(due.map((x) => x.delivery.id)).toEqual(['d1']);
      await store.webhooks.settle(due[0]!.ref, { deliveryId: 'd1', webhookId: 'wh1', type: 'failed', time: 150, attempt: 1, outcome: 'retrying', durationMs: 3, nextAttemptAt: 400 }, { delivery: { ...d('d1'), attempt: 2 }, dueAt: 400 });
      expect((await store.webhooks.due(300, 10)).map((x) => x.delivery.id)).toEqual(['d2']);
      const later = await store.webhooks.due(500, 10);
      expect(later.map((x) => `${x.delivery.id}#${x.delivery.attempt}`)).toEqual(['d2#1', 'd1#2']);
      await store.webhooks.settle(later[1]!.ref, { deliveryId: 'd1', webhookId: 'wh1', type: 'failed', time: 450, attempt: 2, outcome: 'delivered', durationMs: 2 });
      await store.webhooks.drop(later[0]!.ref);
      expect(await store.webhooks.due(9999, 10)).toEqual([]);
      expect((await store.webhooks.log('wh1', 10)).map((a) => a.attempt)).toEqual([2, 1]);
      await store.webhooks.delete(hook);
      expect(await store.webhooks.all()).toEqual([]);
    }));

    it('shipments by a part of the buyer\'s name, any word, any case, any script; a renamed buyer is found by the new name only', withStore(async (store) => {
      const s = (tenant: string, code: string, name: string) => ({ tenant, carrier: 'dhl', code, status: 'in-transit', name });
      const anna = s('shop', 'N1', 'Анна Иванова');
      await store.commit([{ kind: 'shipment.change', after: anna }, { kind: 'shipment.change', after: s('shop', 'N2', 'Bob Smith-Jones') }, { kind: 'shipment.change', after: s('other', 'N3', 'Bob Marley') }]);
      const names = async (tenant: string | undefined, name: string) => (tenant === undefined ? await store.acrossTenants.shipments({ name }, ['dhl']) : await store.shipments.list(tenant, { name }, ['dhl'])).shipments.map((x) => x.code).sort();
      expect(await names('shop', 'иванова')).toEqual(['N1']);
      expect(await names('shop', 'АННА ив')).toEqual(['N1']);
      expect(await names('shop', 'smith')).toEqual(['N2']);
      expect(await names('shop', 'bob')).toEqual(['N2']);
      expect(await names('shop', 'anna')).toEqual([]);
      expect(await names(undefined, 'bob')).toEqual(['N2', 'N3']);
      await store.commit([{ kind: 'shipment.change', before: anna, after: { ...anna, name: 'Maria Petrova' } }]);
      expect(await names('shop', 'иванова')).toEqual([]);
      expect(await names('shop', 'petrova')).toEqual(['N1']);
    }));

    it('shipments: schedule follows the record, indexes by status and contact, paging, notices, blacklist, bookkeeping', withStore(async (store) => {
      const s = (code: string, over: Record<string, unknown> = {}) => ({ tenant: 'shop', carrier: 'dhl', code, status: 'in-transit', active: true, nextCheckAt: 1000, email: 'Buyer@X.test', ...over });
      const a = s('A1');
      const b = s('B2', { carrier: 'russian-post', status: 'delivered', active: false, phoneE164: '+79160000000', orderReference: 'ORD-1', email: undefined });
      await store.commit([{ kind: 'shipment.change', after: a }, { kind: 'shipment.change', after: b }, { kind: 'shipment.change', after: s('C3', { nextCheckAt: 500 }) }]);
      expect((await store.shipments.getMany(['shop!dhl!A1', 'shop!dhl!nope', 'shop!russian-post!B2'])).map((x) => x?.code)).toEqual(['A1', undefined, 'B2']);
      expect((await store.shipments.dueShipments(1000, 10)).map((e) => [e.key, e.at])).toEqual([['shop!dhl!C3', 500], ['shop!dhl!A1', 1000]]);
      // a new check time moves it in the schedule; inactive leaves the schedule
      await store.commit([{ kind: 'shipment.change', before: a, after: { ...a, nextCheckAt: 3000 } }]);
      expect((await store.shipments.dueShipments(2000, 10)).map((e) => e.key)).toEqual(['shop!dhl!C3']);
      expect((await store.shipments.dueShipments(3000, 10)).map((e) => [e.key, e.at])).toEqual([['shop!dhl!C3', 500], ['shop!dhl!A1', 3000]]);
      const c = (await store.shipments.getMany(['shop!dhl!C3']))[0]!;
      await store.commit([{ kind: 'shipment.change', before: c, after: { ...c, active: false, status: 'delivered' } }]);
      expect((await store.shipments.dueShipments(9999, 10)).map((e) => e.key)).toEqual(['shop!dhl!A1']);
      expect(await store.shipments.countByStatus('shop')).toEqual({ 'in-transit': 1, delivered: 2 });

      const carriers = ['russian-post', 'dhl'];
      expect((await store.shipments.list('shop', {}, carriers)).shipments.map((x) => x.code)).toEqual(['A1', 'C3', 'B2']);
      expect((await store.shipments.list('shop', { status: 'delivered' }, carriers)).shipments.map((x) => x.code)).toEqual(['C3', 'B2']);
      expect((await store.shipments.list('shop', { carrier: 'dhl' }, carriers)).shipments.map((x) => x.code)).toEqual(['A1', 'C3']);
      const byCarrier = await store.shipments.list('shop', { carrier: 'dhl', limit: 1 }, carriers);
      expect((await store.shipments.list('shop', { carrier: 'dhl', limit: 1, cursor: byCarrier.cursor! }, carriers)).shipments.map((x) => x.code)).toEqual(['C3']);
      expect((await store.shipments.list('other', { carrier: 'dhl' }, carriers)).shipments).toEqual([]);
      expect((await store.shipments.list('shop', { email: 'buyer@x.TEST' }, carriers)).shipments.map((x) => x.code)).toEqual(['A1', 'C3']);
      expect((await store.shipments.list('shop', { phone: '+79160000000' }, carriers)).shipments.map((x) => x.code)).toEqual(['B2']);
      expect((await store.shipments.list('shop', { reference: 'ord-1' }, carriers)).shipments.map((x) => x.code)).toEqual(['B2']);
      expect((await store.shipments.list('shop', { code: 'b 2' }, carriers)).shipments.map((x) => x.carrier)).toEqual(['russian-post']);
      expect((await store.shipments.list('other', {}, carriers)).shipments).toEqual([]);
      const page1 = await store.shipments.list('shop', { limit: 2 }, carriers);
      expect(page1.shipments.map((x) => x.code)).toEqual(['A1', 'C3']);
      const page2 = await store.shipments.list('shop', { limit: 2, cursor: page1.cursor! }, carriers);
      expect(page2.shipments.map((x) => x.code)).toEqual(['B2']);

      const n = (sendAt: number, status: string) => ({ sendAt, tenant: 'shop', carrier: 'dhl', code: 'A1', status, channel: 'email' });
      await store.commit([{ kind: 'notice.add', notice: n(200, 'arrived') }, { kind: 'notice.add', notice: n(100, 'shipped') }, { kind: 'notice.add', notice: { ...n(150, 'x'), code: 'C3' } }]);
      expect((await store.shipments.dueNotices(175, 10)).map((x) => `${x.code}:${x.status}`)).toEqual(['A1:shipped', 'C3:x']);
      expect((await store.shipments.noticesOf('shop', 'dhl', 'A1')).map((x) => x.sendAt)).toEqual([100, 200]);
      // moved to a later time in one transaction: remove then add
      await store.commit([{ kind: 'notice.remove', notice: n(100, 'shipped') }, { kind: 'notice.add', notice: n(300, 'shipped') }]);
      expect((await store.shipments.noticesOf('shop', 'dhl', 'A1')).map((x) => `${x.sendAt}:${x.status}`)).toEqual(['200:arrived', '300:shipped']);
      // a tenant's whole outbox (a sending-window change re-plans it), by sending time, no other tenant's
      await store.commit([{ kind: 'notice.add', notice: { ...n(250, 'y'), tenant: 'other' } }]);
      expect((await store.shipments.noticesOf('shop')).map((x) => `${x.sendAt}:${x.code}`)).toEqual(['150:C3', '200:A1', '300:A1']);
      expect((await store.shipments.noticesOf('other')).map((x) => x.sendAt)).toEqual([250]);

      // deleting a shipment takes it out of every index
      await store.commit([{ kind: 'shipment.change', before: b }]);
      expect(await store.shipments.getMany(['shop!russian-post!B2'])).toEqual([undefined]);
      expect((await store.shipments.list('shop', { phone: '+79160000000' }, carriers)).shipments).toEqual([]);
      expect(await store.shipments.countByStatus('shop')).toEqual({ 'in-transit': 1, delivered: 1 });

      await store.commit([{ kind: 'blacklist.add', entry: { tenant: 'shop', kind: 'phone', value: '+7916', reason: 'STOP', time: 1 } }, { kind: 'blacklist.add', entry: { tenant: 'shop', kind: 'email', value: 'no@x.test', reason: 'bounced', time: 2 } }]);
      expect((await store.shipments.blacklist('shop', 10)).map((e) => e.kind)).toEqual(['email', 'phone']);
      expect((await store.shipments.blacklisted('shop', 'phone', '+7916'))?.reason).toBe('STOP');
      expect(await store.shipments.unblacklist('shop', 'phone', '+7916')).toBe(true);
      expect(await store.shipments.unblacklist('shop', 'phone', '+7916')).toBe(false);

      await store.shipments.saveSettings('shop', { enabled: true });
      expect(await store.shipments.settings('shop')).toEqual({ enabled: true });
      expect(await store.shipments.settings('other')).toBeUndefined();
      expect(await store.shipments.tenantsWithSettings()).toEqual(['shop']);
      expect(await store.shipments.quotaUsed('shop', '2026-12')).toBe(0);
      await store.commit([{ kind: 'tracking.quota', tenant: 'shop', month: '2026-12', used: 3 }, { kind: 'tracking.quota', tenant: 'shop', month: '2026-12', used: 5 }, { kind: 'tracking.report', tenant: 'shop', at: 77 }]);
      expect(await store.shipments.quotaUsed('shop', '2026-12')).toBe(5);
      expect(await store.shipments.nextReport('shop')).toBe(77);
    }));

    it('across tenants (the operator\'s views): messages and errors newest first over every tenant, paged; references, suppression, shipments', withStore(async (store) => {
      const tenants = ['alpha', 'shop', 'zeta-shop'];
      const ops: StoreOp[] = [];
      for (let i = 0; i < 30; i++) {
        const tenant = tenants[i % 3]!;
        const id = `X${String(i).padStart(2, '0')}`;
        ops.push({ kind: 'message.add', record: record(id, { tenant, createdAt: 1000 + i * 10, subject: i % 7 === 0 ? 'hit' : 'miss', ...(i === 4 ? { reference: 'ORD-77' } : {}) }) });
        ops.push(event({ time: 1000 + i * 10, type: i % 2 ? 'failed' : 'deferred', class: i % 2 ? 'hard' : 'soft', msgId: id, tenant }));
        ops.push(event({ time: 1000 + i * 10, type: 'delivered', msgId: `${id}D`, tenant })); // not an error
      }
      ops.push({ kind: 'reference.add', tenant: 'zeta-shop', reference: 'ord-77', msgId: 'APP1' });
      await store.commit(ops);
      const ids = (n: number[]) => n.map((i) => `X${String(i).padStart(2, '0')}`);
      const first = await store.acrossTenants.messages({ limit: 4 });
      expect(first.messages.map((m) => m.id)).toEqual(ids([29, 28, 27, 26]));
      expect(first.messages.map((m) => m.tenant)).toEqual(['zeta-shop', 'shop', 'alpha', 'zeta-shop']);
      const seen = first.messages.map((m) => m.id);
      for (let cursor = first.cursor; cursor;) {
        const page = await store.acrossTenants.messages({ limit: 4, cursor });
        seen.push(...page.messages.map((m) => m.id));
        cursor = page.cursor;
      }
      expect(seen).toEqual(ids(Array.from({ length: 30 }, (_, i) => 29 - i)));
      expect((await store.acrossTenants.messages({ limit: 100, from: 1050, to: 1100 })).messages.map((m) => m.id)).toEqual(ids([9, 8, 7, 6, 5]));
      expect((await store.acrossTenants.messages({ limit: 100, filter: (r) => r.subject === 'hit' })).messages.map((m) => m.id)).toEqual(ids([28, 21, 14, 7, 0]));
      const bounded = await store.acrossTenants.messages({ limit: 0.2, filter: () => false });
      expect(bounded.messages).toEqual([]);
      expect(bounded.cursor).toBeDefined();

      const errors = await store.acrossTenants.errors({ limit: 7 });
      expect(errors.events.map((e) => e.msgId)).toEqual(ids([29, 28, 27, 26, 25, 24, 23]));
      expect(new Set(errors.events.map((e) => e.tenant))).toEqual(new Set(tenants));
      const rest = await store.acrossTenants.errors({ limit: 100, cursor: errors.cursor! });
      expect(rest.events.map((e) => e.msgId)).toEqual(ids(Array.from({ length: 23 }, (_, i) => 22 - i)));
      expect(rest.cursor).toBeUndefined();
      expect((await store.acrossTenants.errors({ class: 'soft', since: 1200, until: 1250 })).events.map((e) => e.msgId)).toEqual(ids([24, 22, 20]));
      expect(await store.acrossTenants.countErrors(1200)).toBe(10);
      expect(await store.acrossTenants.countErrors(0)).toBe(30);

      expect(await store.acrossTenants.byReference('ORD-77', 10)).toEqual([{ tenant: 'shop', id: 'X04' }, { tenant: 'zeta-shop', id: 'APP1' }]);
      expect(await store.acrossTenants.byReference('nothing', 10)).toEqual([]);

      await store.commit([
        { kind: 'suppression.add', entry: { tenant: 'zeta-shop', address: 'gone@example.test', class: 'hard', reason: 'user-unknown', time: 1, source: 'bounce' } },
        { kind: 'suppression.add', entry: { tenant: 'alpha', address: 'gone@example.test', class: 'hard', reason: 'user-unknown', time: 2, source: 'bounce' } },
        { kind: 'suppression.add', entry: { tenant: 'shop', address: 'angry@example.test', class: 'complaint', reason: 'abuse', time: 3, source: 'complaint' } },
      ]);
      const supp = (q: { address?: string; reason?: string; limit?: number }) => store.acrossTenants.suppression(q).then((l) => l.map((e) => `${e.tenant}:${e.address}`));
      expect(await supp({})).toEqual(['alpha:gone@example.test', 'shop:angry@example.test', 'zeta-shop:gone@example.test']);
      expect(await supp({ address: 'GONE' })).toEqual(['alpha:gone@example.test', 'zeta-shop:gone@example.test']);
      expect(await supp({ reason: 'complaint' })).toEqual(['shop:angry@example.test']);
      expect(await supp({ limit: 1 })).toEqual(['alpha:gone@example.test']);

      const ship = (tenant: string, code: string, over: Record<string, unknown> = {}) => ({ kind: 'shipment.change' as const, after: { tenant, carrier: 'dhl', code, status: 'in-transit', email: 'buyer@x.test', ...over } });
      await store.commit([ship('zeta-shop', 'Z1'), ship('alpha', 'A1'), ship('alpha', 'A2', { status: 'delivered', email: 'other@x.test' }), ship('shop', 'S1'), ship('shop', 'A1')]);
      const carriers = ['dhl'];
      const codes = (r: { shipments: Array<{ tenant: string; code: string }> }) => r.shipments.map((x) => `${x.tenant}:${x.code}`);
      expect(codes(await store.acrossTenants.shipments({}, carriers))).toEqual(['alpha:A1', 'alpha:A2', 'shop:A1', 'shop:S1', 'zeta-shop:Z1']);
      const all: string[] = [];
      for (let cursor: string | undefined, n = 0; n === 0 || cursor; n++) {
        const page = await store.acrossTenants.shipments({ limit: 2, ...(cursor ? { cursor } : {}) }, carriers);
        all.push(...codes(page));
        cursor = page.cursor;
      }
      expect(all).toEqual(['alpha:A1', 'alpha:A2', 'shop:A1', 'shop:S1', 'zeta-shop:Z1']);
      expect(codes(await store.acrossTenants.shipments({ status: 'delivered' }, carriers))).toEqual(['alpha:A2']);
      expect(codes(await store.acrossTenants.shipments({ email: 'BUYER@x.test' }, carriers))).toEqual(['alpha:A1', 'shop:A1', 'shop:S1', 'zeta-shop:Z1']);
      expect(codes(await store.acrossTenants.shipments({ code: 'a1' }, carriers))).toEqual(['alpha:A1', 'shop:A1']);
    }));

    it('TLS report counters: sessions add up per UTC day, domain and report line, from concurrent writers; pending days before a day; remove', withStore(async (store) => {
      const day1 = Date.parse('2030-03-01T10:00:00Z');
      const day2 = Date.parse('2030-03-02T23:59:59Z');
      const sts = { policyDomain: 'b.test', policyType: 'sts' as const, policyStrings: ['version: STSv1', 'mode: enforce'], mxHosts: ['mx.b.test'] };
      const ok = { ...sts, result: 'success', receivingMx: 'mx.b.test', receivingIp: '192.0.2.1' };
      const bad = { ...sts, result: 'certificate-host-mismatch', receivingMx: 'mx.b.test', receivingIp: '192.0.2.1', reasonCode: 'ERR_TLS_CERT_ALTNAME_INVALID' };
      await Promise.all([
        store.tlsReports.record([{ time: day1, ...ok }, { time: day1 + 1, ...ok }, { time: day1, ...bad }]),
        store.tlsReports.record([{ time: day1 + 2, ...ok }]),
        store.tlsReports.record([{ time: day2, ...ok }, { time: day1, ...ok, policyDomain: 'a.test', policyType: 'tlsa', policyStrings: ['3 1 1 00'] }]),
      ]);
      await store.tlsReports.record([{ time: day1 + 3, ...bad }]);
      const byResult = (rows: Awaited<ReturnType<typeof store.tlsReports.counts>>) => rows.map((r) => `${r.result}:${r.count}`).sort();
      expect(byResult(await store.tlsReports.counts('2030-03-01', 'b.test'))).toEqual(['certificate-host-mismatch:2', 'success:3']);
      expect((await store.tlsReports.counts('2030-03-01', 'b.test')).find((r) => r.result !== 'success')).toEqual({ ...bad, day: '2030-03-01', count: 2 });
      expect(byResult(await store.tlsReports.counts('2030-03-02', 'b.test'))).toEqual(['success:1']);
      expect(await store.tlsReports.counts('2030-03-01', 'a.test')).toEqual([{ ...ok, policyDomain: 'a.test', policyType: 'tlsa', policyStrings: ['3 1 1 00'], day: '2030-03-01', count: 1 }]);
      expect(await store.tlsReports.pending('2030-03-02', 10)).toEqual([{ day: '2030-03-01', policyDomain: 'a.test' }, { day: '2030-03-01', policyDomain: 'b.test' }]);
      expect(await store.tlsReports.pending('2030-03-03', 2)).toEqual([{ day: '2030-03-01', policyDomain: 'a.test' }, { day: '2030-03-01', policyDomain: 'b.test' }]);
      await store.tlsReports.remove('2030-03-01', 'b.test');
      expect(await store.tlsReports.counts('2030-03-01', 'b.test')).toEqual([]);
      expect(await store.tlsReports.pending('2030-03-03', 10)).toEqual([{ day: '2030-03-01', policyDomain: 'a.test' }, { day: '2030-03-02', policyDomain: 'b.test' }]);
    }));

    it('commits: concurrent writers share transactions; a commit waits for its files; NUL in text is stored, not an error', withStore(async (store) => {
      const before = store.commitStats.groups;
      await Promise.all(Array.from({ length: 200 }, (_, i) => store.commit([{ kind: 'message.add', record: record(`G${i}`) }, event({ msgId: `G${i}` })])));
      expect(await store.messages.depth()).toBe(200);
      expect(store.commitStats.groups - before).toBeLessThan(100);
      await expect(store.commit([event({ msgId: 'N\u0000UL', recipient: 'nul\u0000@x.test', detail: 'a\u0000b' })])).resolves.toBeUndefined();
      const events = await store.events.byMessage('N\u0000UL', 10);
      expect(events).toHaveLength(1);
      expect(events[0]!.detail).toMatch(/^a.b$/);
    }));
  });
}

describe.skipIf(!hasPostgres)('two nodes on one PostgreSQL database', () => {
  it('each node delivers only what it accepted; records, lists and searches are shared', async () => {
    const url = await pgServer!.database('nodes');
    const a = await openPostgresStore({ url, node: 'node-a' });
    const b = await openPostgresStore({ url, node: 'node-b' });
    try {
      await a.commit([{ kind: 'message.add', record: record('FROM-A', { dueAt: 100 }) }]);
      await b.commit([{ kind: 'message.add', record: record('FROM-B', { dueAt: 200, createdAt: 2000 }) }]);
      expect(await a.messages.due(1000, 10)).toEqual([{ id: 'FROM-A', dueAt: 100 }]);
      expect(await b.messages.due(1000, 10)).toEqual([{ id: 'FROM-B', dueAt: 200 }]);
      expect(await a.messages.depth()).toBe(1);
      expect((await all(b.messages.withBodies())).map((r) => r.id)).toEqual(['FROM-B']);
      // an update by the other node (an admin's retry through its API) keeps the owner
      const rec = (await b.messages.get('FROM-A'))!;
      await b.commit([{ kind: 'message.update', record: { ...rec, dueAt: 50 }, previousDueAt: 100 }]);
      expect(await a.messages.due(1000, 10)).toEqual([{ id: 'FROM-A', dueAt: 50 }]);
      expect(await b.messages.due(1000, 10)).toEqual([{ id: 'FROM-B', dueAt: 200 }]);
      expect((await b.messages.listByTenant('shop', { limit: 10 })).messages.map((m) => m.id)).toEqual(['FROM-B', 'FROM-A']);
      expect((await a.cluster.nodes()).map((n) => n.id)).toEqual(['node-a', 'node-b']);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a lease has one holder; it moves when the holder lets it run out; changes reach the other node', async () => {
    const url = await pgServer!.database('lease');
    const a = await openPostgresStore({ url, node: 'node-a' });
    const b = await openPostgresStore({ url, node: 'node-b' });
    try {
      expect(await a.cluster.lease('tracking', 400)).toBe(true);
      expect(await b.cluster.lease('tracking', 400)).toBe(false);
      expect(await a.cluster.lease('tracking', 400)).toBe(true);
      expect(await b.cluster.lease('webhooks', 400)).toBe(true);
      await new Promise((r) => setTimeout(r, 500));
      expect(await b.cluster.lease('tracking', 400)).toBe(true);
      expect(await a.cluster.lease('tracking', 400)).toBe(false);
      await b.cluster.release('tracking');
      expect(await a.cluster.lease('tracking', 400)).toBe(true);

      let changed = 0;
      b.cluster.onChange('tenants', () => changed++);
      await a.tenants.putUpstream({ name: 'smarthost', type: 'smtp', host: 'mail.example.test', port: 587 } as never);
      for (const until = Date.now() + 3000; changed === 0 && Date.now() < until;) await new Promise((r) => setTimeout(r, 50));
      expect(changed).toBeGreaterThan(0);
      expect((await b.tenants.upstreams()).map((u) => u.name)).toEqual(['smarthost']);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('hand-over: a drained node\'s message is due nowhere until another node has adopted its body', async () => {
    const url = await pgServer!.database('handover');
    const a = await openPostgresStore({ url, node: 'node-a' });
    const b = await openPostgresStore({ url, node: 'node-b' });
    try {
      await a.commit([{ kind: 'message.add', record: record('H1', { dueAt: 100 }) }]);
      await a.messages.handOver!('H1', Buffer.from('the body'));
      expect(await a.messages.due(1000, 10)).toEqual([]);
      const taken = await b.messages.adopt!(10);
      expect(taken.map((t) => [t.record.id, t.body.toString()])).toEqual([['H1', 'the body']]);
      // taken but not yet spooled: not due (its body is not on this node's disk yet), and offered again
      expect(await b.messages.due(1000, 10)).toEqual([]);
      expect((await b.messages.adopt!(10)).map((t) => t.record.id)).toEqual(['H1']);
      expect(await a.messages.adopt!(10)).toEqual([]);
      await b.commit([{ kind: 'message.adopted', record: { ...taken[0]!.record, body: { kind: 'segment', segment: 9, offset: 0, length: 8 } } }]);
      expect(await b.messages.due(1000, 10)).toEqual([{ id: 'H1', dueAt: 100 }]);
      expect((await b.messages.get('H1'))?.body).toEqual({ kind: 'segment', segment: 9, offset: 0, length: 8 });
      expect(await b.messages.adopt!(10)).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('hand-over: a bounce recorded by another node while the message is being adopted is kept', async () => {
    const url = await pgServer!.database('handover');
    const a = await openPostgresStore({ url, node: 'node-a' });
    const b = await openPostgresStore({ url, node: 'node-b' });
    try {
      await a.commit([{ kind: 'message.add', record: record('H2', { dueAt: 100, state: 'queued' }) }]);
      await a.messages.handOver!('H2', Buffer.from('the body'));
      const [taken] = await b.messages.adopt!(10);
      // The bounce processor (on node a) records an outcome after node b read the record to adopt it.
      const outcome = { type: 'bounced' as const, class: 'hard', reason: 'user-unknown', time: 3000 };
      await a.commit([{ kind: 'message.outcome', id: 'H2', address: 'a@buyer.test', outcome }]);
      await b.commit([{ kind: 'message.adopted', record: { ...taken!.record, body: { kind: 'segment', segment: 9, offset: 0, length: 8 } } }]);
      const stored = await b.messages.get('H2');
      expect(stored?.recipients[0]?.outcome).toEqual(outcome);
      expect(stored?.body).toEqual({ kind: 'segment', segment: 9, offset: 0, length: 8 });
      expect(await b.messages.due(1000, 10)).toEqual([{ id: 'H2', dueAt: 100 }]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('slots: at most `limit` across the nodes; a closed node\'s slots come free', async () => {
    const url = await pgServer!.database('slots');
    const a = await openPostgresStore({ url, node: 'node-a' });
    const b = await openPostgresStore({ url, node: 'node-b' });
    try {
      const a1 = await a.cluster.slot!('up:smarthost', 2);
      const a2 = await a.cluster.slot!('up:smarthost', 2);
      expect(a1 && a2).toBeTruthy();
      expect(await b.cluster.slot!('up:smarthost', 2)).toBeUndefined();
      expect(await b.cluster.slot!('up:other', 2)).toBeDefined();
      await a1!();
      // a released slot stays with its node for a moment (the next delivery reuses it), then goes back
      expect(await b.cluster.slot!('up:smarthost', 2)).toBeUndefined();
      const again = await a.cluster.slot!('up:smarthost', 2);
      expect(again).toBeDefined();
      await again!();
      await new Promise((r) => setTimeout(r, 900));
      const b1 = await b.cluster.slot!('up:smarthost', 2);
      expect(b1).toBeDefined();
      expect(await a.cluster.slot!('up:smarthost', 2)).toBeUndefined();
      await a.close();
      expect(await b.cluster.slot!('up:smarthost', 2)).toBeDefined();
    } finally {
      await a.close().catch(() => undefined);
      await b.close();
    }
  });

  it('migrates a database of schema 1 (written before nodes) and refuses one newer than it knows', async () => {
    const url = await pgServer!.database('migrate');
    const { MIGRATIONS } = await import('../src/store/postgres/schema.js');
    const name = new URL(url).pathname.slice(1);
    await pgServer!.sql(name, 'create table mailgate_schema (version integer primary key, name text not null, applied_at timestamptz not null default now())');
    await pgServer!.sql(name, MIGRATIONS[0]!.sql);
    await pgServer!.sql(name, `insert into mailgate_schema (version, name) values (1, 'initial schema')`);
    await pgServer!.sql(name, `insert into messages (id, tenant, created_at, due_at, record) values ('OLD', 'shop', 1, 5, $1::jsonb)`, [JSON.stringify(record('OLD', { dueAt: 5 }))]);
    const store = await openPostgresStore({ url, node: 'first' });
    try {
      expect(await store.messages.due(10, 10)).toEqual([{ id: 'OLD', dueAt: 5 }]);
    } finally {
      await store.close();
    }
    const versions = await pgServer!.sql(name, 'select version from mailgate_schema order by version');
    expect(versions.rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    await pgServer!.sql(name, `insert into mailgate_schema (version, name) values (999, 'from the future')`);
    await expect(openPostgresStore({ url, node: 'first' })).rejects.toThrow(/schema version 999, newer than this mailgate knows/);
  });
});
