// Who is asking the admin API: an admin token (from the config, compared in constant time) sees
// everything; a tenant token only its tenant, and only on routes marked `scope: 'tenant'`. Requests
// with a bad or no token are throttled per client address and presented token prefix (the first 8
// characters, or none): one noisy script behind the README's reverse proxy (where every request
// has the proxy's address unless admin.trustProxy names it) cannot lock out the others, and a
// valid token is never refused by the throttle — it is checked first. An address also gets at most
// 100 bad tokens a minute over all prefixes.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AdminToken } from '../config/types.js';
import { LoginThrottle } from '../security/login-throttle.js';
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

/** What the bad-token throttle counts under: the client address and the token's first 8 characters. Pure. */
export function throttleKey(ip: string, token: string | undefined): string {
  return `${ip}\n${token ? token.slice(0, 8) : ''}`;
}

/** Sets each request's principal, or answers 401 / 403 / 429. */
export function installAuth(api: FastifyInstance, deps: AuthDeps): void {
  const throttle = new LoginThrottle();
  /** Bad tokens of every prefix from one address: a guesser who varies the prefix still stops. */
  const perAddress = new LoginThrottle(100);
  api.decorateRequest('principal', null);
  api.addHook('onRequest', async (req, reply) => {
    if (adminTokenName(req, deps.tokens())) {
      (req as PrincipalRequest).principal = { role: 'admin' };
      return;
    }
    const token = bearerToken(req);
    const t = token ? await deps.tenantTokens.verify(token) : undefined;
    if (!t) {
      const key = throttleKey(req.ip, token);
      if (!throttle.allowed(key) || !perAddress.allowed(req.ip)) {
        return reply.code(429).header('Retry-After', '60').send({ error: 'TOO_MANY_FAILED_LOGINS', message: 'too many requests with a bad token from this address; try again in a minute' });
      }
      throttle.fail(key);
      perAddress.fail(req.ip);
      return reply.code(401).header('WWW-Authenticate', 'Bearer').send({ error: 'UNAUTHORIZED', message: 'a valid bearer token is required' });
    }
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
