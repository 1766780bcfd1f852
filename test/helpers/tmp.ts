// Temporary directories for tests and benchmarks (stores, spools, config files).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Creates a fresh directory under the OS temp dir, e.g. /tmp/mailgate-spool-AbC123. */
export async function makeTempDir(prefix = 'mailgate-'): Promise<string> {
  const safe = prefix.replace(/[^A-Za-z0-9._-]/g, '-');
  return mkdtemp(path.join(tmpdir(), safe.endsWith('-') ? safe : `${safe}-`));
}

/** Removes a directory tree; missing directories are fine. Retries briefly on EBUSY/ENOTEMPTY. */
export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
}
