// The admin token mailgate makes for itself when the config lists none (admin.tokens empty), so
// that the console, the API and `mailgate queue` work after a plain `npm start`. It is one line in
// <dataDir>/admin.token, mode 0600, created on the first start; `mailgate admin token --rotate`
// replaces it. The token itself is never logged: the first start prints it once on stdout.
// Imports nothing of mailgate's; reads and writes only that file.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

/** The file name of the generated token inside the data directory. */
export const GENERATED_TOKEN_FILE = 'admin.token';

/** Where the generated token is kept for `dataDir`. */
export function generatedTokenPath(dataDir: string): string {
  return path.join(dataDir, GENERATED_TOKEN_FILE);
}

/** A fresh admin token: 32 random bytes, hex (64 characters). */
export function newAdminToken(): string {
  return randomBytes(32).toString('hex');
}

/** The generated token, or undefined when there is none (yet). Synchronous for the CLI's token lookup. */
export function readGeneratedTokenSync(dataDir: string): string | undefined {
  try {
    return readFileSync(generatedTokenPath(dataDir), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

async function writeToken(file: string, token: string, flag: 'wx' | 'w'): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, `${token}\n`, { mode: 0o600, flag });
  await fs.chmod(file, 0o600);
}

/** The generated token of `dataDir`, made now if there is none (`created` says so). */
export async function ensureGeneratedToken(dataDir: string): Promise<{ token: string; file: string; created: boolean }> {
  const file = generatedTokenPath(dataDir);
  const existing = readGeneratedTokenSync(dataDir);
  if (existing) return { token: existing, file, created: false };
  const token = newAdminToken();
  try {
    await writeToken(file, token, 'wx');
  } catch (err) {
    // Another process made it between the read and the write: theirs wins.
    const theirs = (err as { code?: string }).code === 'EEXIST' ? readGeneratedTokenSync(dataDir) : undefined;
    if (!theirs) throw err;
    return { token: theirs, file, created: false };
  }
  return { token, file, created: true };
}

/** Replaces the generated token with a new one (the old one stops working at the server's next reload). */
export async function rotateGeneratedToken(dataDir: string): Promise<{ token: string; file: string }> {
  const file = generatedTokenPath(dataDir);
  const token = newAdminToken();
  const temp = `${file}.${process.pid}.tmp`;
  await writeToken(temp, token, 'w');
  await fs.rename(temp, file);
  return { token, file };
}
