// Who is asking the admin API: an admin token (from the config, compared in constant time) sees
// everything; a tenant token only its tenant, and only on routes marked `scope: 'tenant'`. Requests
// with a bad or no token count against the bad-token limit (failure-limits.ts: per client address
// and token prefix, and per address): one noisy script behind the README's reverse proxy cannot
// lock out the others, and a valid token is never refused — it is checked first.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AdminToken } from '../config/types.js';
import { badTokenLimit } from './failure-limits.js';
import type { TenantTokens } from '../store/api-tokens.js';
import { ApiError } from './errors.js';
import type { PrincipalRequest } from './principal.js';

export interface AuthDeps {
  tokens: () => AdminToken[];
  tenantTokens: TenantTokens;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** The token of an `Authorization: Bearer …` header, or undefined. */
export function bearerToken(req: FastifyRequest): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
}

/** The name of the admin token in the Authorization header, or undefined. */
export function adminTokenName(req: FastifyRequest, tokens: AdminToken[]): string | undefined {
  const token = bearerToken(req);
  if (!token) return undefined;
  const given = digest(token);
  let found: string | undefined;
  for (const t of tokens) if (timingSafeEqual(given, digest(t.token))) found = t.name;
  return found;
}

/** Sets each request's principal, or answers 401 / 403 / 429. */
export function installAuth(api: FastifyInstance, deps: AuthDeps): void {
  const badTokens = badTokenLimit(api, bearerToken);
  api.decorateRequest('principal', null);
  api.addHook('onRequest', async (req, reply) => {
    if (adminTokenName(req, deps.tokens())) {
      (req as PrincipalRequest).principal = { role: 'admin' };
      return;
    }
    const token = bearerToken(req);
    const t = token ? await deps.tenantTokens.verify(token) : undefined;
    if (!t) return badTokens.refuse(req, reply, 'a valid bearer token is required');
    (req as PrincipalRequest).principal = { role: 'tenant', tenant: t.tenant };
  });
  // Before validation: a caller who may not use a route learns nothing of its parameters (403 before any 400).
  api.addHook('preValidation', async (req, reply) => {
    const p = (req as PrincipalRequest).principal!;
    if (p.role === 'admin') return;
    const scope = (req.routeOptions.config as { scope?: string } | undefined)?.scope;
    if (scope !== 'tenant') throw new ApiError('FORBIDDEN', 'this route needs an admin token');
    // Every tenant the request names (query, body, path) must be the token's: a route may read any of them.
    const asked = [(req.query as { tenant?: unknown } | undefined)?.tenant, (req.body as { tenant?: unknown } | undefined)?.tenant, (req.params as { tenant?: unknown } | undefined)?.tenant];
    if (asked.some((t) => t !== undefined && t !== null && t !== p.tenant)) throw new ApiError('FORBIDDEN', `this token is for tenant ${p.tenant}`);
  });
}
