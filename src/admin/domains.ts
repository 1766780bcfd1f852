// Admin API: sender domains (DNS state, the records to publish) and a re-check on demand; a shop
// admin sees and re-checks only its own.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DomainVerifier } from '../identity/domain-verifier.js';
import type { Directory } from '../tenants/directory.js';
import { ApiError } from './errors.js';
import { tenantIdSchema, type PrincipalRequest } from './principal.js';

export interface DomainRouteDeps {
  directory: Directory;
  domains: DomainVerifier;
}

export function registerDomainRoutes(api: FastifyInstance, deps: DomainRouteDeps): void {
  const tenantDomains = () => deps.directory.tenants().flatMap((t) => t.domains.map((d) => ({ tenant: t.id, domain: d.domain })));
  // A shop admin (tenant token) sees and re-checks only its own domains.
  const visibleTo = (req: FastifyRequest) => {
    const p = (req as PrincipalRequest).principal!;
    const only = p.role === 'tenant' ? p.tenant : (req.query as { tenant?: string } | undefined)?.tenant;
    return tenantDomains().filter((d) => !only || d.tenant === only);
  };
  api.get('/domains', {
    config: { scope: 'tenant' },
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { tenant: tenantIdSchema } } },
  }, async (req) => ({
    domains: visibleTo(req).map(({ tenant, domain }) => ({ tenant, domain, check: deps.domains.result(domain) ?? null })),
  }));

  api.post('/domains/:domain/verify', {
    config: { scope: 'tenant' },
    schema: { params: { type: 'object', properties: { domain: { type: 'string', minLength: 1, maxLength: 253 } }, required: ['domain'] } },
  }, async (req, reply) => {
    const { domain } = req.params as { domain: string };
    const entry = visibleTo(req).find((d) => d.domain === domain.toLowerCase());
    if (!entry) throw new ApiError('NOT_FOUND', `${domain} is not a sender domain of ${(req as PrincipalRequest).principal!.role === 'tenant' ? 'this tenant' : 'any tenant'}`);
    return { tenant: entry.tenant, domain: entry.domain, check: await deps.domains.check(entry.domain) };
  });
}
