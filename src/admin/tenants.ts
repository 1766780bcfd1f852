// Admin API: tenants (config-declared ones read-only), their SMTP credentials and sender domains.
import type { FastifyInstance } from 'fastify';
import type { SenderOverride, Tenant } from '../config/types.js';
import type { DomainVerifier } from '../identity/domain-verifier.js';
import type { Spool } from '../queue/spool.js';
import type { TenantTokens } from '../store/api-tokens.js';
import type { Directory, TenantInput } from '../tenants/directory.js';
import type { WebhookDispatcher } from '../webhooks/dispatcher.js';
import { notFound, principalOf } from './principal.js';
import { ApiError } from './errors.js';

export interface TenantRouteDeps {
  directory: Directory;
  domains: DomainVerifier;
  spool: Spool;
  tenantTokens: TenantTokens;
  webhooks: WebhookDispatcher;
  systemUpstream: () => string;
}

const tenantParam = { type: 'object', properties: { tenant: { type: 'string', pattern: '^[a-z0-9_-]{1,64}$' } }, required: ['tenant'] } as const;
const userParams = { type: 'object', properties: { tenant: tenantParam.properties.tenant, user: { type: 'string', minLength: 1, maxLength: 254 } }, required: ['tenant', 'user'] } as const;
const password = { type: 'string', minLength: 12, maxLength: 256 } as const;
const mailbox = { type: 'object', required: ['address'], additionalProperties: false, properties: { address: { type: 'string', maxLength: 254 }, name: { type: 'string', minLength: 1, maxLength: 200 } } } as const;
const dkimKey = {
  type: 'object', required: ['selector'], additionalProperties: false,
  properties: { selector: { type: 'string', minLength: 1, maxLength: 63 }, privateKey: { type: 'string', maxLength: 20000 }, generate: { type: 'string', enum: ['rsa', 'ed25519'] } },
} as const;
/** The config file's tenant shape; secrets only inline (no …File / …Env through the API). */
const tenantFields = {
  name: { type: 'string', minLength: 1, maxLength: 200 },
  networks: {
    type: 'array', maxItems: 100,
    items: {
      anyOf: [
        { type: 'string', maxLength: 64 },
        { type: 'object', required: ['cidr'], additionalProperties: false, properties: { cidr: { type: 'string', maxLength: 64 }, upstream: { type: 'string', minLength: 1, maxLength: 64 }, from: mailbox } },
      ],
    },
  },
  from: { anyOf: [mailbox, { type: 'null' }] },
  domains: {
    type: 'array', maxItems: 100,
    items: { type: 'object', required: ['domain'], additionalProperties: false, properties: { domain: { type: 'string', maxLength: 253 }, dkim: { anyOf: [dkimKey, { type: 'array', minItems: 1, maxItems: 4, items: dkimKey }] } } },
  },
  upstream: { anyOf: [{ type: 'string', minLength: 1, maxLength: 64 }, { type: 'null' }] },
  categories: { type: 'object', maxProperties: 100, additionalProperties: { type: 'string', enum: ['optional', 'mandatory'] } },
  hold: { type: 'boolean', description: 'New mail is held (accepted, kept, not delivered) until released' },
  limits: {
    anyOf: [{
      type: 'object', additionalProperties: false,
      properties: Object.fromEntries(['messagesPerMinute', 'messagesPerHour', 'messagesPerDay', 'recipientsPerMessage', 'recipientsPerMonth'].map((k) => [k, { type: 'integer', minimum: 1 }])),
    }, { type: 'null' }],
  },
  categoryRules: {
    type: 'array', maxItems: 100,
    items: { type: 'object', required: ['subject', 'category'], additionalProperties: false, properties: { subject: { type: 'string', minLength: 1, maxLength: 500 }, category: { type: 'string', minLength: 1, maxLength: 64 } } },
  },
} as const;

export function registerTenantRoutes(api: FastifyInstance, deps: TenantRouteDeps): void {
  const view = (t: Tenant) => ({
    id: t.id, name: t.name, source: t.source, readOnly: t.source === 'config',
    from: t.from ?? null,
    networks: t.networks.map((cidr) => {
      const own = t.networkSenders?.find((n) => n.cidr === cidr);
      return { cidr, upstream: own?.upstream ?? null, from: own?.from ?? null };
    }),
    upstream: t.upstream ?? null, effectiveUpstream: t.upstream ?? deps.systemUpstream(),
    categories: t.categories ?? {}, categoryRules: t.categoryRules ?? [], limits: t.limits ?? {}, hold: t.hold ?? false,
    credentials: t.auth.map((c) => ({ user: c.user, upstream: c.upstream ?? null, from: c.from ?? null, limits: c.limits ?? {} })),
    domains: t.domains.map((d) => ({ domain: d.domain, selectors: d.dkim.map((k) => k.selector), check: deps.domains.result(d.domain) ?? null })),
  });

  api.get('/tenants', async () => ({ tenants: deps.directory.tenants().map(view) }));

  api.get('/tenants/:tenant', { config: { scope: 'tenant' }, schema: { params: tenantParam } }, async (req, reply) => {
    const t = deps.directory.tenant((req.params as { tenant: string }).tenant);
    return t ? view(t) : notFound(reply, `no tenant ${(req.params as { tenant: string }).tenant}`);
  });

  api.post('/tenants', {
    schema: {
      body: {
        type: 'object', required: ['id', 'name'], additionalProperties: false,
        properties: {
          id: tenantParam.properties.tenant, ...tenantFields,
          auth: {
            type: 'array', maxItems: 50,
            items: { type: 'object', required: ['user', 'password'], additionalProperties: false, properties: { user: { type: 'string', minLength: 1, maxLength: 254 }, password, upstream: { type: 'string', minLength: 1, maxLength: 64 }, from: mailbox } },
          },
        },
      },
    },
  }, async (req, reply) => {
    const tenant = await deps.directory.createTenant(req.body as TenantInput);
    return reply.code(201).send(view(tenant));
  });

  api.patch('/tenants/:tenant', {
    schema: { params: tenantParam, body: { type: 'object', additionalProperties: false, minProperties: 1, properties: tenantFields } },
  }, async (req, reply) => {
    return view(await deps.directory.updateTenant((req.params as { tenant: string }).tenant, req.body as TenantInput));
  });

  // A shop admin picks the tenant's upstream: one of its own (see /upstreams), or null for the system upstream.
  api.put('/tenants/:tenant/upstream', {
    config: { scope: 'tenant' },
    schema: { params: tenantParam, body: { type: 'object', required: ['upstream'], additionalProperties: false, properties: { upstream: tenantFields.upstream } } },
  }, async (req, reply) => {
    const { tenant } = req.params as { tenant: string };
    const { upstream } = req.body as { upstream: string | null };
    const p = principalOf(req);
    const u = upstream === null ? undefined : deps.directory.upstream(upstream);
    if (upstream !== null && (!u || (p.role === 'tenant' && u.owner !== tenant && upstream !== deps.systemUpstream()))) {
      throw new ApiError('INVALID', `upstream: ${upstream} is not an upstream of tenant ${tenant} (make one with POST /api/v1/upstreams, or copy one)`, { issues: [`upstream: unknown upstream "${upstream}"`] });
    }
    return view(await deps.directory.updateTenant(tenant, { upstream }));
  });

  api.delete('/tenants/:tenant', { schema: { params: tenantParam } }, async (req, reply) => {
    const { tenant } = req.params as { tenant: string };
    const t = deps.directory.tenant(tenant);
    if (!t) return notFound(reply, `no tenant ${tenant}`);
    // Queued mail would lose its sender identity and upstream: refuse until the queue is empty for it.
    const queued = t.source === 'store' ? await deps.spool.queuedFor(tenant) : 0;
    if (queued > 0) {
      throw new ApiError('MESSAGES_QUEUED', `tenant ${tenant} has ${queued} message(s) in the queue; wait until they are delivered or expire (or delete them), then delete the tenant`);
    }
    await deps.directory.deleteTenant(tenant);
    const revoked = await deps.tenantTokens.revokeAll(tenant);
    await deps.webhooks.removeTenant(tenant);
    return {
      deleted: tenant, revokedApiTokens: revoked,
      kept: 'its message history, error log and suppression list stay readable by admin tokens until they age out; a new tenant with the same id would see them',
    };
  });

  // SMTP credentials: add (password generated when none is given, shown once), rotate, remove.
  api.post('/tenants/:tenant/credentials', {
    schema: {
      params: tenantParam,
      body: {
        type: 'object', required: ['user'], additionalProperties: false,
        properties: { user: { type: 'string', pattern: '^[^\\s:]{1,254}$' }, password, upstream: { type: 'string', minLength: 1, maxLength: 64 }, from: mailbox },
      },
    },
  }, async (req, reply) => {
    const { user, password: pw, ...own } = req.body as { user: string; password?: string } & SenderOverride;
    return reply.code(201).send(await deps.directory.addCredential((req.params as { tenant: string }).tenant, user, pw, own));
  });

  api.post('/tenants/:tenant/credentials/:user/rotate', {
    config: { scope: 'tenant' },
    schema: {
      params: userParams,
      body: { type: ['object', 'null'], additionalProperties: false, properties: { password, keepApiTokens: { type: 'boolean', default: false } } },
    },
  }, async (req, reply) => {
    const { tenant, user } = req.params as { tenant: string; user: string };
    const body = (req.body ?? {}) as { password?: string; keepApiTokens?: boolean };
    const result = await deps.directory.rotateCredential(tenant, user, body.password);
    // Seed 004 rotates the API key with the password: that is the default, keeping tokens must be asked for.
    const revoked = body.keepApiTokens ? 0 : await deps.tenantTokens.revokeAll(tenant);
    return { ...result, revokedApiTokens: revoked };
  });

  // A login's own upstream and default sender (seed 000); null clears them (the tenant's apply again).
  api.patch('/tenants/:tenant/credentials/:user', {
    schema: {
      params: userParams,
      body: {
        type: 'object', additionalProperties: false, minProperties: 1,
        properties: { upstream: { anyOf: [{ type: 'string', minLength: 1, maxLength: 64 }, { type: 'null' }] }, from: { anyOf: [mailbox, { type: 'null' }] } },
      },
    },
  }, async (req, reply) => {
    const { tenant, user } = req.params as { tenant: string; user: string };
    await deps.directory.updateCredential(tenant, user, req.body as { upstream?: string | null; from?: SenderOverride['from'] | null });
    return view(deps.directory.tenant(tenant)!).credentials.find((c) => c.user === user);
  });

  api.delete('/tenants/:tenant/credentials/:user', { schema: { params: userParams } }, async (req, reply) => {
    const { tenant, user } = req.params as { tenant: string; user: string };
    await deps.directory.removeCredential(tenant, user);
    return reply.code(204).send();
  });
}
