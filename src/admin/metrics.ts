// Prometheus metrics on prom-client, in a registry of their own: Node's process, GC and event-loop-lag
// metrics; per-tenant recipient counters fed by the event log (mailgate_recipients_*, and until the
// next release the old mailgate_messages_* names as deprecated duplicates); delivery outcomes per
// upstream and per recipient domain (metric-domains.ts bounds the domains); a delivery latency
// histogram; and gauges read at scrape time from the queue, the tracking worker and the cluster.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { QueueEvent } from '../store/records.js';
import type { ClusterStatus } from './cluster.js';
import { DomainLabels } from './metric-domains.js';

/** Event type → the recipient counter's name and help, and the deprecated name it replaces. */
const RECIPIENT_COUNTERS: Record<string, { name: string; help: string; deprecated?: string }> = {
  accepted: { name: 'mailgate_recipients_accepted_total', help: 'Recipients accepted for delivery.', deprecated: 'mailgate_messages_accepted_total' },
  delivered: { name: 'mailgate_recipients_delivered_total', help: 'Recipients delivered (upstream answered 2xx).', deprecated: 'mailgate_messages_delivered_total' },
  deferred: { name: 'mailgate_recipients_deferred_total', help: 'Delivery attempts deferred (4xx or network), per recipient.', deprecated: 'mailgate_messages_deferred_total' },
  failed: { name: 'mailgate_recipients_failed_total', help: 'Recipients failed (5xx, suppressed, invalid, deleted).', deprecated: 'mailgate_messages_failed_total' },
  expired: { name: 'mailgate_recipients_expired_total', help: 'Recipients that expired in the queue.', deprecated: 'mailgate_messages_expired_total' },
  bounced: { name: 'mailgate_recipients_bounced_total', help: 'Bounces received after delivery, per recipient.', deprecated: 'mailgate_messages_bounced_total' },
  complained: { name: 'mailgate_complaints_total', help: 'Complaints (ARF reports) received.' },
  'app-error': { name: 'mailgate_app_errors_total', help: 'Application errors recorded by tenants\' apps (POST /api/v1/errors).' },
};

/** Event type → outcome label of the per-upstream and per-domain counters (failed counts only when an upstream refused). */
const OUTCOME: Record<string, string> = { delivered: 'delivered', deferred: 'deferred', failed: 'bounced', bounced: 'bounced', expired: 'expired' };

/** Seconds. */
const BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400];

/** What the gauges show, read once per scrape before the registry renders. */
interface Snapshot {
  queue?: Awaited<ReturnType<MetricSources['queue']>>;
  tracking?: ReturnType<MetricSources['tracking']>;
  cluster?: ClusterStatus;
  logins?: ReturnType<NonNullable<MetricSources['logins']>>;
}

export interface MetricSources {
  queue(): Promise<{ depth: number; nextDue?: number; oldestAcceptedAt?: number }>;
  tracking(): { checks: number; carrierFailures: number; noticesSent: number; noticesFailed: number; reports: number };
  cluster(): Promise<ClusterStatus>;
  /** Failed and throttled SMTP logins since start, login alarms raised, and whether the alarm is on now. */
  logins?(): { failed: number; throttled: number; alarms: number; active: boolean };
}

export class Metrics {
  readonly registry = new Registry();
  private readonly recipients = new Map<string, Counter<'tenant'>[]>();
  private readonly byUpstream: Counter<'upstream' | 'outcome'>;
  private readonly byDomain: Counter<'domain' | 'outcome'>;
  private readonly latency: Histogram;
  private readonly domains = new DomainLabels();
  private sources: MetricSources | undefined;
  private snapshot: Snapshot = {};

  constructor(private readonly now: () => number = Date.now) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    for (const [type, c] of Object.entries(RECIPIENT_COUNTERS)) {
      const counters = [new Counter({ name: c.name, help: c.help, labelNames: ['tenant'], registers })];
      if (c.deprecated) counters.push(new Counter({ name: c.deprecated, help: `DEPRECATED, removed in the next release: use ${c.name}. ${c.help}`, labelNames: ['tenant'], registers }));
      this.recipients.set(type, counters);
    }
    this.byUpstream = new Counter({ name: 'mailgate_upstream_recipients_total', help: 'Delivery outcomes per upstream (configured name): delivered, deferred (per attempt), bounced (refused 5xx), expired.', labelNames: ['upstream', 'outcome'], registers });
    this.byDomain = new Counter({ name: 'mailgate_domain_recipients_total', help: 'Delivery outcomes per recipient domain (big providers, the busiest others, the rest "other"): delivered, deferred, bounced, expired.', labelNames: ['domain', 'outcome'], registers });
    this.latency = new Histogram({ name: 'mailgate_delivery_latency_seconds', help: 'Time from acceptance to delivery.', buckets: BUCKETS, registers });
    this.gauges(registers);
  }

  /** Where the gauges read their values at scrape time (set once the relay's parts exist). */
  watch(sources: MetricSources): void {
    this.sources = sources;
  }

  /** Called for every event written to the event log. */
  observe(event: QueueEvent): void {
    for (const c of this.recipients.get(event.type) ?? []) c.inc({ tenant: event.tenant });
    if (event.type === 'delivered' && event.latencyMs !== undefined) this.latency.observe(event.latencyMs / 1000);
    const outcome = OUTCOME[event.type];
    // A failure without an upstream never reached one (suppressed, unsubscribed, deleted): not a delivery outcome.
    if (!outcome || (event.type === 'failed' && !event.upstream)) return;
    if (event.upstream) this.byUpstream.inc({ upstream: event.upstream.split('/')[0]!, outcome });
    this.byDomain.inc({ domain: this.domains.label(event.recipient), outcome });
  }

  /** The Prometheus text exposition (the gauges' sources are read first, once). */
  async render(): Promise<string> {
    const s = this.sources;
    if (s) {
      const [queue, cluster] = await Promise.all([s.queue(), s.cluster()]);
      this.snapshot = { queue, cluster, tracking: s.tracking(), ...(s.logins ? { logins: s.logins() } : {}) };
    }
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private gauges(registers: Registry[]): void {
    const snap = () => this.snapshot;
    const ageOf = (t: number | undefined) => (t === undefined ? 0 : Math.max(0, (this.now() - t) / 1000));
    new Gauge({ name: 'mailgate_queue_depth', help: 'Messages waiting for delivery or retry.', registers, collect() { this.set(snap().queue?.depth ?? 0); } });
    new Gauge({ name: 'mailgate_queue_oldest_age_seconds', help: 'How long ago the oldest queued message was accepted (0 when the queue is empty).', registers, collect() { this.set(ageOf(snap().queue?.oldestAcceptedAt)); } });
    new Gauge({ name: 'mailgate_queue_oldest_due_age_seconds', help: 'How long the earliest scheduled message has been due (0 if none is late).', registers, collect() { this.set(ageOf(snap().queue?.nextDue)); } });
    const tracking: Array<[string, string, keyof ReturnType<MetricSources['tracking']>]> = [
      ['mailgate_tracking_checks_total', 'Shipments checked with their carrier.', 'checks'],
      ['mailgate_tracking_carrier_failures_total', 'Carrier calls that failed (retried later, no notices).', 'carrierFailures'],
      ['mailgate_tracking_notices_sent_total', 'Buyer notices handed to the queue or a phone gateway.', 'noticesSent'],
      ['mailgate_tracking_notices_failed_total', 'Buyer notices that failed for good.', 'noticesFailed'],
      ['mailgate_tracking_reports_total', 'Daily shop admin reports sent.', 'reports'],
    ];
    for (const [name, help, key] of tracking) {
      new Counter({ name, help, registers, collect() {
        this.reset();
        this.inc(snap().tracking?.[key] ?? 0);
      } });
    }
    new Counter({ name: 'mailgate_smtp_auth_failures_total', help: 'Failed SMTP logins: wrong credentials (failed) and attempts refused by the failure limits (throttled).', labelNames: ['result'], registers, collect() {
      const l = snap().logins;
      this.reset();
      this.inc({ result: 'failed' }, l?.failed ?? 0);
      this.inc({ result: 'throttled' }, l?.throttled ?? 0);
    } });
    new Counter({ name: 'mailgate_smtp_auth_alarms_total', help: 'Times the login alarm went off (limits.authFailureAlarm failed logins in 10 minutes).', registers, collect() {
      this.reset();
      this.inc(snap().logins?.alarms ?? 0);
    } });
    new Gauge({ name: 'mailgate_smtp_auth_alarm', help: '1 while failed SMTP logins in the last 10 minutes are at or above limits.authFailureAlarm.', registers, collect() {
      this.set(snap().logins?.active ? 1 : 0);
    } });
    new Gauge({ name: 'mailgate_node_info', help: 'This node (its id) and the store it uses.', labelNames: ['node', 'engine'], registers, collect() {
      const s = snap().cluster;
      this.reset();
      if (s) this.set({ node: s.node, engine: s.engine }, 1);
    } });
    new Gauge({ name: 'mailgate_cluster_heartbeat_age_seconds', help: 'Seconds since each node of the cluster last wrote its heartbeat.', labelNames: ['node'], registers, collect() {
      this.reset();
      for (const n of snap().cluster?.nodes ?? []) this.set({ node: n.id }, n.heartbeatAgeSeconds);
    } });
    new Gauge({ name: 'mailgate_lease_held', help: '1 when this node holds the lease of that work (one node at a time runs it).', labelNames: ['lease'], registers, collect() {
      this.reset();
      for (const [name, held] of Object.entries(snap().cluster?.leases ?? {})) this.set({ lease: name }, held ? 1 : 0);
    } });
  }
}
