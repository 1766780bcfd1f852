// The bounce processor on a real store: soft bounces suppress only after repeated failures over
// days, and a bounce sent back without the VERP token is attributed by the original Message-ID.
import path from 'node:path';
import { Readable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BounceProcessor } from '../src/bounces/processor.js';
import { verpAddress } from '../src/identity/verp.js';
import { Spool } from '../src/queue/spool.js';
import type { MessageRecord } from '../src/queue/types.js';
import { EventLog } from '../src/store/event-log.js';
import { GroupCommit } from '../src/store/group-commit.js';
import { openStore, type Store } from '../src/store/level.js';
import { SuppressionList } from '../src/store/suppression.js';
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
  let dir: string;
  let store: Store;
  let spool: Spool;
  let now = 0;
  let processor: BounceProcessor;
  let suppression: SuppressionList;

  beforeEach(async () => {
    dir = await makeTempDir('mg-bp-');
    store = await openStore(dir);
    let s: Spool | undefined;
    const commit = new GroupCommit(store.db, () => s!.syncDir());
    spool = s = await Spool.open(path.join(dir, 'spool'), store, commit, pino({ level: 'silent' }));
    suppression = new SuppressionList(store);
    processor = new BounceProcessor({ spool, store, events: new EventLog(store), suppression, commit, verpSecret: secret, bounceDomain, log: pino({ level: 'silent' }), now: () => now });
  });
  afterEach(async () => {
    await spool.close();
    await store.close();
    await removeDir(dir);
  });

  async function message(id: string, to: string, messageId?: string): Promise<MessageRecord> {
    const staged = await spool.stage(id, Readable.from([Buffer.from('Subject: x\r\n\r\nx\r\n')]), 1e6);
    const record: MessageRecord = {
      id, tenant: 'shop', createdAt: 0, dueAt: 0, attempts: 1, envelope: { from: 'a@shop.test', to: [to] },
      recipients: [{ address: to, status: 'delivered', attempts: 1, updatedAt: 0 }], size: 10, body: staged.ref, source: { kind: 'smtp' }, state: 'queued',
      ...(messageId ? { messageId } : {}),
    };
    await spool.enqueue(record, staged, []);
    return record;
  }

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

  it('attributes a bounce without VERP token by the original Message-ID', async () => {
    await message('0000000000000000000B', 'gone@example.com', '<order-42@shop.test>');
    const r = await processor.process(dsn('orders@shop.test', 'gone@example.com', '5.1.1', '550 5.1.1 user unknown', '<order-42@shop.test>'), { from: '', to: ['postmaster@bounces.relay.test'] });
    expect(r).toMatchObject({ status: 'recorded', msgId: '0000000000000000000B', recipient: 'gone@example.com', class: 'hard' });
    expect(await suppression.get('shop', 'gone@example.com')).toMatchObject({ reason: 'user-unknown', msgId: '0000000000000000000B' });
    const unknown = await processor.process(dsn('orders@shop.test', 'x@example.com', '5.1.1', '550 5.1.1 user unknown', '<nobody@shop.test>'), { from: '', to: ['postmaster@bounces.relay.test'] });
    expect(unknown).toMatchObject({ status: 'ignored' });
  });
});
