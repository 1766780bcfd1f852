// Admin API: a tenant's API tokens (issue one, list them, revoke one); admin tokens only.
import type { FastifyInstance } from 'fastify';
import type { TenantTokens } from '../store/api-tokens.js';
import type { Directory } from '../tenants/directory.js';
import { ApiError } from './errors.js';
import { tenantIdSchema } from './principal.js';

export interface TokenRouteDeps {
  directory: Directory;
  tenantTokens: TenantTokens;
}

export function registerTokenRoutes(api: FastifyInstance, deps: TokenRouteDeps): void {
  api.post('/tenants/:tenant/tokens', {
    schema: {
      params: { type: 'object', properties: { tenant: tenantIdSchema }, required: ['tenant'] },
      body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' } } },
    },
  }, async (req, reply) => {
    const { tenant } = req.params as { tenant: string };
    if (!deps.directory.tenant(tenant)) throw new ApiError('NOT_FOUND', `no tenant ${tenant}`);
    const { token, entry } = await deps.tenantTokens.issue(tenant, (req.body as { name: string }).name);
    return reply.code(201).send({ ...entry, token });
  });
  const tenantParams = { type: 'object', properties: { tenant: tenantIdSchema }, required: ['tenant'] } as const;
  const tokenParams = { type: 'object', properties: { tenant: tenantIdSchema, name: { type: 'string', minLength: 1, maxLength: 64 } }, required: ['tenant', 'name'] } as const;
  api.get('/tenants/:tenant/tokens', { schema: { params: tenantParams } }, async (req) => ({ tokens: await deps.tenantTokens.list((req.params as { tenant: string }).tenant) }));
  api.delete('/tenants/:tenant/tokens/:name', { schema: { params: tokenParams } }, async (req, reply) => {
    const { tenant, name } = req.params as { tenant: string; name: string };
    if (!(await deps.tenantTokens.revoke(tenant, name))) throw new ApiError('NOT_FOUND', `no token ${name} for ${tenant}`);
    return reply.code(204).send();
  });
}
