// Unsubscribe tokens: which tenant, category and address a link is for, with a MAC so nobody can make
// one for another address (no guessable ids). The key is derived from the VERP secret.
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface OptOutTarget {
  tenant: string;
  category: string;
  address: string;
}

function key(secret: Buffer): Buffer {
  return createHmac('sha256', secret).update('mailgate unsubscribe v1').digest();
}

function mac(secret: Buffer, payload: string): Buffer {
  return createHmac('sha256', key(secret)).update(payload).digest().subarray(0, 16);
}

export function unsubscribeToken(secret: Buffer, t: OptOutTarget): string {
  const payload = Buffer.from(JSON.stringify([t.tenant, t.category, t.address.toLowerCase()])).toString('base64url');
  return `${payload}.${mac(secret, payload).toString('base64url')}`;
}

/** The target of a token, or undefined when it is malformed or its MAC is wrong. */
export function readUnsubscribeToken(secret: Buffer, token: string): OptOutTarget | undefined {
  const m = /^([A-Za-z0-9_-]{1,800})\.([A-Za-z0-9_-]{22})$/.exec(token);
  if (!m) return undefined;
  const given = Buffer.from(m[2]!, 'base64url');
  if (given.length !== 16 || !timingSafeEqual(given, mac(secret, m[1]!))) return undefined;
  try {
    const [tenant, category, address] = JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8')) as unknown[];
    if (typeof tenant !== 'string' || typeof category !== 'string' || typeof address !== 'string') return undefined;
    return { tenant, category, address };
  } catch {
    return undefined;
  }
}

/** List-Unsubscribe value (RFC 2369/8058): the one-click HTTPS link first, then a mailto on the bounce domain. */
export function listUnsubscribe(secret: Buffer, t: OptOutTarget, baseUrl: string, bounceDomain: string): string {
  const token = unsubscribeToken(secret, t);
  return `<${baseUrl.replace(/\/+$/, '')}/${token}>, <mailto:unsubscribe+${token}@${bounceDomain}>`;
}
