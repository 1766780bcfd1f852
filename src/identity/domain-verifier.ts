// Keeps every tenant sender domain's DNS verification current: checked at start, re-checked
// periodically and on demand, results (with the time of the check) kept in LevelDB and memory.
import { createPrivateKey } from 'node:crypto';
import type { Resolver } from 'node:dns/promises';
import type { Logger } from 'pino';
import type { Config, Tenant } from '../config/types.js';
import type { DomainCheckStore } from '../store/ports.js';
import { checkDomain, type DomainCheck } from './domain-check.js';
import type { DkimKeyRef } from './sender-policy.js';

const RECHECK_MS = 6 * 60 * 60 * 1000;

export class DomainVerifier {
  private readonly results = new Map<string, DomainCheck>();
  /** Derived views, rebuilt only when a check result changes (they are read for every message). */
  private signersCache: Record<string, DkimKeyRef[]> | undefined;
  private reasonsCache: Record<string, string[]> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private mayRun: () => Promise<boolean> = async () => true;

  constructor(
    private readonly config: { system: Pick<Config['system'], 'spf'>; tenants: () => Tenant[] },
    private readonly resolver: Resolver,
    private readonly store: DomainCheckStore,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Loads earlier results, checks every domain once, then re-checks periodically — while `mayRun` says
   * this node is the one to (several nodes: a lease); the others read the results (reload()).
   */
  async start(mayRun?: () => Promise<boolean>): Promise<void> {
    if (mayRun) this.mayRun = mayRun;
    await this.reload();
    if (await this.mayRun()) await this.checkAll();
    this.timer = setInterval(() => void this.mayRun().then((ok) => (ok ? this.checkAll() : undefined)), RECHECK_MS);
    this.timer.unref();
  }

  /** Re-reads the stored results (another node checked). */
  async reload(): Promise<void> {
    for (const [domain, value] of await this.store.all()) this.results.set(domain, value as DomainCheck);
    this.signersCache = undefined;
    this.reasonsCache = undefined;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async checkAll(): Promise<void> {
    await this.checkLogged(this.config.tenants().flatMap((t) => t.domains.map((d) => d.domain)));
  }

  /** Checks these domains; a failed check is logged, not thrown. */
  private async checkLogged(domains: string[]): Promise<void> {
    await Promise.all(domains.map((d) => this.check(d).catch((err: Error) => this.log.warn({ domain: d, err: err.message }, 'sender domain check failed'))));
  }

  /** Checks one tenant domain now and stores the result. */
  async check(domain: string): Promise<DomainCheck | undefined> {
    const selectors = this.config.tenants()
      .flatMap((t) => t.domains)
      .filter((d) => d.domain === domain)
      .flatMap((d) => d.dkim.map((k) => ({ selector: k.selector, key: createPrivateKey(k.privateKey) })));
    if (selectors.length === 0 && !this.config.tenants().some((t) => t.domains.some((d) => d.domain === domain))) return undefined;
    const result = await checkDomain(this.resolver, { domain, selectors, spf: this.config.system.spf }, this.now());
    this.results.set(domain, result);
    this.signersCache = undefined;
    this.reasonsCache = undefined;
    await this.store.put(domain, result);
    this.log.info({ domain, verified: result.verified, problems: problems(result) }, 'sender domain checked');
    return result;
  }

  /** Tenants or their domains changed: drop derived views and check domains never checked before. */
  async tenantsChanged(): Promise<void> {
    this.signersCache = undefined;
    this.reasonsCache = undefined;
    const fresh = this.config.tenants().flatMap((t) => t.domains.map((d) => d.domain)).filter((d) => !this.results.has(d));
    if (fresh.length > 0 && (await this.mayRun())) await this.checkLogged(fresh);
  }

  result(domain: string): DomainCheck | undefined {
    return this.results.get(domain);
  }

  /** Per tenant domain: the signing keys whose DNS is verified (only for verified domains). */
  verifiedSigners(): Record<string, DkimKeyRef[]> {
    return (this.signersCache ??= this.computeSigners());
  }

  private computeSigners(): Record<string, DkimKeyRef[]> {
    const out: Record<string, DkimKeyRef[]> = {};
    for (const tenant of this.config.tenants()) {
      for (const d of tenant.domains) {
        const r = this.results.get(d.domain);
        if (!r?.verified) continue;
        // Only keys whose DNS record is verified sign: a new selector starts signing once published.
        for (const key of d.dkim) {
          if (r.dkim.some((k) => k.selector === key.selector && k.ok)) (out[d.domain] ??= []).push({ domain: d.domain, ...key });
        }
      }
    }
    return out;
  }

  /** Per unverified tenant domain: what is missing or wrong, in the words shown to the tenant. */
  reasons(): Record<string, string[]> {
    return (this.reasonsCache ??= this.computeReasons());
  }

  private computeReasons(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [domain, r] of this.results) if (!r.verified) out[domain] = problems(r);
    return out;
  }
}

function problems(r: DomainCheck): string[] {
  return [r.spf, ...r.dkim, r.dmarc].filter((c) => !c.ok).map((c) => c.message);
}
