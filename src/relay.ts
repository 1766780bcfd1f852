// The relay's parts, built and connected: the store and spool, the event log and its listeners
// (metrics, webhooks), the tenant directory and domain checks, suppression, the queue, scheduler
// and deliverer, TLS reports, inbound bounces and parcel tracking. Listeners (SMTP, HTTP) are main.ts's.
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config/types.js';
import type { Resolver } from 'node:dns/promises';
import { dnsResolver } from './delivery/mx.js';
import { createDeliverer } from './delivery/deliverers.js';
import { planDelivery } from './delivery/plan.js';
import { DomainVerifier } from './identity/domain-verifier.js';
import { loadVerpSecret } from './identity/verp.js';
import { laneFor } from './queue/lanes.js';
import { MailQueue } from './queue/queue.js';
import { Scheduler } from './queue/scheduler.js';
import { Spool } from './queue/spool.js';
import { DiskSpace } from './queue/disk-space.js';
import type { MessageRecord, QueueEvent } from './store/records.js';
import { Directory } from './tenants/directory.js';
import { EventLog } from './store/event-log.js';
import { SuppressionList } from './store/suppression.js';
import { openStore, type Store } from './store/open.js';
import type { ChangeTopic } from './store/ports.js';
import { Leases, type LeaseGate } from './store/lease.js';
import type { OptOutList } from './store/opt-outs.js';
import { Metrics } from './admin/metrics.js';
import { clusterStatus } from './admin/cluster.js';
import { deliveryOutcomeOps } from './bounces/processor.js';
import { InboundBounces } from './bounces/inbound.js';
import { SoftBounceCounter } from './bounces/soft-bounces.js';
import { WebhookDispatcher } from './webhooks/dispatcher.js';
import { createTrackingService, type TrackingService } from './tracking/service.js';
import { RetentionJob } from './retention/job.js';
import { SendLimiter } from './queue/send-limits.js';
import { tlsReportJob, type TlsReportJob } from './tls-reports/job.js';
import { AuthFailureAlarm } from './security/login-throttle.js';

export interface Relay {
  store: Store;
  spool: Spool;
  events: EventLog;
  metrics: Metrics;
  webhooks: WebhookDispatcher;
  directory: Directory;
  domains: DomainVerifier;
  suppression: SuppressionList;
  optOuts: OptOutList;
  scheduler: Scheduler;
  queue: MailQueue;
  bounces: InboundBounces;
  tracking: TrackingService;
  /** Writes events (error-log entries that belong to no message) to the event log. */
  recordEvents(events: QueueEvent[]): Promise<void>;
  disk: DiskSpace;
  /** Per-shop and per-login sending limits, checked by the submission listener. */
  limits: SendLimiter;
  tlsReports: TlsReportJob; // TLS sessions of direct delivery counted, and the daily reports sent (RFC 8460)
  loginAlarm: AuthFailureAlarm; // failed SMTP logins over all users and addresses (fed by the submission listener)
  resolver: Resolver;
  verpSecret: Buffer;
  /** The leases this node asks for (work that runs on one node at a time). */
  leases: ReadonlyMap<string, LeaseGate>;
  /** Starts the background work: deliveries, webhooks, tracking (unless told not to), the inbound backlog. */
  start(opts: { trackingLoop: boolean }): Promise<void>;
  /** Stops taking new work and lets what runs finish (deliveries get `grace` ms). */
  stopWork(grace: number): Promise<void>;
  /** Closes the rest, the store last. */
  close(): Promise<void>;
}

export async function buildRelay(config: Config, log: Logger, opts: { now?: () => number } = {}): Promise<Relay> {
  const store = await openStore(config.dataDir, config.store);
  const spool = await Spool.open(path.join(config.dataDir, 'spool'), store, log);
  const metrics = new Metrics();
  const webhooks = new WebhookDispatcher(store.webhooks, config.webhooks, log);
  const events = new EventLog(store, (e) => metrics.observe(e), (e) => webhooks.opsForEvent(e));

  const resolver = dnsResolver(config.dns.servers);
  const tlsReports = tlsReportJob(config, { store: store.tlsReports, resolver, log, submit: (mail) => queue.submit(mail), ...(opts.now ? { now: opts.now } : {}) });
  const deliverer = createDeliverer(config, resolver, log, (sessions) => tlsReports.record(sessions));

  const directory = new Directory(config, store.tenants);
  for (const problem of await directory.load()) log.error({ problem }, 'a stored tenant network is too wide and is not used; set the shop\'s networks again through the API');
  const domains = new DomainVerifier({ system: config.system, tenants: () => directory.tenants() }, resolver, store.domains, log);
  directory.onChange(() => void domains.tenantsChanged());
  // With several nodes: one at a time checks domains, delivers webhooks and tracks parcels (a lease
  // each), and every node re-reads what another changed.
  const leases = new Leases(store.cluster);
  const lease = (name: string) => leases.gate(name);
  const follow: Array<[ChangeTopic, () => Promise<void>]> = [['tenants', async () => void (await directory.load())], ['domains', () => domains.reload()], ['webhooks', () => webhooks.reload()]];
  for (const [topic, fn] of follow) store.cluster.onChange(topic, () => void fn().catch((err: Error) => log.warn({ err: err.message, topic }, 'reload after a change on another node failed')));
  await domains.start(lease('domain-checks'));
  const verpSecret = await loadVerpSecret(config.dataDir, config.system.verpSecret, (make) => store.cluster.sharedSecret('verp', make));

  const deliverMessage = async (record: MessageRecord, recipients: string[], body?: Buffer) => {
    const plan = planDelivery(record, recipients, {
      sender: directory.senderFor(record.tenant, record.source),
      tenant: directory.tenant(record.tenant),
      verifiedSigners: domains.verifiedSigners(),
      unverifiedReasons: domains.reasons(),
      system: config.system, returnPath: config.queue.returnPath,
      verpSecret,
    });
    return deliverer.deliver(plan.upstream, plan.envelope, body ? { kind: 'buffer', data: body } : spool.bodyLocation(record.body), plan.prepare);
  };

  const suppression = new SuppressionList(store, (entry) => webhooks.opsForSuppression(entry));
  const softBounces = new SoftBounceCounter(store, events);
  const scheduler = new Scheduler({
    spool, events, deliverMessage,
    policy: { retrySchedule: config.queue.retrySchedule, maxAge: config.queue.maxAge },
    concurrency: config.queue.concurrency,
    keepBodies: config.retention.bodies,
    keepBodiesPerTenant: config.retention.bodiesPerTenant,
    ...(opts.now ? { now: opts.now } : {}),
    // A 5xx "no such user" during delivery is the bounce (direct MX delivery gets no bounce message): suppress as for one.
    outcomeOps: (event) => deliveryOutcomeOps(event, suppression, softBounces),
    lane: (record) => laneFor(record, directory.senderFor(record.tenant, record.source).upstream),
    ...(store.cluster.slot ? { laneSlot: store.cluster.slot } : {}),
    log,
  });
  const optOuts: OptOutList = store.optOuts;
  const recordEvents = (evs: QueueEvent[]) => spool.appendEvents(evs.flatMap((e) => events.ops(e)));
  const tracking = createTrackingService(config.tracking, {
    store, tenants: directory, systemSender: config.system.sender,
    submit: (tenant, envelope, body) => queue.submit({ tenant, envelope, body, source: { kind: 'tracking' } }),
    queuedByMessageId: (messageId) => spool.byMessageId(messageId),
    recordEvents,
    hostname: config.system.hostname,
    log,
    ...(opts.now ? { now: opts.now } : {}),
  });
  const queue = new MailQueue({
    spool, events, suppression, scheduler, optOuts, tenant: (id) => directory.tenant(id), limits: config.limits, log,
    adminCopies: (tenant, category) => tracking.adminCopies(tenant, category),
  });
  const bounces = new InboundBounces({ spool, store, events, suppression, verpSecret, bounceDomain: config.system.bounceDomain, log }, config.dataDir, config.limits.bounceParseTimeout, log);
  const disk = DiskSpace.forLimits(config.dataDir, config.limits, log);
  const retention = new RetentionJob(store, config.retention, log, opts.now);
  const loginAlarm = new AuthFailureAlarm(config.limits.authFailureAlarm);
  metrics.watch({ queue: () => queueGauges(spool), tracking: () => tracking.worker.stats, cluster: () => clusterStatus(store.cluster, store.engine, leases.all), logins: () => ({ ...loginAlarm.totals, active: loginAlarm.active() }) });
  const limits = new SendLimiter(store.stats, opts.now);

  return {
    recordEvents, store, spool, events, metrics, webhooks, directory, domains, suppression, optOuts, scheduler, queue, bounces, tracking, disk, resolver, verpSecret, leases: leases.all, limits, tlsReports, loginAlarm,
    async start({ trackingLoop }) {
      scheduler.start();
      await webhooks.start(lease('webhooks'));
      if (trackingLoop) tracking.worker.start(1000, lease('tracking'));
      void bounces.backlog();
      spool.startAdopting();
      retention.start(lease('retention'));
      tlsReports.start(lease('tls-reports'));
    },
    async stopWork(grace) {
      spool.stopAdopting();
      await Promise.all([retention.stop(), tlsReports.stop()]);
      // The tracking cycle in progress finishes (a notice is never cut between "sending" and "sent").
      await tracking.worker.stop();
      const { abandoned } = await scheduler.stop(grace);
      if (abandoned > 0) log.warn({ abandoned }, 'deliveries still in flight were abandoned; they retry after restart');
    },
    async close() {
      domains.stop();
      await webhooks.stop();
      await bounces.close();
      await deliverer.close();
      await spool.close();
      await store.close();
    },
  };
}

/** What the queue gauges of /metrics show: depth, the earliest due time, the oldest acceptance time. */
async function queueGauges(spool: Spool): Promise<{ depth: number; nextDue?: number; oldestAcceptedAt?: number }> {
  const [depth, nextDue, oldestAcceptedAt] = await Promise.all([spool.depth(), spool.nextDue(), spool.oldestQueuedAt()]);
  return { depth, ...(nextDue !== undefined ? { nextDue } : {}), ...(oldestAcceptedAt !== undefined ? { oldestAcceptedAt } : {}) };
}
