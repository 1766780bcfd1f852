// A bounce processor on a real LevelDB and spool in a temp dir, with a helper to queue a message
// the way the relay would have sent it (one recipient, delivered, its body in the spool).
import path from 'node:path';
import { Readable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { BounceProcessor } from '../../src/bounces/processor.js';
import { Spool } from '../../src/queue/spool.js';
import type { MessageRecord } from '../../src/store/records.js';
import { EventLog } from '../../src/store/event-log.js';
import { openStore, type Store } from '../../src/store/open.js';
import { SuppressionList } from '../../src/store/suppression.js';
import { makeTempDir, removeDir } from './tmp.js';

export interface BounceWorld {
  dir: string;
  store: Store;
  spool: Spool;
  events: EventLog;
  suppression: SuppressionList;
  processor: BounceProcessor;
  /** Queues a delivered message to `to` for `tenant`. */
  message(id: string, to: string | string[], opts?: { tenant?: string; messageId?: string }): Promise<MessageRecord>;
  close(): Promise<void>;
}

export async function openBounceWorld(opts: { secret: Buffer; bounceDomain: string; now?: () => number; log?: Logger }): Promise<BounceWorld> {
  const dir = await makeTempDir('mg-bounces-');
  const log = opts.log ?? pino({ level: 'silent' });
  const store = await openStore(dir);
  const spool = await Spool.open(path.join(dir, 'spool'), store, log);
  const events = new EventLog(store);
  const suppression = new SuppressionList(store);
  const processor = new BounceProcessor({ spool, store, events, suppression, verpSecret: opts.secret, bounceDomain: opts.bounceDomain, log, ...(opts.now ? { now: opts.now } : {}) });
  return {
    dir, store, spool, events, suppression, processor,
    async message(id, to, m = {}) {
      const staged = await spool.stage(id, Readable.from([Buffer.from('Subject: x\r\n\r\nx\r\n')]), 1e6);
      const record: MessageRecord = {
        id, tenant: m.tenant ?? 'shop', createdAt: 0, dueAt: 0, attempts: 1, envelope: { from: 'orders@shop.test', to: [to].flat() },
        recipients: [to].flat().map((address) => ({ address, status: 'delivered' as const, attempts: 1, updatedAt: 0 })), size: 10, body: staged.ref, source: { kind: 'smtp' }, state: 'queued',
        ...(m.messageId ? { messageId: m.messageId } : {}),
      };
      await spool.enqueue(record, staged, []);
      return record;
    },
    async close() {
      await spool.close();
      await store.close();
      await removeDir(dir);
    },
  };
}
