// Sender domains whose DNS records are missing or wrong, as warnings for the operator: the running
// relay takes the domain verifier's results, `mailgate check-config` checks DNS itself (same
// checks, domain-check.ts, through the configured DNS servers). Shown with the config's warnings.
import { createPrivateKey } from 'node:crypto';
import type { Resolver } from 'node:dns/promises';
import type { Config, Tenant } from '../config/types.js';
import { checkDomain } from './domain-check.js';

/** "sender domain D (tenant T): what is missing" for each domain with problems. Pure. */
export function senderDomainWarnings(tenants: readonly Pick<Tenant, 'id' | 'domains'>[], problems: Readonly<Record<string, string[]>>): string[] {
  return tenants.flatMap((t) => t.domains
    .filter((d) => (problems[d.domain] ?? []).length > 0)
    .map((d) => `sender domain ${d.domain} (tenant ${t.id}) is not set up in DNS, so its mail leaves with the system sender instead: ${problems[d.domain]!.join('; ')}`));
}

/** Checks every sender domain of the config's tenants now: domain → its problems (none when verified). */
export async function checkSenderDomains(config: Pick<Config, 'tenants' | 'system'>, resolver: Resolver, now = Date.now()): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const d of config.tenants.flatMap((t) => t.domains)) {
    if (d.domain in out) continue;
    const selectors = d.dkim.map((k) => ({ selector: k.selector, key: createPrivateKey(k.privateKey) }));
    const r = await checkDomain(resolver, { domain: d.domain, selectors, spf: config.system.spf }, now);
    out[d.domain] = r.verified ? [] : [r.spf, ...r.dkim, r.dmarc].filter((c) => !c.ok).map((c) => c.message);
  }
  return out;
}
