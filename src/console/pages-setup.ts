// Console pages for the setup: upstream servers (copy, edit, send a test e-mail with the whole SMTP
// dialogue; the system upstream and config-file ones read-only), sender domains' DNS state with
// "check now", and parcel tracking (spreadsheet import with preview, shipments by status, blacklist check).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { apiError, csrfField, fmtTime, reply as fmtReply, type ConsoleRoutes } from './context.js';
import { html, type SafeHtml } from './html.js';
import { listScope, tenantCell, tenantFilter, tenantHead } from './operator-view.js';

interface Upstream {
  name: string; type: 'smtp' | 'mx'; host?: string; port?: number; tls?: string; tlsVerify?: boolean; requireTls?: boolean; maxConnections?: number;
  auth?: { user: string; password: string } | null; readOnly: boolean; system: boolean; source?: string;
}
interface TestResult { ok: boolean; server: string; reply?: { code: number; enhanced?: string; text: string }; error?: string; dialogue: string[] }
interface CheckItem { ok: boolean; name: string; found?: string; expected: string; message: string; unchecked?: boolean }
interface DomainCheck { domain: string; checkedAt: number; verified: boolean; spf: CheckItem; dkim: Array<CheckItem & { selector: string }>; dmarc: CheckItem & { policy?: string } }
interface ImportResult {
  format?: string; columns?: Record<string, string>; missingColumns?: string[]; fileErrors?: string[]; dryRun?: boolean;
  rows?: Array<{ line: number; shipment?: { code: string; carrier: string; name?: string; email?: string; phone?: string; orderReference?: string }; errors: string[]; warnings: string[]; action?: string }>;
  created?: number; updated?: number; rejected?: number; refused?: { code: string; message: string }; message?: string; error?: string;
}
interface Shipment { tenant: string; code: string; carrier: string; status: string; name?: string; email?: string; phone?: string; orderReference?: string; updatedAt: number; lastError?: string }

const STATUSES = ['accepted', 'in-transit', 'arrived-at-pickup', 'delivered', 'returned', 'storage-expired', 'unknown'];

const nameOk = (n: string) => /^[A-Za-z0-9._-]{1,64}$/.test(n);

export function registerSetupPages(app: FastifyInstance, { ctx, guard, withTenant }: ConsoleRoutes): void {
  // --- upstreams -----------------------------------------------------------------------------

  const upstreamRow = (u: Upstream): SafeHtml => html`<tr><td><a href="/upstreams/${u.name}">${u.name}</a>${u.system ? html` <b>(system)</b>` : ''}</td>
<td>${u.type === 'mx' ? 'direct (MX)' : html`${u.host}:${u.port} <span class="muted">${u.tls}</span>`}</td><td>${u.auth?.user ?? ''}</td><td>${u.readOnly ? 'read-only' : 'editable'}</td></tr>`;

  app.get('/upstreams', async (req, reply) => {
    const s = await guard(req, reply);
    if (!s) return reply;
    const r = await ctx.api<{ upstreams: Upstream[] }>(req, s.user.token, 'GET', '/upstreams');
    return ctx.page(req, reply, s, {
      title: 'Upstream servers', active: '/upstreams',
      body: r.status !== 200 ? html`<section><p class="bad">${apiError(r)}</p></section>` : html`<section><p class="muted">The SMTP servers mail leaves through. The system upstream and those in the config file are read-only: copy one to get an editable one.</p>
<div class="table-wrap"><table id="upstreams"><thead><tr><th>Name</th><th>Server</th><th>Login</th><th></th></tr></thead><tbody>${r.data.upstreams.map(upstreamRow)}</tbody></table></div></section>`,
    });
  });

  /** `draft`: what was typed into the settings form when saving it was refused, shown again with the reason. */
  const upstreamPage = async (req: FastifyRequest, reply: FastifyReply, name: string, test?: { to: string; result?: TestResult; error?: string }, draft?: { host: string; port: string; tls: string; user: string; error: string }) => {
    const s = await guard(req, reply);
    if (!s) return reply;
    const r = await ctx.api<Upstream>(req, s.user.token, 'GET', `/upstreams/${encodeURIComponent(name)}`);
    if (r.status !== 200) return ctx.page(req, reply, s, { title: `Upstream ${name}`, active: '/upstreams', status: r.status, body: html`<section><p class="bad">${apiError(r)}</p></section>` });
    const u = r.data;
    const edit = u.readOnly || u.type !== 'smtp'
      ? html`<dl class="kv"><dt>Type</dt><dd>${u.type}</dd>${u.type === 'smtp' ? html`<dt>Server</dt><dd>${u.host}:${u.port}</dd><dt>TLS</dt><dd>${u.tls}</dd><dt>Login</dt><dd>${u.auth?.user ?? 'none'}</dd>` : ''}</dl>
<p class="muted">${u.system ? 'The system upstream is read-only here.' : 'Declared in the config file: read-only here.'} Copy it to change the settings.</p>`
      : html`${draft ? html`<p class="bad" id="upstream-not-saved">Not saved: ${draft.error}. Your entries are below; enter the password again if you changed it.</p>` : ''}<form method="post" action="/upstreams/${u.name}/edit" class="row" id="upstream-edit">${csrfField(s)}
<label>Host <input type="text" name="host" value="${draft?.host ?? u.host}" required></label>
<label>Port <input type="number" name="port" value="${draft?.port ?? u.port}" min="1" max="65535" required></label>
<label>TLS <select name="tls">${['none', 'starttls', 'implicit'].map((t) => html`<option${t === (draft?.tls ?? u.tls) ? html` selected` : ''}>${t}</option>`)}</select></label>
<label>Login <input type="text" name="user" value="${draft?.user ?? u.auth?.user ?? ''}" autocomplete="off"></label>
<label>Password <input type="password" name="password" placeholder="${u.auth ? 'unchanged' : ''}" autocomplete="new-password"></label>
<button type="submit">Save</button></form>`;
    const t = test?.result;
    return ctx.page(req, reply, s, {
      title: `Upstream ${u.name}`, active: '/upstreams',
      body: html`<section><h2>Settings</h2>${edit}</section>
<section><h2>Copy</h2><form method="post" action="/upstreams/${u.name}/copy" class="row">${csrfField(s)}<label>Name of the copy <input type="text" name="name" pattern="[A-Za-z0-9._\\-]{1,64}" title="letters, digits, dot, underscore and hyphen; at most 64" required value="${u.name}-copy"></label><button type="submit">Copy</button></form></section>
<section id="test-mail"><h2>Send a test e-mail</h2>
<form method="post" action="/upstreams/${u.name}/test" class="row" data-spinner>${csrfField(s)}<label>To <input type="email" name="to" value="${test?.to ?? ''}" required></label><button type="submit">Send test e-mail</button><span class="spinner" hidden></span></form>
${test?.error ? html`<p class="bad">${test.error}</p>` : ''}
${t ? html`<div id="test-result"><p class="${t.ok ? 'ok' : 'bad'}" id="test-answer">${t.ok ? 'Accepted' : 'Refused'} by ${t.server}: ${t.reply ? fmtReply(t.reply) : t.error ?? ''}</p>
<pre id="test-dialogue">${t.dialogue.join('\n')}</pre></div>` : ''}</section>`,
    });
  };

  app.get('/upstreams/:name', async (req, reply) => upstreamPage(req, reply, (req.params as { name: string }).name));

  app.post('/upstreams/:name/test', async (req, reply) => {
    const s = await guard(req, reply);
    if (!s) return reply;
    const { name } = req.params as { name: string };
    const to = String((req.body as { to?: unknown }).to ?? '').trim();
    const r = await ctx.api<TestResult>(req, s.user.token, 'POST', `/upstreams/${encodeURIComponent(name)}/test`, { body: { to } });
    return upstreamPage(req, reply, name, r.status === 200 ? { to, result: r.data } : { to, error: apiError(r) });
  });

  app.post('/upstreams/:name/copy', async (req, reply) => {
    const s = await guard(req, reply);
    if (!s) return reply;
    const { name } = req.params as { name: string };
    const copy = String((req.body as { name?: unknown }).name ?? '').trim();
    const r = await ctx.api<Upstream>(req, s.user.token, 'POST', `/upstreams/${encodeURIComponent(name)}/copy`, { body: { name: copy } });
    if (r.status === 201) {
      ctx.flash(s, { kind: 'ok', text: `Copied ${name} to ${copy}.` });
      return reply.redirect(`/upstreams/${encodeURIComponent(copy)}`, 303);
    }
    ctx.flash(s, { kind: 'error', text: `Not copied: ${apiError(r)}` });
    return reply.redirect(`/upstreams/${encodeURIComponent(name)}`, 303);
  });

  app.post('/upstreams/:name/edit', async (req, reply) => {
    const s = await guard(req, reply);
    if (!s) return reply;
    const { name } = req.params as { name: string };
    const b = req.body as Record<string, string | undefined>;
    const user = b.user?.trim() ?? '';
    const body = {
      host: b.host?.trim(), port: Number(b.port), tls: b.tls,
      auth: user ? { user, ...(b.password ? { password: b.password } : {}) } : null,
    };
    const r = await ctx.api(req, s.user.token, 'PATCH', `/upstreams/${encodeURIComponent(name)}`, { body });
    if (r.status === 200) {
      ctx.flash(s, { kind: 'ok', text: `Saved ${name}. Send a test e-mail to check the settings.` });
      return reply.redirect(nameOk(name) ? `/upstreams/${name}` : '/upstreams', 303);
    }
    // Refused: the form again with what was typed (the password excepted) and why, not the stored values.
    if (r.status === 400 && nameOk(name)) {
      return upstreamPage(req, reply, name, undefined, { host: b.host?.trim() ?? '', port: b.port ?? '', tls: b.tls ?? '', user, error: apiError(r) });
    }
    ctx.flash(s, { kind: 'error', text: `Not saved: ${apiError(r)}` });
    return reply.redirect(nameOk(name) ? `/upstreams/${name}` : '/upstreams', 303);
  });

  // --- domains -------------------------------------------------------------------------------

  const checkRow = (label: string, c: CheckItem): SafeHtml => html`<tr><td>${label}</td><td class="${c.ok ? 'ok' : 'bad'}">${c.ok ? 'ok' : c.unchecked ? 'not checked: the DNS lookup failed' : 'missing or wrong'}</td>
<td class="mono">${c.name}</td><td class="mono">${c.found ?? '–'}</td><td class="mono">${c.ok ? '' : c.expected}</td><td>${c.message}</td></tr>`;

  app.get('/domains', async (req, reply) => {
    const s = await withTenant(req, reply, 'Sender domains', '/domains');
    if (!s) return reply;
    const r = await ctx.api<{ domains: Array<{ tenant: string; domain: string; check: DomainCheck | null }> }>(req, s.user.token, 'GET', '/domains', { query: { tenant: s.user.tenant } });
    if (r.status !== 200) return ctx.page(req, reply, s, { title: 'Sender domains', active: '/domains', body: html`<section><p class="bad">${apiError(r)}</p></section>` });
    const mine = r.data.domains.filter((d) => d.tenant === s.user.tenant);
    const unverified = mine.filter((d) => !d.check?.verified);
    const warning = mine.length === 0
      ? html`<div class="flash warn" id="system-sender-warning">This shop has no sender domain: its mail goes out under the system sender, with the shop's address as Reply-To. Buyers see the relay's address; add a domain and publish its records to send under the shop's own name.</div>`
      : unverified.length > 0 ? html`<div class="flash warn" id="system-sender-warning">Until ${unverified.map((d) => d.domain).join(', ')} ${unverified.length > 1 ? 'are' : 'is'} verified, mail from ${unverified.length > 1 ? 'them' : 'it'} goes out under the system sender, with the shop's address as Reply-To.</div>` : '';
    return ctx.page(req, reply, s, {
      title: 'Sender domains', active: '/domains',
      body: html`${warning}${mine.map(({ domain, check }) => html`<section class="domain"><h2>${domain} ${check ? html`<span class="${check.verified ? 'ok' : 'bad'}">${check.verified ? 'verified' : 'not verified'}</span>` : html`<span class="muted">not checked yet</span>`}</h2>
${check ? html`<p class="muted">Checked ${fmtTime(check.checkedAt)}. Publish the records in the "Publish" column at the names shown.</p>
<div class="table-wrap"><table><thead><tr><th>Record</th><th>State</th><th>Name</th><th>Found</th><th>Publish</th><th></th></tr></thead><tbody>
${checkRow('SPF', check.spf)}${check.dkim.map((d) => checkRow(`DKIM (${d.selector})`, d))}${checkRow('DMARC', check.dmarc)}</tbody></table></div>` : ''}
<form method="post" action="/domains/${domain}/verify" data-spinner>${csrfField(s)}<button type="submit">Check now</button><span class="spinner" hidden></span></form></section>`)}`,
    });
  });

  app.post('/domains/:domain/verify', async (req, reply) => {
    const s = await guard(req, reply);
    if (!s) return reply;
    const { domain } = req.params as { domain: string };
    const r = await ctx.api<{ check: DomainCheck }>(req, s.user.token, 'POST', `/domains/${encodeURIComponent(domain)}/verify`);
    ctx.flash(s, r.status === 200 ? { kind: r.data.check.verified ? 'ok' : 'warn', text: `${domain}: ${r.data.check.verified ? 'verified' : 'not verified yet'}.` } : { kind: 'error', text: `Not checked: ${apiError(r)}` });
    return reply.redirect('/domains', 303);
  });

  // --- tracking ------------------------------------------------------------------------------

  const importTable = (res: ImportResult): SafeHtml => html`${res.fileErrors?.length ? html`<div class="flash error">${res.fileErrors.join('; ')}</div>` : ''}
${res.missingColumns?.length ? html`<div class="flash error">Missing columns: ${res.missingColumns.join(', ')}</div>` : ''}
${res.refused ? html`<div class="flash error">${res.refused.message}</div>` : ''}
<p id="import-summary">${res.dryRun ? 'Would create' : 'Created'} <b>${res.created ?? 0}</b>, ${res.dryRun ? 'would update' : 'updated'} <b>${res.updated ?? 0}</b>, rejected <b>${res.rejected ?? 0}</b>.</p>
<div class="table-wrap"><table id="import-rows"><thead><tr><th>Line</th><th>Code</th><th>Buyer</th><th>Order</th><th>Action</th><th>Errors / warnings</th></tr></thead><tbody>
${(res.rows ?? []).map((row) => html`<tr><td>${row.line}</td><td class="mono">${row.shipment?.code ?? ''} <span class="muted">${row.shipment?.carrier ?? ''}</span></td><td>${row.shipment?.name ?? ''} <span class="muted">${row.shipment?.email ?? ''} ${row.shipment?.phone ?? ''}</span></td>
<td>${row.shipment?.orderReference ?? ''}</td><td>${row.action ?? (row.errors.length ? 'rejected' : '')}</td><td>${row.errors.map((e) => html`<div class="bad">${e}</div>`)}${row.warnings.map((w) => html`<div class="muted">${w}</div>`)}</td></tr>`)}
</tbody></table></div>`;

  app.get('/tracking', async (req, reply) => {
    const s = await withTenant(req, reply, 'Tracking', '/tracking');
    if (!s) return reply;
    const q = req.query as { status?: string; email?: string; phone?: string };
    const scope = await listScope(ctx, req, s);
    const status = STATUSES.find((x) => x === q.status);
    const email = q.email?.trim() || undefined;
    const phone = q.phone?.trim() || undefined;
    const [stats, list, black] = await Promise.all([
      ctx.api<{ enabled: boolean; total: number; byStatus: Record<string, number>; quota: { month: string; limit: number | null; used: number }; problems?: Array<{ message: string }> }>(req, s.user.token, 'GET', '/tracking/stats', { query: { tenant: s.user.tenant } }),
      ctx.api<{ shipments: Shipment[] }>(req, s.user.token, 'GET', '/shipments', { query: { tenant: scope.tenant, status, limit: 100 } }),
      email || phone ? ctx.api<{ listed: boolean; checked: Array<{ kind: string; value: string }>; entries: Array<{ reason?: string }> }>(req, s.user.token, 'GET', '/blacklist/check', { query: { tenant: s.user.tenant, email, phone } }) : undefined,
    ]);
    // Tracking that cannot work (codes of a carrier with no account on this mailgate) is said first.
    const problems = stats.status === 200 ? stats.data.problems ?? [] : [];
    return ctx.page(req, reply, s, {
      title: 'Tracking', active: '/tracking',
      body: html`${problems.length > 0 ? html`<div class="flash error" id="tracking-problems" role="alert"><b>Parcels are not being checked.</b>${problems.map((p) => html`<div>${p.message}</div>`)}<div class="muted">Ask the mailgate operator to add the carrier's account.</div></div>` : ''}<section><h2>Import a spreadsheet</h2>
<form method="post" action="/tracking/upload" id="import-form" class="row" data-spinner data-upload data-next="/tracking/preview" data-status="import-status">${csrfField(s)}<label>CSV or XLSX file <input type="file" name="file" accept=".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" required></label>
<button type="submit">Preview</button><span class="spinner" hidden></span></form><p id="import-status" class="muted" role="status">Nothing is imported before you confirm the preview.</p></section>
<section><h2>Shipments by status</h2>${stats.status === 200 ? html`<p>${stats.data.enabled ? '' : html`<b class="bad">Tracking is switched off for this shop.</b> `}${stats.data.total} shipments; this month ${stats.data.quota.used}${stats.data.quota.limit !== null ? html` of ${stats.data.quota.limit}` : ''} checks used.</p>
<p><a href="/tracking"${!status ? html` aria-current="page"` : ''}>all</a>${STATUSES.map((x) => html` · <a href="/tracking?status=${x}"${x === status ? html` aria-current="page"` : ''}>${x} (${stats.data.byStatus[x] ?? 0})</a>`)}</p>` : html`<p class="bad">${apiError(stats)}</p>`}
${scope.operator ? html`<form method="get" action="/tracking" class="row" id="shipment-filters">${tenantFilter(scope)}${status ? html`<input type="hidden" name="status" value="${status}">` : ''}<button type="submit">Filter</button></form>` : ''}
${list.status === 200 ? (list.data.shipments.length === 0 ? html`<p class="muted">No shipments${status ? ` in status ${status}` : ''}.</p>` : html`<div class="table-wrap"><table id="shipments"><thead><tr>${tenantHead(scope.operator)}<th>Code</th><th>Carrier</th><th>Status</th><th>Buyer</th><th>Order</th><th>Updated</th></tr></thead><tbody>
${list.data.shipments.map((x) => html`<tr>${tenantCell(scope.operator, x.tenant)}<td class="mono">${x.code}</td><td>${x.carrier}</td><td>${x.status}${x.lastError ? html`<div class="muted">${x.lastError}</div>` : ''}</td><td>${x.name ?? ''} <span class="muted">${x.email ?? ''} ${x.phone ?? ''}</span></td><td>${x.orderReference ?? ''}</td><td>${fmtTime(x.updatedAt)}</td></tr>`)}</tbody></table></div>`) : html`<p class="bad">${apiError(list)}</p>`}</section>
<section><h2>Blacklist check</h2><form method="get" action="/tracking" class="row"><label>E-mail <input type="email" name="email" value="${email ?? ''}"></label><label>Phone <input type="tel" name="phone" value="${phone ?? ''}"></label><button type="submit">Check</button></form>
${black ? (black.status === 200 ? html`<p id="blacklist-answer" class="${black.data.listed ? 'bad' : 'ok'}">${black.data.checked.map((c) => c.value).join(', ')}: ${black.data.listed ? 'on the blacklist' : 'not on the blacklist'}${black.data.entries.map((e) => (e.reason ? html` (${e.reason})` : ''))}</p>` : html`<p class="bad">${apiError(black)}</p>`) : ''}</section>`,
    });
  });

  // The browser sends the file as the body (console.js); the dry run's preview waits in the session.
  app.post('/tracking/upload', async (req, reply) => {
    const s = await withTenant(req, reply, 'Tracking', '/tracking');
    if (!s) return reply;
    const data = req.body;
    if (!Buffer.isBuffer(data) || data.length === 0) return reply.code(400).type('text/plain').send('no file');
    const filename = String((req.query as { filename?: string }).filename ?? 'upload').slice(0, 200);
    const r = await ctx.api<ImportResult>(req, s.user.token, 'POST', '/shipments/import', { query: { tenant: s.user.tenant, dryRun: true, filename }, raw: { data, contentType: 'application/octet-stream' } });
    if (r.status !== 200) return reply.code(r.status).type('text/plain').send(apiError(r));
    s.pendingImport = { tenant: s.user.tenant, filename, data, preview: r.data };
    return reply.code(204).send();
  });

  app.get('/tracking/preview', async (req, reply) => {
    const s = await withTenant(req, reply, 'Import preview', '/tracking');
    if (!s) return reply;
    const p = s.pendingImport;
    if (!p || p.tenant !== s.user.tenant) return reply.redirect('/tracking');
    const res = p.preview as ImportResult;
    return ctx.page(req, reply, s, {
      title: `Import preview: ${p.filename}`, active: '/tracking',
      body: html`<section>${importTable(res)}</section><section>
<form method="post" action="/tracking/import" class="row" data-spinner>${csrfField(s)}<button type="submit" id="confirm-import"${res.refused || (res.created ?? 0) + (res.updated ?? 0) === 0 ? html` disabled` : ''}>Import the ${(res.created ?? 0) + (res.updated ?? 0)} good rows</button><span class="spinner" hidden></span> <a href="/tracking">Cancel</a></form></section>`,
    });
  });

  app.post('/tracking/import', async (req, reply) => {
    const s = await withTenant(req, reply, 'Import', '/tracking');
    if (!s) return reply;
    const p = s.pendingImport;
    if (!p || p.tenant !== s.user.tenant) return reply.redirect('/tracking', 303);
    delete s.pendingImport;
    const r = await ctx.api<ImportResult>(req, s.user.token, 'POST', '/shipments/import', { query: { tenant: p.tenant, filename: p.filename }, raw: { data: p.data, contentType: 'application/octet-stream' } });
    return ctx.page(req, reply, s, {
      title: `Imported: ${p.filename}`, active: '/tracking',
      body: html`<section>${r.status === 200 ? '' : html`<div class="flash error">${apiError(r)}</div>`}${importTable(r.data)}<p><a href="/tracking">Shipments</a></p></section>`,
    });
  });
}
