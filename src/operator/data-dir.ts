// The data directory holds the queue, the store (upstream passwords among it) and the generated admin
// token: only mailgate's user, and its group as the systemd unit sets it up (0750), may read it.
// `serve` calls keepDataDirPrivate before anything is written: the process umask drops the bits for
// other users (as the unit's UMask=0027 does), a missing directory is made 0750, and an existing one
// that other users could read or enter is closed to them. Imports nothing of mailgate's.
import fs from 'node:fs/promises';

/** What was changed on an existing directory (for a warning), undefined when nothing had to be. */
export async function keepDataDirPrivate(dataDir: string): Promise<{ was: string; now: string; failed?: string } | undefined> {
  process.umask(process.umask() | 0o027);
  await fs.mkdir(dataDir, { recursive: true, mode: 0o750 });
  const mode = (await fs.stat(dataDir)).mode & 0o7777;
  if ((mode & 0o007) === 0) return undefined;
  const now = mode & ~0o007;
  const octal = (m: number) => m.toString(8).padStart(4, '0');
  try {
    await fs.chmod(dataDir, now);
    return { was: octal(mode), now: octal(now) };
  } catch (err) {
    return { was: octal(mode), now: octal(mode), failed: (err as Error).message };
  }
}
