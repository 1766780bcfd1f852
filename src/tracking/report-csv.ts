// The daily report's attachment: every tracked code of a shop as one CSV row (RFC 4180, UTF-8 with
// a BOM so spreadsheet programs read Cyrillic names right, cells that would start a formula made
// inert). Pure.
import { carrierLabel } from './carriers/index.js';
import type { Shipment } from './lifecycle.js';

const COLUMNS = [
  'Tracking code', 'Carrier', 'Status', 'Status since', 'Buyer', 'E-mail', 'Phone', 'Phone problem',
  'Order', 'Order sum', 'Added', 'Last check', 'Last problem', 'Still checked', 'Notices',
] as const;

/**
 * One cell, quoted when needed. A cell a spreadsheet would run as a formula (leading = or @, or + or -
 * before anything but a number such as a phone number) gets a ' first.
 */
export function csvCell(value: string | number | undefined): string {
  let text = value === undefined ? '' : String(value).replace(/[\r\n\t]+/g, ' ');
  if (/^[=@]/.test(text) || (/^[+-]/.test(text) && !/^[+-][\d ()-]*$/.test(text))) text = `'${text}`;
  return /[",;]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const iso = (t: number | undefined) => (t === undefined ? '' : new Date(t).toISOString().replace('.000Z', 'Z'));

/** What happened to a parcel's notices, e.g. "arrived-at-pickup:email sent; arrived-at-pickup:sms skipped". */
function noticesText(s: Shipment): string {
  return Object.entries(s.notices).map(([slot, n]) => `${slot} ${n.state}`).join('; ');
}

function row(s: Shipment): string[] {
  return [
    s.code, carrierLabel(s.carrier), s.status, iso(s.statusSeenAt), s.name ?? '', s.email ?? '', s.phoneE164 ?? s.phone ?? '', s.phoneProblem ?? '',
    s.orderReference ?? '', s.orderSum ?? '', iso(s.createdAt), iso(s.lastCheckAt), s.lastError ?? '',
    s.active ? 'yes' : `no: ${s.stoppedReason ?? 'stopped'}`, noticesText(s),
  ].map(csvCell);
}

/** The CSV file of `shipments`, header first, CRLF line ends. */
export function shipmentsCsv(shipments: Iterable<Shipment>): string {
  const lines = [COLUMNS.map(csvCell).join(',')];
  for (const s of shipments) lines.push(row(s).join(','));
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}
