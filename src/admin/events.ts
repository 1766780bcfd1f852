// Admin API: the event log (by recipient, message, newest), a tenant's error log with its counter
// and search, and the errors a shop's app records itself (seed 000). Every event carries `advice`.
import { timeMs } from './api-schemas.js';
import { entryId } from '../queue/ids.js';
import type { FastifyInstance } from 'fastify';
import { adviceFor } from '../bounces/advice.js';
import { isValidAddress } from '../config/formats.js';
import type { Spool } from '../queue/spool.js';
import type { EventLog } from '../store/event-log.js';
import { isErrorEvent } from '../store/records.js';
import type { AcrossTenants } from '../store/ports.js';
import type { QueueEvent } from '../store/records.js';
import type { Directory } from '../tenants/directory.js';
import { ApiError } from './errors.js';
import { tenantIdSchema, tenantScope } from './principal.js';

export interface EventRouteDeps {
  events: EventLog;
  spool: Spool;
  directory: Directory;
  acrossTenants: AcrossTenants;
}

/** Events with what each means for a shop admin and what to do (`advice`), worked out when read. */
export function explained(events: QueueEvent[]): Array<QueueEvent & { advice?: string }> {
  return events.map((e) => {
    const advice = adviceFor(e);
    return advice ? { ...e, advice } : e;
  });
}

/** How many of the newest error-log entries a search by phone reads. */
const PHONE_SCAN = 20_000;

export function registerEventRoutes(api: FastifyInstance, deps: EventRouteDeps): void {
  api.get('/events', {
    schema: {
      querystring: {
        type: 'object',
        properties: {
          recipient: { type: 'string', minLength: 3, maxLength: 320 },
          msgId: { type: 'string', minLength: 1, maxLength: 64 },
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
        },
        additionalProperties: false,
      },
    },
  }, async (req) => {
    const q = req.query as { recipient?: string; msgId?: string; limit: number };
    if (q.recipient) return { events: explained(await deps.events.byRecipient(q.recipient, { limit: q.limit })) };
    if (q.msgId) return { events: explained(await deps.events.byMessage(q.msgId, { limit: q.limit })) };
    return { events: explained(await deps.events.recent({ limit: q.limit })) };
  });

  api.get('/errors', {
    config: { scope: 'tenant' },
    schema: {
      querystring: {
        type: 'object',
        properties: {
          tenant: tenantIdSchema,
          since: timeMs(),
          until: timeMs(),
          class: { type: 'string', enum: ['hard', 'soft', 'policy', 'complaint', 'auto-reply'] },
          cursor: { type: 'string', maxLength: 200 },
          limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
          recipient: { type: 'string', minLength: 3, maxLength: 320 },
          msgId: { type: 'string', pattern: '^[0-9A-Z]{20}$' },
          reference: { type: 'string', minLength: 1, maxLength: 998 },
          phone: { type: 'string', minLength: 4, maxLength: 50, description: 'the customer\'s phone as the shop\'s app recorded it with an application error (any spacing; the last digits must match)' },
        },
        additionalProperties: false,
      },
    },
  }, async (req) => {
    const q = req.query as { tenant?: string; since?: number; until?: number; class?: string; cursor?: string; limit: number; recipient?: string; msgId?: string; reference?: string; phone?: string };
    // Without a tenant: a tenant token's own, an admin token's every tenant (the operator's view).
    const tenant = tenantScope(req, q.tenant);
    if (q.phone) {
      // Support staff search by the number a customer gives: the newest PHONE_SCAN entries are read.
      const digits = q.phone.replace(/\D/g, '').replace(/^0+/, '');
      if (digits.length < 4) throw new ApiError('INVALID', 'phone: give at least 4 digits');
      const matches = (e: { phone?: string }) => Boolean(e.phone) && (e.phone!.replace(/\D/g, '').endsWith(digits) || digits.endsWith(e.phone!.replace(/\D/g, '').replace(/^0+/, '')));
      const found: QueueEvent[] = [];
      let cursor: string | undefined;
      for (let read = 0; read < PHONE_SCAN && found.length < q.limit;) {
        const page = tenant === undefined ? await deps.acrossTenants.errors({ ...q, limit: 500, ...(cursor ? { cursor } : {}) }) : await deps.events.errors(tenant, { ...q, limit: 500, ...(cursor ? { cursor } : {}) });
        read += page.events.length;
        found.push(...page.events.filter(matches));
        if (!page.cursor) break;
        cursor = page.cursor;
      }
      return { events: explained(found.slice(0, q.limit)) };
    }
    if (q.recipient || q.msgId || q.reference) {
      // Narrow searches (one address, one message, one shop reference) read those indexes directly.
      const ids = q.msgId ? [q.msgId] : q.reference ? await referenced(deps, tenant, q.reference) : [];
      const found = q.recipient ? await deps.events.byRecipient(q.recipient) : (await Promise.all(ids.map((id) => deps.events.byMessage(id)))).flat();
      const events = found
        .filter((e) => (tenant === undefined || e.tenant === tenant) && isErrorEvent(e) && (!q.class || e.class === q.class) && e.time >= (q.since ?? 0) && e.time < (q.until ?? Infinity))
        .sort((a, b) => b.time - a.time)
        .slice(0, q.limit);
      return { events: explained(events) };
    }
    const page = tenant === undefined ? await deps.acrossTenants.errors(q) : await deps.events.errors(tenant, q);
    return { ...page, events: explained(page.events) };
  });

  // Seed 000: errors that are not about mail (a payment after the deadline, tickets sold twice), recorded by
  // the tenant's app, shown and counted with the mail errors, found by order reference, pushed by webhooks.
  api.post('/errors', {
    config: { scope: 'tenant' },
    bodyLimit: 16 * 1024,
    schema: {
      body: {
        type: 'object', required: ['tenant', 'type', 'message'], additionalProperties: false,
        properties: {
          tenant: tenantIdSchema,
          type: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
          message: { type: 'string', minLength: 1, maxLength: 2000 },
          reference: { type: 'string', minLength: 1, maxLength: 200 },
          email: { type: 'string', minLength: 3, maxLength: 254 },
          phone: { type: 'string', pattern: '^\\+?[0-9][0-9 ()./-]{2,31}$' },
          severity: { type: 'string', enum: ['info', 'warning', 'error', 'critical'], default: 'error' },
        },
      },
    },
  }, async (req, reply) => {
    const b = req.body as { tenant: string; type: string; message: string; reference?: string; email?: string; phone?: string; severity: string };
    if (!deps.directory.tenant(b.tenant)) throw new ApiError('NOT_FOUND', `no tenant ${b.tenant}`);
    if (b.email && !isValidAddress(b.email)) throw new ApiError('INVALID_ADDRESS', 'email: not a valid e-mail address');
    const id = entryId('AP');
    const event: QueueEvent = {
      time: Date.now(), type: 'app-error', msgId: id, tenant: b.tenant, recipient: b.email?.toLowerCase() ?? '',
      code: b.type, detail: b.message, severity: b.severity,
      ...(b.reference ? { reference: b.reference } : {}), ...(b.phone ? { phone: b.phone } : {}),
    };
    await deps.spool.appendEvents([...deps.events.ops(event), ...(b.reference ? [deps.spool.referenceOp(b.tenant, b.reference, id)] : [])]);
    return reply.code(201).send({ id, event });
  });

  api.get('/errors/count', {
    config: { scope: 'tenant' },
    schema: {
      querystring: {
        type: 'object',
        required: ['since'],
        properties: { tenant: tenantIdSchema, since: timeMs() },
        additionalProperties: false,
      },
    },
  }, async (req) => {
    const q = req.query as { tenant?: string; since: number };
    const tenant = tenantScope(req, q.tenant);
    const count = tenant === undefined ? await deps.acrossTenants.countErrors(q.since) : await deps.events.countErrors(tenant, q.since);
    return { tenant: tenant ?? null, since: q.since, count };
  });
}

/** Queue ids with this reference: one tenant's, or (tenant undefined) every tenant's. */
export async function referenced(deps: { spool: Spool; acrossTenants: AcrossTenants }, tenant: string | undefined, reference: string): Promise<string[]> {
  if (tenant !== undefined) return deps.spool.byReference(tenant, reference);
  return (await deps.acrossTenants.byReference(reference, 100)).map((x) => x.id);
}
