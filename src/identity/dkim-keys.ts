// DKIM key files: generation (`mailgate dkim generate`) and loading. Keys are PKCS#8 PEM,
// written with mode 0600 and never overwritten.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { dkimRecord, dmarcRecord, spfRecord, type DkimKeyType, type SpfPolicy } from './dns-records.js';

export interface GeneratedKey {
  file: string;
  privateKey: KeyObject;
  /** Name and value of every record the tenant should publish. */
  records: Array<{ name: string; type: 'TXT'; value: string; purpose: string }>;
}

export async function generateDkimKey(opts: { domain: string; selector: string; type: DkimKeyType; dir: string; spf: SpfPolicy }): Promise<GeneratedKey> {
  const { privateKey } = opts.type === 'ed25519'
    ? generateKeyPairSync('ed25519')
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const file = path.resolve(opts.dir, `${opts.domain}.${opts.selector}.${opts.type === 'ed25519' ? 'ed25519.' : ''}key`);
  await fs.mkdir(path.dirname(file), { recursive: true });
  try {
    await fs.writeFile(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as { code?: string }).code === 'EEXIST') {
      throw new Error(`${file} exists already; a key is never overwritten: use a new selector (key rotation) or remove the old file`);
    }
    throw err;
  }
  return {
    file,
    privateKey,
    records: [
      { name: `${opts.selector}._domainkey.${opts.domain}`, type: 'TXT', value: dkimRecord(privateKey), purpose: 'DKIM public key' },
      { name: opts.domain, type: 'TXT', value: spfRecord(opts.spf), purpose: 'SPF (merge into an existing v=spf1 record; a domain may have only one)' },
      { name: `_dmarc.${opts.domain}`, type: 'TXT', value: dmarcRecord(opts.domain), purpose: 'DMARC (recommended; raise p= once reports look clean)' },
    ],
  };
}

/** A TXT value as zone-file text: quoted, split into 255-byte strings. */
export function zoneTxt(value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(`"${value.slice(i, i + 255)}"`);
  return parts.length > 1 ? `( ${parts.join(' ')} )` : parts[0]!;
}
