// Console pages about mail: the overview, the error log with its filters, the one search box,
// a message in full with "fix the address and re-send", and the suppression list. Every value from
// mail (subjects, addresses, replies, diagnostics) goes through the escaping `html` template.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { apiError, csrfField, fmtTime, headerText, reply as fmtReply, type ConsoleRoutes, type SignedIn } from './context.js';
import { html, type SafeHtml } from './html.js';
import { overviewChart } from './pages-stats.js';
import { suppressionTransfer } from './pages-suppression-io.js';
import { listScope, tenantCell, tenantFilter, tenantHead } from './operator-view.js';

interface SmtpReply { code: number; enhanced?: string; text: string }
interface ErrorEvent {
  time: number; type: string; msgId: string; tenant: string; recipient: string; upstream?: string; reply?: SmtpReply;
  code?: string; class?: string; reason?: string; detail?: string; severity?: string; reference?: string; advice?: string;
}
interface Outcome { type: string; class?: string; reason?: string; diagnostic?: string; time: number }
interface RecipientRow { address: string; status: string; delivery: string; attempts: number; updatedAt: number; lastReply: SmtpReply | null; upstream: string | null; outcome?: Outcome }
interface MessageSummary {
  id: string; tenant: string; createdAt: number; state: string; from: string; to: string[]; subject: string | null;
  messageId: string | null; reference: string | null; recipients: RecipientRow[];
  credential: string | null; resendOf?: string; contentKeptUntil: number | null; held: { since: number; by: string } | null;
}
interface MessageFull extends MessageSummary {
  envelope: { from: string; to: string[] };
  source: { kind: string; user?: string; network?: string; remoteAddress?: string; helo?: string; secure?: boolean };
  identity: { mode: string; reason?: string; warning?: string; dkimDomains: string[] } | null;
  events: ErrorEvent[];
}
interface Suppressed { tenant: string; address: string; class: string; reason: string; time: number; msgId?: string; source: string; diagnostic?: string; rule?: string }

/** How much of a message the raw source page shows. */
const RAW_SHOWN = 64 * 1024;
/** Suppression entries on one page of the console (the list can hold many thousands). */
export const SUPPRESSION_SHOWN = 500;
const CLASSES = ['hard', 'soft', 'policy', 'complaint', 'auto-reply'] as const;
const PERIODS: Array<[string, string, number | null]> = [
  ['all', 'any time', null], ['signin', 'since my last sign-in', null], ['1h', 'last hour', 3600e3], ['24h', 'last 24 hours', 86400e3],
  ['7d', 'last 7 days', 7 * 86400e3], ['30d', 'last 30 days', 30 * 86400e3],
];

/** The link of an error-log entry's id: a queue id opens the message; a tracking code (notice and check failures) searches for the parcel. */
const msgLink = (id: string, type?: string, code?: string): SafeHtml | string =>
  type === 'app-error' || type === 'refused' || id.startsWith('AP') ? id
    : type === 'notice-failed' || type === 'tracking-failed' || code === 'TRACKING_CODE_UNKNOWN' ? html`<a class="mono" href="/search?q=${encodeURIComponent(id)}">${id}</a>`
      : html`<a class="mono" href="/messages/${id}">${id}</a>`;

export function errorTable(events: ErrorEvent[], operator = false): SafeHtml {
  if (events.length === 0) return html`<p class="muted">No errors.</p>`;
  return html`<div class="table-wrap"><table class="errors"><thead><tr>${tenantHead(operator)}<th>Time</th><th>What</th><th>Class</th><th>Recipient</th><th>Answer / detail</th><th>Message</th></tr></thead><tbody>
${events.map((e) => html`<tr>${tenantCell(operator, e.tenant)}<td>${fmtTime(e.time)}</td><td>${e.type}${e.code ? html`<br><span class="muted">${e.code}</span>` : ''}</td><td>${e.class ?? e.severity ?? ''}</td>
<td class="mono">${e.recipient}</td><td>${e.advice ? html`<div class="advice">${e.advice}</div>` : ''}${fmtReply(e.reply)}${e.detail ? html`<div class="muted">${e.detail}</div>` : ''}${e.reason ? html`<div class="muted">${e.reason}</div>` : ''}${e.upstream ? html`<div class="muted">via ${e.upstream}</div>` : ''}</td>
<td>${msgLink(e.msgId, e.type, e.code)}${e.reference ? html`<div class="muted">order ${e.reference}</div>` : ''}</td></tr>`)}
</tbody></table></div>`;
}

/** "bounced (hard, user-unknown)" — what became of a recipient, in a few words. */
function statusText(r: RecipientRow): string {
  const o = r.outcome;
  if (!o) return r.status;
  const why = [o.class, o.reason].filter(Boolean).join(', ');
  return `${o.type}${why ? ` (${why})` : ''}`;
}

export function messageTable(messages: MessageSummary[], operator = false): SafeHtml {
  if (messages.length === 0) return html`<p class="muted">No messages.</p>`;
  return html`<div class="table-wrap"><table class="messages"><thead><tr>${tenantHead(operator)}<th>Time</th><th>Subject</th><th>To</th><th>Status</th><th>Order</th><th>Queue id</th></tr></thead><tbody>
${messages.map((m) => html`<tr>${tenantCell(operator, m.tenant)}<td>${fmtTime(m.createdAt)}</td><td class="subject">${headerText(m.subject)}</td><td class="mono">${m.to.join(', ')}</td>
<td>${m.recipients.map((r) => html`<div class="status-${r.status}">${statusText(r)}${r.lastReply && r.status !== 'delivered' && !r.outcome ? html` <span class="muted">${fmtReply(r.lastReply)}</span>` : ''}</div>`)}</td>
<td>${m.reference ?? ''}</td><td><a class="mono" href="/messages/${m.id}">${m.id}</a></td></tr>`)}
</tbody></table></div>`;
}

const searchForm = (q = '', filter: SafeHtml | string = ''): SafeHtml => html`<form method="get" action="/search" class="row" role="search">${filter}
<label>Order number, recipient e-mail, buyer's phone or name, Message-ID, queue id or tracking code <input type="search" name="q" value="${q}" required maxlength="998" id="search-box"></label>
<button type="submit">Search</button></form>`;

export function registerMailPages(app: FastifyInstance, { ctx, guard, withTenant }: ConsoleRoutes) {
  /** For an admin: what the relay's setup lacks (GET /warnings), above everything else; nothing for a shop. */
  const setupBanner = async (req: FastifyRequest, s: SignedIn): Promise<SafeHtml | string> => {
    if (s.user.role !== 'admin') return '';
    const r = await ctx.api<{ warnings: string[] }>(req, s.user.token, 'GET', '/warnings');
    if (r.status !== 200 || r.data.warnings.length === 0) return '';
    return html`<div class="flash error" id="setup-warnings" role="alert"><b>This relay's setup is not finished.</b>${r.data.warnings.map((w) => html`<div>${w}</div>`)}<div class="muted">Each line says what to change. \`mailgate check-config\` shows the same list.</div></div>`;
  };

  const overview = async (req: FastifyRequest, reply: FastifyReply, s: SignedIn) => {
    if (!s.user.tenant) return ctx.page(req, reply, s, { title: 'Overview', active: '/', body: html`${await setupBanner(req, s)}<section><p>There is no tenant yet.</p></section>` });
    const [errors, messages, chart, banner] = await Promise.all([
      ctx.api<{ events: ErrorEvent[] }>(req, s.user.token, 'GET', '/errors', { query: { tenant: s.user.tenant, limit: 10 } }),
      ctx.api<{ messages: MessageSummary[] }>(req, s.user.token, 'GET', '/messages', { query: { tenant: s.user.tenant, limit: 10 } }),
      overviewChart(ctx, req, s),
      setupBanner(req, s),
    ]);
    return ctx.page(req, reply, s, {
      title: 'Overview', active: '/', charts: true,
      body: html`${banner}<section>${searchForm()}</section>
${chart}
<section><h2>Latest errors</h2>${errors.status === 200 ? errorTable(errors.data.events) : html`<p class="bad">${apiError(errors)}</p>`}<p><a href="/errors">The whole error log</a></p></section>
<section><h2>Latest messages</h2>${messages.status === 200 ? messageTable(messages.data.messages) : html`<p class="bad">${apiError(messages)}</p>`}</section>`,
    });
  };

  app.get('/errors', async (req, reply) => {
    const s = await withTenant(req, reply, 'Error log', '/errors');
    if (!s) return reply;
    const q = req.query as { class?: string; period?: string; recipient?: string; cursor?: string };
    const scope = await listScope(ctx, req, s);
    const period = PERIODS.find((p) => p[0] === q.period) ?? PERIODS[0]!;
    const since = period[0] === 'signin' ? s.user.since : period[2] ? Date.now() - period[2] : undefined;
    const cls = CLASSES.find((c) => c === q.class);
    const recipient = q.recipient?.trim() || undefined;
    const r = await ctx.api<{ events: ErrorEvent[]; cursor?: string }>(req, s.user.token, 'GET', '/errors', {
      query: { tenant: scope.tenant, limit: 50, class: cls, since, recipient, cursor: q.cursor },
    });
    const next = r.data.cursor ? `/errors?${new URLSearchParams({ ...(scope.operator && scope.tenant ? { tenant: scope.tenant } : {}), ...(cls ? { class: cls } : {}), period: period[0], ...(recipient ? { recipient } : {}), cursor: r.data.cursor })}` : undefined;
    return ctx.page(req, reply, s, {
      title: 'Error log', active: '/errors',
      body: html`<section><form method="get" action="/errors" class="row" id="error-filters">${tenantFilter(scope)}
<label>Class <select name="class"><option value="">any</option>${CLASSES.map((c) => html`<option${c === cls ? html` selected` : ''}>${c}</option>`)}</select></label>
<label>Time <select name="period">${PERIODS.map(([v, l]) => html`<option value="${v}"${v === period[0] ? html` selected` : ''}>${l}</option>`)}</select></label>
<label>Recipient <input type="email" name="recipient" value="${recipient ?? ''}" minlength="3"></label>
<button type="submit">Filter</button></form></section>
<section>${r.status === 200 ? errorTable(r.data.events, scope.operator) : html`<p class="bad">${apiError(r)}</p>`}
${next ? html`<p><a href="${next}">Older errors →</a></p>` : ''}</section>`,
    });
  });

  app.get('/search', async (req, reply) => {
    const s = await withTenant(req, reply, 'Search', '/search');
    if (!s) return reply;
    const q = String((req.query as { q?: string }).q ?? '').trim().slice(0, 998);
    if (!q) return ctx.page(req, reply, s, { title: 'Search', active: '/search', body: html`<section>${searchForm()}</section>` });
    const { token } = s.user;
    const scope = await listScope(ctx, req, s);
    const tenant = scope.tenant;
    // A queue id typed or copied in lower case is still one (the API takes either case).
    const isQueueId = /^[0-9A-Z]{20}$/i.test(q);
    const isAddress = /^[^\s@<>]+@[^\s@<>]+$/.test(q) && !q.startsWith('<');
    const isCode = /^[A-Za-z0-9]{8,40}$/.test(q);
    const isPhone = /^\+?[0-9][0-9 ()./-]{5,25}$/.test(q);
    const bare = q.replace(/^<(.*)>$/, '$1');
    // Parcels: by tracking code, by the buyer's e-mail or phone, or by the order number.
    type Parcel = { code: string; carrier: string; status: string; name?: string; email?: string; phone?: string; orderReference?: string; updatedAt: number };
    const parcels = (query: Record<string, string>) => ctx.api<{ shipments: Parcel[] }>(req, token, 'GET', '/shipments', { query: { tenant, ...query } });
    const shipmentSearches = Promise.all([
      isCode ? parcels({ code: q }) : undefined,
      isAddress ? parcels({ email: q }) : undefined,
      isPhone ? parcels({ phone: q }) : undefined,
      !isAddress && q.length <= 200 ? parcels({ reference: q }) : undefined,
      !isAddress && /\p{L}{2}/u.test(q) && q.length <= 200 ? parcels({ name: q }) : undefined,
    ]);
    const isName = !isAddress && /\p{L}{2}/u.test(q) && q.length <= 200;
    const [byId, byRef, byRefBracket, byRcpt, byName, errRef, errRcpt, errId, errPhone] = await Promise.all([
      isQueueId ? ctx.api<MessageSummary>(req, token, 'GET', `/messages/${q}`) : undefined,
      ctx.api<{ messages: MessageSummary[] }>(req, token, 'GET', '/messages', { query: { tenant, reference: bare } }),
      bare.includes('@') ? ctx.api<{ messages: MessageSummary[] }>(req, token, 'GET', '/messages', { query: { tenant, messageId: `<${bare}>` } }) : undefined,
      isAddress ? ctx.api<{ messages: MessageSummary[] }>(req, token, 'GET', '/messages', { query: { tenant, recipient: q } }) : undefined,
      isName ? ctx.api<{ messages: MessageSummary[] }>(req, token, 'GET', '/messages', { query: { tenant, name: q } }) : undefined,
      ctx.api<{ events: ErrorEvent[] }>(req, token, 'GET', '/errors', { query: { tenant, reference: q } }),
      isAddress ? ctx.api<{ events: ErrorEvent[] }>(req, token, 'GET', '/errors', { query: { tenant, recipient: q } }) : undefined,
      isQueueId ? ctx.api<{ events: ErrorEvent[] }>(req, token, 'GET', '/errors', { query: { tenant, msgId: q } }) : undefined,
      isPhone ? ctx.api<{ events: ErrorEvent[] }>(req, token, 'GET', '/errors', { query: { tenant, phone: q } }) : undefined,
    ]);
    const found = new Map<string, Parcel>();
    for (const r of await shipmentSearches) if (r?.status === 200) for (const x of r.data.shipments) found.set(`${x.carrier}!${x.code}`, x);
    const shipments = [...found.values()];
    const messages = new Map<string, MessageSummary>();
    if (byId?.status === 200) messages.set(byId.data.id, byId.data);
    for (const r of [byRef, byRefBracket, byRcpt, byName]) if (r?.status === 200) for (const m of r.data.messages) messages.set(m.id, m);
    const errors = new Map<string, ErrorEvent>();
    for (const r of [errRef, errRcpt, errId, errPhone]) if (r?.status === 200) for (const e of r.data.events) errors.set(`${e.time}|${e.msgId}|${e.type}|${e.recipient}`, e);
    const forbidden = byId?.status === 403 ? html`<p class="bad">${apiError(byId)}</p>` : '';
    return ctx.page(req, reply, s, {
      title: 'Search', active: '/search',
      body: html`<section>${searchForm(q, tenantFilter(scope))}</section>${forbidden}
<section id="found-messages"><h2>Messages (${messages.size})</h2>${messageTable([...messages.values()].sort((a, b) => b.createdAt - a.createdAt), scope.operator)}</section>
<section id="found-errors"><h2>Errors (${errors.size})</h2>${errorTable([...errors.values()].sort((a, b) => b.time - a.time), scope.operator)}</section>
<section id="found-shipments"><h2>Parcels (${shipments.length})</h2>${shipments.length === 0 ? html`<p class="muted">No parcel with this tracking code, buyer e-mail, phone or order number.</p>` : html`<div class="table-wrap"><table><thead><tr><th>Code</th><th>Carrier</th><th>Status</th><th>Buyer</th><th>Order</th><th>Updated</th></tr></thead><tbody>${shipments.map((x) => html`<tr><td class="mono">${x.code}</td><td>${x.carrier}</td><td>${x.status}</td><td>${x.name ?? ''} <span class="muted">${x.email ?? ''} ${x.phone ?? ''}</span></td><td>${x.orderReference ?? ''}</td><td>${fmtTime(x.updatedAt)}</td></tr>`)}</tbody></table></div>`}</section>`,
    });
  });

  app.get('/messages/:id', async (req, reply) => {
    const s = await guard(req, reply);
    if (!s) return reply;
    const { id } = req.params as { id: string };
    const r = await ctx.api<MessageFull>(req, s.user.token, 'GET', `/messages/${encodeURIComponent(id)}`);
    if (r.status !== 200) {
      const title = r.status === 403 ? 'Not your message' : r.status === 404 || r.status === 400 ? 'No such message' : 'Error';
      return ctx.page(req, reply, s, { title, status: r.status === 400 ? 404 : r.status, body: html`<section><p class="bad" id="api-error">${apiError(r)}</p><p><a href="/search">Search</a></p></section>` });
    }
    const m = r.data;
    // The address to correct: one that bounced or failed, else the first.
    const failed = m.recipients.filter((x) => x.status !== 'delivered' && x.status !== 'queued' && x.status !== 'deferred');
    const id_ = m.identity;
    return ctx.page(req, reply, s, {
      title: `Message ${m.id}`,
      body: html`<section><dl class="kv">
<dt>Subject</dt><dd id="message-subject">${headerText(m.subject)}</dd>
<dt>Created</dt><dd>${fmtTime(m.createdAt)} <span class="muted">(${m.state})</span></dd>
<dt>Envelope from</dt><dd class="mono">${m.envelope.from || '<>'}</dd>
<dt>Envelope to</dt><dd class="mono">${m.envelope.to.join(', ')}</dd>
<dt>Message-ID</dt><dd class="mono">${m.messageId ?? '–'}</dd>
<dt>Order reference</dt><dd>${m.reference ?? '–'}</dd>
<dt>Tenant</dt><dd>${m.tenant}</dd>
<dt>Came in</dt><dd>${m.source.kind}${m.credential ? html` as <b>${m.credential}</b>` : ''}${m.source.remoteAddress ? html` from ${m.source.remoteAddress}` : ''}${m.source.secure ? ' (TLS)' : ''}</dd>
${m.resendOf ? html`<dt>Re-send of</dt><dd><a class="mono" href="/messages/${m.resendOf}">${m.resendOf}</a></dd>` : ''}
</dl></section>
${m.held ? html`<section id="held"><p class="bad">Held since ${fmtTime(m.held.since)} (${m.held.by}): accepted and kept, not delivered until released.</p>
${s.user.role === 'admin' ? html`<form method="post" action="/messages/${m.id}/release" class="inline">${csrfField(s)}<button type="submit">Release</button></form>` : html`<p class="muted">The relay's operator releases it.</p>`}</section>` : ''}
<section id="identity"><h2>Sender identity</h2>${id_ ? html`<dl class="kv">
<dt>Decision</dt><dd>${id_.mode === 'own-domain' ? 'sent under the shop\'s own domain' : 'sent as the system sender, with the shop\'s address as Reply-To'}</dd>
${id_.reason ? html`<dt>Why</dt><dd>${id_.reason}</dd>` : ''}
${id_.warning ? html`<dt>Warning</dt><dd class="bad">${id_.warning}</dd>` : ''}
<dt>DKIM domain</dt><dd>${id_.dkimDomains.length ? id_.dkimDomains.join(', ') : 'not signed'}</dd></dl>` : html`<p class="muted">Not prepared for sending yet.</p>`}</section>
<section id="recipients"><h2>Recipients</h2><div class="table-wrap"><table><thead><tr><th>Address</th><th>Status</th><th>Attempts</th><th>Last answer</th><th>Upstream</th></tr></thead><tbody>
${m.recipients.map((x) => html`<tr><td class="mono">${x.address}</td><td class="status-${x.status}">${statusText(x)}${x.outcome && x.delivery === 'delivered' ? html`<div class="muted">delivered first; ${x.outcome.type} ${fmtTime(x.outcome.time)}</div>` : ''}</td><td>${x.attempts}</td><td>${x.outcome?.diagnostic ?? fmtReply(x.lastReply)}</td><td>${x.upstream ?? ''}</td></tr>`)}
</tbody></table></div></section>
<section id="resend"><h2>Fix the address and re-send</h2>${m.contentKeptUntil || (m.state === 'queued' && failed.length > 0) ? html`
<form method="post" action="/messages/${m.id}/resend" class="row" data-spinner>${csrfField(s)}
<label>Corrected address <input type="email" name="recipient" value="${failed[0]?.address ?? m.envelope.to[0] ?? ''}" required></label>
<button type="submit">Re-send</button><span class="spinner" hidden></span></form>
<p class="muted" id="content-kept">${m.contentKeptUntil ? html`The content is kept until ${fmtTime(m.contentKeptUntil)}: until then it can be re-sent to a corrected address.` : 'Still being delivered to the other recipients; the failed address can be corrected and re-sent now.'} <a href="/messages/${m.id}/raw">Raw source</a></p>`
    : html`<p class="muted" id="content-kept">${m.state === 'queued' ? 'The message is still being delivered.' : 'The content is no longer kept: ask the shop\'s application to send it again.'}</p>`}</section>
<section id="attempts"><h2>Attempts, answers and bounces</h2>${m.events.length === 0 ? html`<p class="muted">None yet.</p>` : html`<div class="table-wrap"><table><thead><tr><th>Time</th><th>Event</th><th>Recipient</th><th>Upstream</th><th>Answer</th><th>Detail</th></tr></thead><tbody>
${m.events.map((e) => html`<tr><td>${fmtTime(e.time)}</td><td>${e.type}${e.class ? html` <span class="muted">(${e.class})</span>` : ''}</td><td class="mono">${e.recipient}</td><td>${e.upstream ?? ''}</td><td>${fmtReply(e.reply)}</td><td>${e.code ?? ''}${e.advice ? html`<div class="advice">${e.advice}</div>` : ''}${e.detail ? html`<div class="muted">${e.detail}</div>` : ''}${e.reason ? html`<div class="muted">${e.reason}</div>` : ''}</td></tr>`)}
</tbody></table></div>`}</section>`,
    });
  });

  // The raw source as the app sent it (headers and the first RAW_SHOWN bytes), like postcat.
  app.get('/messages/:id/raw', async (req, reply) => {
    const s = await guard(req, reply);
    if (!s) return reply;
    const { id } = req.params as { id: string };
    const r = await ctx.api(req, s.user.token, 'GET', `/messages/${encodeURIComponent(id)}/raw`, { query: { maxBytes: RAW_SHOWN } });
    if (r.status !== 200) return ctx.page(req, reply, s, { title: 'Raw source', status: r.status === 400 ? 404 : r.status, body: html`<section><p class="bad" id="api-error">${apiError(r)}</p></section>` });
    const cut = r.text.length >= RAW_SHOWN;
    return ctx.page(req, reply, s, {
      title: `Raw source of ${id}`,
      body: html`<section><p><a href="/messages/${id}">Back to the message</a>${cut ? html` <span class="muted">(the first ${RAW_SHOWN / 1024} KiB)</span>` : ''}</p><pre class="raw" id="raw-source">${r.text}</pre></section>`,
    });
  });

  app.post('/messages/:id/release', async (req, reply) => {
    const s = await guard(req, reply);
    if (!s) return reply;
    const { id } = req.params as { id: string };
    const r = await ctx.api(req, s.user.token, 'POST', `/queue/${encodeURIComponent(id)}/release`);
    ctx.flash(s, r.status === 200 ? { kind: 'ok', text: `Released: ${id} is delivered now.` } : { kind: 'error', text: `Not released: ${apiError(r)}` });
    return reply.redirect(`/messages/${encodeURIComponent(id)}`, 303);
  });

  app.post('/messages/:id/resend', async (req, reply) => {
    const s = await guard(req, reply);
    if (!s) return reply;
    const { id } = req.params as { id: string };
    const recipient = String((req.body as { recipient?: unknown }).recipient ?? '').trim();
    const r = await ctx.api<{ id: string; resendOf: string }>(req, s.user.token, 'POST', `/messages/${encodeURIComponent(id)}/resend`, { body: recipient ? { recipient } : {} });
    if (r.status === 201) {
      ctx.flash(s, { kind: 'ok', text: `Re-sent to ${recipient || 'the failed recipients'} as message ${r.data.id}.` });
      return reply.redirect(`/messages/${r.data.id}`, 303);
    }
    ctx.flash(s, { kind: 'error', text: `Not re-sent: ${apiError(r)}` });
    return reply.redirect(`/messages/${encodeURIComponent(id)}`, 303);
  });

  app.get('/suppression', async (req, reply) => {
    const s = await withTenant(req, reply, 'Suppression list', '/suppression');
    if (!s) return reply;
    const address = String((req.query as { address?: string }).address ?? '').trim();
    const scope = await listScope(ctx, req, s);
    // One page of SUPPRESSION_SHOWN in address order; past it the page says so (filter, or export the whole list).
    const r = await ctx.api<{ entries: Suppressed[] }>(req, s.user.token, 'GET', '/suppression', { query: { tenant: scope.tenant, address: address || undefined, limit: SUPPRESSION_SHOWN + 1 } });
    const more = r.status === 200 && r.data.entries.length > SUPPRESSION_SHOWN;
    const entries = r.status === 200 ? r.data.entries.slice(0, SUPPRESSION_SHOWN) : [];
    return ctx.page(req, reply, s, {
      title: 'Suppression list', active: '/suppression',
      body: html`<section><p class="muted">Addresses here get no more mail from this shop: hard bounces, complaints and entries made by hand. Remove one once the address is fixed.</p>
<form method="get" action="/suppression" class="row" id="suppression-filters">${tenantFilter(scope)}<label>Address <input type="search" name="address" value="${address}"></label><button type="submit">Filter</button></form></section>
<section>${r.status !== 200 ? html`<p class="bad">${apiError(r)}</p>` : entries.length === 0 ? html`<p class="muted">Nobody is suppressed.</p>` : html`<div class="table-wrap"><table id="suppressed"><thead><tr>${tenantHead(scope.operator)}<th>Address</th><th>Why</th><th>Since</th><th>Message</th><th><span class="sr">Remove</span></th></tr></thead><tbody>
${entries.map((e) => html`<tr>${tenantCell(scope.operator, e.tenant)}<td class="mono">${e.address}</td><td>${e.class} · ${e.source}<div>${e.rule ?? e.reason}</div>${e.diagnostic ? html`<div class="muted">${e.diagnostic}</div>` : ''}</td><td>${fmtTime(e.time)}</td>
<td>${e.msgId ? msgLink(e.msgId) : ''}</td><td><form method="post" action="/suppression/remove" class="inline">${csrfField(s)}<input type="hidden" name="address" value="${e.address}"><input type="hidden" name="tenant" value="${e.tenant}"><button type="submit" class="danger">Remove</button></form></td></tr>`)}
</tbody></table></div>${more ? html`<p class="bad" id="suppression-more">Only the first ${SUPPRESSION_SHOWN} addresses (A–Z) are shown: filter by address to find one, or export the whole list as CSV below.</p>` : ''}`}</section>
<section><h2>Add an address</h2><form method="post" action="/suppression/add" class="row">${csrfField(s)}
<label>Address <input type="email" name="address" required></label><label>Reason <input type="text" name="reason" maxlength="200"></label><button type="submit">Add</button></form></section>
${suppressionTransfer(csrfField(s), scope.tenant)}`,
    });
  });

  app.post('/suppression/remove', async (req, reply) => {
    const s = await withTenant(req, reply, 'Suppression list', '/suppression');
    if (!s) return reply;
    const address = String((req.body as { address?: unknown }).address ?? '');
    // The row's tenant (an operator's list shows every tenant's); the API refuses a shop token another tenant's.
    const tenant = String((req.body as { tenant?: unknown }).tenant ?? '') || s.user.tenant;
    const r = await ctx.api(req, s.user.token, 'DELETE', `/suppression/${encodeURIComponent(tenant)}/${encodeURIComponent(address)}`);
    ctx.flash(s, r.status === 204 ? { kind: 'ok', text: `${address} removed: it gets mail again.` } : { kind: 'error', text: `Not removed: ${apiError(r)}` });
    return reply.redirect('/suppression', 303);
  });

  app.post('/suppression/add', async (req, reply) => {
    const s = await withTenant(req, reply, 'Suppression list', '/suppression');
    if (!s) return reply;
    const b = req.body as { address?: unknown; reason?: unknown };
    const reason = String(b.reason ?? '').trim();
    const r = await ctx.api(req, s.user.token, 'POST', '/suppression', { body: { tenant: s.user.tenant, address: String(b.address ?? '').trim(), ...(reason ? { reason } : {}) } });
    const kept = r.status === 200 ? (r.data as { reason: string; time: number }) : undefined;
    ctx.flash(s, r.status === 201 ? { kind: 'ok', text: `${String(b.address)} added.` }
      : kept ? { kind: 'ok', text: `${String(b.address)} is on the list already (since ${fmtTime(kept.time)}: ${kept.reason}); its entry is kept.` }
        : { kind: 'error', text: `Not added: ${apiError(r)}` });
    return reply.redirect('/suppression', 303);
  });

  return { overview };
}
