// Group commit: many writers' changes and body files are made durable together — one fdatasync per
// touched file and one durable engine write per group, not per message. Engine-neutral: the engine
// supplies `write`, which applies a group's ops in one transaction.
import fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { CommitOptions, StoreOp } from './ports.js';

interface Pending {
  ops: StoreOp[];
  opts: CommitOptions;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface GroupCommitStats {
  groups: number;
  writes: number;
}

/** fsync of a directory, so that new file names in it survive a power cut. */
export async function syncDirectory(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * While one group is being written, new commits wait and form the next group, so under load a
 * single fsync serves everything that arrived meanwhile, and when idle a commit is written at once.
 */
export class GroupCommit {
  private pending: Pending[] = [];
  private flushing: Promise<void> | undefined;
  readonly stats: GroupCommitStats = { groups: 0, writes: 0 };

  /** `write` applies the ops atomically; durably when `sync`. */
  constructor(private readonly write: (ops: StoreOp[], sync: boolean) => Promise<void>) {}

  /** Resolves once `ops` are written (durably unless sync: false) and every file and directory named is synced. */
  commit(ops: StoreOp[], opts: CommitOptions = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ ops, opts, resolve, reject });
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
    const dirs = new Set<string>();
    let sync = false;
    const ops: StoreOp[] = [];
    for (const p of group) {
      for (const f of p.opts.files ?? []) files.add(f);
      for (const d of p.opts.dirs ?? []) dirs.add(d);
      sync ||= p.opts.sync !== false;
      for (const op of p.ops) ops.push(op);
    }
    // Bodies first: a record must never point at data that is not on disk.
    await Promise.all([...files].map((f) => f.datasync()));
    await Promise.all([...dirs].map((d) => syncDirectory(d)));
    if (ops.length > 0) await this.write(ops, sync);
    this.stats.groups++;
    this.stats.writes += group.length;
  }
}
