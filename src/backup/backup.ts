// Backup and restore of a data directory, consistent while mailgate runs: one snapshot of the store
// (every record, schedule entry, event, tenant…, as the engine gives it) plus the body files and
// secrets it refers to, written as gzip'd JSON lines. Body deletions are held for the duration, so every body the snapshot names is in it.
// The last line counts what was written, so a truncated backup is refused at restore.
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import type { RestoreTarget, StoreSnapshot } from '../store/ports.js';

const FORMAT = 'mailgate-backup';
const CHUNK = 1024 * 1024;

interface Source {
  snapshot: StoreSnapshot;
  dataDir: string;
  /** Holds body-file deletions until the returned function is called (the running spool's). */
  hold?: () => () => Promise<void>;
}

/** Files besides the database: spool bodies, inbound mail not processed yet, the VERP secret. */
async function dataFiles(dataDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of ['spool', 'inbound']) {
    const names = await fs.readdir(path.join(dataDir, sub)).catch(() => [] as string[]);
    out.push(...names.filter((n) => !n.startsWith('.')).map((n) => `${sub}/${n}`));
  }
  if (await fs.stat(path.join(dataDir, 'verp.secret')).then(() => true, () => false)) out.push('verp.secret');
  return out;
}

async function* lines(src: Source): AsyncGenerator<string> {
  const release = src.hold?.();
  try {
    // The snapshot is taken now; files are listed after it, so every body it names exists.
    const it = src.snapshot();
    yield `${JSON.stringify({ format: FORMAT, version: 1, createdAt: new Date().toISOString() })}\n`;
    let entries = 0;
    for await (const [k, v] of it) {
      entries++;
      yield `${JSON.stringify({ k, v })}\n`;
    }
    let files = 0;
    for (const rel of await dataFiles(src.dataDir)) {
      const fh = await fs.open(path.join(src.dataDir, rel), 'r').catch(() => undefined);
      if (!fh) continue; // removed before the snapshot (a body of a message that was already final)
      try {
        files++;
        yield `${JSON.stringify({ f: rel, d: '' })}\n`;
        const buf = Buffer.alloc(CHUNK);
        for (;;) {
          const { bytesRead } = await fh.read(buf, 0, CHUNK);
          if (bytesRead === 0) break;
          yield `${JSON.stringify({ f: rel, d: buf.subarray(0, bytesRead).toString('base64') })}\n`;
        }
      } finally {
        await fh.close();
      }
    }
    yield `${JSON.stringify({ end: true, entries, files })}\n`;
  } finally {
    await release?.();
  }
}

/** The backup as a gzip stream (for the admin API and the CLI). */
export function backupStream(src: Source): Readable {
  return Readable.from(lines(src)).pipe(createGzip());
}

export async function writeBackup(src: Source, file: string): Promise<void> {
  await pipeline(backupStream(src), createWriteStream(file, { flags: 'wx', mode: 0o600 }));
}

/**
 * Restores a backup into `dataDir`, which must have no database yet (restore never overwrites: move the
 * old data directory away first). Run it while mailgate is stopped.
 */
export async function restoreBackup(input: Readable, dataDir: string, openTarget: (dir: string) => Promise<RestoreTarget>): Promise<{ entries: number; files: number }> {
  const dbDir = path.join(dataDir, 'db');
  if ((await fs.readdir(dbDir).catch(() => [] as string[])).length > 0) {
    throw new Error(`${dbDir} exists and is not empty; restore only into an empty data directory (move the old one away first)`);
  }
  const staging = `${dataDir}.restoring-${process.pid}`;
  await fs.rm(staging, { recursive: true, force: true });
  await fs.mkdir(staging, { recursive: true, mode: 0o750 });
  const store = await openTarget(staging);
  let entries = 0;
  let files = 0;
  let header = false;
  let end: { entries: number; files: number } | undefined;
  let batch: Array<[string, string]> = [];
  const flush = async () => {
    if (batch.length === 0) return;
    await store.write(batch);
    batch = [];
  };
  try {
    const rl = readline.createInterface({ input: input.pipe(createGunzip()), crlfDelay: Infinity });
    let current: { rel: string; handle: fs.FileHandle } | undefined;
    for await (const line of rl) {
      if (!line) continue;
      const rec = JSON.parse(line) as { format?: string; k?: string; v?: string; f?: string; d?: string; end?: boolean; entries?: number; files?: number };
      if (!header) {
        if (rec.format !== FORMAT) throw new Error('not a mailgate backup');
        header = true;
      } else if (rec.k !== undefined && rec.v !== undefined) {
        batch.push([rec.k, rec.v]);
        entries++;
        if (batch.length >= 1000) await flush();
      } else if (rec.f !== undefined) {
        const rel = path.normalize(rec.f);
        if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`backup names a file outside the data directory: ${rec.f}`);
        if (current?.rel !== rel) {
          await current?.handle.close();
          await fs.mkdir(path.dirname(path.join(staging, rel)), { recursive: true });
          current = { rel, handle: await fs.open(path.join(staging, rel), 'wx', 0o600) };
          files++;
        }
        if (rec.d) await current.handle.write(Buffer.from(rec.d, 'base64'));
      } else if (rec.end) {
        end = { entries: rec.entries ?? -1, files: rec.files ?? -1 };
      }
    }
    await current?.handle.sync();
    await current?.handle.close();
    await flush();
    if (!end || end.entries !== entries || end.files !== files) throw new Error('the backup is incomplete (truncated or damaged); nothing was restored');
  } finally {
    await store.close();
  }
  // Only a complete restore takes the data directory's place.
  await fs.mkdir(dataDir, { recursive: true });
  for (const name of await fs.readdir(staging)) {
    await fs.rm(path.join(dataDir, name), { recursive: true, force: true });
    await fs.rename(path.join(staging, name), path.join(dataDir, name));
  }
  await fs.rm(staging, { recursive: true, force: true });
  return { entries, files };
}
