// The web console's fastify plugin, mounted at / of the admin listener: cookies, form bodies,
// security headers (CSP), the stylesheet and script, sign-in/out and the tenant switch; the pages
// themselves are in pages-mail.ts and pages-setup.ts. Registered by src/admin/app.ts.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import { ConsoleContext, csrfField, type ConsoleRoutes, type SignedIn } from './context.js';
import { html } from './html.js';
import { SessionStore, type Session, type SignInLog } from './session.js';
import { CSS, JS } from './static.js';
import { registerMailPages } from './pages-mail.js';
import { registerSetupPages } from './pages-setup.js';
import { registerStatsPages } from './pages-stats.js';
import { registerSuppressionTransfer } from './pages-suppression-io.js';
import { FAVICON, vendorFile } from './static.js';

const CSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";
/** A tenant id no tenant has: asking the API for it makes a tenant token's 403 name its own tenant. */

export interface ConsoleOptions {
  /** Where each token's last sign-in is kept; in memory when absent. */
  signIns?: SignInLog;
  /** The session cookie's Secure flag; 'auto' (default): when the request came over HTTPS (X-Forwarded-Proto only from a trusted proxy). */
  secureCookie?: boolean | 'auto';
}

export async function consolePlugin(app: FastifyInstance, opts: ConsoleOptions = {}): Promise<void> {
  // Pages, not API: keep them out of the OpenAPI document.
  app.addHook('onRoute', (route) => {
    route.schema = { ...(route.schema ?? {}), hide: true };
  });
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  // The tracking spreadsheet arrives as the raw request body (console.js), like the API takes it.
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: 20 * 1024 * 1024 }, (_req, body, done) => done(null, body));

  const sessions = new SessionStore(opts.signIns);
  const ctx = new ConsoleContext(app, sessions, opts.secureCookie ?? 'auto');

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('content-security-policy', CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'same-origin');
    reply.header('x-frame-options', 'DENY');
    if (!reply.getHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });

  app.get('/console.css', async (_req, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'max-age=300').send(CSS));
  app.get('/console.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'max-age=300').send(JS));
  app.get('/favicon.svg', async (_req, reply) => reply.type('image/svg+xml').header('cache-control', 'max-age=86400').send(FAVICON));
  app.get('/favicon.ico', async (_req, reply) => reply.redirect('/favicon.svg', 301));
  // The chart library, from our own node_modules: no CDN, nothing leaves the operator's network.
  const uplotJs = await vendorFile('uplot/dist/uPlot.iife.min.js');
  const uplotCss = await vendorFile('uplot/dist/uPlot.min.css');
  app.get('/vendor/uplot.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'max-age=86400').send(uplotJs));
  app.get('/vendor/uplot.css', async (_req, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'max-age=86400').send(uplotCss));

  const csrfGiven = (req: FastifyRequest): unknown => (req.body as { _csrf?: unknown } | undefined)?._csrf ?? req.headers['x-csrf-token'];
  const refuseCsrf = (reply: FastifyReply) =>
    ctx.send(reply, 'Refused', html`<main class="signin"><section><h1>Refused</h1><p>This form has expired or did not come from this console (missing or wrong CSRF token). Go back, reload the page and try again.</p><p><a href="/">Start page</a></p></section></main>`, 403);

  const guard = async (req: FastifyRequest, reply: FastifyReply): Promise<SignedIn | undefined> => {
    const s = ctx.session(req);
    if (!s?.user) {
      if (req.method === 'GET') void reply.redirect('/');
      // A form sent after the session ended (signed out, timed out, or mailgate restarted): said so, not as a forgery.
      else void ctx.send(reply, 'Signed out', html`<main class="signin"><section><h1>Please sign in again</h1><p id="session-ended">Your session has ended (you signed out, it timed out, or the relay was restarted), so this was not done. Sign in again, then repeat it.</p><p><a href="/">Sign in</a></p></section></main>`, 401);
      return undefined;
    }
    if (req.method !== 'GET' && !SessionStore.csrfOk(s, csrfGiven(req))) {
      void refuseCsrf(reply);
      return undefined;
    }
    return s as SignedIn;
  };

  const withTenant = async (req: FastifyRequest, reply: FastifyReply, title: string, active: string) => {
    const s = await guard(req, reply);
    if (!s) return undefined;
    if (!s.user.tenant) {
      await ctx.page(req, reply, s, { title, active, body: html`<section><p>There is no tenant yet. Create one through the API (see README, "Tenants, upstreams and webhooks through the API").</p></section>` });
      return undefined;
    }
    return s as SignedIn & { user: { tenant: string } };
  };

  const signInPage = (reply: FastifyReply, s: Session, error?: string, status = 200) =>
    ctx.send(reply, 'Sign in', html`<main class="signin"><section>
<h1>mailgate console</h1>
${error ? html`<div class="flash error" role="alert">${error}</div>` : ''}
<form method="post" action="/signin" id="signin-form">${csrfField(s)}
  <label>API token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
  <p class="muted">A shop token (from <code>POST /api/v1/tenants/&lt;tenant&gt;/tokens</code>) or an operator's admin token.</p>
  <button type="submit">Sign in</button>
</form></section></main>`, status);

  app.post('/signin', async (req, reply) => {
    const old = ctx.session(req);
    if (!old || !SessionStore.csrfOk(old, csrfGiven(req))) return refuseCsrf(reply);
    const token = String((req.body as { token?: unknown } | undefined)?.token ?? '').trim();
    if (!token) return signInPage(reply, old, 'Enter your API token.', 400);
    const who = await ctx.api<{ role: 'admin' | 'tenant'; tenant?: string }>(req, token, 'GET', '/whoami');
    let role: 'admin' | 'tenant';
    let tenant: string | undefined;
    if (who.status === 200 && who.data.role === 'admin') {
      role = 'admin';
      tenant = (await ctx.api<{ tenants: Array<{ id: string }> }>(req, token, 'GET', '/tenants')).data.tenants[0]?.id;
    } else if (who.status === 200 && who.data.tenant) {
      role = 'tenant';
      tenant = who.data.tenant;
    } else if (who.status === 429) {
      return signInPage(reply, old, 'Too many attempts with a wrong token from your address: wait a minute.', 429);
    } else {
      return signInPage(reply, old, 'This token is not valid.', 401);
    }
    const s = await sessions.signIn(old, token, role, tenant);
    ctx.setCookie(reply, s);
    return reply.redirect('/', 303);
  });

  app.post('/signout', async (req, reply) => {
    const s = await guard(req, reply);
    if (!s) return reply;
    sessions.signOut(s);
    const anon = sessions.anonymous();
    ctx.setCookie(reply, anon);
    return signInPage(reply, anon, undefined);
  });

  app.post('/tenant', async (req, reply) => {
    const s = await guard(req, reply);
    if (!s) return reply;
    const wanted = String((req.body as { tenant?: unknown }).tenant ?? '');
    if (s.user.role === 'admin' && (await ctx.tenants(req, s)).some((t) => t.id === wanted)) s.user.tenant = wanted;
    return reply.redirect('/', 303);
  });

  // GET /: the sign-in form, or the overview once signed in.
  app.get('/', async (req, reply) => {
    const s = ctx.session(req);
    if (!s?.user) {
      const anon = s ?? sessions.anonymous();
      if (!s) ctx.setCookie(reply, anon);
      return signInPage(reply, anon);
    }
    return overview(req, reply, s as SignedIn);
  });

  const routes: ConsoleRoutes = { ctx, guard, withTenant };
  const { overview } = registerMailPages(app, routes);
  registerSetupPages(app, routes);
  registerStatsPages(app, routes);
  registerSuppressionTransfer(app, routes);
}
