// The public unsubscribe endpoint (no token: the link's MAC is the authorisation) and the admin API
// for opt-outs. GET shows a confirmation page; POST unsubscribes, which is what RFC 8058 one-click
// mail clients send. Every value on the page is HTML-escaped: tenant names and addresses are data.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OptOutList } from '../store/opt-outs.js';
import type { Directory } from '../tenants/directory.js';
import { readUnsubscribeToken, type OptOutTarget } from '../unsubscribe/token.js';
import { tenantIdSchema } from './principal.js';
import { sendError } from './errors.js';
import { badLinkLimit } from './failure-limits.js';

export interface UnsubscribeDeps {
  optOuts: OptOutList;
  directory: Directory;
  unsubscribeSecret: Buffer;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}button{font-size:1rem;padding:.5rem 1rem}</style></head>
<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

const tokenParams = { type: 'object', required: ['token'], properties: { token: { type: 'string', minLength: 1, maxLength: 1000 } } } as const;

/** Routes outside /api/v1: GET and POST /unsubscribe/:token. */
export async function registerUnsubscribePages(app: FastifyInstance, deps: UnsubscribeDeps): Promise<void> {
  await app.register(async (pub) => {
    // One-click clients POST "List-Unsubscribe=One-Click" as a form (urlencoded or multipart); the content is not needed.
    for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']) {
      pub.addContentTypeParser(type, { parseAs: 'string', bodyLimit: 4096 }, (_req, _body, done) => done(null, null));
    }
    const target = (token: string): (OptOutTarget & { tenantName: string }) | undefined => {
      const t = readUnsubscribeToken(deps.unsubscribeSecret, token);
      return t ? { ...t, tenantName: deps.directory.tenant(t.tenant)?.name ?? t.tenant } : undefined;
    };
    const invalid = page('This link is not valid', '<p>The unsubscribe link is incomplete or was changed. Please use the link from the e-mail as it is.</p>');
    // Links that do not verify count per address; someone trying link after link gets 429.
    const badLinks = badLinkLimit(pub);
    const refuse = async (req: FastifyRequest, reply: FastifyReply) => {
      const limit = await badLinks.failed(req);
      if (limit.over) return reply.code(429).header('Retry-After', String(limit.retryAfterSeconds)).send(page('Too many attempts', '<p>Too many invalid links from your address. Please wait a minute and use the link from the e-mail as it is.</p>'));
      return reply.code(400).send(invalid);
    };

    pub.get('/unsubscribe/:token', { schema: { params: tokenParams, hide: true } }, async (req, reply) => {
      const t = target((req.params as { token: string }).token);
      reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').header('x-robots-tag', 'noindex');
      if (!t) return refuse(req, reply);
      return page('Unsubscribe', `<p>Stop sending <strong>${escapeHtml(t.category)}</strong> messages from <strong>${escapeHtml(t.tenantName)}</strong> to <strong>${escapeHtml(t.address)}</strong>?</p>
<p>Important messages about your orders (payment details, reminders) are still sent.</p>
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>`);
    });

    pub.post('/unsubscribe/:token', { schema: { params: tokenParams, hide: true } }, async (req, reply) => {
      const t = target((req.params as { token: string }).token);
      reply.type('text/html; charset=utf-8').header('cache-control', 'no-store');
      if (!t) return refuse(req, reply);
      const oneClick = req.headers['content-type']?.startsWith('application/x-www-form-urlencoded') || req.headers['content-type']?.startsWith('multipart/form-data');
      await deps.optOuts.add({ tenant: t.tenant, category: t.category, address: t.address, time: Date.now(), via: oneClick ? 'one-click' : 'page' });
      return page('Unsubscribed', `<p><strong>${escapeHtml(t.address)}</strong> will get no more <strong>${escapeHtml(t.category)}</strong> messages from <strong>${escapeHtml(t.tenantName)}</strong>.</p>`);
    });
  });
}

/** Routes under /api/v1: list and undo opt-outs (tenant tokens: their own tenant). */
export function registerOptOutRoutes(api: FastifyInstance, deps: UnsubscribeDeps): void {
  api.get('/optouts', {
    config: { scope: 'tenant' },
    schema: {
      querystring: {
        type: 'object', required: ['tenant'], additionalProperties: false,
        properties: { tenant: tenantIdSchema, address: { type: 'string', minLength: 3, maxLength: 254 }, category: { type: 'string', minLength: 1, maxLength: 64 } },
      },
    },
  }, async (req) => {
    const { tenant, ...q } = req.query as { tenant: string; address?: string; category?: string };
    return { optOuts: await deps.optOuts.list(tenant, q) };
  });

  api.delete('/optouts/:tenant/:category/:address', {
    config: { scope: 'tenant' },
    schema: {
      params: {
        type: 'object', required: ['tenant', 'category', 'address'],
        properties: { tenant: tenantIdSchema, category: { type: 'string', minLength: 1, maxLength: 64 }, address: { type: 'string', minLength: 3, maxLength: 254 } },
      },
    },
  }, async (req, reply) => {
    const { tenant, category, address } = req.params as { tenant: string; category: string; address: string };
    return (await deps.optOuts.remove(tenant, category, address))
      ? reply.code(204).send()
      : sendError(reply, 'NOT_FOUND', `${address} has not unsubscribed from ${category} of ${tenant}`);
  });
}
