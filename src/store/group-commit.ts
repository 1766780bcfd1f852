// Group commit: many writers' LevelDB ops and body files are made durable together —
// one fdatasync per touched file and one synced LevelDB batch per group, not per message.
import type { FileHandle } from 'node:fs/promises';
import type { Db, WriteOp } from './level.js';

type EncodedOp = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };

/**
 * The group's ops as root-level writes: keys with their sublevel's prefix, values JSON-encoded once
 * per object (an event is written under three or four index keys). The bytes are exactly what the
 * JSON sublevels would write, so reads are unchanged; it spares abstract-level the per-op sublevel
 * delegation, which was ~10 % of the SMTP thread's CPU under load.
 */
export function encodeOps(ops: WriteOp[]): EncodedOp[] {
  const json = new Map<unknown, string>();
  return ops.map((op) => {
    const key = op.sublevel.prefix + op.key;
    if (op.type === 'del') return { type: 'del', key };
    let value = json.get(op.value);
    if (value === undefined) {
      value = JSON.stringify(op.value);
      json.set(op.value, value);
    }
    return { type: 'put', key, value };
  });
}

interface Pending {
  ops: WriteOp[];
  files: FileHandle[];
  syncDir: boolean;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface GroupCommitStats {
  groups: number;
  writes: number;
}

/**
 * While one group is being flushed, new commits wait and form the next group, so under load a
 * single fsync serves everything that arrived meanwhile, and when idle a commit flushes at once.
 */
export class GroupCommit {
  private pending: Pending[] = [];
  private flushing: Promise<void> | undefined;
  readonly stats: GroupCommitStats = { groups: 0, writes: 0 };

  constructor(private readonly db: Db, private readonly syncDir: () => Promise<void>) {}

  /** Resolves once `ops` are in LevelDB with sync and every file in `files` is fdatasync'd. */
  commit(ops: WriteOp[], files: FileHandle[] = [], syncDir = false): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ ops, files, syncDir, resolve, reject });
      if (!this.flushing) this.flushing = this.drain();
    });
  }

  /** Resolves when nothing is pending any more. */
  async idle(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const group = this.pending;
        this.pending = [];
        try {
          await this.flush(group);
          for (const p of group) p.resolve();
        } catch (err) {
          for (const p of group) p.reject(err as Error);
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  private async flush(group: Pending[]): Promise<void> {
    const files = new Set<FileHandle>();
    let syncDir = false;
    const ops: WriteOp[] = [];
    for (const p of group) {
      for (const f of p.files) files.add(f);
      syncDir ||= p.syncDir;
      for (const op of p.ops) ops.push(op);
    }
    // Bodies first: a record must never point at data that is not on disk.
    await Promise.all([...files].map((f) => f.datasync()));
    if (syncDir) await this.syncDir();
    if (ops.length > 0) {
      // classic-level honours `sync`; abstract-level's typings do not list it.
      const batch = this.db.batch.bind(this.db) as unknown as (o: EncodedOp[], opts: { sync: boolean; valueEncoding: 'utf8' }) => Promise<void>;
      await batch(encodeOps(ops), { sync: true, valueEncoding: 'utf8' });
    }
    this.stats.groups++;
    this.stats.writes += group.length;
  }
}
