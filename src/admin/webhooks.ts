// Admin API: a tenant's webhooks, their delivery log, and a test delivery.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Directory } from '../tenants/directory.js';
import { WEBHOOK_EVENTS, type Webhook, type WebhookEventType } from '../store/webhooks.js';
import type { WebhookDispatcher } from '../webhooks/dispatcher.js';
import { forbidden, mayAccess, notFound, tenantIdSchema } from './principal.js';
import { ApiError } from './errors.js';

export interface WebhookRouteDeps {
  directory: Directory;
  webhooks: WebhookDispatcher;
}

const idParam = { type: 'object', properties: { id: { type: 'string', pattern: '^wh_[0-9a-f]{16}$' } }, required: ['id'] } as const;
const url = { type: 'string', pattern: '^https?://', maxLength: 2000 } as const;
const events = { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: WEBHOOK_EVENTS.filter((e) => e !== 'test') } } as const;

/** What is shown of a webhook: everything but the secret. */
function view(h: Webhook) {
  const { secret: _secret, ...rest } = h;
  return rest;
}

function validUrl(u: string): boolean {
  try {
    const p = new URL(u);
    return (p.protocol === 'http:' || p.protocol === 'https:') && p.username === '' && p.password === '';
  } catch {
    return false;
  }
}

/** A private or local target is refused when the webhook is made or changed, not retried for ever. */
function refuseTarget(webhooks: WebhookDispatcher, url: string): void {
  const refused = webhooks.refusedTarget(url);
  if (refused) throw new ApiError('PRIVATE_HOST', `url: ${refused}`);
}

export function registerWebhookRoutes(api: FastifyInstance, deps: WebhookRouteDeps): void {
  /** The webhook, or an answer already sent (404, or 403 for another tenant's). */
  const owned = (req: FastifyRequest, reply: FastifyReply): Webhook | undefined => {
    const hook = deps.webhooks.get((req.params as { id: string }).id);
    if (!hook) {
      void notFound(reply, `no webhook ${(req.params as { id: string }).id}`);
      return undefined;
    }
    if (!mayAccess(req, hook.tenant)) {
      void forbidden(reply, 'this webhook belongs to another tenant');
      return undefined;
    }
    return hook;
  };

  api.get('/webhooks', {
    config: { scope: 'tenant' },
    schema: { querystring: { type: 'object', required: ['tenant'], additionalProperties: false, properties: { tenant: tenantIdSchema } } },
  }, async (req) => ({ webhooks: deps.webhooks.list((req.query as { tenant: string }).tenant).map(view) }));

  api.post('/webhooks', {
    config: { scope: 'tenant' },
    schema: {
      body: {
        type: 'object', required: ['tenant', 'url'], additionalProperties: false,
        properties: { tenant: tenantIdSchema, url, events, secret: { type: 'string', minLength: 16, maxLength: 200 } },
      },
    },
  }, async (req, reply) => {
    const b = req.body as { tenant: string; url: string; events?: WebhookEventType[]; secret?: string };
    if (!deps.directory.tenant(b.tenant)) return notFound(reply, `no tenant ${b.tenant}`);
    if (!validUrl(b.url)) throw new ApiError('INVALID_URL', 'url: must be an http(s) URL without credentials');
    refuseTarget(deps.webhooks, b.url);
    const hook = await deps.webhooks.create(b);
    // The secret is shown this once; receivers need it to verify X-Mailgate-Signature.
    return reply.code(201).send({ ...view(hook), secret: hook.secret });
  });

  api.get('/webhooks/:id', { config: { scope: 'tenant' }, schema: { params: idParam } }, async (req, reply) => {
    const hook = owned(req, reply);
    return hook ? view(hook) : reply;
  });

  api.patch('/webhooks/:id', {
    config: { scope: 'tenant' },
    schema: { params: idParam, body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { url, events, active: { type: 'boolean' }, rotateSecret: { type: 'boolean' } } } },
  }, async (req, reply) => {
    const hook = owned(req, reply);
    if (!hook) return reply;
    const b = req.body as { url?: string; events?: WebhookEventType[]; active?: boolean; rotateSecret?: boolean };
    if (b.url && !validUrl(b.url)) throw new ApiError('INVALID_URL', 'url: must be an http(s) URL without credentials');
    if (b.url) refuseTarget(deps.webhooks, b.url);
    const updated = (await deps.webhooks.update(hook.id, b))!;
    return { ...view(updated), ...(b.rotateSecret ? { secret: updated.secret } : {}) };
  });

  api.delete('/webhooks/:id', { config: { scope: 'tenant' }, schema: { params: idParam } }, async (req, reply) => {
    const hook = owned(req, reply);
    if (!hook) return reply;
    await deps.webhooks.remove(hook.id);
    return reply.code(204).send();
  });

  api.get('/webhooks/:id/deliveries', {
    config: { scope: 'tenant' },
    schema: { params: idParam, querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 } } } },
  }, async (req, reply) => {
    const hook = owned(req, reply);
    if (!hook) return reply;
    return { deliveries: await deps.webhooks.deliveries(hook.id, (req.query as { limit: number }).limit) };
  });

  api.post('/webhooks/:id/test', { config: { scope: 'tenant' }, schema: { params: idParam } }, async (req, reply) => {
    const hook = owned(req, reply);
    if (!hook) return reply;
    return { attempt: await deps.webhooks.test(hook.id) };
  });
}
