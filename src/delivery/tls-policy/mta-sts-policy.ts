// MTA-STS (RFC 8461) as text: the `_mta-sts.<domain>` TXT record (§3.1), the policy file (§3.2) and
// which MX host names a policy's `mx` patterns allow (§4.1). Pure: strings in, records or reasons out.
// Imports nothing.

export type StsMode = 'enforce' | 'testing' | 'none';

export interface StsPolicy {
  mode: StsMode;
  /** MX patterns, lower case: "mx.example.com" or "*.example.com". */
  mx: string[];
  /** Seconds the policy may be cached. */
  maxAge: number;
  /** The policy's lines as served (TLS-RPT's "policy-string"). */
  lines: string[];
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Longest max_age RFC 8461 allows (about a year). */
export const MAX_AGE_LIMIT = 31_557_600;

/**
 * The policy id of the TXT records at `_mta-sts.<domain>` (each record as its strings, joined): the
 * one record starting "v=STSv1". None, or several, means the domain has no policy (§3.1).
 */
export function parseStsTxt(records: string[][]): Parsed<string> {
  const sts = records.map((chunks) => chunks.join('')).filter((r) => /^v=STSv1\s*(;|$)/.test(r));
  if (sts.length === 0) return { ok: false, reason: 'no "v=STSv1" TXT record' };
  if (sts.length > 1) return { ok: false, reason: `${sts.length} "v=STSv1" TXT records (exactly one is allowed)` };
  const fields = new Map<string, string>();
  for (const part of sts[0]!.split(';')) {
    const m = /^\s*([A-Za-z0-9_.-]+)=(.*?)\s*$/.exec(part);
    if (m && !fields.has(m[1]!)) fields.set(m[1]!, m[2]!);
  }
  const id = fields.get('id');
  if (id === undefined || !/^[A-Za-z0-9]{1,32}$/.test(id)) return { ok: false, reason: 'the TXT record has no valid id (1-32 letters and digits)' };
  return { ok: true, value: id };
}

/** The policy file (`/.well-known/mta-sts.txt`): version STSv1, mode, max_age, and mx patterns unless mode is none. */
export function parseStsPolicy(text: string): Parsed<StsPolicy> {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  const first = new Map<string, string>();
  const mx: string[] = [];
  for (const line of lines) {
    const m = /^([A-Za-z0-9_.-]{1,32}):\s*(.*)$/.exec(line);
    if (!m) return { ok: false, reason: `unreadable line "${line.slice(0, 80)}"` };
    const [, key, value] = m as unknown as [string, string, string];
    if (key === 'mx') mx.push(value.toLowerCase().replace(/\.$/, ''));
    else if (!first.has(key)) first.set(key, value);
  }
  if (first.get('version') !== 'STSv1') return { ok: false, reason: 'version is not STSv1' };
  const mode = first.get('mode');
  if (mode !== 'enforce' && mode !== 'testing' && mode !== 'none') return { ok: false, reason: `mode "${mode ?? ''}" is not enforce, testing or none` };
  const age = first.get('max_age') ?? '';
  if (!/^\d{1,10}$/.test(age) || Number(age) > MAX_AGE_LIMIT) return { ok: false, reason: `max_age "${age}" is not a number of seconds up to ${MAX_AGE_LIMIT}` };
  const bad = mx.find((p) => !/^(\*\.)?([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9-]{1,63}$/.test(p));
  if (bad !== undefined) return { ok: false, reason: `mx "${bad}" is not a host name or *.domain pattern` };
  if (mode !== 'none' && mx.length === 0) return { ok: false, reason: `mode ${mode} without any mx` };
  return { ok: true, value: { mode, mx, maxAge: Number(age), lines } };
}

/** True when `host` is allowed by one of `patterns`: equal, or "*.d" matching exactly one label in front of d (§4.1). */
export function mxAllowed(host: string, patterns: readonly string[]): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return patterns.some((p) => {
    if (!p.startsWith('*.')) return p === name;
    const dot = name.indexOf('.');
    return dot > 0 && name.slice(dot + 1) === p.slice(2);
  });
}
