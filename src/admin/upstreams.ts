// Admin API: upstream SMTP servers. Config-declared ones and the system upstream are read-only;
// copying one gives an editable one (seed 000). Passwords are never returned. Shop admins manage
// their own (owner) and see the system upstream and their tenant's current one.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Upstream } from '../config/types.js';
import type { TestMailResult } from '../delivery/test-mail.js';
import { isValidAddress } from '../config/formats.js';
import type { Directory, UpstreamInput } from '../tenants/directory.js';
import { forbidden, notFound, principalOf } from './principal.js';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { isPrivateAddress } from '../security/private-address.js';
import { ApiError, sendError } from './errors.js';

/**
 * Why a shop admin may not use this host: it is (or resolves to) a loopback, private or link-local
 * address, so an upstream and its test mail would let a tenant probe the operator's network.
 */
async function privateHostProblem(host: string): Promise<string | undefined> {
  let addresses: string[];
  if (net.isIP(host) !== 0) addresses = [host];
  else {
    try {
      addresses = (await lookup(host, { all: true })).map((a) => a.address);
    } catch {
      return undefined; // not resolvable (yet): delivery and test mail will say so
    }
  }
  const inside = addresses.filter(isPrivateAddress);
  return inside.length > 0 ? `host ${host} is a loopback/private address (${inside.join(', ')}); shop admins may only use public mail servers` : undefined;
}

export interface UpstreamRouteDeps {
  /** Shop admins may point upstreams at loopback/private addresses (config admin.allowPrivateTenantUpstreams). */
  allowPrivateTenantUpstreams?: () => boolean;
  directory: Directory;
  systemUpstream: () => string;
  testMail: (upstream: Upstream, to: string) => Promise<TestMailResult>;
}

const nameParam = { type: 'object', properties: { name: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' } }, required: ['name'] } as const;
/** The config file's upstream shape; the password only inline. */
const upstreamFields = {
  type: { type: 'string', enum: ['smtp', 'mx'] },
  host: { type: 'string', minLength: 1, maxLength: 253 },
  port: { type: 'integer', minimum: 1, maximum: 65535 },
  tls: { type: 'string', enum: ['none', 'starttls', 'implicit'] },
  tlsVerify: { type: 'boolean' },
  requireTls: { type: 'boolean' },
  maxConnections: { type: 'integer', minimum: 1, maximum: 100 },
  auth: {
    anyOf: [
      { type: 'object', required: ['user'], additionalProperties: false, properties: { user: { type: 'string', minLength: 1, maxLength: 254 }, password: { type: 'string', minLength: 1, maxLength: 256 } } },
      { type: 'null' },
    ],
  },
} as const;

export function registerUpstreamRoutes(api: FastifyInstance, deps: UpstreamRouteDeps): void {
  // Shop admins (tenant tokens) see the system upstream, their tenant's current one and the ones they
  // made; they may edit and delete only their own. Operators (admin tokens) see and manage all.
  const tenantOf = (req: FastifyRequest): string | undefined => {
    const p = principalOf(req);
    return p.role === 'tenant' ? p.tenant : undefined;
  };
  const visible = (req: FastifyRequest, u: Upstream): boolean => {
    const tenant = tenantOf(req);
    if (!tenant) return true;
    return u.owner === tenant || u.name === deps.systemUpstream() || u.name === deps.directory.tenant(tenant)?.upstream;
  };
  const view = (req: FastifyRequest, u: Upstream) => {
    const tenant = tenantOf(req);
    const readOnly = u.source === 'config' || u.name === deps.systemUpstream() || (tenant !== undefined && u.owner !== tenant);
    const base = { readOnly, system: u.name === deps.systemUpstream() };
    if (u.type === 'mx') return { ...u, ...base };
    const { auth, ...rest } = u;
    return { ...rest, ...base, auth: auth ? { user: auth.user, password: '********' } : null };
  };
  /** The upstream the caller may see, or an answer already sent (404). */
  const seen = (req: FastifyRequest, reply: FastifyReply): Upstream | undefined => {
    const { name } = req.params as { name: string };
    const u = deps.directory.upstream(name);
    if (u && visible(req, u)) return u;
    void notFound(reply, `no upstream ${name}`);
    return undefined;
  };
  /** The upstream the caller may change, or an answer already sent (404/403). */
  const own = (req: FastifyRequest, reply: FastifyReply): Upstream | undefined => {
    const u = seen(req, reply);
    const tenant = tenantOf(req);
    if (u && tenant && u.owner !== tenant) {
      void forbidden(reply, `upstream ${u.name} is not one of tenant ${tenant}'s own; copy it to make an editable one`);
      return undefined;
    }
    return u;
  };
  const scope = { scope: 'tenant' } as const;

  api.get('/upstreams', { config: scope }, async (req) => ({ upstreams: deps.directory.upstreams().filter((u) => visible(req, u)).map((u) => view(req, u)) }));

  api.get('/upstreams/:name', { config: scope, schema: { params: nameParam } }, async (req, reply) => {
    const u = seen(req, reply);
    return u ? view(req, u) : reply;
  });

  /** A 400 already sent when a shop admin names a private host (and the operator does not allow it). */
  const refusePrivate = async (req: FastifyRequest, reply: FastifyReply, host: unknown): Promise<boolean> => {
    if (!tenantOf(req) || typeof host !== 'string' || deps.allowPrivateTenantUpstreams?.()) return false;
    const problem = await privateHostProblem(host);
    if (problem) void sendError(reply, 'PRIVATE_HOST', `host: ${problem}`, { issues: [`host: ${problem}`] });
    return problem !== undefined;
  };

  api.post('/upstreams', {
    config: scope,
    schema: { body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: nameParam.properties.name, ...upstreamFields } } },
  }, async (req, reply) => {
    if (await refusePrivate(req, reply, (req.body as { host?: unknown }).host)) return reply;
    return reply.code(201).send(view(req, await deps.directory.createUpstream(req.body as UpstreamInput, tenantOf(req))));
  });

  api.patch('/upstreams/:name', {
    config: scope,
    schema: { params: nameParam, body: { type: 'object', additionalProperties: false, minProperties: 1, properties: upstreamFields } },
  }, async (req, reply) => {
    const current = own(req, reply);
    if (!current) return reply;
    // The host the upstream will have: a new port on an operator-set private host would be a probe too.
    const body = req.body as { host?: unknown; port?: unknown };
    const host = body.host ?? (body.port !== undefined && current.type === 'smtp' ? current.host : undefined);
    if (await refusePrivate(req, reply, host)) return reply;
    return view(req, await deps.directory.updateUpstream((req.params as { name: string }).name, req.body as UpstreamInput));
  });

  api.post('/upstreams/:name/copy', {
    config: scope,
    schema: { params: nameParam, body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: nameParam.properties.name } } },
  }, async (req, reply) => {
    const source = seen(req, reply);
    if (!source) return reply;
    const tenant = tenantOf(req);
    // A shop admin's copy of an upstream it does not own gets no login: the operator's password must
    // never follow a copy whose host the shop admin can then point at its own server.
    const withoutLogin = tenant !== undefined && source.owner !== tenant;
    return reply.code(201).send(view(req, await deps.directory.copyUpstream(source.name, (req.body as { name: string }).name, tenant, withoutLogin)));
  });

  api.delete('/upstreams/:name', { config: scope, schema: { params: nameParam } }, async (req, reply) => {
    if (!own(req, reply)) return reply;
    await deps.directory.deleteUpstream((req.params as { name: string }).name);
    return reply.code(204).send();
  });

  // Seed 000: send a test e-mail through an upstream and show the server's exact answer.
  api.post('/upstreams/:name/test', {
    config: scope,
    schema: {
      params: nameParam,
      body: { type: 'object', required: ['to'], additionalProperties: false, properties: { to: { type: 'string', minLength: 3, maxLength: 254 } } },
    },
  }, async (req, reply) => {
    const upstream = seen(req, reply);
    if (!upstream) return reply;
    // Checked again at use: the name may resolve elsewhere by now.
    if (upstream.owner && upstream.type === 'smtp' && (await refusePrivate(req, reply, upstream.host))) return reply;
    const { to } = req.body as { to: string };
    if (!isValidAddress(to)) throw new ApiError('INVALID_ADDRESS', 'to: not a valid e-mail address');
    return deps.testMail(upstream, to);
  });
}
