// Admin API: the suppression list — why an address is there, remove it once fixed, add one by hand,
// and the whole list out and in as CSV (with a dry run that previews an import).
import type { FastifyInstance } from 'fastify';
import { isValidAddress } from '../config/formats.js';
import type { SuppressionList } from '../store/suppression.js';
import type { AcrossTenants } from '../store/ports.js';
import type { Directory } from '../tenants/directory.js';
import { ApiError } from './errors.js';
import { parseSuppressionCsv, suppressionCsv } from './suppression-csv.js';
import { principalOf, tenantIdSchema, tenantScope } from './principal.js';

export interface SuppressionRouteDeps {
  suppression: SuppressionList;
  directory: Directory;
  acrossTenants: AcrossTenants;
}

/** Most entries one export holds. */
const EXPORT_MAX = 1_000_000;

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

  api.get('/suppression/export', {
    config: { scope: 'tenant' },
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { tenant: tenantIdSchema } } },
  }, async (req, reply) => {
    const tenant = tenantScope(req, (req.query as { tenant?: string }).tenant);
    const entries = tenant === undefined ? await deps.acrossTenants.suppression({ limit: EXPORT_MAX }) : await deps.suppression.list(tenant, { limit: EXPORT_MAX });
    return reply.type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="suppression-${tenant ?? 'all'}-${new Date().toISOString().slice(0, 10)}.csv"`)
      .send(suppressionCsv(entries, tenant === undefined));
  });

  api.post('/suppression/import', {
    config: { scope: 'tenant', upload: true },
    bodyLimit: 10 * 1024 * 1024,
    schema: {
      querystring: {
        type: 'object', required: ['tenant'], additionalProperties: false,
        properties: { tenant: tenantIdSchema, dryRun: { type: 'boolean', default: false }, reason: { type: 'string', maxLength: 200 } },
      },
    },
  }, async (req) => {
    const q = req.query as { tenant: string; dryRun: boolean; reason?: string };
    if (!deps.directory.tenant(q.tenant)) throw new ApiError('NOT_FOUND', `no tenant ${q.tenant}`);
    const data = req.body;
    if (!Buffer.isBuffer(data) || data.length === 0) throw new ApiError('NO_FILE', 'send the list as the request body (Content-Type text/csv): one address per row, optionally a reason');
    const parsed = parseSuppressionCsv(data);
    // Addresses already on the list keep their entry (a bounce's reason is worth more than "imported").
    const fresh = [];
    for (const row of parsed.rows) if (!(await deps.suppression.get(q.tenant, row.address))) fresh.push(row);
    if (!q.dryRun) {
      const time = Date.now();
      for (let i = 0; i < fresh.length; i += 1000) {
        await deps.suppression.addMany(fresh.slice(i, i + 1000).map((r) => ({
          tenant: q.tenant, address: r.address, class: 'admin', reason: r.reason ?? q.reason ?? 'imported', time, source: 'admin' as const,
        })));
      }
    }
    return {
      tenant: q.tenant, dryRun: q.dryRun, rows: parsed.rows.length + parsed.rejectedCount + parsed.duplicates,
      [q.dryRun ? 'wouldAdd' : 'added']: fresh.length, alreadySuppressed: parsed.rows.length - fresh.length,
      duplicates: parsed.duplicates, rejectedCount: parsed.rejectedCount, rejected: parsed.rejected,
    };
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
    // An address already on the list keeps its entry (a bounce's diagnostic and message, or the
    // reason given first), as an import keeps it: 200 with the entry as it is.
    const existing = await deps.suppression.get(b.tenant, b.address);
    if (existing) return reply.code(200).send(existing);
    const who = principalOf(req).role === 'tenant' ? 'the shop' : 'an administrator';
    const entry = { tenant: b.tenant, address: b.address.toLowerCase(), class: 'admin', reason: b.reason ?? `added by ${who}`, time: Date.now(), source: 'admin' as const };
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
