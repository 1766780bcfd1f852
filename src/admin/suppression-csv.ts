// The suppression list as a spreadsheet: export (RFC 4180, UTF-8 with a BOM, formula-like cells made
// inert) and import (one address per row, optionally a reason; a header row is recognised; comma,
// semicolon or tab), as Postmark and Mailgun move suppression lists between services. Pure.
import { parse as parseCsv } from 'csv-parse/sync';
import { isValidAddress } from '../config/formats.js';
import type { SuppressionEntry } from '../store/ports.js';
import { csvCell } from '../tracking/report-csv.js';

const COLUMNS = ['address', 'class', 'reason', 'source', 'since', 'message', 'rule', 'diagnostic'] as const;

/** The entries as CSV; with `tenants`, a first column says whose each is (the operator's export). */
export function suppressionCsv(entries: SuppressionEntry[], tenants = false): string {
  const header = [...(tenants ? ['tenant'] : []), ...COLUMNS];
  const lines = [header.map(csvCell).join(',')];
  for (const e of entries) {
    const cells = [e.address, e.class, e.reason, e.source, new Date(e.time).toISOString().replace('.000Z', 'Z'), e.msgId, e.rule, e.diagnostic];
    lines.push([...(tenants ? [e.tenant] : []), ...cells].map(csvCell).join(','));
  }
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}

export interface ImportedAddress {
  line: number;
  address: string;
  reason?: string;
}

export interface ParsedSuppressionList {
  rows: ImportedAddress[];
  /** Rows that are not an address, and why (first 100). */
  rejected: Array<{ line: number; value: string; why: string }>;
  rejectedCount: number;
  /** Addresses that appeared on an earlier line too. */
  duplicates: number;
}

const ADDRESS_HEADER = /^(e-?mail(\s*address)?|address|recipient|adresse|e-?mail-?adresse|почта|адрес|email_address)$/i;
const REASON_HEADER = /^(reason|note|comment|grund|причина|why)$/i;

function decode(data: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data).replace(/^\uFEFF/, '');
  } catch {
    return new TextDecoder('windows-1252').decode(data);
  }
}

/** Reads an uploaded list; at most `maxRows` rows (the rest are rejected as too many). */
export function parseSuppressionCsv(data: Buffer, maxRows = 100_000): ParsedSuppressionList {
  const records = parseCsv(decode(data), { delimiter: [',', ';', '\t'], relax_column_count: true, relax_quotes: true, skip_empty_lines: true, trim: true }) as string[][];
  let addressAt = 0;
  let reasonAt = 1;
  let first = 0;
  const head = records[0] ?? [];
  const named = head.findIndex((c) => ADDRESS_HEADER.test(c));
  if (named >= 0) {
    addressAt = named;
    reasonAt = head.findIndex((c) => REASON_HEADER.test(c));
    first = 1;
  } else if (!head.some((c) => c.includes('@'))) {
    first = 1; // a header we do not know: the first column holds the addresses
  }
  const out: ParsedSuppressionList = { rows: [], rejected: [], rejectedCount: 0, duplicates: 0 };
  const seen = new Set<string>();
  const reject = (line: number, value: string, why: string) => {
    out.rejectedCount++;
    if (out.rejected.length < 100) out.rejected.push({ line, value: value.slice(0, 200), why });
  };
  for (let i = first; i < records.length; i++) {
    const line = i + 1;
    const value = (records[i]![addressAt] ?? '').replace(/^<(.*)>$/, '$1').trim();
    if (out.rows.length >= maxRows) {
      reject(line, value, `more than ${maxRows} rows: split the file`);
      continue;
    }
    if (!isValidAddress(value)) {
      reject(line, value, value ? 'not an e-mail address' : 'empty');
      continue;
    }
    const address = value.toLowerCase();
    if (seen.has(address)) {
      out.duplicates++;
      continue;
    }
    seen.add(address);
    const reason = reasonAt >= 0 ? records[i]![reasonAt]?.slice(0, 200) : undefined;
    out.rows.push({ line, address, ...(reason ? { reason } : {}) });
  }
  return out;
}
