// MTA-STS policy discovery for direct delivery (RFC 8461 §3, §5.1): the `_mta-sts.<domain>` TXT
// record through mailgate's resolver, the policy fetched from https://mta-sts.<domain>/.well-known/
// mta-sts.txt (WebPKI-valid certificate, no redirects, 64 KiB at most, text/plain), and a cache per
// domain that keeps a policy for its max_age: refetched when the TXT id changes, kept when a refetch
// fails or the TXT record disappears. The TXT record of a domain is asked again at most once a
// minute (RECHECK_MS, like postfix-mta-sts-resolver's cache grace). The cache lives in the delivery
// thread's memory. Imports: config types, security/public-lookup, the pure policy parser.
import type { Resolver } from 'node:dns/promises';
import https from 'node:https';
import tls from 'node:tls';
import { publicLookup } from '../../security/public-lookup.js';
import { parseStsPolicy, parseStsTxt, type StsPolicy } from './mta-sts-policy.js';

/** RFC 8460 result types of a failed policy discovery. */
export type StsFetchFailure = 'sts-policy-fetch-error' | 'sts-policy-invalid' | 'sts-webpki-invalid';

export interface StsLookup {
  /** The policy to apply (mode none is returned as no policy). */
  policy?: StsPolicy;
  /** A fetch failed (the cached policy, if any, is used). */
  failure?: { type: StsFetchFailure; detail: string };
}

export interface MtaStsOptions {
  resolver: Resolver;
  /** Port of the policy host (443). */
  port: number;
  /** PEM CAs trusted besides the system's. */
  ca?: string;
  now?: () => number;
  timeoutMs?: number;
}

/** A domain's TXT record is asked again at most this often (a cached policy is used meanwhile). */
export const RECHECK_MS = 60_000;
const MAX_POLICY_BYTES = 64 * 1024;
const WEBPKI_ERRORS = /CERT|SELF_SIGNED|ISSUER|UNABLE_TO_VERIFY|ALTNAME|certificate/i;

interface Cached {
  id: string;
  policy: StsPolicy;
  expiresAt: number;
  checkedAt: number;
}

class FetchError extends Error {
  constructor(readonly type: StsFetchFailure, message: string) {
    super(message);
  }
}

export class MtaStsPolicies {
  private readonly cache = new Map<string, Cached>();
  /** Domains found without a policy, and when. */
  private readonly none = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<StsLookup>>();
  private readonly now: () => number;

  constructor(private readonly opts: MtaStsOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** The policy for mail to `domain`; `allowPrivate`: the policy host may be on a private address (the upstream's allowPrivateAddresses). */
  lookup(domain: string, allowPrivate: boolean): Promise<StsLookup> {
    const name = domain.toLowerCase();
    const now = this.now();
    const cached = this.usable(name, now);
    if (cached && now - cached.checkedAt < RECHECK_MS) return Promise.resolve(applied(cached.policy));
    if (!cached && now - (this.none.get(name) ?? -Infinity) < RECHECK_MS) return Promise.resolve({});
    let pending = this.inFlight.get(name);
    if (!pending) {
      pending = this.refresh(name, allowPrivate).finally(() => this.inFlight.delete(name));
      this.inFlight.set(name, pending);
    }
    return pending;
  }

  private usable(domain: string, now: number): Cached | undefined {
    const c = this.cache.get(domain);
    if (c && c.expiresAt > now) return c;
    if (c) this.cache.delete(domain);
    return undefined;
  }

  private async refresh(domain: string, allowPrivate: boolean): Promise<StsLookup> {
    const now = this.now();
    const cached = this.usable(domain, now);
    let records: string[][];
    try {
      records = await this.opts.resolver.resolveTxt(`_mta-sts.${domain}`);
    } catch (err) {
      const code = (err as { code?: string }).code;
      // No record: a cached policy stays in force until it expires (§5.1). DNS trouble: the same, or none.
      if (code !== 'ENOTFOUND' && code !== 'ENODATA') return cached ? applied(cached.policy) : {};
      records = [];
    }
    const id = parseStsTxt(records);
    if (!id.ok || cached?.id === id.value) {
      if (cached) {
        cached.checkedAt = now;
        return applied(cached.policy);
      }
      this.none.set(domain, now);
      return {};
    }
    try {
      const policy = await this.fetch(domain, allowPrivate);
      this.cache.set(domain, { id: id.value, policy, expiresAt: now + policy.maxAge * 1000, checkedAt: now });
      this.none.delete(domain);
      return applied(policy);
    } catch (err) {
      const failure = err instanceof FetchError ? { type: err.type, detail: err.message } : { type: 'sts-policy-fetch-error' as const, detail: (err as Error).message };
      if (cached) cached.checkedAt = now;
      return { ...(cached ? applied(cached.policy) : {}), failure };
    }
  }

  /** GET https://mta-sts.<domain>/.well-known/mta-sts.txt and parse it. */
  private fetch(domain: string, allowPrivate: boolean): Promise<StsPolicy> {
    const host = `mta-sts.${domain}`;
    const timeout = this.opts.timeoutMs ?? 20_000;
    return new Promise<StsPolicy>((resolve, reject) => {
      const fail = (type: StsFetchFailure, message: string) => reject(new FetchError(type, `${host}: ${message}`));
      const req = https.request({
        host, servername: host, port: this.opts.port, path: '/.well-known/mta-sts.txt', method: 'GET', agent: false, timeout,
        lookup: publicLookup(this.opts.resolver, { allowPrivate, setting: 'the upstream\'s allowPrivateAddresses' }),
        ...(this.opts.ca ? { ca: [...tls.rootCertificates, this.opts.ca] } : {}),
        headers: { 'user-agent': 'mailgate-mta-sts/1', accept: 'text/plain' },
      }, (res) => {
        const status = res.statusCode ?? 0;
        const type = String(res.headers['content-type'] ?? '');
        if (status !== 200) {
          res.resume();
          return fail('sts-policy-fetch-error', `HTTP ${status}${status >= 300 && status < 400 ? ' (redirects are not followed)' : ''}`);
        }
        if (!/^text\/plain\s*(;|$)/i.test(type)) {
          res.resume();
          return fail('sts-policy-invalid', `served as "${type}", not text/plain`);
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_POLICY_BYTES) {
            req.destroy();
            fail('sts-policy-invalid', `policy larger than ${MAX_POLICY_BYTES} bytes`);
          } else chunks.push(c);
        });
        res.on('error', (err) => fail('sts-policy-fetch-error', err.message));
        res.on('end', () => {
          const parsed = parseStsPolicy(Buffer.concat(chunks).toString('utf8'));
          if (parsed.ok) resolve(parsed.value);
          else fail('sts-policy-invalid', parsed.reason);
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeout} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => fail(WEBPKI_ERRORS.test(err.code ?? '') ? 'sts-webpki-invalid' : 'sts-policy-fetch-error', err.message));
      req.end();
    });
  }
}

/** A policy of mode none means: no policy. */
function applied(policy: StsPolicy): StsLookup {
  return policy.mode === 'none' ? {} : { policy };
}
