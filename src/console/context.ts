// What every console route shares: the signed-in session, calls into the admin API (in-process,
// with the user's own bearer token, so scoping, validation and errors are exactly the API's), the
// page shell (header with the red error counter, tenant selector, navigation) and small formatters.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { html, raw, type SafeHtml } from './html.js';
import libmime from 'libmime';
import { SESSION_COOKIE, type Session, type SessionStore } from './session.js';

export interface ApiAnswer<T = Record<string, unknown>> {
  status: number;
  data: T;
  /** The body as text (for answers that are not JSON, such as a message's raw source). */
  text: string;
}

export type SignedIn = Session & { user: NonNullable<Session['user']> };

export interface Flash {
  kind: 'ok' | 'error' | 'warn';
  text: string;
}

export class ConsoleContext {
  private readonly flashes = new WeakMap<Session, Flash>();

  constructor(readonly app: FastifyInstance, readonly sessions: SessionStore, private readonly secureCookie: boolean | 'auto' = 'auto') {}

  session(req: FastifyRequest): Session | undefined {
    return this.sessions.get(req.cookies[SESSION_COOKIE]);
  }

  setCookie(reply: FastifyReply, s: Session | undefined): void {
    const secure = this.secureCookie === 'auto' ? reply.request.protocol === 'https' : this.secureCookie;
    const options = { httpOnly: true, sameSite: 'strict', path: '/', secure } as const;
    if (s) reply.setCookie(SESSION_COOKIE, s.id, options);
    else reply.clearCookie(SESSION_COOKIE, options);
  }

  /** One admin API call as this user. `query` values that are undefined or '' are left out. */
  async api<T = Record<string, unknown>>(
    req: FastifyRequest, token: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string,
    opts: { query?: Record<string, string | number | boolean | undefined>; body?: unknown; raw?: { data: Buffer; contentType: string } } = {},
  ): Promise<ApiAnswer<T>> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined && v !== '') qs.set(k, String(v));
    const url = `/api/v1${path}${qs.size ? `?${qs}` : ''}`;
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    let payload: string | Buffer | undefined;
    if (opts.raw) {
      headers['content-type'] = opts.raw.contentType;
      payload = opts.raw.data;
    } else if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(opts.body);
    }
    // The caller's address, so the API's bad-token throttle counts per browser, not per console.
    const res = await this.app.inject({ method, url, headers, remoteAddress: req.ip, ...(payload !== undefined ? { payload } : {}) });
    let data: unknown = {};
    if (res.body) {
      try {
        data = JSON.parse(res.body);
      } catch {
        data = { message: res.body };
      }
    }
    return { status: res.statusCode, data: data as T, text: res.body };
  }

  flash(s: Session, f: Flash): void {
    this.flashes.set(s, f);
  }

  takeFlash(s: Session): Flash | undefined {
    const f = this.flashes.get(s);
    this.flashes.delete(s);
    return f;
  }

  /** The tenant's errors since the user's previous sign-in (null when the API refuses). */
  async errorCount(req: FastifyRequest, s: SignedIn): Promise<number | null> {
    if (!s.user.tenant) return null;
    const r = await this.api<{ count: number }>(req, s.user.token, 'GET', '/errors/count', { query: { tenant: s.user.tenant, since: s.user.since } });
    return r.status === 200 ? r.data.count : null;
  }

  /** The chosen tenant's sender domains whose DNS is not (yet) right: mail from them goes out as the system sender. */
  async unverifiedDomains(req: FastifyRequest, s: SignedIn): Promise<string[]> {
    if (!s.user.tenant) return [];
    const r = await this.api<{ domains: Array<{ domain: string; check: { verified: boolean } | null }> }>(req, s.user.token, 'GET', '/domains', { query: { tenant: s.user.tenant } });
    return r.status === 200 ? r.data.domains.filter((d) => d.check && !d.check.verified).map((d) => d.domain) : [];
  }

  async tenants(req: FastifyRequest, s: SignedIn): Promise<Array<{ id: string; name: string }>> {
    if (s.user.role !== 'admin') {
      if (!s.user.tenant) return [];
      if (s.user.tenantName === undefined) {
        const r = await this.api<{ name?: string }>(req, s.user.token, 'GET', `/tenants/${encodeURIComponent(s.user.tenant)}`);
        s.user.tenantName = r.status === 200 && r.data.name ? r.data.name : s.user.tenant;
      }
      return [{ id: s.user.tenant, name: s.user.tenantName }];
    }
    const r = await this.api<{ tenants: Array<{ id: string; name: string }> }>(req, s.user.token, 'GET', '/tenants');
    return r.status === 200 ? r.data.tenants : [];
  }

  /** Sends a whole console page. */
  async page(req: FastifyRequest, reply: FastifyReply, s: SignedIn, o: { title: string; active?: string; body: SafeHtml; status?: number; charts?: boolean }): Promise<FastifyReply> {
    const [count, tenants, unverified] = await Promise.all([this.errorCount(req, s), this.tenants(req, s), this.unverifiedDomains(req, s)]);
    const flash = this.takeFlash(s);
    const nav = NAV.map(([href, label]) => html`<a href="${href}"${o.active === href ? raw(' aria-current="page"') : ''}>${label}</a>`);
    const tenantPart = s.user.role === 'admin'
      ? html`<form method="post" action="/tenant" class="inline">${csrfField(s)}<label class="inline-label"><span class="sr">Tenant</span>
          <select name="tenant" data-autosubmit aria-label="Tenant">${tenants.map((t) => html`<option value="${t.id}"${t.id === s.user.tenant ? raw(' selected') : ''}>${t.id} — ${t.name}</option>`)}</select></label>
          <noscript><button type="submit" class="secondary">Switch</button></noscript></form>`
      : html`<span>Shop <b id="shop-name">${tenants[0]?.name ?? s.user.tenant}</b></span>`;
    const counter = count === null ? '' : html`<a href="/errors?period=signin" id="error-counter" title="errors since your previous sign-in"><span class="counter${count === 0 ? ' zero' : ''}" data-count="${count}">${count}</span> errors since your last sign-in</a>`;
    const body = html`<header>
  <a class="brand" href="/">mailgate</a>
  <nav>${nav}</nav>
  <div class="who">${counter} ${tenantPart}
    <form method="post" action="/signout" class="inline">${csrfField(s)}<button type="submit" class="secondary" id="signout">Sign out</button></form></div>
</header>
<main>
${flash ? html`<div class="flash ${flash.kind}" role="status">${flash.text}</div>` : ''}
${unverified.length > 0 ? html`<div class="banner warn" id="domain-banner" role="note">Mail from ${unverified.join(', ')} goes out under the relay's own sender, with your address as Reply-To, until the domain's DNS records are in place. <a href="/domains">See Domains</a> for what to publish.</div>` : ''}
<h1>${o.title}</h1>
${o.body}
</main>`;
    return this.send(reply, o.title, body, o.status ?? 200, o.charts);
  }

  send(reply: FastifyReply, title: string, body: SafeHtml, status = 200, charts = false): FastifyReply {
    return reply.code(status).type('text/html; charset=utf-8').send(document(title, body, charts).value);
  }
}

const NAV: Array<[string, string]> = [
  ['/', 'Overview'], ['/errors', 'Error log'], ['/search', 'Search'], ['/stats', 'Statistics'], ['/suppression', 'Suppression'],
  ['/upstreams', 'Upstreams'], ['/domains', 'Domains'], ['/tracking', 'Tracking'],
];

export function document(title: string, body: SafeHtml, charts = false): SafeHtml {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · mailgate</title><link rel="icon" href="/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/console.css">
${charts ? raw('<link rel="stylesheet" href="/vendor/uplot.css"><script src="/vendor/uplot.js" defer></script>') : ''}<script src="/console.js" defer></script></head>
<body>${body}</body></html>`;
}

export function csrfField(s: Session): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${s.csrf}">`;
}

/** A time for people: UTC in the markup, shown in the browser's zone by console.js, UTC on hover. */
export function fmtTime(ms: number | null | undefined): SafeHtml | string {
  if (!ms) return '–';
  const iso = new Date(ms).toISOString();
  const utc = iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  return html`<time datetime="${iso}" title="${utc}">${utc}</time>`;
}

export { replyText as reply } from './reply-text.js';

/** The API's error message of a refused call. */
export function apiError(a: ApiAnswer<unknown>): string {
  const d = a.data as { error?: string; message?: string };
  // The API's message says what to change; the HTTP status means nothing to a shop admin.
  return d.message ?? d.error ?? `the request failed (HTTP ${a.status})`;
}

/** A header value as stored (RFC 2047 encoded words possible) → the text a person reads. */
export function headerText(value: string | null | undefined): string {
  if (!value) return '';
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
}

/** What the page modules get from the plugin: the context and the two guards every page starts with. */
export interface ConsoleRoutes {
  ctx: ConsoleContext;
  /** The signed-in session, or undefined after answering (redirect to sign-in, or 403 for a bad CSRF token). */
  guard(req: FastifyRequest, reply: FastifyReply): Promise<SignedIn | undefined>;
  /** The signed-in session with a tenant chosen, or undefined after answering with a page saying why not. */
  withTenant(req: FastifyRequest, reply: FastifyReply, title: string, active: string): Promise<(SignedIn & { user: { tenant: string } }) | undefined>;
}
