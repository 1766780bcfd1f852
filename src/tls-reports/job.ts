// The TLS report job (RFC 8460): counts the TLS sessions of direct delivery under MTA-STS and DANE
// per recipient domain and UTC day (the store's TlsReportStore), and once a day is over sends each
// domain that publishes `_smtp._tls.<domain>` its report — gzipped JSON POSTed to its https:
// addresses (through mailgate's resolver, no private addresses unless allowed, no redirects) and
// mailed to its mailto: addresses through mailgate's own queue (tenant "tls-reports", so DKIM
// signing and retries are the queue's). A day is forgotten once one address took it, when the
// domain asks for no report, or after GIVE_UP_DAYS. Runs hourly on one node at a time (a lease).
// Config: secureDelivery.tlsReports. Imports: config types, the store, security/public-lookup.
import type { Resolver } from 'node:dns/promises';
import { Readable } from 'node:stream';
import tls from 'node:tls';
import { gzipSync } from 'node:zlib';
import type { Logger } from 'pino';
import type { Config, TlsReportsConfig } from '../config/types.js';
import type { TlsReportStore } from '../store/ports.js';
import type { TlsSession } from '../store/records.js';
import { utcDay } from '../store/tls-reports.js';
import { LeasedSchedule } from '../store/lease.js';
import { publicLookup, refusedLiteral } from '../security/public-lookup.js';
import { postTo } from '../security/public-post.js';
import { buildReport, parseTlsRptTxt, reportMail, type ReportSource } from './report.js';

const EVERY_MS = 3600_000;
const GIVE_UP_DAYS = 3;
/**
 * A day is reported this long after it ends: a delivery attempt that started before midnight records
 * its session when it ends, and a session recorded after its day's report would make a second one.
 */
const REPORT_DELAY_MS = 60 * 60 * 1000;
/** The tenant the relay's own report mail is queued under. */
export const REPORT_TENANT = 'tls-reports';

/** A report e-mail, in the shape of the queue's submit() input. */
export interface ReportSubmission {
  tenant: string;
  envelope: { from: string; to: string[] };
  body: Readable;
  source: { kind: 'api' };
}

/** The job as the config sets it up: names from `system`, settings from `secureDelivery`. */
export function tlsReportJob(config: Config, deps: Omit<TlsReportDeps, 'settings'>): TlsReportJob {
  const { tlsReports, ca } = config.secureDelivery;
  return new TlsReportJob({ ...deps, settings: { ...tlsReports, submitter: config.system.hostname, ...(ca ? { ca } : {}) } });
}

export interface TlsReportDeps {
  store: TlsReportStore;
  resolver: Resolver;
  settings: TlsReportsConfig & { submitter: string; ca?: string };
  /** Queues a mailto: report (the relay's queue's submit()). */
  submit(mail: ReportSubmission): Promise<unknown>;
  log: Logger;
  now?: () => number;
}

/** What one run did for one domain's day. */
export interface SentReport {
  day: string;
  policyDomain: string;
  /** Addresses that took the report (an https: 2xx, or a mailto: queued). */
  delivered: string[];
  /** Addresses that did not, with why. */
  failed: Array<{ to: string; error: string }>;
}

export class TlsReportJob {
  private readonly schedule: LeasedSchedule;
  private readonly now: () => number;

  constructor(private readonly deps: TlsReportDeps) {
    this.now = deps.now ?? Date.now;
    this.schedule = new LeasedSchedule(() => this.runOnce(), (err) => deps.log.warn({ err: err.message }, 'TLS reports: the run failed; trying again in an hour'));
  }

  /** Counts sessions (nothing when reports are off); a failed write is logged, never thrown at delivery. */
  record(sessions: TlsSession[]): void {
    if (!this.deps.settings.enabled || sessions.length === 0) return;
    this.deps.store.record(sessions).catch((err: Error) => this.deps.log.warn({ err: err.message, sessions: sessions.length }, 'TLS reports: sessions could not be counted'));
  }

  /** Runs a minute after start, then hourly, while `mayRun` (a lease) says this node is the one. */
  start(mayRun: () => Promise<boolean>, firstAfterMs = 60_000): void {
    if (this.deps.settings.enabled) this.schedule.start(mayRun, firstAfterMs, EVERY_MS);
  }

  stop(): Promise<void> {
    return this.schedule.stop();
  }

  /** Sends the reports of every finished day not sent yet. */
  async runOnce(): Promise<SentReport[]> {
    const now = this.now();
    const out: SentReport[] = [];
    for (const { day, policyDomain } of await this.deps.store.pending(utcDay(now - REPORT_DELAY_MS), 500)) {
      const old = now - Date.parse(`${day}T00:00:00Z`) > (GIVE_UP_DAYS + 1) * 86400_000;
      const rua = await this.addresses(policyDomain);
      if (rua === undefined && !old) continue; // DNS trouble: next hour
      const sent = rua && rua.length > 0 ? await this.send(day, policyDomain, rua) : undefined;
      if (sent) out.push(sent);
      if (!sent || sent.delivered.length > 0 || old) await this.deps.store.remove(day, policyDomain);
      if (sent && sent.delivered.length === 0 && old) this.deps.log.warn({ day, policyDomain, failed: sent.failed }, 'TLS reports: giving up on a report no address took');
    }
    return out;
  }

  /** The domain's report addresses; [] when it asks for none, undefined when DNS could not tell. */
  private async addresses(domain: string): Promise<string[] | undefined> {
    try {
      return parseTlsRptTxt(await this.deps.resolver.resolveTxt(`_smtp._tls.${domain}`));
    } catch (err) {
      const code = (err as { code?: string }).code;
      return code === 'ENOTFOUND' || code === 'ENODATA' ? [] : undefined;
    }
  }

  private async send(day: string, policyDomain: string, rua: string[]): Promise<SentReport> {
    const { settings } = this.deps;
    const source: ReportSource = { organization: settings.organization, contact: settings.contact, submitter: settings.submitter };
    const gzipped = gzipSync(JSON.stringify(buildReport(day, policyDomain, await this.deps.store.counts(day, policyDomain), source)));
    const result: SentReport = { day, policyDomain, delivered: [], failed: [] };
    for (const to of rua) {
      try {
        if (/^mailto:/i.test(to)) {
          const address = decodeURIComponent(to.slice(7).split('?')[0]!);
          const message = reportMail(address, day, policyDomain, gzipped, source, new Date(this.now()));
          await this.deps.submit({ tenant: REPORT_TENANT, envelope: { from: settings.contact, to: [address] }, body: Readable.from([Buffer.from(message)]), source: { kind: 'api' } });
        } else {
          await this.upload(to, gzipped);
        }
        result.delivered.push(to);
      } catch (err) {
        result.failed.push({ to, error: (err as Error).message });
      }
    }
    this.deps.log.info({ day, policyDomain, delivered: result.delivered, failed: result.failed }, `TLS report for ${policyDomain} (${day}) sent to ${result.delivered.length} of ${rua.length} address(es)`);
    return result;
  }

  /** POST application/tlsrpt+gzip; a 2xx answer is success (§5.4). */
  private async upload(url: string, body: Buffer): Promise<void> {
    const { settings, resolver } = this.deps;
    const target = new URL(url);
    const privacy = { allowPrivate: settings.allowPrivateTargets, setting: 'secureDelivery.tlsReports.allowPrivateTargets' };
    const refused = refusedLiteral(target.hostname, privacy);
    const { status, error } = await postTo(target, body, { 'content-type': 'application/tlsrpt+gzip', 'user-agent': 'mailgate-tlsrpt/1' }, {
      timeoutMs: settings.timeout, lookup: publicLookup(resolver, privacy),
      ...(refused ? { refused } : {}),
      ...(settings.ca ? { ca: [...tls.rootCertificates, settings.ca] } : {}),
    });
    if (status === undefined) throw new Error(error ?? 'no answer');
    if (status < 200 || status >= 300) throw new Error(`HTTP ${status}`);
  }
}
