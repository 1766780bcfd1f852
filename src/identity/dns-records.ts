// The DNS records a tenant publishes for its sender domain (DKIM, SPF, DMARC), as exact text.
// Pure functions: used by `mailgate dkim generate`, the domain checks and the admin API.
import { createPublicKey, type KeyObject } from 'node:crypto';

/** The relay's sending hosts as SPF mechanisms: an include and/or literal addresses. */
export interface SpfPolicy {
  include?: string;
  ip4?: string[];
  ip6?: string[];
}

export type DkimKeyType = 'rsa' | 'ed25519';

export function keyType(key: KeyObject): DkimKeyType {
  if (key.asymmetricKeyType === 'rsa') return 'rsa';
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  throw new Error(`unsupported DKIM key type ${key.asymmetricKeyType ?? 'unknown'} (use rsa or ed25519)`);
}

/** The p= value: SubjectPublicKeyInfo for RSA (RFC 6376), the raw 32-byte key for Ed25519 (RFC 8463). */
export function dkimPublicKeyData(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const der = pub.export({ type: 'spki', format: 'der' });
  return (keyType(pub) === 'ed25519' ? der.subarray(der.length - 32) : der).toString('base64');
}

/** The TXT record value for `<selector>._domainkey.<domain>`. */
export function dkimRecord(key: KeyObject): string {
  return `v=DKIM1; k=${keyType(key)}; p=${dkimPublicKeyData(key)}`;
}

/** The SPF mechanisms that authorise this relay, e.g. "include:_spf.relay.example.net ip4:192.0.2.10". */
export function spfMechanisms(policy: SpfPolicy): string[] {
  return [
    ...(policy.include ? [`include:${policy.include}`] : []),
    ...(policy.ip4 ?? []).map((ip) => `ip4:${ip}`),
    ...(policy.ip6 ?? []).map((ip) => `ip6:${ip}`),
  ];
}

/** A complete SPF record for a domain that sends only through this relay. */
export function spfRecord(policy: SpfPolicy): string {
  return ['v=spf1', ...spfMechanisms(policy), '~all'].join(' ');
}

/** A starting DMARC record: monitor only, reports to the domain's own dmarc@ address. */
export function dmarcRecord(domain: string): string {
  return `v=DMARC1; p=none; rua=mailto:dmarc@${domain}`;
}

/** Splits a DKIM/DMARC tag list ("v=DKIM1; k=rsa; p=…") into a map; whitespace inside values is removed. */
export function parseTags(value: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    tags.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).replace(/\s+/g, ''));
  }
  return tags;
}
