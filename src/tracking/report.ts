// The shop admin's daily tracking report: parcels per status and the list of parcels that need
// attention (not picked up for days, returned, storage expired), as text and escaped HTML, and every
// tracked code in a CSV attachment (seed 004: "a report of all tracked codes").
import type { Shipments } from './shipments.js';
import { DAY, type Shipment } from './lifecycle.js';
import type { TrackingSettings } from './settings.js';
import { escapeHtml } from './templates.js';
import { shipmentsCsv } from './report-csv.js';
import { NORMALISED_STATUSES } from './types.js';

export interface TrackingReport {
  subject: string;
  text: string;
  html: string;
  counts: Record<string, number>;
  attention: Array<{ code: string; status: string; why: string; name?: string; phone?: string; email?: string; orderReference?: string }>;
  /** Every tracked code (at most MAX_CSV_ROWS), as the attachment. */
  csv: { filename: string; content: string; rows: number; complete: boolean };
}

const MAX_LINES = 500;
/** About 20 MB of CSV at most, so the report stays under the usual message size limits. */
export const MAX_CSV_ROWS = 100_000;

/** Every shipment of a tenant (at most `max`), page by page. */
async function allShipments(store: Shipments, tenant: string, max: number): Promise<{ shipments: Shipment[]; complete: boolean }> {
  const out: Shipment[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list(tenant, { limit: 1000, ...(cursor ? { cursor } : {}) });
    out.push(...page.shipments.slice(0, max - out.length));
    cursor = page.cursor;
  } while (cursor && out.length < max);
  return { shipments: out, complete: cursor === undefined };
}

export async function buildReport(store: Shipments, tenant: string, shopName: string, settings: TrackingSettings, now: number, date: string): Promise<TrackingReport> {
  const counts = await store.countByStatus(tenant);
  const attention: TrackingReport['attention'] = [];
  const add = (s: Shipment, why: string) => {
    if (attention.length >= MAX_LINES) return;
    attention.push({
      code: s.code, status: s.status, why,
      ...(s.name ? { name: s.name } : {}), ...(s.phoneE164 ?? s.phone ? { phone: s.phoneE164 ?? s.phone } : {}),
      ...(s.email ? { email: s.email } : {}), ...(s.orderReference ? { orderReference: s.orderReference } : {}),
    });
  };
  for (const status of ['arrived-at-pickup', 'storage-expired', 'returned'] as const) {
    let cursor: string | undefined;
    do {
      const page = await store.list(tenant, { status, limit: 500, ...(cursor ? { cursor } : {}) });
      for (const s of page.shipments) {
        if (status === 'arrived-at-pickup') {
          const days = s.arrivedAt !== undefined ? Math.floor((now - s.arrivedAt) / DAY) : 0;
          if (days >= settings.notPickedUpDays[0]) add(s, `not picked up for ${days} days`);
        } else if ((s.statusSeenAt ?? 0) >= now - 7 * DAY) add(s, status === 'returned' ? 'returned to the shop' : 'storage period expired');
      }
      cursor = page.cursor;
    } while (cursor && attention.length < MAX_LINES);
  }
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const all = await allShipments(store, tenant, MAX_CSV_ROWS);
  const csv = { filename: `tracking-${date}.csv`, content: shipmentsCsv(all.shipments), rows: all.shipments.length, complete: all.complete };
  const attached = csv.complete ? `All ${csv.rows} tracked codes are in the attached file ${csv.filename}.` : `The attached file ${csv.filename} has the first ${csv.rows} tracked codes.`;
  const lines = NORMALISED_STATUSES.filter((s) => counts[s]).map((s) => `${s.padEnd(20)} ${counts[s]}`);
  const who = (a: TrackingReport['attention'][number]) => [a.name, a.phone, a.email, a.orderReference ? `order ${a.orderReference}` : undefined].filter(Boolean).join(', ');
  const text = [
    `Tracking report for ${shopName}, ${date}`,
    '',
    `Parcels tracked: ${total}`,
    ...lines,
    '',
    attached,
    '',
    attention.length > 0 ? `Need attention (${attention.length}${attention.length >= MAX_LINES ? '+' : ''}):` : 'Nothing needs attention.',
    ...attention.map((a) => `${a.code}  ${a.why}  ${who(a)}`),
    '',
  ].join('\n');
  const html = `<!doctype html><html><body><h1>Tracking report for ${escapeHtml(shopName)}, ${escapeHtml(date)}</h1>`
    + `<p>Parcels tracked: ${total}</p><table>${NORMALISED_STATUSES.filter((s) => counts[s]).map((s) => `<tr><td>${s}</td><td>${counts[s]}</td></tr>`).join('')}</table>`
    + `<p>${escapeHtml(attached)}</p>`
    + (attention.length > 0 ? `<h2>Need attention</h2><table>${attention.map((a) => `<tr><td>${escapeHtml(a.code)}</td><td>${escapeHtml(a.why)}</td><td>${escapeHtml(who(a))}</td></tr>`).join('')}</table>` : '<p>Nothing needs attention.</p>')
    + '</body></html>';
  return { subject: `Tracking report ${date}: ${total} parcels, ${attention.length} need attention`, text, html, counts, attention, csv };
}
