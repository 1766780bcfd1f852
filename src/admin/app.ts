// The admin HTTP API (fastify): auth, health, metrics, events, errors, messages, suppression and domains;
// tenants, upstreams and webhooks have their own route modules. Everything but /healthz needs a bearer
// token: admin tokens (config, compared in constant time) or tenant tokens (scoped to their tenant).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import type { AdminToken, Upstream } from '../config/types.js';
import type { TestMailResult } from '../delivery/test-mail.js';
import type { Directory } from '../tenants/directory.js';
import type { WebhookDispatcher } from '../webhooks/dispatcher.js';
import { tenantIdSchema, type PrincipalRequest } from './principal.js';
import { registerTenantRoutes } from './tenants.js';
import { registerUpstreamRoutes } from './upstreams.js';
import { registerWebhookRoutes } from './webhooks.js';
import { registerOptOutRoutes, registerUnsubscribePages } from './unsubscribe.js';
import type { OptOutList } from '../store/opt-outs.js';
import type { Scheduler } from '../queue/scheduler.js';
import type { Readable } from 'node:stream';
import { registerQueueRoutes } from './queue.js';
import { registerTrackingRoutes, type TrackingRouteDeps } from './tracking.js';
import { ERROR_TYPES, type EventLog } from '../store/event-log.js';
import { adviceFor } from '../bounces/advice.js';
import type { Spool } from '../queue/spool.js';
import type { MessageRecord, QueueEvent } from '../store/records.js';
import type { SuppressionList } from '../store/suppression.js';
import type { TenantTokens } from '../store/api-tokens.js';
import { LoginThrottle } from '../security/login-throttle.js';
import { isValidAddress } from '../queue/address.js';
import { SubmitError, type MailQueue } from '../queue/queue.js';
import type { DomainVerifier } from '../identity/domain-verifier.js';
import { consolePlugin } from '../console/plugin.js';
import type { SignInLog } from '../console/session.js';
import { ApiError, installErrorHandler } from './errors.js';

export interface AdminDeps extends Omit<TrackingRouteDeps, 'directory'> {
  /** Shop admins may point upstreams at loopback/private addresses (config admin.allowPrivateTenantUpstreams). */
  allowPrivateTenantUpstreams?: () => boolean;
  /** The console's record of each token's last sign-in (for the red error counter). */
  signIns?: SignInLog;
  tenantTokens: TenantTokens;
  /** Prometheus text. */
  metrics: () => Promise<string>;
  queue: MailQueue;
  directory: Directory;
  webhooks: WebhookDispatcher;
  optOuts: OptOutList;
  scheduler: Scheduler;
  /** A consistent backup of the data directory, as a gzip stream. */
  backup: () => Readable;
  /** Key of the unsubscribe links' MACs. */
  unsubscribeSecret: Buffer;
  systemUpstream: () => string;
  testMail: (upstream: Upstream, to: string) => Promise<TestMailResult>;
  suppression: SuppressionList;
  tokens: () => AdminToken[];
  domains: DomainVerifier;
  events: EventLog;
  spool: Spool;
  /** True while store and listeners are up. */
  healthy: () => { ok: boolean; checks: Record<string, boolean> };
}


/** What a list shows of a message. */
function summary(r: MessageRecord) {
  return {
    id: r.id, tenant: r.tenant, createdAt: r.createdAt, state: r.state, from: r.envelope.from, to: r.envelope.to,
    subject: r.subject ?? null, messageId: r.messageId ?? null, reference: r.reference ?? null, size: r.size,
    recipients: r.recipients.map((x) => ({ address: x.address, status: x.status, lastReply: x.lastReply ?? null, upstream: x.lastUpstream ?? null })),
    /** The SMTP login or trusted network the message came in by. */
    credential: r.source.user ?? r.source.network ?? null,
    ...(r.resendOf ? { resendOf: r.resendOf } : {}),
  };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** The token of an `Authorization: Bearer …` header, or undefined. */
function bearerToken(req: FastifyRequest): string | undefined {
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

/** Events with what each means for a shop admin and what to do (`advice`), worked out when read. */
function explained(events: QueueEvent[]): Array<QueueEvent & { advice?: string }> {
  return events.map((e) => {
    const advice = adviceFor(e);
    return advice ? { ...e, advice } : e;
  });
}

export async function createAdminApp(deps: AdminDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  const throttle = new LoginThrottle();
  // `Content-Type: application/json` with an empty body (curl -X DELETE -H … does that) means no body.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '') return done(null, null);
    parseJson(req, body as string, done);
  });
  // The OpenAPI document is generated from the routes' JSON schemas (so it cannot drift from them).
  await app.register(swagger, {
    openapi: {
      info: { title: 'mailgate admin API', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/healthz', async (_req, reply) => {
    const h = deps.healthy();
    return reply.code(h.ok ? 200 : 503).send({ status: h.ok ? 'ok' : 'unavailable', checks: h.checks });
  });

  app.get('/metrics', async (req, reply) => {
    if (!adminTokenName(req, deps.tokens())) return reply.code(401).header('WWW-Authenticate', 'Bearer').send({ error: 'UNAUTHORIZED', message: 'a valid admin bearer token is required' });
    return reply.type('text/plain; version=0.0.4').send(await deps.metrics());
  });

  await registerUnsubscribePages(app, deps);
  // The web console at / (src/console): a client of the API below, called in-process with the user's token.
  await app.register(consolePlugin, { ...(deps.signIns ? { signIns: deps.signIns } : {}) });

  app.register(async (api) => {
    // Who is asking: an admin token sees everything, a tenant token only its own tenant.
    api.decorateRequest('principal', null);
    // Directory refusals (unknown id, read-only entry, conflict, invalid input) become 404/409/400 here, once for every route.
    installErrorHandler(api);
    api.addHook('onRequest', async (req, reply) => {
      if (!throttle.allowed(req.ip)) {
        return reply.code(429).header('Retry-After', '60').send({ error: 'TOO_MANY_FAILED_LOGINS', message: 'too many requests with a bad token from this address; try again in a minute' });
      }
      if (adminTokenName(req, deps.tokens())) {
        (req as PrincipalRequest).principal = { role: 'admin' };
        return;
      }
      const token = bearerToken(req);
      const t = token ? await deps.tenantTokens.verify(token) : undefined;
      if (!t) {
        throttle.fail(req.ip);
        return reply.code(401).header('WWW-Authenticate', 'Bearer').send({ error: 'UNAUTHORIZED', message: 'a valid bearer token is required' });
      }
      (req as PrincipalRequest).principal = { role: 'tenant', tenant: t.tenant };
    });
    api.addHook('preHandler', async (req, reply) => {
      const p = (req as PrincipalRequest).principal!;
      if (p.role === 'admin') return;
      const scope = (req.routeOptions.config as { scope?: string } | undefined)?.scope;
      if (scope !== 'tenant') throw new ApiError('FORBIDDEN', 'this route needs an admin token');
      // Every tenant the request names (query, body, path) must be the token's: a route may read any of them.
      const asked = [(req.query as { tenant?: unknown } | undefined)?.tenant, (req.body as { tenant?: unknown } | undefined)?.tenant, (req.params as { tenant?: unknown } | undefined)?.tenant];
      if (asked.some((t) => t !== undefined && t !== null && t !== p.tenant)) throw new ApiError('FORBIDDEN', `this token is for tenant ${p.tenant}`);
    });
    /** 403 when a tenant token asks for another tenant's message. */
    const ownMessage = (req: FastifyRequest, record: MessageRecord): boolean => {
      const p = (req as PrincipalRequest).principal!;
      return p.role === 'admin' || p.tenant === record.tenant;
    };

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
    const tokenParams = { type: 'object', properties: { tenant: tenantIdSchema, name: { type: 'string', minLength: 1, maxLength: 64 } }, required: ['tenant'] } as const;
    api.get('/tenants/:tenant/tokens', { schema: { params: tokenParams } }, async (req) => ({ tokens: await deps.tenantTokens.list((req.params as { tenant: string }).tenant) }));
    api.delete('/tenants/:tenant/tokens/:name', { schema: { params: tokenParams } }, async (req, reply) => {
      const { tenant, name } = req.params as { tenant: string; name: string };
      if (!(await deps.tenantTokens.revoke(tenant, name))) throw new ApiError('NOT_FOUND', `no token ${name} for ${tenant}`);
      return reply.code(204).send();
    });

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

    // Sender domains: DNS state, the records to publish, and a re-check on demand.
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

    api.get('/errors', {
      config: { scope: 'tenant' },
      schema: {
        querystring: {
          type: 'object',
          required: ['tenant'],
          properties: {
            tenant: tenantIdSchema,
            since: { type: 'integer', minimum: 0 },
            until: { type: 'integer', minimum: 0 },
            class: { type: 'string', enum: ['hard', 'soft', 'policy', 'complaint', 'auto-reply'] },
            cursor: { type: 'string', maxLength: 200 },
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
            recipient: { type: 'string', minLength: 3, maxLength: 320 },
            msgId: { type: 'string', pattern: '^[0-9A-Z]{20}$' },
            reference: { type: 'string', minLength: 1, maxLength: 998 },
          },
          additionalProperties: false,
        },
      },
    }, async (req) => {
      const q = req.query as { tenant: string; since?: number; until?: number; class?: string; cursor?: string; limit: number; recipient?: string; msgId?: string; reference?: string };
      if (q.recipient || q.msgId || q.reference) {
        // Narrow searches (one address, one message, one shop reference) read those indexes directly.
        const ids = q.msgId ? [q.msgId] : q.reference ? await deps.spool.byReference(q.tenant, q.reference) : [];
        const found = q.recipient ? await deps.events.byRecipient(q.recipient) : (await Promise.all(ids.map((id) => deps.events.byMessage(id)))).flat();
        const events = found
          .filter((e) => e.tenant === q.tenant && ERROR_TYPES.has(e.type) && (!q.class || e.class === q.class) && e.time >= (q.since ?? 0) && e.time < (q.until ?? Infinity))
          .sort((a, b) => b.time - a.time)
          .slice(0, q.limit);
        return { events: explained(events) };
      }
      if (q.cursor && !q.cursor.startsWith(`${q.tenant}!`)) return { events: [] };
      const page = await deps.events.errors(q.tenant, q);
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
      const id = `AP${randomBytes(9).toString('hex').toUpperCase()}`; // 20 characters, like a queue id, never one
      const event: QueueEvent = {
        time: Date.now(), type: 'app-error', msgId: id, tenant: b.tenant, recipient: b.email?.toLowerCase() ?? '',
        code: b.type, detail: b.message, severity: b.severity,
        ...(b.reference ? { reference: b.reference } : {}), ...(b.phone ? { phone: b.phone } : {}),
      };
      await deps.spool.appendEvents([...deps.events.ops(event), ...(b.reference ? [deps.spool.referenceOp(b.tenant, b.reference, id)] : [])]);
      return reply.code(201).send({ id, event });
    });

    // Who the token belongs to: lets a client (the web console, a shop's script) find its tenant.
    api.get('/whoami', { config: { scope: 'tenant' } }, async (req) => (req as PrincipalRequest).principal);

    api.get('/errors/count', {
      config: { scope: 'tenant' },
      schema: {
        querystring: {
          type: 'object',
          required: ['tenant', 'since'],
          properties: { tenant: tenantIdSchema, since: { type: 'integer', minimum: 0 } },
          additionalProperties: false,
        },
      },
    }, async (req) => {
      const q = req.query as { tenant: string; since: number };
      return { tenant: q.tenant, since: q.since, count: await deps.events.countErrors(q.tenant, q.since) };
    });

    api.post('/messages/:id/resend', {
      config: { scope: 'tenant' },
      schema: {
        params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9A-Z]{20}$' } }, required: ['id'] },
        body: { type: ['object', 'null'], properties: { recipient: { type: 'string', minLength: 3, maxLength: 254 } }, additionalProperties: false },
      },
    }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const recipient = (req.body as { recipient?: string } | null)?.recipient;
      const original = await deps.spool.get(id);
      if (original && !ownMessage(req, original)) throw new ApiError('FORBIDDEN', 'this message belongs to another tenant');
      // A SubmitError (no such message, body gone) answers with its code's status (errors.ts).
      const result = await deps.queue.resend(id, recipient ? [recipient] : undefined);
      return reply.code(201).send({ id: result.id, resendOf: id });
    });

    // Suppression list: why an address is there, remove it once fixed, add one by hand.
    api.get('/suppression', {
      config: { scope: 'tenant' },
      schema: {
        querystring: {
          type: 'object', required: ['tenant'], additionalProperties: false,
          properties: {
            tenant: tenantIdSchema, address: { type: 'string', minLength: 1, maxLength: 254 },
            reason: { type: 'string', minLength: 1, maxLength: 100 }, limit: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 },
          },
        },
      },
    }, async (req) => {
      const { tenant, ...q } = req.query as { tenant: string; address?: string; reason?: string; limit: number };
      return { entries: await deps.suppression.list(tenant, q) };
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

    // Messages: newest first per tenant, filtered by recipient, reference, Message-ID, status, time.
    api.get('/messages', {
      config: { scope: 'tenant' },
      schema: {
        querystring: {
          type: 'object', required: ['tenant'], additionalProperties: false,
          properties: {
            tenant: tenantIdSchema,
            recipient: { type: 'string', minLength: 3, maxLength: 320 },
            reference: { type: 'string', minLength: 1, maxLength: 998 },
            messageId: { type: 'string', minLength: 1, maxLength: 998 },
            status: { type: 'string', enum: ['queued', 'delivered', 'deferred', 'failed'] },
            from: { type: 'integer', minimum: 0 },
            to: { type: 'integer', minimum: 0 },
            cursor: { type: 'string', maxLength: 200 },
            limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
          },
        },
      },
    }, async (req) => {
      const q = req.query as { tenant: string; recipient?: string; reference?: string; messageId?: string; status?: string; from?: number; to?: number; cursor?: string; limit: number };
      if (q.cursor && !q.cursor.startsWith(`${q.tenant}!`)) return { messages: [] };
      if (q.reference || q.messageId) {
        const ids = await deps.spool.byReference(q.tenant, (q.reference ?? q.messageId)!);
        const recs = (await Promise.all(ids.map((id) => deps.spool.get(id)))).filter((r): r is MessageRecord => Boolean(r));
        return { messages: recs.sort((a, b) => b.createdAt - a.createdAt).slice(0, q.limit).map(summary) };
      }
      const rcpt = q.recipient?.toLowerCase();
      const page = await deps.spool.listByTenant(q.tenant, {
        limit: q.limit, ...(q.from !== undefined ? { from: q.from } : {}), ...(q.to !== undefined ? { to: q.to } : {}), ...(q.cursor ? { cursor: q.cursor } : {}),
        filter: (r) => (!rcpt || r.envelope.to.some((t) => t.toLowerCase() === rcpt)) && (!q.status || r.recipients.some((x) => x.status === q.status)),
      });
      return { messages: page.messages.map(summary), ...(page.cursor ? { cursor: page.cursor } : {}) };
    });

    api.get('/messages/:id', {
      config: { scope: 'tenant' },
      schema: { params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9A-Z]{20}$' } }, required: ['id'] } },
    }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const record = await deps.spool.get(id);
      if (!record) throw new ApiError('NOT_FOUND', `no message ${id}`);
      if (!ownMessage(req, record)) throw new ApiError('FORBIDDEN', 'this message belongs to another tenant');
      return { ...summary(record), envelope: record.envelope, recipients: record.recipients, source: record.source, identity: record.identity ?? null, events: explained(await deps.events.byMessage(id)) };
    });

    registerTenantRoutes(api, deps);
    registerUpstreamRoutes(api, deps);
    registerWebhookRoutes(api, deps);
    registerOptOutRoutes(api, deps);
    registerQueueRoutes(api, deps);
    registerTrackingRoutes(api, deps);

    api.get('/backup', { schema: { hide: true } }, async (_req, reply) => {
      const name = `mailgate-backup-${new Date().toISOString().replace(/[:.]/g, '-')}.ndjson.gz`;
      return reply.type('application/gzip').header('content-disposition', `attachment; filename="${name}"`).send(deps.backup());
    });

    api.get('/queue/summary', async () => ({ depth: await deps.spool.depth(), nextDue: (await deps.spool.nextDue()) ?? null }));
  }, { prefix: '/api/v1' });

  return app;
}
