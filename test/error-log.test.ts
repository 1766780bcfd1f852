// The error log on a real LevelDB: a tenant's newest-first pages with a cursor, class filter,
// time range, and the "errors since" count; other tenants' events never show up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventLog } from '../src/store/event-log.js';
import { openStore, type Store } from '../src/store/open.js';
import type { QueueEvent } from '../src/store/records.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';

describe('error log', () => {
  let dir: string;
  let store: Store;
  let log: EventLog;

  beforeAll(async () => {
    dir = await makeTempDir('mg-errlog-');
    store = await openStore(dir);
    log = new EventLog(store);
    const ops = [];
    for (let i = 0; i < 120; i++) {
      const ev: QueueEvent = { time: 1_000_000 + i * 1000, type: i % 3 === 0 ? 'bounced' : 'failed', msgId: `M${i}`, tenant: i % 4 === 0 ? 'other' : 'shop', recipient: `r${i}@example.com`, class: i % 2 ? 'hard' : 'soft', reason: 'x' };
      ops.push(...log.ops(ev));
      ops.push(...log.ops({ ...ev, type: 'delivered', msgId: `D${i}` })); // not an error
    }
    await store.commit(ops);
  });
  afterAll(async () => {
    await store.close();
    await removeDir(dir);
  });

  it('pages a tenant newest first with a cursor, never showing another tenant or non-errors', async () => {
    const first = await log.errors('shop', { limit: 50 });
    expect(first.events).toHaveLength(50);
    expect(first.events.every((e) => e.tenant === 'shop' && e.type !== 'delivered')).toBe(true);
    expect(first.events[0]!.msgId).toBe('M119');
    const times = first.events.map((e) => e.time);
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const second = await log.errors('shop', { limit: 50, cursor: first.cursor! });
    expect(second.events[0]!.time).toBeLessThan(first.events.at(-1)!.time);
    expect(second.events).toHaveLength(40); // 90 shop errors in all
    expect(second.cursor).toBeUndefined();
    expect(new Set([...first.events, ...second.events].map((e) => e.msgId)).size).toBe(90);
  });

  it('filters by class and time, and counts errors since a time', async () => {
    const hard = await log.errors('shop', { class: 'hard', limit: 500 });
    expect(hard.events.every((e) => e.class === 'hard')).toBe(true);
    expect(hard.events).toHaveLength(60);
    const window = await log.errors('shop', { since: 1_100_000, until: 1_110_000, limit: 500 });
    expect(window.events.map((e) => e.msgId)).toEqual(['M109', 'M107', 'M106', 'M105', 'M103', 'M102', 'M101']);
    expect(await log.countErrors('shop', 1_110_000)).toBe(8);
    expect(await log.countErrors('other', 0)).toBe(30);
    expect(await log.countErrors('nobody', 0)).toBe(0);
  });
});
