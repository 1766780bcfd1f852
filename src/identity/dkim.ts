// DKIM signing (RFC 6376), rsa-sha256 and ed25519-sha256 (RFC 8463), relaxed/relaxed, From
// over-signed. The body hash streams (relaxed-body.ts: mailauth's digest, with whole runs of
// unchanged lines hashed natively), so a 25 MB message is never held in memory; header
// canonicalisation and the signature are done here because no maintained library over-signs.
import { createHash, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import type { Readable } from 'node:stream';
import { RelaxedBodyHash } from './relaxed-body.js';
import type { HeaderField } from '../header-fields.js';
import type { DkimKeyRef } from './sender-policy.js';

/** Signed when present (each instance), bottom-up as RFC 6376 §5.4.2 says. */
const SIGNED = ['from', 'to', 'cc', 'subject', 'date', 'message-id', 'reply-to', 'in-reply-to', 'references',
  'mime-version', 'content-type', 'content-transfer-encoding', 'list-unsubscribe', 'list-unsubscribe-post', 'list-id'];

const keyCache = new Map<string, KeyObject>();
function loadKey(pem: string): KeyObject {
  let key = keyCache.get(pem);
  if (!key) {
    key = createPrivateKey(pem);
    keyCache.set(pem, key);
  }
  return key;
}

/** Relaxed header canonicalisation of one field (RFC 6376 §3.4.2), without the trailing CRLF. */
export function relaxedHeader(raw: string): string {
  const colon = raw.indexOf(':');
  const name = raw.slice(0, colon).trim().toLowerCase();
  const value = raw.slice(colon + 1).replace(/\r\n/g, '').replace(/[ \t]+/g, ' ').trim();
  return `${name}:${value}`;
}

/** The relaxed/sha256 body hash, base64; the body is read once, as a stream or a buffer. */
export async function bodyHash(body: Readable | Buffer): Promise<string> {
  const hasher = new RelaxedBodyHash();
  if (Buffer.isBuffer(body)) hasher.update(body);
  else for await (const chunk of body as AsyncIterable<Buffer>) hasher.update(chunk);
  return hasher.digest();
}

function pickHeaders(fields: HeaderField[]): HeaderField[] {
  const picked: HeaderField[] = [];
  for (let i = fields.length - 1; i >= 0; i--) if (SIGNED.includes(fields[i]!.key)) picked.push(fields[i]!);
  return picked;
}

function signAsync(algorithm: string | null, data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => sign(algorithm, data, key, (err, sig) => (err ? reject(err) : resolve(sig))));
}

/** Where the RSA/Ed25519 work runs: on the calling thread, or on libuv's pool (to keep it off a busy event loop). */
export type SigningThread = 'caller' | 'pool';

/** DKIM-Signature fields (each ending in CRLF) for a header block and a body hash, one per signer. */
export async function signatures(fields: HeaderField[], bh: string, signers: DkimKeyRef[], now: Date, thread: SigningThread = 'caller'): Promise<string[]> {
  const signWith = thread === 'pool' ? signAsync : (algorithm: string | null, data: Buffer, key: KeyObject) => sign(algorithm, data, key);
  const picked = pickHeaders(fields);
  // Over-sign From: one more "from" than there are From fields, so none can be added later.
  const names = [...picked.map((f) => f.key), 'from'];
  const signedData = picked.map((f) => `${relaxedHeader(f.raw)}\r\n`).join('');
  return Promise.all(signers.map(async (s) => {
    const key = loadKey(s.privateKey);
    const ed = key.asymmetricKeyType === 'ed25519';
    const tags = [
      'v=1', `a=${ed ? 'ed25519-sha256' : 'rsa-sha256'}`, 'c=relaxed/relaxed', `d=${s.domain}`, `s=${s.selector}`,
      `t=${Math.floor(now.getTime() / 1000)}`, `h=${names.join(':')}`, `bh=${bh}`, 'b=',
    ];
    const unsigned = `DKIM-Signature: ${tags.join(';\r\n\t')}`;
    const data = Buffer.from(signedData + relaxedHeader(unsigned), 'latin1');
    const b = (await (ed ? signWith(null, createHash('sha256').update(data).digest(), key) : signWith('sha256', data, key))).toString('base64');
    return `${unsigned}${b.replace(/(.{72})(?=.)/g, '$1\r\n\t')}\r\n`;
  }));
}
