// DANE for SMTP (RFC 7672) as data: which TLSA records an SMTP client may use (usages DANE-TA(2) and
// DANE-EE(3), selectors 0 and 1, matching types 0, 1 and 2 — §3.1, RFC 7671 §5), their presentation
// form for reports, and whether a server's certificate chain matches one of them. DANE-EE binds the
// server's own key: its names and dates are not checked (§3.1.1). DANE-TA names an issuer in the
// chain the server sent: the chain up to it must be signed correctly and in date, and the server
// certificate must name the MX host (§3.1.2, §3.2.2). Pure. Imports: node:crypto (hashes, X509 values).
import { createHash, type X509Certificate } from 'node:crypto';

export interface TlsaRecord {
  usage: number;
  selector: number;
  matchingType: number;
  /** The certificate association data. */
  data: Buffer;
}

/** The records an SMTP client may use; others (PKIX usages 0 and 1, unknown types, wrong lengths) are ignored. */
export function usableTlsa(records: TlsaRecord[]): TlsaRecord[] {
  const lengths: Record<number, number> = { 1: 32, 2: 64 };
  return records.filter((r) => (r.usage === 2 || r.usage === 3) && (r.selector === 0 || r.selector === 1) && [0, 1, 2].includes(r.matchingType)
    && (r.matchingType === 0 ? r.data.length > 0 : r.data.length === lengths[r.matchingType]));
}

/** "3 1 1 <hex>", as zone files and TLS reports write a record. */
export function presentTlsa(r: TlsaRecord): string {
  return `${r.usage} ${r.selector} ${r.matchingType} ${r.data.toString('hex')}`;
}

/** The bytes a record's selector picks from a certificate: the whole certificate (0) or its public key (1). */
function selected(cert: X509Certificate, selector: number): Buffer {
  return selector === 0 ? cert.raw : cert.publicKey.export({ type: 'spki', format: 'der' });
}

/** Whether `cert` matches `r` (selector and matching type applied). */
export function certMatches(r: TlsaRecord, cert: X509Certificate): boolean {
  const bytes = selected(cert, r.selector);
  const digest = r.matchingType === 0 ? bytes : createHash(r.matchingType === 1 ? 'sha256' : 'sha512').update(bytes).digest();
  return digest.equals(r.data);
}

/** Each certificate from the leaf up to `chain[upTo]` is signed by the next and valid at `now`. */
function chainValid(chain: X509Certificate[], upTo: number, now: number): string | undefined {
  for (let i = 0; i <= upTo; i++) {
    const c = chain[i]!;
    if (Date.parse(c.validTo) < now || Date.parse(c.validFrom) > now) return `certificate ${i} of the chain is not valid now (${c.validFrom} – ${c.validTo})`;
    if (i < upTo && !(c.checkIssued(chain[i + 1]!) && c.verify(chain[i + 1]!.publicKey))) return `certificate ${i} of the chain is not signed by the next one`;
  }
  return undefined;
}

/** undefined when the chain (leaf first, not empty) matches one of the usable `records`; else what is wrong. */
export function matchTlsa(records: TlsaRecord[], chain: X509Certificate[], hostname: string, now: number): { detail: string; reasonCode: string } | undefined {
  const leaf = chain[0]!;
  if (records.some((r) => r.usage === 3 && certMatches(r, leaf))) return undefined;
  let taProblem: string | undefined;
  for (const r of records.filter((x) => x.usage === 2)) {
    const at = chain.findIndex((c) => certMatches(r, c));
    if (at < 0) continue;
    const broken = chainValid(chain, at, now);
    if (!broken && leaf.checkHost(hostname, { wildcards: true, singleLabelSubdomains: false }) !== undefined) return undefined;
    taProblem ??= broken ?? `the certificate signed by the TLSA trust anchor is for another name (${leaf.subjectAltName ?? leaf.subject})`;
  }
  const shown = records.slice(0, 3).map((r) => `${presentTlsa(r).slice(0, 24)}…`).join(', ');
  const which = records.length === 1 ? `does not match the TLSA record (${shown})` : `matches none of the ${records.length} TLSA records (${shown})`;
  return {
    detail: taProblem ?? `the server's certificate ${which}`,
    reasonCode: taProblem ? 'dane-ta-chain' : 'dane-no-match',
  };
}
