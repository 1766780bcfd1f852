// A node's identity is its data directory's: the spool on that disk is what the node delivers.
// The id is made once (host name and a random part) and kept in <dataDir>/node-id.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export async function nodeId(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'node-id');
  const known = (await fs.readFile(file, 'utf8').catch(() => '')).trim();
  if (/^[A-Za-z0-9._-]{1,64}$/.test(known)) return known;
  const host = os.hostname().toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 40) || 'node';
  const id = `${host}-${randomBytes(3).toString('hex')}`;
  await fs.mkdir(dataDir, { recursive: true });
  await fs.writeFile(file, `${id}\n`, { flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  return (await fs.readFile(file, 'utf8')).trim();
}
