// SMTP TLS reports (RFC 8460) as data: the `_smtp._tls.<domain>` TXT record's report addresses
// (§3), one day's report for one policy domain in the JSON format of §4, its file name (§5.1) and
// the e-mail that carries it to a mailto: address (§5.3). Pure. Imports: store shapes.
import type { TlsSessionCount } from '../store/tls-reports.js';

/** The report addresses of the one "v=TLSRPTv1" record: https: and mailto: URIs (others are ignored). */
export function parseTlsRptTxt(records: string[][]): string[] {
  const rpt = records.map((chunks) => chunks.join('')).filter((r) => /^v=TLSRPTv1\s*(;|$)/.test(r));
  if (rpt.length !== 1) return [];
  const rua = /(?:^|;)\s*rua=([^;]*)/.exec(rpt[0]!)?.[1] ?? '';
  return rua.split(',').map((u) => u.trim()).filter((u) => /^(https:\/\/|mailto:)/i.test(u));
}

export interface ReportSource {
  /** organization-name */
  organization: string;
  /** contact-info */
  contact: string;
  /** The reporting organization's domain: the report's "sender" in file names and mail headers. */
  submitter: string;
}

export interface TlsReport {
  'organization-name': string;
  'date-range': { 'start-datetime': string; 'end-datetime': string };
  'contact-info': string;
  'report-id': string;
  policies: Array<{
    policy: { 'policy-type': string; 'policy-string'?: string[]; 'policy-domain': string; 'mx-host'?: string[] };
    summary: { 'total-successful-session-count': number; 'total-failure-session-count': number };
    'failure-details'?: Array<{
      'result-type': string;
      'sending-mta-ip'?: string;
      'receiving-mx-hostname'?: string;
      'receiving-ip'?: string;
      'failed-session-count': number;
      'failure-reason-code'?: string;
    }>;
  }>;
}

/** The report-id of one domain's day: stable, so a report sent again is recognised as the same. */
export function reportId(day: string, policyDomain: string, source: ReportSource): string {
  return `${day}T00:00:00Z_${policyDomain}@${source.submitter}`;
}

/** One UTC day's report for `policyDomain` from its counters: one entry per policy seen, with its failures. */
export function buildReport(day: string, policyDomain: string, counts: TlsSessionCount[], source: ReportSource): TlsReport {
  const policies = new Map<string, TlsReport['policies'][number]>();
  for (const c of counts) {
    const key = JSON.stringify([c.policyType, c.policyStrings, c.mxHosts]);
    let p = policies.get(key);
    if (!p) {
      p = {
        policy: {
          'policy-type': c.policyType,
          ...(c.policyStrings.length > 0 ? { 'policy-string': c.policyStrings } : {}),
          'policy-domain': policyDomain,
          ...(c.mxHosts.length > 0 ? { 'mx-host': c.mxHosts } : {}),
        },
        summary: { 'total-successful-session-count': 0, 'total-failure-session-count': 0 },
      };
      policies.set(key, p);
    }
    if (c.result === 'success') {
      p.summary['total-successful-session-count'] += c.count;
      continue;
    }
    p.summary['total-failure-session-count'] += c.count;
    (p['failure-details'] ??= []).push({
      'result-type': c.result,
      ...(c.sendingIp ? { 'sending-mta-ip': c.sendingIp } : {}),
      ...(c.receivingMx ? { 'receiving-mx-hostname': c.receivingMx } : {}),
      ...(c.receivingIp ? { 'receiving-ip': c.receivingIp } : {}),
      'failed-session-count': c.count,
      ...(c.reasonCode ? { 'failure-reason-code': c.reasonCode } : {}),
    });
  }
  return {
    'organization-name': source.organization,
    'date-range': { 'start-datetime': `${day}T00:00:00Z`, 'end-datetime': `${day}T23:59:59Z` },
    'contact-info': source.contact,
    'report-id': reportId(day, policyDomain, source),
    policies: [...policies.values()],
  };
}

/** "<submitter>!<policy domain>!<begin>!<end>.json.gz", times in seconds (§5.1). */
export function reportFileName(day: string, policyDomain: string, source: ReportSource): string {
  const begin = Date.parse(`${day}T00:00:00Z`) / 1000;
  return `${source.submitter}!${policyDomain}!${begin}!${begin + 86399}.json.gz`;
}

/** The message for a mailto: address: multipart/report with the gzipped report attached (§5.3). */
export function reportMail(to: string, day: string, policyDomain: string, gzipped: Buffer, source: ReportSource, date: Date): string {
  const id = reportId(day, policyDomain, source);
  const boundary = `tlsrpt-${Buffer.from(id).toString('hex').slice(0, 24)}`;
  const base64 = gzipped.toString('base64').replace(/.{1,76}/g, '$&\r\n');
  return [
    `From: ${source.contact}`,
    `To: ${to}`,
    `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
    `Subject: Report Domain: ${policyDomain} Submitter: ${source.submitter} Report-ID: <${id}>`,
    `TLS-Report-Domain: ${policyDomain}`,
    `TLS-Report-Submitter: ${source.submitter}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    `This is an aggregate TLS report (RFC 8460) from ${source.submitter} for ${policyDomain}, ${day} (UTC).`,
    '',
    `--${boundary}`,
    'Content-Type: application/tlsrpt+gzip',
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="${reportFileName(day, policyDomain, source)}"`,
    '',
    base64.trimEnd(),
    `--${boundary}--`,
    '',
  ].join('\r\n');
}
