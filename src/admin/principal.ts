// Who is asking the admin API: an admin token sees everything, a tenant token only its own tenant.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DirectoryError } from '../tenants/directory.js';

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

const STATUS = { NOT_FOUND: 404, READ_ONLY: 409, CONFLICT: 409, INVALID: 400 } as const;

/** The HTTP answer to a DirectoryError thrown by a route (the API's error handler sends it); undefined for any other error. */
export function directoryErrorReply(err: unknown): { status: number; body: { error: string; message: string; issues: string[] } } | undefined {
  if (!(err instanceof DirectoryError)) return undefined;
  return { status: STATUS[err.code], body: { error: err.code, message: err.message, issues: err.issues } };
}

/** JSON schema of a tenant id in a query, body or path (the same on every route). */
export const tenantIdSchema = { type: 'string', minLength: 1, maxLength: 64 } as const;

export const notFound = (reply: FastifyReply, message: string) => reply.code(404).send({ error: 'NOT_FOUND', message });
export const forbidden = (reply: FastifyReply, message: string) => reply.code(403).send({ error: 'FORBIDDEN', message });
