// Admin API: parcel tracking. Shipments (single/batch intake, spreadsheet import with a dry-run
// preview, search, delete), the tenant's tracking settings, statistics, and the blacklist check.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Directory } from '../tenants/directory.js';
import type { Shipments } from '../tracking/shipments.js';
import { detectFormat, parseShipmentFile } from '../tracking/import.js';
import { checkShipmentObjects, type ShipmentIntake } from '../tracking/intake.js';
import { normalisePhone } from '../tracking/phone.js';
import type { TrackingProblem } from '../tracking/problems.js';
import { DEFAULT_SETTINGS, parseTrackingSettings, unknownGateways, type TrackingSettings } from '../tracking/settings.js';
import { CARRIERS, NORMALISED_STATUSES } from '../tracking/types.js';
import { tenantIdSchema, tenantScope } from './principal.js';
import { ApiError, sendError } from './errors.js';

export interface TrackingRouteDeps {
  directory: Directory;
  shipments: Shipments;
  intake: ShipmentIntake;
  /** What keeps the tenant's tracking from working (codes of a carrier this mailgate has no account for). */
  trackingProblems: (tenant: string) => Promise<TrackingProblem[]>;
  /** Saves a tenant's settings (a moved sending window re-plans waiting notices). */
  saveSettings: (tenant: string, settings: TrackingSettings) => Promise<{ noticesReplanned: number }>;
  /** Names of the phone gateways the config declares. */
  phoneGateways: () => ReadonlySet<string>;
  /** Largest spreadsheet accepted, bytes. */
  maxImportSize?: number;
}

const shipmentFields = {
  code: { type: 'string', maxLength: 100 },
  carrier: { type: 'string', maxLength: 50 },
  name: { type: 'string', maxLength: 200 },
  email: { type: 'string', maxLength: 254 },
  phone: { anyOf: [{ type: 'string', maxLength: 50 }, { type: 'number' }] },
  orderReference: { type: 'string', maxLength: 200 },
  orderSum: { anyOf: [{ type: 'string', maxLength: 50 }, { type: 'number' }] },
} as const;
const tenantQuery = { type: 'object', required: ['tenant'], additionalProperties: false, properties: { tenant: tenantIdSchema } } as const;
const shipmentParams = { type: 'object', required: ['carrier', 'code'], properties: { carrier: { type: 'string', enum: [...CARRIERS] }, code: { type: 'string', pattern: '^[A-Za-z0-9]{8,40}$' } } } as const;

export function registerTrackingRoutes(api: FastifyInstance, deps: TrackingRouteDeps): void {
  const maxImport = deps.maxImportSize ?? 20 * 1024 * 1024;

  const settingsOf = async (tenant: string): Promise<TrackingSettings> => (await deps.shipments.settings(tenant)) ?? DEFAULT_SETTINGS;
  const knownTenant = (tenant: string, reply: FastifyReply): boolean => {
    if (deps.directory.tenant(tenant)) return true;
    void sendError(reply, 'NOT_FOUND', `no tenant ${tenant}`);
    return false;
  };

  // --- settings ------------------------------------------------------------------------------

  api.get('/tracking/settings', { config: { scope: 'tenant' }, schema: { querystring: tenantQuery } }, async (req, reply) => {
    const { tenant } = req.query as { tenant: string };
    if (!knownTenant(tenant, reply)) return reply;
    const stored = await deps.shipments.settings(tenant);
    return { tenant, stored: stored !== undefined, settings: stored ?? DEFAULT_SETTINGS };
  });

  const saveSettings = async (req: FastifyRequest, reply: FastifyReply, merge: boolean) => {
    const { tenant, ...rest } = req.body as { tenant: string } & Record<string, unknown>;
    if (!knownTenant(tenant, reply)) return reply;
    const parsed = parseTrackingSettings(rest, merge ? await settingsOf(tenant) : undefined);
    if (!parsed.ok) throw new ApiError('INVALID_SETTINGS', parsed.issues.join('; '), { issues: parsed.issues });
    const gatewayIssues = unknownGateways(parsed.value, deps.phoneGateways());
    if (gatewayIssues.length > 0) throw new ApiError('INVALID_SETTINGS', gatewayIssues.join('; '), { issues: gatewayIssues });
    const { noticesReplanned } = await deps.saveSettings(tenant, parsed.value);
    return { tenant, stored: true, settings: parsed.value, noticesReplanned };
  };
  const settingsBody = { type: 'object', required: ['tenant'], properties: { tenant: tenantIdSchema } } as const;
  api.put('/tracking/settings', { config: { scope: 'tenant' }, schema: { body: settingsBody } }, (req, reply) => saveSettings(req, reply, false));
  api.patch('/tracking/settings', { config: { scope: 'tenant' }, schema: { body: settingsBody } }, (req, reply) => saveSettings(req, reply, true));

  api.get('/tracking/stats', { config: { scope: 'tenant' }, schema: { querystring: tenantQuery } }, async (req, reply) => {
    const { tenant } = req.query as { tenant: string };
    if (!knownTenant(tenant, reply)) return reply;
    const counts = await deps.shipments.countByStatus(tenant);
    const settings = await settingsOf(tenant);
    const used = await deps.shipments.quotaUsed(tenant, Date.now());
    return {
      tenant, enabled: settings.enabled,
      total: Object.values(counts).reduce((a, b) => a + b, 0),
      byStatus: Object.fromEntries(NORMALISED_STATUSES.map((s) => [s, counts[s] ?? 0])),
      quota: { month: new Date().toISOString().slice(0, 7), limit: settings.monthlyQuota, used },
      problems: await deps.trackingProblems(tenant),
    };
  });

  // --- shipments -----------------------------------------------------------------------------

  api.post('/shipments', {
    config: { scope: 'tenant' },
    schema: {
      body: {
        type: 'object', required: ['tenant'], additionalProperties: false,
        properties: { tenant: tenantIdSchema, ...shipmentFields, shipments: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'object', additionalProperties: false, properties: shipmentFields } } },
      },
    },
  }, async (req, reply) => {
    const { tenant, shipments, ...single } = req.body as { tenant: string; shipments?: Array<Record<string, unknown>> } & Record<string, unknown>;
    if (!knownTenant(tenant, reply)) return reply;
    if (shipments && Object.keys(single).length > 0) throw new ApiError('INVALID', 'give either one shipment\'s fields or "shipments", not both');
    const settings = await settingsOf(tenant);
    const rows = checkShipmentObjects(shipments ?? [single], settings);
    if (rows.every((r) => !r.shipment)) {
      throw new ApiError('INVALID_SHIPMENT', rows.map((r) => (shipments ? `shipments[${r.line - 1}]: ` : '') + r.errors.join('; ')).join('; '), { rows });
    }
    const result = await deps.intake.take(tenant, rows, settings, false);
    if (result.refused) return sendError(reply, result.refused.code, result.refused.message, { ...result });
    return reply.code(result.created > 0 ? 201 : 200).send(result);
  });

  api.post('/shipments/import', {
    // Spreadsheets come as the raw request body (curl --data-binary @orders.csv), not as multipart.
    config: { scope: 'tenant', upload: true },
    bodyLimit: maxImport,
    schema: {
      querystring: {
        type: 'object', required: ['tenant'], additionalProperties: false,
        properties: { tenant: tenantIdSchema, dryRun: { type: 'boolean', default: false }, filename: { type: 'string', maxLength: 200 }, carrier: { type: 'string', enum: [...CARRIERS] } },
      },
    },
  }, async (req, reply) => {
    const q = req.query as { tenant: string; dryRun: boolean; filename?: string; carrier?: (typeof CARRIERS)[number] };
    if (!knownTenant(q.tenant, reply)) return reply;
    const data = req.body;
    if (!Buffer.isBuffer(data) || data.length === 0) {
      throw new ApiError('NO_FILE', 'send the CSV or XLSX file as the request body (Content-Type text/csv or application/vnd.openxmlformats-officedocument.spreadsheetml.sheet)');
    }
    const format = detectFormat(q.filename, req.headers['content-type'], data);
    if (!format) throw new ApiError('UNSUPPORTED_FILE', 'the file is neither CSV nor XLSX (old .xls files: save as .xlsx or CSV first)');
    const settings = await settingsOf(q.tenant);
    const parsed = await parseShipmentFile(data, format, { defaultCountry: settings.defaultCountry, ...(q.carrier ? { defaultCarrier: q.carrier } : {}) });
    const fileProblem = parsed.fileErrors.length > 0 && parsed.rows.every((r) => !r.shipment);
    const result = await deps.intake.take(q.tenant, parsed.rows, settings, q.dryRun || fileProblem);
    const body = { format: parsed.format, columns: parsed.columns, missingColumns: parsed.missingColumns, fileErrors: parsed.fileErrors, ...result };
    if (fileProblem && !q.dryRun) throw new ApiError('UNREADABLE_FILE', parsed.fileErrors.join('; '), { ...body });
    if (result.refused && !q.dryRun) return sendError(reply, result.refused.code, result.refused.message, { ...body });
    return body;
  });

  api.get('/shipments', {
    config: { scope: 'tenant' },
    schema: {
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          tenant: tenantIdSchema, status: { type: 'string', enum: [...NORMALISED_STATUSES] }, code: { type: 'string', maxLength: 100 },
          email: { type: 'string', maxLength: 254 }, phone: { type: 'string', maxLength: 50 }, reference: { type: 'string', maxLength: 200 },
          name: { type: 'string', minLength: 2, maxLength: 200, description: 'a part of the buyer\'s name (case-insensitive)' },
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, cursor: { type: 'string', maxLength: 600 },
        },
      },
    },
  }, async (req, reply) => {
    const { tenant: asked, ...q } = req.query as { tenant?: string; status?: string; code?: string; email?: string; phone?: string; reference?: string; name?: string; limit: number; cursor?: string };
    // Without a tenant: a tenant token's own, an admin token's every tenant (the operator's view).
    const tenant = tenantScope(req, asked);
    if (tenant !== undefined && !knownTenant(tenant, reply)) return reply;
    let phone = q.phone;
    if (phone) {
      const check = normalisePhone(phone, (tenant === undefined ? DEFAULT_SETTINGS : await settingsOf(tenant)).defaultCountry);
      if (check.ok) phone = check.e164;
    }
    const query = { ...q, ...(phone ? { phone } : {}) };
    return tenant === undefined ? deps.shipments.listAcrossTenants(query) : deps.shipments.list(tenant, query);
  });

  api.get('/shipments/:carrier/:code', { config: { scope: 'tenant' }, schema: { params: shipmentParams, querystring: tenantQuery } }, async (req, reply) => {
    const { carrier, code } = req.params as { carrier: string; code: string };
    const { tenant } = req.query as { tenant: string };
    const s = await deps.shipments.get(tenant, carrier, code.toUpperCase());
    if (!s) throw new ApiError('NOT_FOUND', `no ${carrier} shipment ${code.toUpperCase()} for ${tenant}`);
    return s;
  });

  // Seed 004: the buyer already picked the parcel up, but the post office has not said so: delete the code.
  api.delete('/shipments/:carrier/:code', { config: { scope: 'tenant' }, schema: { params: shipmentParams, querystring: tenantQuery } }, async (req, reply) => {
    const { carrier, code } = req.params as { carrier: string; code: string };
    const { tenant } = req.query as { tenant: string };
    const deleted = await deps.shipments.exclusive(async () => {
      const s = await deps.shipments.get(tenant, carrier, code.toUpperCase());
      if (s) await deps.shipments.write([...(await deps.shipments.noticeOpsFor(tenant, carrier, s.code)), ...deps.shipments.ops(s, undefined)], true);
      return s !== undefined;
    });
    if (!deleted) throw new ApiError('NOT_FOUND', `no ${carrier} shipment ${code.toUpperCase()} for ${tenant}`);
    return reply.code(204).send();
  });

  // --- blacklist -----------------------------------------------------------------------------

  const contactQuery = {
    type: 'object', required: ['tenant'], additionalProperties: false,
    properties: { tenant: tenantIdSchema, email: { type: 'string', maxLength: 254 }, phone: { type: 'string', maxLength: 50 } },
  } as const;
  /** The normalised lookups of a query's e-mail and phone. */
  const contacts = async (q: { tenant: string; email?: string; phone?: string }) => {
    const out: Array<{ kind: 'email' | 'phone'; value: string }> = [];
    if (q.email) out.push({ kind: 'email', value: q.email.trim().toLowerCase() });
    if (q.phone) {
      const check = normalisePhone(q.phone, (await settingsOf(q.tenant)).defaultCountry);
      out.push({ kind: 'phone', value: check.ok ? check.e164 : q.phone.replace(/[^+0-9]/g, '') });
    }
    return out;
  };

  api.get('/blacklist', { config: { scope: 'tenant' }, schema: { querystring: tenantQuery } }, async (req) => {
    const { tenant } = req.query as { tenant: string };
    return { entries: await deps.shipments.blacklist(tenant) };
  });

  api.get('/blacklist/check', { config: { scope: 'tenant' }, schema: { querystring: contactQuery } }, async (req, reply) => {
    const q = req.query as { tenant: string; email?: string; phone?: string };
    const asked = await contacts(q);
    if (asked.length === 0) throw new ApiError('INVALID', 'give email and/or phone');
    const entries = (await Promise.all(asked.map((c) => deps.shipments.blacklisted(q.tenant, c.kind, c.value)))).filter((e) => e !== undefined);
    return { listed: entries.length > 0, checked: asked, entries };
  });

  api.delete('/blacklist', { config: { scope: 'tenant' }, schema: { querystring: contactQuery } }, async (req, reply) => {
    const q = req.query as { tenant: string; email?: string; phone?: string };
    const asked = await contacts(q);
    if (asked.length === 0) throw new ApiError('INVALID', 'give email and/or phone');
    const removed = (await Promise.all(asked.map((c) => deps.shipments.unblacklist(q.tenant, c.kind, c.value)))).filter(Boolean).length;
    if (removed === 0) throw new ApiError('NOT_FOUND', 'not on the blacklist');
    return reply.code(204).send();
  });
}

