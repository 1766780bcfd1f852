// Console statistics: delivery charts over time (drawn by uPlot, served by mailgate itself from
// /vendor/) and per recipient domain and upstream with bounce rates. Every chart has its numbers in
// a table beside it, and its lines differ by dash pattern and label as well as colour.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { apiError, type ConsoleContext, type ConsoleRoutes, type SignedIn } from './context.js';
import { html, raw, type SafeHtml } from './html.js';

interface Counts { accepted: number; delivered: number; deferred: number; bouncedHard: number; bouncedSoft: number; complained: number; suppressed: number; failed: number }
interface Series { bucket: string; totals: Counts & { bounceRate: number; complaintRate: number }; series: Array<Counts & { time: number }> }
interface Breakdown { rows: Array<Counts & { key: string; bounceRate: number; complaintRate: number }> }

/** What a chart draws, in the order of its legend. */
const LINES: Array<[keyof Counts, string]> = [['accepted', 'Accepted'], ['delivered', 'Delivered'], ['deferred', 'Deferred'], ['bouncedHard', 'Bounced (hard)'], ['bouncedSoft', 'Bounced (soft)'], ['complained', 'Complained']];
const PERIODS: Array<[string, string, number, 'hour' | 'day']> = [['24h', 'last 24 hours', 86400e3, 'hour'], ['7d', 'last 7 days', 7 * 86400e3, 'day'], ['30d', 'last 30 days', 30 * 86400e3, 'day']];
const pct = (x: number) => `${(x * 100).toFixed(x > 0 && x < 0.01 ? 2 : 1)} %`;

/** A chart (drawn by console.js from the JSON beside it) and the same numbers as a table. */
export function chart(id: string, caption: string, data: Series): SafeHtml {
  const points = { bucket: data.bucket, time: data.series.map((b) => b.time), lines: LINES.map(([key, label]) => ({ label, values: data.series.map((b) => b[key]) })) };
  const t = data.totals;
  return html`<figure class="chart" id="${id}"><figcaption>${caption}: ${t.accepted} accepted, ${t.delivered} delivered, ${t.bouncedHard + t.bouncedSoft + t.failed} bounced or refused (${pct(t.bounceRate)}), ${t.complained} complained</figcaption>
<div class="chart-area" role="img" aria-label="${caption}"></div>
<script type="application/json" class="chart-data">${raw(JSON.stringify(points).replace(/</g, '\\u003c'))}</script>
<details><summary>The numbers</summary><div class="table-wrap"><table><thead><tr><th>${data.bucket === 'day' ? 'Day' : 'Hour'} (UTC)</th>${LINES.map(([, l]) => html`<th>${l}</th>`)}<th>Suppressed</th><th>Failed</th></tr></thead><tbody>
${data.series.filter((b) => LINES.some(([k]) => b[k] > 0) || b.suppressed + b.failed > 0).map((b) => html`<tr><td>${new Date(b.time).toISOString().slice(0, data.bucket === 'day' ? 10 : 13).replace('T', ' ')}${data.bucket === 'day' ? '' : ':00'}</td>${LINES.map(([k]) => html`<td>${b[k]}</td>`)}<td>${b.suppressed}</td><td>${b.failed}</td></tr>`)}
</tbody></table></div></details></figure>`;
}

function breakdownTable(id: string, what: string, r: { status: number; data: Breakdown }): SafeHtml {
  if (r.status !== 200) return html`<p class="bad">${apiError(r as never)}</p>`;
  if (r.data.rows.length === 0) return html`<p class="muted">No mail in this period.</p>`;
  return html`<div class="table-wrap"><table id="${id}"><thead><tr><th>${what}</th><th>Accepted</th><th>Delivered</th><th>Deferred</th><th>Bounced hard</th><th>Bounced soft</th><th>Refused or expired</th><th>Complained</th><th>Suppressed</th><th>Bounce rate</th></tr></thead><tbody>
${r.data.rows.map((x) => html`<tr><td class="mono">${x.key}</td><td>${x.accepted}</td><td>${x.delivered}</td><td>${x.deferred}</td><td>${x.bouncedHard}</td><td>${x.bouncedSoft}</td><td>${x.failed}</td><td>${x.complained}</td><td>${x.suppressed}</td><td class="${x.bounceRate >= 0.05 ? 'bad' : ''}">${pct(x.bounceRate)}</td></tr>`)}
</tbody></table></div>`;
}

/** The chart of the overview page: the chosen shop's (or, for an operator, every shop's) last 24 hours. */
export async function overviewChart(ctx: ConsoleContext, req: FastifyRequest, s: SignedIn): Promise<SafeHtml> {
  const r = await ctx.api<Series>(req, s.user.token, 'GET', '/stats', { query: { tenant: s.user.tenant, bucket: 'hour' } });
  return r.status === 200 ? html`<section>${chart('chart-24h', 'Last 24 hours', r.data)}<p><a href="/stats">Statistics per day and per recipient domain</a></p></section>` : html`<section><p class="bad">${apiError(r)}</p></section>`;
}

export function registerStatsPages(app: FastifyInstance, { ctx, guard }: ConsoleRoutes): void {
  app.get('/stats', async (req: FastifyRequest, reply: FastifyReply) => {
    const s = await guard(req, reply);
    if (!s) return reply;
    const period = PERIODS.find(([k]) => k === (req.query as { period?: string }).period) ?? PERIODS[2]!;
    const to = Date.now();
    const query = { tenant: s.user.tenant, from: to - period[2], to };
    const [series, domains, upstreams] = await Promise.all([
      ctx.api<Series>(req, s.user.token, 'GET', '/stats', { query: { ...query, bucket: period[3] } }),
      ctx.api<Breakdown>(req, s.user.token, 'GET', '/stats', { query: { ...query, by: 'domain', limit: 25 } }),
      ctx.api<Breakdown>(req, s.user.token, 'GET', '/stats', { query: { ...query, by: 'upstream', limit: 25 } }),
    ]);
    const whose = s.user.tenant ? html`shop <b>${s.user.tenant}</b>` : 'every shop';
    return ctx.page(req, reply, s, {
      title: 'Statistics', active: '/stats', charts: true,
      body: html`<section><form method="get" action="/stats" class="row"><label>Period <select name="period" data-autosubmit>${PERIODS.map(([k, label]) => html`<option value="${k}"${k === period[0] ? html` selected` : ''}>${label}</option>`)}</select></label><noscript><button type="submit">Show</button></noscript></form>
<p class="muted">Recipients of ${whose}, counted when it happened: a bounce counts on the day it came back.</p></section>
<section>${series.status === 200 ? chart('chart-period', `The ${period[1]}`, series.data) : html`<p class="bad">${apiError(series)}</p>`}</section>
<section><h2>Per recipient domain</h2>${breakdownTable('by-domain', 'Domain', domains)}</section>
<section><h2>Per upstream</h2>${breakdownTable('by-upstream', 'Upstream', upstreams)}</section>`,
    });
  });
}
