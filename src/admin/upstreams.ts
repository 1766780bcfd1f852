// Admin API: upstream SMTP servers. Config-declared ones and the system upstream are read-only;
// copying one gives an editable one (seed 000). Passwords are never returned.
import type { FastifyInstance } from 'fastify';
import type { Upstream } from '../config/types.js';
import type { TestMailResult } from '../delivery/test-mail.js';
import { isValidAddress } from '../queue/address.js';
import type { Directory, UpstreamInput } from '../tenants/directory.js';
import { notFound } from './principal.js';

export interface UpstreamRouteDeps {
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
  const view = (u: Upstream) => {
    const readOnly = u.source === 'config' || u.name === deps.systemUpstream();
    if (u.type === 'mx') return { ...u, readOnly, system: u.name === deps.systemUpstream() };
    const { auth, ...rest } = u;
    return { ...rest, readOnly, system: u.name === deps.systemUpstream(), auth: auth ? { user: auth.user, password: '********' } : null };
  };

  api.get('/upstreams', async () => ({ upstreams: deps.directory.upstreams().map(view) }));

  api.get('/upstreams/:name', { schema: { params: nameParam } }, async (req, reply) => {
    const u = deps.directory.upstream((req.params as { name: string }).name);
    return u ? view(u) : notFound(reply, `no upstream ${(req.params as { name: string }).name}`);
  });

  api.post('/upstreams', {
    schema: { body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: nameParam.properties.name, ...upstreamFields } } },
  }, async (req, reply) => {
    return reply.code(201).send(view(await deps.directory.createUpstream(req.body as UpstreamInput)));
  });

  api.patch('/upstreams/:name', {
    schema: { params: nameParam, body: { type: 'object', additionalProperties: false, minProperties: 1, properties: upstreamFields } },
  }, async (req, reply) => {
    return view(await deps.directory.updateUpstream((req.params as { name: string }).name, req.body as UpstreamInput));
  });

  api.post('/upstreams/:name/copy', {
    schema: { params: nameParam, body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: nameParam.properties.name } } },
  }, async (req, reply) => {
    return reply.code(201).send(view(await deps.directory.copyUpstream((req.params as { name: string }).name, (req.body as { name: string }).name)));
  });

  api.delete('/upstreams/:name', { schema: { params: nameParam } }, async (req, reply) => {
    await deps.directory.deleteUpstream((req.params as { name: string }).name);
    return reply.code(204).send();
  });

  // Seed 000: send a test e-mail through an upstream and show the server's exact answer.
  api.post('/upstreams/:name/test', {
    schema: {
      params: nameParam,
      body: { type: 'object', required: ['to'], additionalProperties: false, properties: { to: { type: 'string', minLength: 3, maxLength: 254 } } },
    },
  }, async (req, reply) => {
    const { name } = req.params as { name: string };
    const { to } = req.body as { to: string };
    const upstream = deps.directory.upstream(name);
    if (!upstream) return notFound(reply, `no upstream ${name}`);
    if (!isValidAddress(to)) return reply.code(400).send({ error: 'INVALID_ADDRESS', message: 'to: not a valid e-mail address' });
    return deps.testMail(upstream, to);
  });
}
