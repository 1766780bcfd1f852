// Console: the suppression list out and in — a CSV download, and an import from a file or a pasted
// list, previewed (what would be added, what is already there, what is not an address) before the
// shop admin confirms. The API does the work (GET /suppression/export, POST /suppression/import).
import type { FastifyInstance } from 'fastify';
import { apiError, csrfField, type ConsoleRoutes } from './context.js';
import { html, type SafeHtml } from './html.js';

interface ImportAnswer { rows: number; added?: number; wouldAdd?: number; alreadySuppressed: number; duplicates: number; rejectedCount: number; rejected: Array<{ line: number; value: string; why: string }> }

function summary(r: ImportAnswer, dryRun: boolean): SafeHtml {
  return html`<p id="suppression-import-summary">${r.rows} rows: ${dryRun ? `would add ${r.wouldAdd}` : `added ${r.added}`}, ${r.alreadySuppressed} already on the list, ${r.duplicates} repeated, ${r.rejectedCount} not an address.</p>
${r.rejected.length > 0 ? html`<div class="table-wrap"><table id="suppression-import-rejected"><thead><tr><th>Line</th><th>Value</th><th>Why</th></tr></thead><tbody>${r.rejected.map((x) => html`<tr><td>${x.line}</td><td class="mono">${x.value}</td><td>${x.why}</td></tr>`)}</tbody></table></div>` : ''}`;
}

/** The part of the suppression page that exports and imports. */
export function suppressionTransfer(csrf: SafeHtml, tenant: string | undefined): SafeHtml {
  return html`<section id="suppression-transfer"><h2>Export and import</h2>
<p><a href="/suppression/export.csv${tenant ? `?tenant=${encodeURIComponent(tenant)}` : ''}" id="suppression-export" download>Download the list as CSV</a></p>
${tenant ? html`<form method="post" action="/suppression/upload" id="suppression-import-form" data-upload data-next="/suppression/preview" data-status="suppression-import-status" data-spinner>${csrf}
<label>A CSV file (one address per row, optionally a reason) <input type="file" name="file" accept=".csv,.txt,text/csv,text/plain"></label>
<label>… or paste addresses, one per line <textarea name="list" rows="4" cols="40"></textarea></label>
<button type="submit">Preview</button><span class="spinner" hidden></span></form>
<p id="suppression-import-status" class="muted" role="status">Nothing is added before you confirm the preview. Addresses already on the list keep their entry.</p>` : html`<p class="muted">Choose a shop to import into.</p>`}</section>`;
}

export function registerSuppressionTransfer(app: FastifyInstance, { ctx, guard, withTenant }: ConsoleRoutes): void {
  app.get('/suppression/export.csv', async (req, reply) => {
    const s = await guard(req, reply);
    if (!s) return reply;
    const tenant = (req.query as { tenant?: string }).tenant || s.user.tenant;
    const r = await ctx.api(req, s.user.token, 'GET', '/suppression/export', { query: { tenant } });
    if (r.status !== 200) return reply.code(r.status).type('text/plain; charset=utf-8').send(apiError(r));
    return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="suppression-${tenant ?? 'all'}.csv"`).send(r.text);
  });

  // A file (as the request body, console.js) or a pasted list (an ordinary form): previewed first.
  app.post('/suppression/upload', async (req, reply) => {
    const s = await withTenant(req, reply, 'Suppression list', '/suppression');
    if (!s) return reply;
    const body = req.body as Buffer | { list?: unknown } | undefined;
    const data = Buffer.isBuffer(body) ? body : Buffer.from(String(body?.list ?? ''), 'utf8');
    const pasted = !Buffer.isBuffer(body);
    if (data.length === 0) {
      if (!pasted) return reply.code(400).type('text/plain').send('no file');
      ctx.flash(s, { kind: 'error', text: 'Choose a file or paste addresses first.' });
      return reply.redirect('/suppression', 303);
    }
    const r = await ctx.api<ImportAnswer>(req, s.user.token, 'POST', '/suppression/import', { query: { tenant: s.user.tenant, dryRun: true }, raw: { data, contentType: 'text/csv' } });
    if (r.status !== 200) {
      if (!pasted) return reply.code(r.status).type('text/plain').send(apiError(r));
      ctx.flash(s, { kind: 'error', text: `Not read: ${apiError(r)}` });
      return reply.redirect('/suppression', 303);
    }
    s.pendingSuppressions = { tenant: s.user.tenant, data, preview: r.data };
    return pasted ? reply.redirect('/suppression/preview', 303) : reply.code(204).send();
  });

  app.get('/suppression/preview', async (req, reply) => {
    const s = await withTenant(req, reply, 'Import preview', '/suppression');
    if (!s) return reply;
    const p = s.pendingSuppressions;
    if (!p || p.tenant !== s.user.tenant) return reply.redirect('/suppression');
    const r = p.preview as ImportAnswer;
    return ctx.page(req, reply, s, {
      title: 'Suppression import: preview', active: '/suppression',
      body: html`<section>${summary(r, true)}</section><section><form method="post" action="/suppression/import" class="row" data-spinner>${csrfField(s)}
<button type="submit" id="confirm-suppression-import"${(r.wouldAdd ?? 0) === 0 ? html` disabled` : ''}>Add ${r.wouldAdd ?? 0} addresses</button><span class="spinner" hidden></span> <a href="/suppression">Cancel</a></form></section>`,
    });
  });

  app.post('/suppression/import', async (req, reply) => {
    const s = await withTenant(req, reply, 'Suppression list', '/suppression');
    if (!s) return reply;
    const p = s.pendingSuppressions;
    if (!p || p.tenant !== s.user.tenant) return reply.redirect('/suppression', 303);
    delete s.pendingSuppressions;
    const r = await ctx.api<ImportAnswer>(req, s.user.token, 'POST', '/suppression/import', { query: { tenant: p.tenant }, raw: { data: p.data, contentType: 'text/csv' } });
    ctx.flash(s, r.status === 200 ? { kind: 'ok', text: `Imported: ${r.data.added} added, ${r.data.alreadySuppressed} already on the list, ${r.data.rejectedCount} not an address.` } : { kind: 'error', text: `Not imported: ${apiError(r)}` });
    return reply.redirect('/suppression', 303);
  });
}
