// DNS verification of a tenant's sender domain: does SPF authorise this relay, does each DKIM
// selector publish the configured key, is there a DMARC record. Each failed check says what is
// missing or wrong and the exact record to publish instead. Reads DNS through an injected resolver.
import type { Resolver } from 'node:dns/promises';
import type { KeyObject } from 'node:crypto';
import { dkimPublicKeyData, dkimRecord, dmarcRecord, parseTags, spfMechanisms, spfRecord, type SpfPolicy } from './dns-records.js';

export interface CheckItem {
  ok: boolean;
  /** The DNS name that was looked up. */
  name: string;
  /** What was found there (TXT value), if anything relevant. */
  found?: string;
  /** The record to publish at `name` (when not ok: the fix). */
  expected: string;
  /** One sentence for the shop admin. */
  message: string;
  /** The lookup failed (a DNS outage, a resolver refusing): whether the record is there is not known. */
  unchecked?: true;
}

export interface DomainCheck {
  domain: string;
  checkedAt: number;
  /** SPF and at least one DKIM selector are in place: mail may leave under this domain. */
  verified: boolean;
  spf: CheckItem;
  dkim: Array<CheckItem & { selector: string }>;
  dmarc: CheckItem & { policy?: string };
}

export interface DomainCheckInput {
  domain: string;
  selectors: Array<{ selector: string; key: KeyObject }>;
  spf: SpfPolicy;
}

type Txt = { ok: true; values: string[] } | { ok: false; missing: boolean; error: string };

async function txt(resolver: Resolver, name: string): Promise<Txt> {
  try {
    return { ok: true, values: (await resolver.resolveTxt(name)).map((chunks) => chunks.join('')) };
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'EUNKNOWN';
    return { ok: false, missing: code === 'ENOTFOUND' || code === 'ENODATA', error: code };
  }
}

function lookupFailed(name: string, r: Extract<Txt, { ok: false }>, expected: string): CheckItem {
  return { ok: false, unchecked: true, name, expected, message: `DNS lookup of ${name} failed (${r.error}); it will be checked again` };
}

export async function checkSpf(resolver: Resolver, domain: string, policy: SpfPolicy): Promise<CheckItem> {
  const expected = spfRecord(policy);
  const r = await txt(resolver, domain);
  if (!r.ok && !r.missing) return lookupFailed(domain, r, expected);
  const records = r.ok ? r.values.filter((v) => /^v=spf1(\s|$)/i.test(v.trim())) : [];
  if (records.length === 0) {
    return { ok: false, name: domain, expected, message: `no SPF record at ${domain}: publish TXT "${expected}"` };
  }
  if (records.length > 1) {
    return { ok: false, name: domain, found: records.join(' | '), expected, message: `${domain} has ${records.length} SPF records, which makes SPF fail (RFC 7208); merge them into one that contains ${spfMechanisms(policy).join(' ')}` };
  }
  const record = records[0]!.trim();
  const terms = record.toLowerCase().split(/\s+/).map((t) => t.replace(/^\+/, ''));
  const wanted = spfMechanisms(policy).map((m) => m.toLowerCase());
  const missing = wanted.filter((m) => !terms.includes(m));
  // Any one of our mechanisms authorises us; an include or the full address list both do.
  if (missing.length < wanted.length) return { ok: true, name: domain, found: record, expected: record, message: `SPF authorises this relay` };
  const all = terms.findIndex((t) => /^[~?-]?all$/.test(t));
  const fixed = all >= 0
    ? [...record.split(/\s+/).slice(0, all), ...wanted, ...record.split(/\s+/).slice(all)].join(' ')
    : `${record} ${wanted.join(' ')}`;
  return { ok: false, name: domain, found: record, expected: fixed, message: `the SPF record of ${domain} does not authorise this relay: add ${wanted.join(' ')} (publish TXT "${fixed}")` };
}

export async function checkDkim(resolver: Resolver, domain: string, selector: string, key: KeyObject): Promise<CheckItem & { selector: string }> {
  const name = `${selector}._domainkey.${domain}`;
  const expected = dkimRecord(key);
  const r = await txt(resolver, name);
  if (!r.ok && !r.missing) return { selector, ...lookupFailed(name, r, expected) };
  const found = r.ok ? r.values.find((v) => parseTags(v).has('p')) : undefined;
  if (!found) return { selector, ok: false, name, expected, message: `no DKIM key at ${name}: publish TXT "${expected}"` };
  const published = parseTags(found).get('p') ?? '';
  if (published === '') return { selector, ok: false, name, found, expected, message: `the DKIM key at ${name} is revoked (empty p=): publish TXT "${expected}"` };
  if (published !== dkimPublicKeyData(key)) {
    return { selector, ok: false, name, found, expected, message: `the DKIM key published at ${name} does not match the key mailgate signs with: replace it with TXT "${expected}"` };
  }
  return { selector, ok: true, name, found, expected, message: `DKIM key at ${name} matches` };
}

export async function checkDmarc(resolver: Resolver, domain: string): Promise<CheckItem & { policy?: string }> {
  const name = `_dmarc.${domain}`;
  const expected = dmarcRecord(domain);
  const r = await txt(resolver, name);
  if (!r.ok && !r.missing) return lookupFailed(name, r, expected);
  const found = r.ok ? r.values.find((v) => /^v=DMARC1(\s*;|$)/i.test(v.trim())) : undefined;
  if (!found) return { ok: false, name, expected, message: `no DMARC record at ${name}: publish TXT "${expected}" (recommended; start with p=none)` };
  const policy = parseTags(found).get('p');
  return { ok: true, name, found, expected: found, ...(policy ? { policy } : {}), message: `DMARC record found, policy ${policy ?? 'missing'}` };
}

/** Runs every check for one domain. */
export async function checkDomain(resolver: Resolver, input: DomainCheckInput, now: number): Promise<DomainCheck> {
  const [spf, dmarc, ...dkim] = await Promise.all([
    checkSpf(resolver, input.domain, input.spf),
    checkDmarc(resolver, input.domain),
    ...input.selectors.map((s) => checkDkim(resolver, input.domain, s.selector, s.key)),
  ]) as [CheckItem, DomainCheck['dmarc'], ...DomainCheck['dkim']];
  return { domain: input.domain, checkedAt: now, verified: spf.ok && dkim.some((d) => d.ok), spf, dkim, dmarc };
}
