// Who is asking the admin API: an admin token sees everything, a tenant token only its own tenant.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './errors.js';

export type Principal = { role: 'admin' } | { role: 'tenant'; tenant: string };
export type PrincipalRequest = FastifyRequest & { principal: Principal | null };

export function principalOf(req: FastifyRequest): Principal {
  return (req as PrincipalRequest).principal!;
}

/** True when the caller may see or change this tenant's data. */
export function mayAccess(req: FastifyRequest, tenant: string): boolean {
  const p = principalOf(req);
  return p.role === 'admin' || p.tenant === tenant;
}

/**
 * The tenant a list or search is about: the one asked for; without one, a tenant token's own
 * tenant, and for an admin token undefined — every tenant (the operator's view).
 */
export function tenantScope(req: FastifyRequest, asked: string | undefined): string | undefined {
  const p = principalOf(req);
  return asked ?? (p.role === 'tenant' ? p.tenant : undefined);
}

/** JSON schema of a tenant id in a query, body or path (the same on every route). */
export const tenantIdSchema = { type: 'string', minLength: 1, maxLength: 64 } as const;

export const notFound = (reply: FastifyReply, message: string) => sendError(reply, 'NOT_FOUND', message);
export const forbidden = (reply: FastifyReply, message: string) => sendError(reply, 'FORBIDDEN', message);
