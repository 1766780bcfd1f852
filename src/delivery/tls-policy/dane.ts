// DANE lookups for direct delivery (RFC 7672 §2.2): the TLSA records of `_<port>._tcp.<mx host>`,
// used only when the resolver vouches for them with the AD flag. A failed TLSA lookup is ignored
// unless the host's address records are DNSSEC-validated too — then the host must not be used
// (an attacker could be hiding the records). Answers are kept for their TTL (30 s to 1 h; 1 min when
// there is none). Imports: dnssec-query.ts, tlsa.ts.
import type { RecordType, TlsaData } from 'dns-packet';
import { querySecure, type SecureAnswer } from './dnssec-query.js';
import { usableTlsa, type TlsaRecord } from './tlsa.js';

export type DaneStatus =
  /** No DNSSEC-validated TLSA records: DANE does not apply. */
  | { kind: 'none' }
  /** Validated TLSA records, `usable` of them usable for SMTP (at least one). */
  | { kind: 'usable'; usable: TlsaRecord[]; all: TlsaRecord[] }
  /** Validated TLSA records, none usable for SMTP: TLS is required, not authentication. */
  | { kind: 'unusable'; all: TlsaRecord[] }
  /** The lookup failed for a host in a signed zone: do not deliver to it now. */
  | { kind: 'failed'; detail: string };

export interface DaneOptions {
  /** The resolvers to ask ("ip" or "ip:port"), the same as for MX lookups. */
  servers: () => string[];
  now?: () => number;
  timeoutMs?: number;
}

const NEGATIVE_TTL_S = 60;

export class DaneLookups {
  private readonly cache = new Map<string, { status: DaneStatus; until: number }>();
  private readonly now: () => number;

  constructor(private readonly opts: DaneOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** What DANE asks of connections to `host` on `port`. */
  async forHost(host: string, port: number): Promise<DaneStatus> {
    const name = `_${port}._tcp.${host.toLowerCase().replace(/\.$/, '')}`;
    const hit = this.cache.get(name);
    if (hit && hit.until > this.now()) return hit.status;
    const { status, ttl } = await this.lookup(name, host);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(name, { status, until: this.now() + ttl * 1000 });
    return status;
  }

  private async lookup(name: string, host: string): Promise<{ status: DaneStatus; ttl: number }> {
    let answer: SecureAnswer;
    try {
      answer = await this.ask(name, 'TLSA');
    } catch (err) {
      return { status: await this.unanswered(host, name, (err as Error).message), ttl: NEGATIVE_TTL_S };
    }
    if (answer.rcode !== 'NOERROR' && answer.rcode !== 'NXDOMAIN') return { status: await this.unanswered(host, name, answer.rcode), ttl: NEGATIVE_TTL_S };
    const tlsa = answer.answers.filter((a): a is typeof a & { type: 'TLSA'; data: TlsaData; ttl?: number } => a.type === 'TLSA');
    if (!answer.authentic || tlsa.length === 0) return { status: { kind: 'none' }, ttl: NEGATIVE_TTL_S };
    const all = tlsa.map((a) => ({ usage: a.data.usage, selector: a.data.selector, matchingType: a.data.matchingType, data: Buffer.from(a.data.certificate) }));
    const usable = usableTlsa(all);
    const ttl = Math.min(3600, Math.max(30, ...tlsa.map((a) => a.ttl ?? NEGATIVE_TTL_S)));
    return { status: usable.length > 0 ? { kind: 'usable', usable, all } : { kind: 'unusable', all }, ttl };
  }

  /** A TLSA lookup that failed: fatal for the host only when its address records are validated (RFC 7672 §2.2.1). */
  private async unanswered(host: string, name: string, why: string): Promise<DaneStatus> {
    try {
      const a = await this.ask(host, 'A');
      if (a.authentic) return { kind: 'failed', detail: `the TLSA lookup of ${name} failed (${why}) although ${host} is in a DNSSEC-signed zone` };
    } catch {
      // The resolver does not answer at all: MX delivery fails on its own.
    }
    return { kind: 'none' };
  }

  private ask(name: string, type: RecordType): Promise<SecureAnswer> {
    return querySecure(this.opts.servers(), name, type, this.opts.timeoutMs ?? 5000);
  }
}
