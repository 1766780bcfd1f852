// VERP return paths and our Message-IDs: the envelope sender names the message and the recipient
// (or, for a transaction with several recipients, only the message: "-m-" instead of the index) and
// carries a keyed MAC, so a bounce can be attributed without trusting its text and forgeries are
// ignored; a Message-ID mailgate adds carries a MAC too ("<queue id>.<tag>@domain"), so a bounce
// that comes back without the return path can prove which of our messages it is about.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

const MAC_LENGTH = 10;

/** The recipient's index in the message, or 'm' for a return path that names only the message. */
export type VerpIndex = number | 'm';

function mac(secret: Buffer, msgId: string, index: VerpIndex): string {
  return createHmac('sha256', secret).update(`${msgId}.${index}`).digest('base64url').slice(0, MAC_LENGTH).toLowerCase().replace(/[^a-z0-9]/g, '0');
}

/**
 * "b-<msgId>-<recipient index>-<mac>@<bounceDomain>" (lower case: some MTAs fold the local part);
 * index 'm': "b-<msgId>-m-<mac>@…", for one transaction to several recipients.
 */
export function verpAddress(secret: Buffer, msgId: string, index: VerpIndex, bounceDomain: string): string {
  return `b-${msgId.toLowerCase()}-${index}-${mac(secret, msgId.toLowerCase(), index)}@${bounceDomain}`;
}

/**
 * Reads a VERP address back; undefined when it is not one of ours or its MAC does not match. `index`
 * is absent for a return path that names only the message (the bounce must then say which recipient).
 */
export function parseVerp(secret: Buffer, address: string, bounceDomain: string): { msgId: string; index?: number } | undefined {
  const at = address.lastIndexOf('@');
  if (at < 0 || address.slice(at + 1).toLowerCase() !== bounceDomain.toLowerCase()) return undefined;
  const m = /^b-([0-9a-z]+)-(\d{1,4}|m)-([0-9a-z]+)$/i.exec(address.slice(0, at));
  if (!m) return undefined;
  const msgId = m[1]!.toLowerCase();
  const index: VerpIndex = m[2]!.toLowerCase() === 'm' ? 'm' : Number(m[2]);
  const expected = Buffer.from(mac(secret, msgId, index));
  const given = Buffer.from(m[3]!.toLowerCase());
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
  return index === 'm' ? { msgId: msgId.toUpperCase() } : { msgId: msgId.toUpperCase(), index };
}

const TAG_LENGTH = 12;

/** The tag of the Message-ID mailgate gives a message: not guessable from the queue id. */
export function messageIdTag(secret: Buffer, msgId: string): string {
  return createHmac('sha256', secret).update(`message-id.${msgId.toLowerCase()}`).digest('base64url').slice(0, TAG_LENGTH).toLowerCase().replace(/[^a-z0-9]/g, '0');
}

/** The queue id of a Message-ID mailgate generated ("<queue id>.<tag>@domain"), when its tag verifies. */
export function readOwnMessageId(secret: Buffer, messageId: string): string | undefined {
  const m = /^<?([0-9a-z]{20})\.([0-9a-z]{12})@/i.exec(messageId.trim());
  if (!m) return undefined;
  const expected = Buffer.from(messageIdTag(secret, m[1]!));
  const given = Buffer.from(m[2]!.toLowerCase());
  return expected.length === given.length && timingSafeEqual(expected, given) ? m[1]!.toUpperCase() : undefined;
}

/**
 * The key of the VERP, Message-ID and unsubscribe MACs: the configured secret, else the cluster's (every
 * node of a shared store must verify what another node signed), else <dataDir>/verp.secret, created
 * (0600) on first start.
 */
export async function loadVerpSecret(dataDir: string, configured?: string, shared?: (make: () => string) => Promise<string | undefined>): Promise<Buffer> {
  if (configured) return Buffer.from(configured, 'utf8');
  const clusterKey = await shared?.(() => randomBytes(32).toString('hex'));
  if (clusterKey) return Buffer.from(clusterKey, 'hex');
  const file = path.join(dataDir, 'verp.secret');
  try {
    return Buffer.from((await fs.readFile(file, 'utf8')).trim(), 'hex');
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err;
    const secret = randomBytes(32);
    await fs.writeFile(file, `${secret.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  }
}
