// Whether an MX host's TLS session satisfies the policy that governs it, given what the handshake
// showed (the peer's certificate chain and the chain check against the trusted CAs). MTA-STS asks
// for a WebPKI-valid certificate naming the MX host (RFC 8461 §4.2); DANE for a match with the
// host's TLSA records (RFC 7672 §3, tlsa.ts); DANE with TLSA records none of which is usable only
// for encryption (§2.2). Answers in RFC 8460 result types with a detail an operator can act on.
// Pure. Imports: node:crypto's X509Certificate (a value, no I/O), tlsa.ts.
import type { X509Certificate } from 'node:crypto';
import { matchTlsa, type TlsaRecord } from './tlsa.js';

/** What the peer's certificate must satisfy. */
export type PeerCheck =
  /** MTA-STS: a chain to a trusted CA, and a name matching `hostname`. */
  | { kind: 'webpki'; hostname: string }
  /** DANE: a match with one of the usable TLSA records (DANE-EE ignores names and dates). */
  | { kind: 'dane'; hostname: string; records: TlsaRecord[] }
  /** DANE whose TLSA records are all unusable: TLS is required, any certificate will do (RFC 7672 §2.2). */
  | { kind: 'encrypted'; hostname: string };

/** RFC 8460 §4.3 result types of a failed session. */
export type TlsFailureType =
  | 'starttls-not-supported' | 'certificate-host-mismatch' | 'certificate-expired' | 'certificate-not-trusted'
  | 'validation-failure' | 'tlsa-invalid' | 'dnssec-invalid' | 'dane-required'
  | 'sts-policy-fetch-error' | 'sts-policy-invalid' | 'sts-webpki-invalid';

export interface PeerFailure {
  type: TlsFailureType;
  /** For the deferral reason: "the certificate is for mx.other.example". */
  detail: string;
  /** An implementation code for the report's failure-reason-code (OpenSSL's verify error). */
  reasonCode?: string;
}

/** What the handshake showed: the chain as sent (leaf first) and Node's verdict on it against the trusted CAs. */
export interface PeerView {
  chain: X509Certificate[];
  authorized: boolean;
  authorizationError?: string;
}

const UNTRUSTED = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_UNTRUSTED', 'CERT_REJECTED']);

/** The names a certificate is for, as people read them. */
export function certificateNames(cert: X509Certificate): string {
  const names = (cert.subjectAltName ?? '').split(/,\s*/).filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4));
  if (names.length > 0) return names.slice(0, 5).join(', ') + (names.length > 5 ? ', …' : '');
  return /CN=([^\n,]+)/.exec(cert.subject)?.[1] ?? 'no name';
}

/** undefined when the session satisfies `check`; otherwise what is wrong. `now`: for DANE-TA's dates. */
export function checkPeer(check: PeerCheck, peer: PeerView, now: number): PeerFailure | undefined {
  if (check.kind === 'encrypted') return undefined;
  const leaf = peer.chain[0];
  if (!leaf) return { type: 'validation-failure', detail: 'the server sent no certificate' };
  if (check.kind === 'dane') {
    const mismatch = matchTlsa(check.records, peer.chain, check.hostname, now);
    return mismatch && { type: 'tlsa-invalid', ...mismatch };
  }
  if (!peer.authorized) {
    const code = peer.authorizationError ?? 'UNKNOWN';
    if (code === 'CERT_HAS_EXPIRED') return { type: 'certificate-expired', detail: `the certificate expired on ${new Date(leaf.validTo).toISOString().slice(0, 10)}`, reasonCode: code };
    if (UNTRUSTED.has(code)) return { type: 'certificate-not-trusted', detail: `the certificate is not signed by a trusted authority (${code})`, reasonCode: code };
    return { type: 'validation-failure', detail: `the certificate did not validate (${code})`, reasonCode: code };
  }
  if (leaf.checkHost(check.hostname, { wildcards: true, singleLabelSubdomains: false }) === undefined) {
    return { type: 'certificate-host-mismatch', detail: `the certificate is for ${certificateNames(leaf)}`, reasonCode: 'ERR_TLS_CERT_ALTNAME_INVALID' };
  }
  return undefined;
}
