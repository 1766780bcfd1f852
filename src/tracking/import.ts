// Tracking import, parsing half: turns a shop's CSV/XLSX export of parcels into checked rows for a
// preview before import (header aliases in English and Russian, delimiter and encoding detection,
// per-row checks of code, carrier, e-mail and phone, duplicate codes). Pure: no store, no network.
import { parse as parseCsv } from 'csv-parse/sync';
import { normalisePhone } from './phone.js';
import { CARRIERS, type CarrierName, type ShipmentInput } from './types.js';
import { CARRIER_MODULES } from './carriers/index.js';

export type ImportFormat = 'csv' | 'xlsx';

export interface ImportRow {
  /** 1-based row number as a spreadsheet user sees it; the header is line 1. */
  line: number;
  /** Present only when the row has no errors and the file has all required columns. */
  shipment?: ShipmentInput & { phoneE164?: string; phoneProblem?: string };
  errors: string[];
  warnings: string[];
}

export interface ParsedImport {
  format: ImportFormat;
  /** Our field → the header as found in the file. */
  columns: Record<string, string>;
  /** Our field names of required columns that were not found. */
  missingColumns: string[];
  fileErrors: string[];
  rows: ImportRow[];
}

export interface ParseOptions {
  defaultCarrier?: CarrierName;
  defaultCountry: string;
  maxRows?: number;
}

export const DEFAULT_MAX_ROWS = 50_000;

export type ShipmentField = 'code' | 'carrier' | 'name' | 'email' | 'phone' | 'orderReference' | 'orderSum';

/** Header names per field; compared after normaliseLabel (case, ё, separators). */
export const COLUMN_ALIASES: Readonly<Record<ShipmentField, readonly string[]>> = {
  code: ['code', 'tracking code', 'tracking', 'tracking number', 'track', 'track number', 'трек', 'трек-номер', 'трек код', 'шпи', 'номер отправления'],
  carrier: ['carrier', 'перевозчик', 'служба доставки'],
  name: ['name', 'фио', 'имя', 'покупатель', 'customer', 'customer name'],
  email: ['email', 'e-mail', 'почта', 'электронная почта'],
  phone: ['phone', 'телефон', 'mobile'],
  orderReference: ['order', 'order id', 'order number', 'заказ', 'номер заказа', '№ заказа'],
  orderSum: ['order sum', 'sum', 'amount', 'сумма', 'сумма заказа'],
};

const CODE_PATTERN = /^[A-Z0-9]{8,40}$/;
const CSV_DELIMITERS = [';', ',', '\t'] as const;

// ---------------------------------------------------------------------------------------------
// Format detection

const XLSX_MIME = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const CSV_MIMES = ['text/csv', 'application/csv', 'text/comma-separated-values', 'text/tab-separated-values', 'text/plain'];

function isZip(data: Buffer): boolean {
  return data.length >= 4 && data[0] === 0x50 && data[1] === 0x4b && data[2] === 0x03 && data[3] === 0x04;
}

function isOle2(data: Buffer): boolean {
  return data.length >= 4 && data[0] === 0xd0 && data[1] === 0xcf && data[2] === 0x11 && data[3] === 0xe0;
}

function looksLikeText(data: Buffer): boolean {
  if (data.length === 0) return false;
  if (data[0] === 0xff && data[1] === 0xfe) return true; // UTF-16LE BOM
  return !data.subarray(0, 4096).includes(0);
}

/**
 * Which parser an upload needs: a ZIP (PK magic) is XLSX whatever its name; a legacy .xls (OLE2)
 * is not supported; otherwise the file name, then the content type, then "is it text" decide.
 */
export function detectFormat(filename: string | undefined, contentType: string | undefined, data: Buffer): ImportFormat | undefined {
  if (isZip(data)) return 'xlsx';
  if (isOle2(data)) return undefined;
  const ext = filename?.trim().toLowerCase().match(/\.([a-z0-9]+)$/)?.[1];
  if (ext === 'xlsx') return 'xlsx';
  if (ext === 'csv' || ext === 'tsv' || ext === 'txt') return 'csv';
  if (ext === 'xls') return undefined;
  const mime = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mime === XLSX_MIME) return 'xlsx';
  if (mime !== undefined && CSV_MIMES.includes(mime)) return 'csv';
  return looksLikeText(data) ? 'csv' : undefined;
}

// ---------------------------------------------------------------------------------------------
// Reading cells

/** A file's rows as trimmed text cells; index i is spreadsheet line i + 1. */
type ReadResult = { cells: string[][] } | { error: string };

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Bytes → text: BOM-marked UTF-16, else UTF-8 when valid, else Windows-1251 (Russian Excel). */
function decodeText(data: Buffer): string {
  let text: string;
  if (data[0] === 0xff && data[1] === 0xfe) text = new TextDecoder('utf-16le').decode(data);
  else if (data[0] === 0xfe && data[1] === 0xff) text = new TextDecoder('utf-16be').decode(data);
  else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(data);
    } catch {
      text = new TextDecoder('windows-1251').decode(data);
    }
  }
  return text.replace(/^\uFEFF/, '');
}

/** Counts a character outside double quotes in one line. */
function countOutsideQuotes(line: string, ch: string): number {
  let count = 0;
  let quoted = false;
  for (const c of line) {
    if (c === '"') quoted = !quoted;
    else if (c === ch && !quoted) count++;
  }
  return count;
}

/** The delimiter used most often in the first non-empty line (the header); "," when none is. */
function detectDelimiter(text: string): string {
  const header = text.split(/\r?\n|\r/).find((l) => l.trim() !== '') ?? '';
  let best = ',';
  let bestCount = 0;
  for (const d of CSV_DELIMITERS) {
    const n = countOutsideQuotes(header, d);
    if (n > bestCount) {
      best = d;
      bestCount = n;
    }
  }
  return best;
}

function readCsv(data: Buffer): ReadResult {
  let text = decodeText(data);
  if (text.includes('\u0000')) return { error: 'the file could not be read as CSV: it contains binary data' };
  // Excel's "sep=;" hint line is not shown as a row when the file is opened, so it is not counted.
  let delimiter: string | undefined;
  const hint = /^sep=(.)\r?\n/i.exec(text);
  if (hint) {
    delimiter = hint[1];
    text = text.slice(hint[0].length);
  }
  try {
    const records = parseCsv(text, {
      delimiter: delimiter ?? detectDelimiter(text),
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: false,
    }) as string[][];
    return { cells: records.map((r) => r.map((c) => c.trim())) };
  } catch (err) {
    return { error: `the file could not be read as CSV: ${errorText(err)}` };
  }
}

/** XLSX numeric cells are kept as their stored text, wrapped so they can be told from text cells. */
interface XlsxNumber {
  xlsxNumber: string;
}

/** "7.9161234567E10" → "79161234567", "12.0" → "12": numbers as a person would type them. */
function plainNumber(stored: string): string {
  let out = stored.trim();
  const m = /^([+-]?)(\d*)(?:\.(\d*))?[eE]([+-]?\d+)$/.exec(out);
  if (m) {
    const [, sign = '', intPart = '', frac = '', exp = '0'] = m;
    const digits = intPart + frac;
    const point = intPart.length + Number(exp);
    if (point <= 0) out = `${sign}0.${'0'.repeat(-point)}${digits}`;
    else if (point >= digits.length) out = sign + digits + '0'.repeat(point - digits.length);
    else out = `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
  }
  out = out.replace(/^([+-]?)0+(?=\d)/, '$1');
  if (out.includes('.')) out = out.replace(/0+$/, '').replace(/\.$/, '');
  return out;
}

function xlsxCellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'object' && 'xlsxNumber' in value) return plainNumber(String((value as XlsxNumber).xlsxNumber));
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? '' : value.toISOString().slice(0, 10);
  return String(value).trim();
}

/** Largest total size of an XLSX's unpacked contents: a few MB of ZIP can unpack to gigabytes. */
export const MAX_XLSX_UNPACKED = 100 * 1024 * 1024;

/**
 * The total unpacked size the ZIP's central directory declares, or undefined when the directory
 * cannot be read (ZIP64, truncated). Read before unpacking anything.
 */
export function zipUnpackedSize(data: Buffer): number | undefined {
  // End of central directory: signature 0x06054b50, at most 65,535 bytes of comment after it.
  for (let eocd = data.length - 22; eocd >= Math.max(0, data.length - 22 - 0xffff); eocd--) {
    if (data.readUInt32LE(eocd) !== 0x06054b50) continue;
    const entries = data.readUInt16LE(eocd + 10);
    let at = data.readUInt32LE(eocd + 16);
    let total = 0;
    for (let i = 0; i < entries; i++) {
      if (at + 46 > data.length || data.readUInt32LE(at) !== 0x02014b50) return undefined;
      const size = data.readUInt32LE(at + 24);
      if (size === 0xffffffff) return undefined; // ZIP64
      total += size;
      at += 46 + data.readUInt16LE(at + 28) + data.readUInt16LE(at + 30) + data.readUInt16LE(at + 32);
    }
    return total;
  }
  return undefined;
}

async function readXlsx(data: Buffer): Promise<ReadResult> {
  const unpacked = data.length >= 22 ? zipUnpackedSize(data) : undefined;
  if (unpacked === undefined) return { error: 'the file could not be read as XLSX: it is not a complete ZIP archive' };
  if (unpacked > MAX_XLSX_UNPACKED) {
    return { error: `the file could not be read as XLSX: it unpacks to ${Math.round(unpacked / 1024 / 1024)} MB (limit ${MAX_XLSX_UNPACKED / 1024 / 1024} MB); split it or save it as CSV` };
  }
  try {
    // Loaded on the first XLSX upload, not at start.
    const { readSheet } = await import('read-excel-file/node');
    const sheet = await readSheet<XlsxNumber>(data, { parseNumber: (text: string) => ({ xlsxNumber: text }) });
    return { cells: sheet.map((row) => row.map((v: unknown) => xlsxCellText(v))) };
  } catch (err) {
    return { error: `the file could not be read as XLSX: ${errorText(err)}` };
  }
}

// ---------------------------------------------------------------------------------------------
// Header

/** Lower case, ё → е, runs of spaces/underscores/hyphens/dots/colons/asterisks → one space. */
function normaliseLabel(text: string): string {
  return text
    .trim()
    .toLowerCase()
    .replace(/ё/g, 'е')
    .replace(/[\s_\-.:*]+/g, ' ')
    .trim();
}

const FIELD_BY_LABEL: ReadonlyMap<string, ShipmentField> = new Map(
  (Object.entries(COLUMN_ALIASES) as [ShipmentField, readonly string[]][]).flatMap(([field, names]) =>
    names.map((n) => [normaliseLabel(n), field] as const),
  ),
);

const CARRIER_BY_LABEL: ReadonlyMap<string, CarrierName> = new Map(
  CARRIERS.flatMap((c) => [c, ...CARRIER_MODULES[c].aliases].map((n) => [normaliseLabel(n), c] as const)),
);

interface Header {
  /** Our field → column index; the first matching column wins. */
  index: Partial<Record<ShipmentField, number>>;
  /** Our field → header as found. */
  columns: Record<string, string>;
}

function readHeader(cells: string[]): Header {
  const index: Partial<Record<ShipmentField, number>> = {};
  const columns: Record<string, string> = {};
  cells.forEach((cell, i) => {
    const field = FIELD_BY_LABEL.get(normaliseLabel(cell));
    if (field && index[field] === undefined) {
      index[field] = i;
      columns[field] = cell;
    }
  });
  return { index, columns };
}

function missingColumns(header: Header): { missing: string[]; errors: string[] } {
  const missing: string[] = [];
  const errors: string[] = [];
  if (header.index.code === undefined) {
    missing.push('code');
    errors.push('the file has no tracking code column (a header such as "Tracking code", "Трек-номер" or "ШПИ")');
  }
  if (header.index.email === undefined && header.index.phone === undefined) {
    missing.push('email', 'phone');
    errors.push('the file has neither an e-mail nor a phone column (a header such as "Email", "Почта", "Phone" or "Телефон"); one of them is needed');
  }
  return { missing, errors };
}

// ---------------------------------------------------------------------------------------------
// Rows

function normaliseCode(raw: string): string {
  return raw.replace(/\s+/g, '').toUpperCase();
}

/** The carrier whose codes look like this one, when exactly one does. */
function guessCarrier(code: string): CarrierName | undefined {
  const matches = CARRIERS.filter((c) => CARRIER_MODULES[c].looksLike(code));
  return matches.length === 1 ? matches[0] : undefined;
}

function carrierFromText(raw: string): CarrierName | undefined {
  return CARRIER_BY_LABEL.get(normaliseLabel(raw));
}

/** One @, something before it, a domain with a dot not at either end, no spaces. */
function isPlausibleEmail(text: string): boolean {
  return /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/.test(text);
}

function isEmptyRow(cells: string[]): boolean {
  return cells.every((c) => c === '');
}

interface RowContext {
  header: Header;
  opts: ParseOptions;
  /** Normalised code → the line it was first seen on. */
  seen: Map<string, number>;
  /** False when required columns are missing: rows are checked for the preview but get no shipment. */
  importable: boolean;
}

function cell(cells: string[], header: Header, field: ShipmentField): string {
  const i = header.index[field];
  return i === undefined ? '' : (cells[i] ?? '');
}

function checkRow(cells: string[], line: number, ctx: RowContext): ImportRow {
  const row = checkShipmentFields((field) => cell(cells, ctx.header, field), line, ctx.opts, ctx.seen);
  if (!ctx.importable) delete row.shipment;
  return row;
}

/**
 * Checks one parcel's fields (a spreadsheet row, or one parcel given to the API) the same way:
 * normalised code, known carrier, plausible e-mail, phone normalised (invalid or landline: kept without
 * SMS/calls, a warning), and a code
 * seen before in the same batch refused.
 */
export function checkShipmentFields(value: (field: ShipmentField) => string, line: number, opts: ParseOptions, seen: Map<string, number>): ImportRow {
  const errors: string[] = [];
  const warnings: string[] = [];
  const ctx = { opts, seen };

  const rawCode = value('code');
  const code = normaliseCode(rawCode);
  let codeOk = false;
  if (code === '') errors.push('tracking code is missing');
  else if (!CODE_PATTERN.test(code)) errors.push(`tracking code "${rawCode}" is not valid: 8 to 40 latin letters and digits`);
  else {
    const first = ctx.seen.get(code);
    if (first !== undefined) errors.push(`tracking code ${code} is already on line ${first}`);
    else ctx.seen.set(code, line);
    codeOk = true;
  }

  const rawCarrier = value('carrier');
  let carrier: CarrierName | undefined;
  if (rawCarrier !== '') {
    carrier = carrierFromText(rawCarrier);
    if (!carrier) errors.push(`carrier "${rawCarrier}" is not known (known: ${CARRIERS.join(', ')})`);
  } else {
    carrier = ctx.opts.defaultCarrier ?? (codeOk ? guessCarrier(code) : undefined);
    if (!carrier && codeOk) errors.push('carrier is missing');
  }

  const email = value('email');
  if (email !== '' && !isPlausibleEmail(email)) errors.push(`e-mail "${email}" is not valid`);

  const phone = value('phone');
  let phoneE164: string | undefined;
  let phoneProblem: string | undefined;
  if (email === '' && phone === '') errors.push('neither e-mail nor phone is given');
  if (phone !== '') {
    // Seed 004: a number that cannot take SMS or calls (invalid, landline) is kept as a placeholder;
    // the parcel is still tracked and the buyer still gets e-mail notices.
    const check = normalisePhone(phone, ctx.opts.defaultCountry);
    if (check.ok) phoneE164 = check.e164;
    else {
      phoneProblem = /landline|not a mobile/.test(check.reason) ? check.reason : `${check.reason}: no SMS or calls`;
      warnings.push(`phone ${phoneProblem}${email === '' ? '; with no e-mail either, the buyer gets no notices' : ''}`);
    }
  }

  if (errors.length > 0 || !carrier) return { line, errors, warnings };
  const shipment: NonNullable<ImportRow['shipment']> = { code, carrier };
  const optional: [keyof ShipmentInput, string][] = [
    ['name', value('name')],
    ['email', email],
    ['phone', phone],
    ['orderReference', value('orderReference')],
    ['orderSum', value('orderSum')],
  ];
  for (const [key, text] of optional) if (text !== '') Object.assign(shipment, { [key]: text });
  if (phoneE164) shipment.phoneE164 = phoneE164;
  if (phoneProblem) shipment.phoneProblem = phoneProblem;
  return { line, shipment, errors, warnings };
}

function buildImport(format: ImportFormat, table: string[][], opts: ParseOptions): ParsedImport {
  const headerAt = table.findIndex((r) => !isEmptyRow(r));
  if (headerAt < 0) return { format, columns: {}, missingColumns: [], fileErrors: ['the file is empty'], rows: [] };
  const header = readHeader(table[headerAt] ?? []);
  const { missing, errors: fileErrors } = missingColumns(header);
  const maxRows = opts.maxRows ?? DEFAULT_MAX_ROWS;
  const ctx: RowContext = { header, opts, seen: new Map(), importable: missing.length === 0 };
  const rows: ImportRow[] = [];
  for (let i = headerAt + 1; i < table.length; i++) {
    const cells = table[i] ?? [];
    if (isEmptyRow(cells)) continue;
    if (rows.length >= maxRows) {
      fileErrors.push(`the file has more than ${maxRows} rows; only the first ${maxRows} were read`);
      break;
    }
    rows.push(checkRow(cells, i + 1, ctx));
  }
  return { format, columns: header.columns, missingColumns: missing, fileErrors, rows };
}

/**
 * Parses an uploaded CSV or XLSX of parcels for a preview. Never throws on bad input: an unreadable
 * file comes back with `fileErrors` and no rows.
 */
export async function parseShipmentFile(data: Buffer, format: ImportFormat, opts: ParseOptions): Promise<ParsedImport> {
  const read = format === 'xlsx' ? await readXlsx(data) : readCsv(data);
  if ('error' in read) return { format, columns: {}, missingColumns: [], fileErrors: [read.error], rows: [] };
  return buildImport(format, read.cells, opts);
}
