// The admin HTTP API (fastify): the server, its OpenAPI document, /healthz, /metrics, backup and the
// console; each concern's routes are a module of their own (auth.ts says who may call what).
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import type { AdminToken, Upstream } from '../config/types.js';
import type { TestMailResult } from '../delivery/test-mail.js';
import type { Directory } from '../tenants/directory.js';
import type { WebhookDispatcher } from '../webhooks/dispatcher.js';
import type { PrincipalRequest } from './principal.js';
import { registerTenantRoutes } from './tenants.js';
import { registerUpstreamRoutes } from './upstreams.js';
import { registerWebhookRoutes } from './webhooks.js';
import { registerOptOutRoutes, registerUnsubscribePages } from './unsubscribe.js';
import type { OptOutList } from '../store/opt-outs.js';
import type { Scheduler } from '../queue/scheduler.js';
import type { Readable } from 'node:stream';
import { registerQueueRoutes } from './queue.js';
import { registerTrackingRoutes, type TrackingRouteDeps } from './tracking.js';
import type { EventLog } from '../store/event-log.js';
import type { Spool } from '../queue/spool.js';
import type { SuppressionList } from '../store/suppression.js';
import type { TenantTokens } from '../store/api-tokens.js';
import type { MailQueue } from '../queue/queue.js';
import type { DomainVerifier } from '../identity/domain-verifier.js';
import { consolePlugin } from '../console/plugin.js';
import type { SignInLog } from '../console/session.js';
import type { Logger } from 'pino';
import { ApiError, installErrorHandler, sendError } from './errors.js';
import { addApiSchemas, installApiContract } from './api-contract.js';
import { adminTokenName, bearerToken, installAuth } from './auth.js';
import { badTokenLimit, installFailureLimits } from './failure-limits.js';
import { registerTokenRoutes } from './tokens.js';
import { registerEventRoutes } from './events.js';
import { registerDomainRoutes } from './domains.js';
import { registerSuppressionRoutes } from './suppression.js';
import { registerMessageRoutes } from './messages.js';
import { registerStatsRoutes, type StatsRouteDeps } from './stats.js';
import { registerClusterRoutes, type ClusterStatus } from './cluster.js';
import { registerWarningRoutes } from './setup-warnings.js';
import type { DrainResult } from '../queue/drain.js';
import type { AcrossTenants } from '../store/ports.js';

export interface AdminDeps extends Omit<TrackingRouteDeps, 'directory'>, StatsRouteDeps {
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
  /** A consistent backup of the data directory, as a gzip stream; absent when the store is backed up with its own tools. */
  backup?: () => Readable;
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
  /** This node and the cluster's nodes (GET /cluster). */
  cluster: () => Promise<ClusterStatus>;
  /** The setup warnings (GET /warnings): admin token, DKIM key, host names, sender domains' DNS, tracking. */
  setupWarnings: () => Promise<string[]>;
  /** Validate every answer against its schema, closed (tests: MAILGATE_CHECK_RESPONSES=1). */
  checkResponses?: boolean;
  /** The operator's views over every tenant (lists without `tenant`). */
  acrossTenants: AcrossTenants;
  /** Reverse proxies whose X-Forwarded-For/-Proto are believed (admin.trustProxy); none when absent. */
  trustProxy?: string[];
  /** The console cookie's Secure flag (admin.secureCookie); 'auto' when absent. */
  secureCookie?: boolean | 'auto';
  /** Where failed requests (500) are written; nowhere when absent. */
  log?: Logger;
  /** Takes this node out of service (POST /node/drain); the process stops afterwards. */
  drain: (graceMs: number) => Promise<DrainResult>;
}

const HEALTH = { type: 'object', required: ['status', 'checks'], properties: { status: { type: 'string', enum: ['ok', 'unavailable'] }, checks: { type: 'object', additionalProperties: { type: 'boolean' } } } } as const;

const QUEUE_ID = /^[0-9a-z]{20}$/i;

/** The route takes a raw file body (its config says `upload`): the imports. */
const takesUpload = (req: FastifyRequest) => (req.routeOptions.config as { upload?: boolean } | undefined)?.upload === true;

/** Types of a raw file body (CSV, TSV, XLSX) the import routes take. */
const UPLOAD_TYPES = ['text/csv', 'application/csv', 'text/plain', 'text/tab-separated-values', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'application/octet-stream'];

export async function createAdminApp(deps: AdminDeps): Promise<FastifyInstance> {
  // Unknown query parameters and body fields are refused (400 naming them), not silently dropped.
  // req.ip and req.protocol come from X-Forwarded-For/-Proto only when the peer is a configured proxy.
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024, ajv: { customOptions: { removeAdditional: false } }, trustProxy: deps.trustProxy?.length ? deps.trustProxy : false });
  // `Content-Type: application/json` with an empty body (curl -X DELETE -H … does that) means no body.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '') return done(null, null);
    parseJson(req, body as string, done);
  });
  // Fastify takes text/plain as a string body by default: a JSON route would then answer "body must
  // be object". Refused as 415 instead; routes that take text (imports) add their own parser.
  app.removeContentTypeParser('text/plain');
  // The OpenAPI document is generated from the routes' JSON schemas (so it cannot drift from them).
  await app.register(swagger, {
    openapi: {
      info: { title: 'mailgate admin API', version: '1', description: 'Every error answers { error, message }. An admin token sees every tenant; a tenant token only its own.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    // Shared schemas (api-schemas.ts) keep their names in the document's components.
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  addApiSchemas(app);
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/healthz', { schema: { summary: 'Health', description: 'For load balancers and monitoring: 200 while store and listeners are up, 503 otherwise. No token needed.', security: [], response: { 200: HEALTH, 503: HEALTH } } }, async (_req, reply) => {
    const h = deps.healthy();
    return reply.code(h.ok ? 200 : 503).send({ status: h.ok ? 'ok' : 'unavailable', checks: h.checks });
  });

  await installFailureLimits(app);
  const badMetricsTokens = badTokenLimit(app, bearerToken);
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', description: 'Counters and gauges in the Prometheus text format (admin token).', produces: ['text/plain'], response: { 200: { type: 'string', description: 'Prometheus text format' }, '4xx': { $ref: 'ErrorAnswer#' } } } }, async (req, reply) => {
    if (!adminTokenName(req, deps.tokens())) return badMetricsTokens.refuse(req, reply, 'a valid admin bearer token is required');
    return reply.type('text/plain; version=0.0.4').send(await deps.metrics());
  });

  await registerUnsubscribePages(app, deps);
  // The web console at / (src/console): a client of the API below, called in-process with the user's token.
  await app.register(consolePlugin, { ...(deps.signIns ? { signIns: deps.signIns } : {}), secureCookie: deps.secureCookie ?? 'auto' });

  app.register(async (api) => {
    // Who is asking: an admin token sees everything, a tenant token only its own tenant.
    installAuth(api, deps);
    // Every error in one shape, { error, message }, with the error table's status, once for every route.
    installErrorHandler(api, deps.log);
    // Files (CSV, XLSX) come as the raw request body to the routes marked `upload` (the imports); any
    // other route takes JSON, and a body of another type is refused as 415 rather than misread.
    api.addContentTypeParser(UPLOAD_TYPES, { parseAs: 'buffer', bodyLimit: deps.maxImportSize ?? 20 * 1024 * 1024 }, (_req, body, done) => done(null, body));
    // Queue ids are upper case; one typed or copied in lower case is taken as the same id.
    api.addHook('preValidation', async (req) => {
      const params = req.params as { id?: unknown } | undefined;
      if (typeof params?.id === 'string' && QUEUE_ID.test(params.id) && /^\/api\/v1\/(queue|messages)\//.test(req.routeOptions.url ?? '')) params.id = params.id.toUpperCase();
      const query = req.query as { msgId?: unknown } | undefined;
      if (typeof query?.msgId === 'string' && QUEUE_ID.test(query.msgId)) query.msgId = query.msgId.toUpperCase();
    });
    // Refused before the body is read (a 20 MB text body is not buffered to be refused); an empty
    // body with any type (fetch's POST with body '', Go's http.Post(u, t, nil)) is no body.
    api.addHook('preParsing', async (req, reply, payload) => {
      const type = req.headers['content-type'];
      const hasBody = Number(req.headers['content-length'] ?? (req.headers['transfer-encoding'] ? 1 : 0)) > 0;
      if (!type || /^application\/json\b/i.test(type) || !hasBody || takesUpload(req)) return payload;
      sendError(reply, 'UNSUPPORTED_MEDIA_TYPE', `this route takes a JSON body (Content-Type: application/json), not ${type}`);
      return reply as never;
    });
    api.addHook('preValidation', async (req) => {
      if (Buffer.isBuffer(req.body) && !takesUpload(req)) req.body = undefined;
    });
    // Docs and schemas of every operation (api-docs.ts), no unknown query parameters, and in tests every answer checked.
    installApiContract(api, { checkResponses: deps.checkResponses ?? false });
    // Who the token belongs to: lets a client (the web console, a shop's script) find its tenant.
    api.get('/whoami', { config: { scope: 'tenant' } }, async (req) => (req as PrincipalRequest).principal);

    registerTokenRoutes(api, deps);
    registerEventRoutes(api, deps);
    registerDomainRoutes(api, deps);
    registerSuppressionRoutes(api, deps);
    registerMessageRoutes(api, deps);
    registerStatsRoutes(api, deps);
    registerTenantRoutes(api, deps);
    registerUpstreamRoutes(api, deps);
    registerWebhookRoutes(api, deps);
    registerOptOutRoutes(api, deps);
    registerQueueRoutes(api, deps);
    registerTrackingRoutes(api, deps);
    registerClusterRoutes(api, deps);
    registerWarningRoutes(api, deps);

    api.get('/backup', { schema: { hide: true } }, async (_req, reply) => {
      if (!deps.backup) throw new ApiError('CONFLICT', 'this store is backed up with its own tools (pg_dump); back up each node\'s spool directory beside it');
      const name = `mailgate-backup-${new Date().toISOString().replace(/[:.]/g, '-')}.ndjson.gz`;
      return reply.type('application/gzip').header('content-disposition', `attachment; filename="${name}"`).send(deps.backup());
    });

    api.get('/queue/summary', async () => ({ depth: await deps.spool.depth(), nextDue: (await deps.spool.nextDue()) ?? null }));
  }, { prefix: '/api/v1' });

  return app;
}
