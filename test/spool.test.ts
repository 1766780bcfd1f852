// The spool on a real LevelDB and real files in a temp dir: durability bookkeeping, group commit,
// segment lifecycle and recovery after a restart.
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../src/store/open.js';
import { openLevel } from '../src/store/level/db.js';
import { INLINE_BODY_LIMIT, MessageTooLargeError, Spool } from '../src/queue/spool.js';
import type { MessageRecord } from '../src/store/records.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';

const log = pino({ level: 'silent' });
let dir: string;
let store: Store | undefined;

async function open(segmentSize?: number): Promise<{ spool: Spool; commit: Store }> {
  store = await openStore(dir);
  const spool = await Spool.open(path.join(dir, 'spool'), store, log, segmentSize);
  return { spool, commit: store };
}

async function reopen(spool: Spool, segmentSize?: number) {
  await spool.close();
  await store!.close();
  return open(segmentSize);
}

function rec(id: string, body: MessageRecord['body'], dueAt = 1000): MessageRecord {
  return {
    id, tenant: 't', createdAt: 0, dueAt, attempts: 0, envelope: { from: '', to: ['a@x.test'] },
    recipients: [{ address: 'a@x.test', status: 'queued', attempts: 0, updatedAt: 0 }], size: 0, body, source: { kind: 'smtp' }, state: 'queued',
  };
}

async function put(spool: Spool, id: string, content: Buffer | string, dueAt = 1000): Promise<MessageRecord> {
  const staged = await spool.stage(id, Readable.from([Buffer.from(content)]), 50 * 1024 * 1024);
  const r = rec(id, staged.ref, dueAt);
  await spool.enqueue(r, staged, []);
  return r;
}

async function read(spool: Spool, r: MessageRecord): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of spool.openBody(r.body)) parts.push(c as Buffer);
  return Buffer.concat(parts).toString();
}

afterEach(async () => {
  await store?.close().catch(() => undefined);
  store = undefined;
  await removeDir(dir);
});

describe('spool', () => {
  it('stores small bodies in a shared segment and large ones in their own file, and reads them back', async () => {
    dir = await makeTempDir('mg-spool-');
    const { spool } = await open();
    const small = await put(spool, 'S1', 'hello\r\n');
    const big = 'x'.repeat(INLINE_BODY_LIMIT + 10);
    const large = await put(spool, 'L1', big);
    expect(small.body.kind).toBe('segment');
    expect(large.body).toMatchObject({ kind: 'file', length: big.length });
    expect(await read(spool, small)).toBe('hello\r\n');
    expect(await read(spool, large)).toBe(big);
    expect((await spool.get('S1'))?.body).toEqual(small.body);
    expect((await spool.due(1000, 10)).map((d) => d.id).sort()).toEqual(['L1', 'S1']);
    expect(await spool.due(999, 10)).toEqual([]);
    await spool.close();
  });

  it('writes a large body that comes in many uneven chunks to its own file byte for byte', async () => {
    dir = await makeTempDir('mg-spool-');
    const { spool } = await open();
    const chunks: Buffer[] = [];
    for (let i = 0, size = 0; size < 3 * INLINE_BODY_LIMIT; i++) {
      const c = Buffer.alloc(1 + ((i * 7919) % 70_000), String.fromCharCode(97 + (i % 26)));
      chunks.push(c);
      size += c.length;
    }
    const whole = Buffer.concat(chunks);
    const staged = await spool.stage('U1', Readable.from(chunks), 50 * 1024 * 1024);
    const r = rec('U1', staged.ref);
    await spool.enqueue(r, staged, []);
    expect(r.body).toMatchObject({ kind: 'file', length: whole.length });
    expect(Buffer.from(await read(spool, r), 'latin1').equals(whole)).toBe(true);
    expect((await fs.stat(path.join(dir, 'spool', 'msg-U1.eml'))).size).toBe(whole.length);
    await spool.close();
  });

  it('makes many concurrent submissions durable with far fewer fsync groups than messages', async () => {
    dir = await makeTempDir('mg-spool-');
    const { spool, commit } = await open();
    await Promise.all(Array.from({ length: 300 }, (_, i) => put(spool, `M${i}`, `message ${i}\r\n`)));
    expect(commit.commitStats.writes).toBe(300);
    expect(commit.commitStats.groups).toBeLessThan(100);
    expect(await spool.depth()).toBe(300);
    await spool.close();
  });

  it('group commit writes what the JSON sublevels read back: one event object under several keys, deletes, non-ASCII', async () => {
    dir = await makeTempDir('mg-spool-');
    await open();
    const event = { time: 5, type: 'accepted' as const, msgId: 'M1', tenant: 't', recipient: 'käufer@bücher.test', detail: 'a "quoted" ✓' };
    const r1 = rec('D1', { kind: 'segment', segment: 1, offset: 0, length: 0 }, 10);
    await store!.commit([
      { kind: 'event.add', event, id: 'k1' },
      { kind: 'message.add', record: r1 },
      { kind: 'message.add', record: rec('D2', { kind: 'segment', segment: 1, offset: 0, length: 0 }, 20) },
    ]);
    await store!.commit([{ kind: 'message.update', record: { ...r1, state: 'done', dueAt: 0 }, previousDueAt: 10 }]);
    expect(await store!.events.byRecipient('KÄUFER@bücher.test', 10)).toEqual([event]);
    expect(await store!.events.byMessage('M1', 10)).toEqual([event]);
    expect(await store!.messages.due(100, 10)).toEqual([{ id: 'D2', dueAt: 20 }]);
    await store!.close();
    store = undefined;
    // As LevelDB holds it: each object under its sublevel's prefix, nothing in the root without one.
    const { db, sub } = await openLevel(dir);
    try {
      expect(await sub.events.values().all()).toEqual([event]);
      expect(await sub.due.keys().all()).toEqual(['000000000000020!D2']);
      expect(await sub.due.get('000000000000020!D2')).toBe('');
      expect((await db.keys().all()).every((k) => k.startsWith('!'))).toBe(true);
    } finally {
      await db.close();
    }
  });

  it('indexes events by recipient and message with pointers, and still reads entries that hold the event (written before)', async () => {
    dir = await makeTempDir('mg-spool-');
    store = await openStore(dir);
    const newer = { time: 2000, type: 'delivered' as const, msgId: 'M2', tenant: 't', recipient: 'buyer@shop.test' };
    await store.commit([{ kind: 'event.add', id: 'e2', event: newer }]);
    await store.close();
    store = undefined;
    const older = { time: 1000, type: 'delivered' as const, msgId: 'M1', tenant: 't', recipient: 'buyer@shop.test' };
    const { db, sub } = await openLevel(dir);
    try {
      // the pointers: a third of the bytes, the event itself once
      expect(await sub.eventsByRecipient.values().all()).toEqual([0]);
      expect(await sub.eventsByMessage.values().all()).toEqual([0]);
      // an index entry as earlier versions wrote it, the event in the entry
      await sub.events.put('000000000001000!e1', older);
      await sub.eventsByRecipient.put('buyer@shop.test!000000000001000!e1', older);
      await sub.eventsByMessage.put('M1!000000000001000!e1', older);
      // a pointer whose event was pruned meanwhile
      await sub.eventsByRecipient.put('buyer@shop.test!000000000001500!gone', 0);
    } finally {
      await db.close();
    }
    store = await openStore(dir);
    expect(await store.events.byRecipient('Buyer@shop.test', 10)).toEqual([older, newer]);
    expect(await store.events.byMessage('M1', 10)).toEqual([older]);
    expect(await store.events.byMessage('M2', 10)).toEqual([newer]);
    expect(await store.events.deliveredSince('t', 'buyer@shop.test', 0, 'M1')).toBe(true); // M2, through its pointer
    expect(await store.events.deliveredSince('t', 'buyer@shop.test', 0, 'M2')).toBe(true); // M1, in the old entry
    expect(await store.events.deliveredSince('t', 'buyer@shop.test', 1500, 'M2')).toBe(false);
    expect(await store.events.deliveredSince('other', 'buyer@shop.test', 0, 'M9')).toBe(false);
  });

  it('refuses an oversize body after reading it and leaves nothing behind', async () => {
    dir = await makeTempDir('mg-spool-');
    const { spool } = await open();
    const body = Readable.from([Buffer.alloc(INLINE_BODY_LIMIT), Buffer.alloc(INLINE_BODY_LIMIT)]);
    await expect(spool.stage('BIG', body, INLINE_BODY_LIMIT + 5)).rejects.toBeInstanceOf(MessageTooLargeError);
    expect((await fs.readdir(path.join(dir, 'spool'))).filter((f) => f.startsWith('msg-'))).toEqual([]);
    await spool.close();
  });

  it('deletes a segment once every message in it is done, and keeps it while one is queued', async () => {
    dir = await makeTempDir('mg-spool-');
    const { spool } = await open(64);
    const a = await put(spool, 'A', 'a'.repeat(40));
    const b = await put(spool, 'B', 'b'.repeat(40)); // does not fit: second segment
    const c = await put(spool, 'C', 'c'.repeat(40)); // third segment, the current one
    expect(a.body).toMatchObject({ segment: 1 });
    expect(b.body).toMatchObject({ segment: 2 });
    const files = async () => (await fs.readdir(path.join(dir, 'spool'))).sort();
    expect(await files()).toEqual(['seg-00000001.dat', 'seg-00000002.dat', 'seg-00000003.dat']);
    await spool.update({ ...a, state: 'done', dueAt: 0 }, a.dueAt, []);
    expect(await files()).toEqual(['seg-00000002.dat', 'seg-00000003.dat']);
    expect(await spool.due(5000, 10)).toHaveLength(2);
    await spool.update({ ...b, dueAt: 2000 }, b.dueAt, []); // deferred: stays
    expect(await files()).toEqual(['seg-00000002.dat', 'seg-00000003.dat']);
    expect((await spool.due(5000, 10)).map((d) => d.id)).toEqual(['C', 'B']);
    expect(await read(spool, c)).toBe('c'.repeat(40));
    await spool.close();
  });

  it('after a restart keeps the bodies of queued messages and removes orphaned files', async () => {
    dir = await makeTempDir('mg-spool-');
    let { spool } = await open(64);
    const a = await put(spool, 'A', 'a'.repeat(40));
    const b = await put(spool, 'B', 'b'.repeat(40));
    await spool.update({ ...b, state: 'done', dueAt: 0 }, b.dueAt, []); // segment 2 is current, so it stays for now
    await fs.writeFile(path.join(dir, 'spool', 'msg-ORPHAN.eml'), 'never committed');
    ({ spool } = await reopen(spool, 64));
    expect((await fs.readdir(path.join(dir, 'spool'))).sort()).toEqual(['seg-00000001.dat']);
    expect(await read(spool, a)).toBe('a'.repeat(40));
    const c = await put(spool, 'C', 'c');
    expect(c.body).toMatchObject({ segment: 3 }); // never reuses a segment number
    await spool.close();
  });

  it('keeps the body of a failed message until its keep time, across a restart, then releases it', async () => {
    dir = await makeTempDir('mg-spool-');
    let { spool } = await open(64);
    const a = await put(spool, 'A', 'a'.repeat(40));
    await put(spool, 'B', 'b'.repeat(40)); // segment 2 becomes current
    const failed = { ...a, state: 'done' as const, dueAt: 0, keptUntil: 5000, recipients: a.recipients.map((r) => ({ ...r, status: 'failed' as const })) };
    await spool.update(failed, a.dueAt, []);
    expect(spool.hasBody(failed, 4999)).toBe(true);
    expect(spool.hasBody(failed, 5000)).toBe(false);
    ({ spool } = await reopen(spool, 64));
    expect(await read(spool, a)).toBe('a'.repeat(40)); // recovery counted the kept body
    expect(await spool.releaseExpired(4999)).toBe(0);
    expect(await spool.releaseExpired(5000)).toBe(1);
    expect((await fs.readdir(path.join(dir, 'spool'))).sort()).toEqual(['seg-00000002.dat']);
    await spool.close();
  });
});

describe('spool: a cap on kept content per shop', () => {
  it('releases the oldest kept content of the shop over its cap (others untouched), also counting what a restart finds', async () => {
    dir = await makeTempDir('mg-spool-');
    let { spool } = await open(64);
    const keep = async (id: string, tenant: string, keptUntil: number) => {
      const r = { ...(await put(spool, id, id.repeat(40))), tenant, size: 40 };
      await spool.update({ ...r, state: 'done', dueAt: 0, keptUntil }, r.dueAt, []);
      return { ...r, state: 'done' as const, dueAt: 0, keptUntil };
    };
    const a = await keep('A', 'big', 5000);
    const b = await keep('B', 'big', 6000);
    const other = await keep('O', 'small', 5500);
    ({ spool } = await reopen(spool, 64));
    expect(spool.keptBytesOf('big')).toBe(80);
    const c = await keep('C', 'big', 7000);
    expect(spool.keptBytesOf('big')).toBe(120);
    expect(await spool.trimKept('big', 100, 1000)).toBe(1); // down to 80 <= 90 % of 100
    expect(spool.hasBody((await spool.get('A'))!, 1000)).toBe(false); // the oldest went
    for (const r of [b, c, other]) expect(spool.hasBody((await spool.get(r.id))!, 1000)).toBe(true);
    expect(await read(spool, other)).toBe('O'.repeat(40));
    expect(spool.keptBytesOf('big')).toBe(80);
    expect(await spool.trimKept('big', 100, 1000)).toBe(0);
    // Its keep-list entry went too: nothing left to release for A when its time comes.
    expect(await spool.releaseExpired(5000)).toBe(0);
    void a;
    await spool.close();
  });
});

describe('spool hold (backups)', () => {
  it('keeps body files of messages that become final while held, and removes them on release', async () => {
    dir = await makeTempDir('mg-spool-hold-');
    const { spool } = await open();
    const big = await put(spool, 'BIG0000000000000000A', Buffer.alloc(INLINE_BODY_LIMIT + 10, 'b'));
    expect(big.body.kind).toBe('file');
    const file = path.join(dir, 'spool', (big.body as { name: string }).name);
    const release = spool.hold();
    await spool.update({ ...big, state: 'done', recipients: big.recipients.map((r) => ({ ...r, status: 'delivered' })) }, big.dueAt, []);
    expect(await fs.stat(file).then(() => true, () => false)).toBe(true);
    await release();
    expect(await fs.stat(file).then(() => true, () => false)).toBe(false);
    await spool.close();
  });
});
