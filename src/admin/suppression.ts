// Admin API: the suppression list — why an address is there, remove it once fixed, add one by hand.
import type { FastifyInstance } from 'fastify';
import { isValidAddress } from '../config/formats.js';
import type { SuppressionList } from '../store/suppression.js';
import type { AcrossTenants } from '../store/ports.js';
import type { Directory } from '../tenants/directory.js';
import { ApiError } from './errors.js';
import { tenantIdSchema, tenantScope } from './principal.js';

export interface SuppressionRouteDeps {
  suppression: SuppressionList;
  directory: Directory;
  acrossTenants: AcrossTenants;
}

export function registerSuppressionRoutes(api: FastifyInstance, deps: SuppressionRouteDeps): void {
  api.get('/suppression', {
    config: { scope: 'tenant' },
    schema: {
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          tenant: tenantIdSchema, address: { type: 'string', minLength: 1, maxLength: 254 },
          reason: { type: 'string', minLength: 1, maxLength: 100 }, limit: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 },
        },
      },
    },
  }, async (req) => {
    const { tenant: asked, ...q } = req.query as { tenant?: string; address?: string; reason?: string; limit: number };
    // Without a tenant: a tenant token's own, an admin token's every tenant (the operator's view).
    const tenant = tenantScope(req, asked);
    return { entries: tenant === undefined ? await deps.acrossTenants.suppression(q) : await deps.suppression.list(tenant, q) };
  });

  api.post('/suppression', {
    config: { scope: 'tenant' },
    schema: {
      body: {
        type: 'object', required: ['tenant', 'address'], additionalProperties: false,
        properties: { tenant: tenantIdSchema, address: { type: 'string', minLength: 3, maxLength: 254 }, reason: { type: 'string', maxLength: 200 } },
      },
    },
  }, async (req, reply) => {
    const b = req.body as { tenant: string; address: string; reason?: string };
    if (!deps.directory.tenant(b.tenant)) throw new ApiError('NOT_FOUND', `no tenant ${b.tenant}`);
    if (!isValidAddress(b.address)) throw new ApiError('INVALID_ADDRESS', `address: not a valid e-mail address`);
    const entry = { tenant: b.tenant, address: b.address.toLowerCase(), class: 'admin', reason: b.reason ?? 'added by an administrator', time: Date.now(), source: 'admin' as const };
    await deps.suppression.add(entry);
    return reply.code(201).send(entry);
  });

  api.delete('/suppression/:tenant/:address', {
    config: { scope: 'tenant' },
    schema: { params: { type: 'object', required: ['tenant', 'address'], properties: { tenant: tenantIdSchema, address: { type: 'string', minLength: 3, maxLength: 254 } } } },
  }, async (req, reply) => {
    const { tenant, address } = req.params as { tenant: string; address: string };
    if (!(await deps.suppression.get(tenant, address))) throw new ApiError('NOT_FOUND', `${address} is not suppressed for ${tenant}`);
    await deps.suppression.remove(tenant, address);
    return reply.code(204).send();
  });
}
