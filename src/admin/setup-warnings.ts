// The operator's setup warnings in one list: the config's own (config/warnings.ts: admin token,
// system DKIM key, host names), sender domains without their DNS records (identity/domain-warnings.ts)
// and tracking that cannot work (tracking/problems.ts). Logged at start, printed by `mailgate
// check-config`, and answered by GET /api/v1/warnings (admin) for the console's overview.
import type { FastifyInstance } from 'fastify';
import type { Config, Tenant } from '../config/types.js';
import { configWarnings, type ConfigFacts } from '../config/warnings.js';
import { senderDomainWarnings } from '../identity/domain-warnings.js';

export interface SetupFacts extends ConfigFacts {
  /** Sender domain → what its DNS lacks (the domain verifier's results, or a check made now). */
  domainProblems: Readonly<Record<string, string[]>>;
  /** Tracking warnings ("tenant T: …"), read from the stored parcels. */
  trackingWarnings: string[];
}

/** Every setup warning, the config's first. Pure. */
export function setupWarnings(config: Config, facts: SetupFacts): string[] {
  return [...configWarnings(config, facts), ...senderDomainWarnings(config.tenants, facts.domainProblems), ...facts.trackingWarnings];
}

/** The running relay's warnings: its tenants (API-made ones too), the domain verifier's results, the stored parcels. */
export async function currentWarnings(
  config: Config,
  now: { tenants: () => Tenant[]; domainProblems: () => Readonly<Record<string, string[]>>; tracking: () => Promise<string[]> },
  generatedTokenFile: string | undefined,
): Promise<string[]> {
  return setupWarnings({ ...config, tenants: now.tenants() }, {
    ...(generatedTokenFile ? { generatedTokenFile } : {}), domainProblems: now.domainProblems(), trackingWarnings: await now.tracking().catch(() => []),
  });
}

/** GET /warnings (admin): the setup warnings as they stand now. */
export function registerWarningRoutes(api: FastifyInstance, deps: { setupWarnings: () => Promise<string[]> }): void {
  api.get('/warnings', async () => ({ warnings: await deps.setupWarnings() }));
}
