// Free space in the data directory, so mail is refused with 452 4.3.1 before the disk fills rather than
// failing half-written (Postfix refuses below 1.5 × its message size limit the same way). statfs runs at
// most once a second; the answer in between is the last one.
import fs from 'node:fs/promises';
import type { Logger } from 'pino';

export class DiskSpace {
  private free = Number.POSITIVE_INFINITY;
  private checkedAt = 0;
  private checking = false;
  private wasLow = false;

  /** The configured floor, or by default room for one more message at its largest plus 64 MiB. */
  static forLimits(dir: string, limits: { minFreeSpace?: number; maxMessageSize: number }, log: Logger): DiskSpace {
    return new DiskSpace(dir, limits.minFreeSpace ?? Math.round(1.5 * limits.maxMessageSize) + 64 * 1024 * 1024, log);
  }

  constructor(
    private readonly dir: string,
    /** Bytes that must stay free; below that, mail is refused. */
    readonly minFree: number,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Bytes available to mailgate as of the last check (refreshing it when older than a second). */
  async available(): Promise<number> {
    if (this.now() - this.checkedAt >= 1000 && !this.checking) {
      this.checking = true;
      try {
        const s = await fs.statfs(this.dir);
        this.free = s.bavail * s.bsize;
        this.checkedAt = this.now();
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'free space of the data directory could not be read');
      } finally {
        this.checking = false;
      }
    }
    return this.free;
  }

  /** True when a message of `size` bytes (0: unknown) would leave less than minFree. Logs when the state changes. */
  async tooLow(size = 0): Promise<boolean> {
    const free = await this.available();
    const low = free - size < this.minFree;
    if (low !== this.wasLow) {
      this.wasLow = low;
      if (low) this.log.error({ freeBytes: free, minFreeBytes: this.minFree }, 'data directory is nearly full: refusing mail with 452 4.3.1 until space is freed');
      else this.log.warn({ freeBytes: free }, 'data directory has room again: accepting mail');
    }
    return low;
  }
}

/** True for errors that mean the disk (or quota) is full. */
export function isDiskFull(err: unknown): boolean {
  const e = err as { code?: string; message?: string; cause?: unknown } | undefined;
  if (!e) return false;
  if (e.code === 'ENOSPC' || e.code === 'EDQUOT') return true;
  if (typeof e.message === 'string' && /No space left on device|Disk quota exceeded/i.test(e.message)) return true;
  return e.cause !== undefined && e.cause !== err && isDiskFull(e.cause);
}
