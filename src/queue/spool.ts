// The durable spool: message bodies in append-only segment files on this node's disk (large ones in
// files of their own), made durable together with their records in the store by group commit. The
// records, schedule and indexes are the store's (store.messages); a segment file is deleted once
// every message in it has reached a final state.
import fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { MessageHolder, Store, StoreOp } from '../store/ports.js';
import { syncDirectory } from '../store/group-commit.js';
import type { BodyRef, MessageRecord } from '../store/records.js';
import { queueIdTime } from './ids.js';

/** A large body goes to its own file in writes of at least this much (one write per 64 KiB socket read cost ~0.5 ms a MB). */
const OWN_FILE_WRITE = 256 * 1024;

/** Writes all of `data` at the file's position in one writev, finishing a short one piece by piece. */
async function writeAllFully(file: FileHandle, data: Buffer[]): Promise<void> {
  let skip = (await file.writev(data)).bytesWritten;
  for (const b of data) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    await writeFully(file, b.subarray(skip), null);
    skip = 0;
  }
}

/** Bodies up to this size are buffered and appended to a shared segment; larger ones stream to their own file. */
export const INLINE_BODY_LIMIT = 1024 * 1024;
const DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024;

export class MessageTooLargeError extends Error {
  readonly code = 'MESSAGE_TOO_LARGE';
  constructor(readonly limit: number) {
    super(`message exceeds the size limit of ${limit} bytes`);
  }
}

/** A body written to disk but not yet durable: it becomes so when its record is committed. */
export interface StagedBody {
  ref: BodyRef;
  size: number;
  file: FileHandle;
  /** A new directory entry was created (segment or own file) and the directory needs an fsync. */
  newEntry: boolean;
  /** The bytes of a segment-stored body, so a first delivery attempt need not read them back. */
  data?: Buffer;
}

interface Segment {
  n: number;
  file: FileHandle;
  size: number;
  live: number;
}

/** Writes all of `data` (Node does not retry short writes, which a nearly full disk can produce). */
async function writeFully(file: FileHandle, data: Buffer, position: number | null): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await file.write(data, done, data.length - done, position === null ? null : position + done);
    if (bytesWritten <= 0) throw new Error('short write to the spool (disk full?)');
    done += bytesWritten;
  }
}

export class Spool {
  private readonly segments = new Map<number, Segment>();
  private current: Segment | undefined;
  private nextSegment = 1;
  private opening: Promise<Segment> | undefined;

  private adopting: NodeJS.Timeout | undefined;
  /** Bytes of final messages' content kept on this node's disk, per tenant (retention.bodiesPerTenant). */
  private readonly keptBytes = new Map<string, number>();
  private readonly trimming = new Set<string>();
  private holds = 0;
  private readonly heldUnlinks: string[] = [];

  private constructor(
    private readonly dir: string,
    private readonly store: Store,
    private readonly log: Logger,
    private readonly segmentSize: number,
  ) {}

  /** Opens the spool directory and reconciles it with the records: orphaned body files are removed. */
  static async open(dir: string, store: Store, log: Logger, segmentSize = DEFAULT_SEGMENT_SIZE): Promise<Spool> {
    await fs.mkdir(dir, { recursive: true });
    await syncDirectory(path.dirname(dir));
    const spool = new Spool(dir, store, log, segmentSize);
    await spool.recover();
    return spool;
  }

  /** fsync of the spool directory, so that new file names survive a power cut. */
  syncDir(): Promise<void> {
    return syncDirectory(this.dir);
  }

  /** Writes a body (not yet durable). Throws MessageTooLargeError after draining the stream if it exceeds maxSize. */
  async stage(id: string, body: Readable, maxSize: number): Promise<StagedBody> {
    const chunks: Buffer[] = [];
    let size = 0;
    let own: { file: FileHandle; name: string } | undefined;
    /** Bytes in `chunks` (once the body has its own file: not yet written to it). */
    let pending = 0;
    let tooLarge = false;
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (tooLarge || size > maxSize) {
          tooLarge = true;
          continue; // keep reading so the SMTP client gets its reply after DATA
        }
        chunks.push(chunk);
        pending += chunk.length;
        if (!own && size > INLINE_BODY_LIMIT) {
          const name = `msg-${id}.eml`;
          own = { file: await fs.open(path.join(this.dir, name), 'wx'), name };
        }
        if (own && pending >= OWN_FILE_WRITE) {
          await writeAllFully(own.file, chunks.splice(0));
          pending = 0;
        }
      }
      if (own && !tooLarge && pending > 0) await writeAllFully(own.file, chunks.splice(0));
    } catch (err) {
      if (own) await this.discardOwnFile(own.file, own.name);
      throw err;
    }
    if (tooLarge) {
      if (own) await this.discardOwnFile(own.file, own.name);
      throw new MessageTooLargeError(maxSize);
    }
    if (own) return { ref: { kind: 'file', name: own.name, length: size }, size, file: own.file, newEntry: true };
    return this.appendToSegment(Buffer.concat(chunks, size));
  }

  /** Makes a new message durable: body, record, schedule entry and any extra ops (events) in one group commit. */
  async enqueue(record: MessageRecord, staged: StagedBody, extraOps: StoreOp[]): Promise<void> {
    try {
      await this.store.commit([{ kind: 'message.add', record }, ...extraOps], { files: [staged.file], dirs: staged.newEntry ? [this.dir] : [] });
    } catch (err) {
      if (staged.ref.kind === 'file') await staged.file.close().catch(() => undefined);
      await this.release(staged.ref);
      throw err;
    }
    if (staged.ref.kind === 'file') await staged.file.close();
    if (record.state === 'done') await this.release(staged.ref);
  }

  /** Drops a staged body whose record was never committed. */
  async abandon(staged: StagedBody): Promise<void> {
    if (staged.ref.kind === 'file') await staged.file.close().catch(() => undefined);
    await this.release(staged.ref);
  }

  /**
   * Stores a changed record (new due time, final state, a later bounce). Once final, the body is
   * released — unless the record has `keptUntil`: then it is kept until then (re-send, raw source).
   */
  async update(record: MessageRecord, previousDueAt: number, extraOps: StoreOp[]): Promise<void> {
    const keepUntil = record.keptUntil;
    const keep = record.state === 'done' && keepUntil !== undefined;
    await this.store.commit([{ kind: 'message.update', record, previousDueAt, ...(keep ? { keepUntil } : {}) }, ...extraOps]);
    if (record.state === 'done' && !keep) await this.release(record.body);
    if (keep) this.countKept(record.tenant, record.size);
  }

  private countKept(tenant: string, bytes: number): void {
    this.keptBytes.set(tenant, (this.keptBytes.get(tenant) ?? 0) + bytes);
  }

  /** Bytes of final messages' content this node keeps for `tenant`. */
  keptBytesOf(tenant: string): number {
    return this.keptBytes.get(tenant) ?? 0;
  }

  /**
   * Keeps a tenant's kept content under `maxBytes`: past it, the content of its oldest final messages
   * is released until the tenant is at 90 % (their re-send and raw source go with it). How many.
   */
  async trimKept(tenant: string, maxBytes: number, now: number): Promise<number> {
    if (maxBytes <= 0 || this.keptBytesOf(tenant) <= maxBytes || this.trimming.has(tenant)) return 0;
    this.trimming.add(tenant);
    let n = 0;
    try {
      for await (const kept of this.store.messages.keptUntil(Number.MAX_SAFE_INTEGER)) {
        if (this.keptBytesOf(tenant) <= maxBytes * 0.9) break;
        const rec = await this.get(kept.id);
        if (!rec || rec.tenant !== tenant || rec.state !== 'done') continue;
        // The record says the content is gone (keptUntil passed) and the keep list lets it go.
        await this.store.commit([
          { kind: 'message.update', record: { ...rec, keptUntil: now - 1 }, previousDueAt: rec.dueAt },
          { kind: 'message.released', id: kept.id, keptUntil: kept.keptUntil },
        ]);
        await this.release(rec.body);
        this.countKept(tenant, -rec.size);
        n++;
      }
    } finally {
      this.trimming.delete(tenant);
    }
    if (n > 0) this.log.info({ tenant, released: n, keptBytes: this.keptBytesOf(tenant), maxBytes }, 'content of older messages released: the shop is over retention.bodiesPerTenant');
    return n;
  }

  /**
   * Several nodes: gives a queued message, body included, to the other nodes (this node is being
   * drained) and releases the body here. False when the store has no other nodes to give it to.
   */
  async handOver(record: MessageRecord): Promise<boolean> {
    const handOver = this.store.messages.handOver;
    if (!handOver) return false;
    const chunks: Buffer[] = [];
    for await (const c of this.openBody(record.body) as AsyncIterable<Buffer>) chunks.push(c);
    await handOver.call(this.store.messages, record.id, Buffer.concat(chunks));
    await this.release(record.body);
    return true;
  }

  /** Several nodes: spools the bodies of messages another node handed over and takes them on; how many. */
  async adoptHandedOver(limit = 100): Promise<number> {
    const adopt = this.store.messages.adopt;
    if (!adopt) return 0;
    const taken = await adopt.call(this.store.messages, limit);
    for (const { record, body } of taken) {
      const staged = await this.stage(record.id, Readable.from([body]), Number.MAX_SAFE_INTEGER);
      try {
        await this.store.commit([{ kind: 'message.adopted', record: { ...record, body: staged.ref } }], { files: [staged.file], dirs: staged.newEntry ? [this.dir] : [] });
      } catch (err) {
        await this.abandon(staged);
        throw err;
      }
      if (staged.ref.kind === 'file') await staged.file.close();
      this.log.info({ msgId: record.id, tenant: record.tenant }, 'message taken over from a drained node');
    }
    return taken.length;
  }

  /** Several nodes: looks for handed-over messages every `intervalMs` (no-op on a single-node store). */
  startAdopting(intervalMs = 2000): void {
    if (!this.store.messages.adopt || this.adopting) return;
    this.adopting = setInterval(() => void this.adoptHandedOver().catch((err: Error) => this.log.warn({ err: err.message }, 'taking over handed-over messages failed; trying again')), intervalMs);
    this.adopting.unref();
  }

  stopAdopting(): void {
    clearInterval(this.adopting);
    this.adopting = undefined;
  }

  /** True while a message's body is still on disk (queued, or kept for a re-send). */
  hasBody(record: MessageRecord, now: number): boolean {
    return record.state === 'queued' || (record.keptUntil ?? 0) > now;
  }

  /** Releases the bodies of failed messages whose keep time has passed. */
  async releaseExpired(now: number): Promise<number> {
    let n = 0;
    for await (const kept of this.store.messages.keptUntil(now)) {
      const rec = await this.get(kept.id);
      await this.store.commit([{ kind: 'message.released', id: kept.id, keptUntil: kept.keptUntil }]);
      if (rec) {
        await this.release(rec.body);
        this.countKept(rec.tenant, -rec.size);
      }
      n++;
    }
    return n;
  }

  /** The index write that lets a tenant find `id` (a message, or an application error) by its own reference. */
  referenceOp(tenant: string, reference: string, id: string): StoreOp {
    return { kind: 'reference.add', tenant, reference, msgId: id };
  }

  /** Records events that change no message state (durably, by group commit). */
  async appendEvents(ops: StoreOp[]): Promise<void> {
    await this.store.commit(ops);
  }

  /** A tenant's messages, newest first, optionally within [from, to) and after a cursor. */
  listByTenant(tenant: string, q: { from?: number; to?: number; cursor?: string; limit: number; filter?: (r: MessageRecord) => boolean }): Promise<{ messages: MessageRecord[]; cursor?: string }> {
    return this.store.messages.listByTenant(tenant, q);
  }

  /** Queue ids of a tenant's messages with this reference (X-Order-Id, X-Reference or Message-ID). */
  byReference(tenant: string, reference: string, limit = 100): Promise<string[]> {
    return this.store.messages.byReference(tenant, reference, limit);
  }

  /** The queue id of the message sent with this Message-ID (ours or the app's), if any. */
  async byMessageId(messageId: string): Promise<string | undefined> {
    const ours = /^<([0-9a-z]{20})(?:\.[0-9a-z]{12})?@/i.exec(messageId);
    if (ours) return ours[1]!.toUpperCase();
    return this.store.messages.byMessageId(messageId);
  }

  get(id: string): Promise<MessageRecord | undefined> {
    return this.store.messages.get(id);
  }

  /** Which node holds a queued message ('here' on a single node); undefined when it is not queued. */
  async holder(id: string): Promise<MessageHolder | undefined> {
    return this.store.messages.holder ? this.store.messages.holder(id) : 'here';
  }

  /** Ids of messages due at or before `now`, earliest first. */
  due(now: number, limit: number): Promise<Array<{ id: string; dueAt: number }>> {
    return this.store.messages.due(now, limit);
  }

  /** Due time of the earliest scheduled message, if any. */
  nextDue(): Promise<number | undefined> {
    return this.store.messages.nextDue();
  }

  /** Every message still in the queue, soonest due first. */
  queued(): AsyncIterable<MessageRecord> {
    return this.store.messages.queued();
  }

  /** How many messages of this tenant wait in the queue. */
  async queuedFor(tenant: string): Promise<number> {
    let n = 0;
    for await (const record of this.queued()) if (record.tenant === tenant) n++;
    return n;
  }

  /** When the oldest queued message was accepted (ms), undefined when the queue is empty. */
  async oldestQueuedAt(): Promise<number | undefined> {
    const id = await this.store.messages.oldestQueuedId();
    return id === undefined ? undefined : queueIdTime(id);
  }

  depth(): Promise<number> {
    return this.store.messages.depth();
  }

  /** Where a body's bytes are on disk (for a reader in another thread). */
  bodyLocation(ref: BodyRef): { kind: 'file'; path: string; start: number; length: number } {
    if (ref.kind === 'file') return { kind: 'file', path: path.join(this.dir, ref.name), start: 0, length: ref.length };
    return { kind: 'file', path: this.segmentPath(ref.segment), start: ref.offset, length: ref.length };
  }

  /** The body's bytes as a stream; `limit` stops after that many. */
  openBody(ref: BodyRef, limit = ref.length): Readable {
    const length = Math.min(limit, ref.length);
    if (length <= 0) return Readable.from([]);
    if (ref.kind === 'file') return createReadStream(path.join(this.dir, ref.name), { start: 0, end: length - 1 });
    return createReadStream(this.segmentPath(ref.segment), { start: ref.offset, end: ref.offset + length - 1 });
  }

  async close(): Promise<void> {
    await this.store.idle();
    for (const seg of this.segments.values()) await seg.file.close().catch(() => undefined);
    this.segments.clear();
    this.current = undefined;
  }

  private segmentPath(n: number): string {
    return path.join(this.dir, `seg-${n.toString().padStart(8, '0')}.dat`);
  }

  private async appendToSegment(data: Buffer): Promise<StagedBody> {
    let seg = this.current;
    let newEntry = false;
    if (!seg || (seg.size > 0 && seg.size + data.length > this.segmentSize)) {
      seg = await this.rotate();
    }
    // Reserve the range synchronously; positional writes may then run concurrently.
    const offset = seg.size;
    seg.size += data.length;
    seg.live++;
    try {
      await writeFully(seg.file, data, offset);
    } catch (err) {
      seg.live--;
      throw err;
    }
    return { ref: { kind: 'segment', segment: seg.n, offset, length: data.length }, size: data.length, file: seg.file, newEntry, data };
  }

  private rotate(): Promise<Segment> {
    this.opening ??= (async () => {
      const n = this.nextSegment++;
      const file = await fs.open(this.segmentPath(n), 'wx');
      // The new name must be durable before any message in it can be acknowledged.
      await this.syncDir();
      const seg: Segment = { n, file, size: 0, live: 0 };
      this.segments.set(n, seg);
      const previous = this.current;
      this.current = seg;
      this.opening = undefined;
      if (previous && previous.live === 0) await this.removeSegment(previous);
      return seg;
    })();
    return this.opening;
  }

  /** The directory holding body files (for a backup). */
  get directory(): string {
    return this.dir;
  }

  /**
   * Keeps every body file on disk until the returned function is called: a backup copies the files that
   * its database snapshot refers to, so none may go in between. Deletions wait and happen on release.
   */
  hold(): () => Promise<void> {
    this.holds++;
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      if (--this.holds > 0) return;
      const files = this.heldUnlinks.splice(0);
      await Promise.all(files.map((f) => fs.unlink(f).catch(() => undefined)));
    };
  }

  private async unlinkBody(file: string): Promise<void> {
    if (this.holds > 0) this.heldUnlinks.push(file);
    else await fs.unlink(file).catch(() => undefined);
  }

  private async release(ref: BodyRef): Promise<void> {
    if (ref.kind === 'file') {
      await this.unlinkBody(path.join(this.dir, ref.name));
      return;
    }
    const seg = this.segments.get(ref.segment);
    if (!seg) return;
    seg.live--;
    if (seg.live <= 0 && seg !== this.current) await this.removeSegment(seg);
  }

  private async removeSegment(seg: Segment): Promise<void> {
    this.segments.delete(seg.n);
    await seg.file.close().catch(() => undefined);
    await this.unlinkBody(this.segmentPath(seg.n));
    this.log.debug({ segment: seg.n }, 'spool segment removed');
  }

  private async discardOwnFile(file: FileHandle, name: string): Promise<void> {
    await file.close().catch(() => undefined);
    await fs.unlink(path.join(this.dir, name)).catch(() => undefined);
  }

  /** Rebuilds live counts from the schedule and removes body files no queued message refers to. */
  private async recover(): Promise<void> {
    const liveSegments = new Map<number, number>();
    const liveFiles = new Set<string>();
    for await (const rec of this.store.messages.withBodies()) {
      if (rec.state === 'done') this.countKept(rec.tenant, rec.size);
      if (rec.body.kind === 'file') liveFiles.add(rec.body.name);
      else liveSegments.set(rec.body.segment, (liveSegments.get(rec.body.segment) ?? 0) + 1);
    }
    let maxN = 0;
    for (const name of await fs.readdir(this.dir)) {
      const seg = /^seg-(\d+)\.dat$/.exec(name);
      if (seg) {
        const n = Number(seg[1]);
        maxN = Math.max(maxN, n);
        const live = liveSegments.get(n) ?? 0;
        if (live === 0) {
          await fs.unlink(path.join(this.dir, name));
        } else {
          const file = await fs.open(path.join(this.dir, name), 'r');
          const { size } = await file.stat();
          this.segments.set(n, { n, file, size, live });
        }
      } else if (/^msg-.*\.eml$/.test(name) && !liveFiles.has(name)) {
        await fs.unlink(path.join(this.dir, name));
      }
    }
    this.nextSegment = maxN + 1;
  }
}
