// Composition root: opens the store and spool, wires queue → scheduler → delivery, starts the
// submission, inbound and admin listeners, and shuts everything down cleanly.
import { dnsResolver } from './delivery/mx.js';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from './config/types.js';
import { createAdminApp } from './admin/app.js';
import { ThreadedDeliverer } from './delivery/threaded.js';
import { InlineDeliverer } from './delivery/inline.js';
import { sendTestMail } from './delivery/test-mail.js';
import { DomainVerifier } from './identity/domain-verifier.js';
import { loadVerpSecret } from './identity/verp.js';
import { planDelivery } from './delivery/plan.js';
import { laneFor } from './queue/lanes.js';
import { addressText, SmtpListeners } from './smtp/listen.js';
import { MailQueue } from './queue/queue.js';
import { Scheduler } from './queue/scheduler.js';
import { Spool } from './queue/spool.js';
import type { MessageRecord } from './store/records.js';
import { Directory } from './tenants/directory.js';
import { TenantStore } from './store/tenant-store.js';
import { EventLog } from './store/event-log.js';
import { Metrics } from './admin/metrics.js';
import { SuppressionList } from './store/suppression.js';
import { TenantTokens } from './store/api-tokens.js';
import { deliveryOutcomeOps } from './bounces/processor.js';
import { InboundBounces } from './bounces/inbound.js';
import { SoftBounceCounter } from './bounces/soft-bounces.js';
import { GroupCommit } from './store/group-commit.js';
import { openStore } from './store/level.js';
import { WebhookStore } from './store/webhooks.js';
import { OptOutList } from './store/opt-outs.js';
import { backupStream } from './backup/backup.js';
import { DiskSpace } from './queue/disk-space.js';
import { mailtoUnsubscribe } from './unsubscribe/mailto.js';
import { needsRestart, RELOADED } from './config/reload.js';
import { WebhookDispatcher } from './webhooks/dispatcher.js';
import type { TrackingWorker } from './tracking/worker.js';
import { createTrackingService } from './tracking/service.js';
import { runtimeInfoPath, writeRuntimeInfo } from './runtime-info.js';

export interface RunningMailgate {
  addresses: { submission: string; inbound: string; admin: string; submissions?: string };
  queue: MailQueue;
  scheduler: Scheduler;
  events: EventLog;
  /** The parcel tracking worker (tests drive its cycles with an injected clock). */
  tracking: TrackingWorker;
  /** Applies a re-read config (SIGHUP): what took effect, and which changed sections need a restart. Throws if it is refused. */
  reload(next: Config): Promise<{ applied: string[]; needsRestart: string[] }>;
  stop(): Promise<void>;
}


export interface StartOptions {
  /** The clock of the tracking worker (poll schedule, reminders, sending window); tests inject one. */
  now?: () => number;
  /** Start the tracking worker's own loop (default true; tests may drive runOnce() themselves). */
  trackingLoop?: boolean;
}

export async function startMailgate(config: Config, log: Logger, opts: StartOptions = {}): Promise<RunningMailgate> {
  const store = await openStore(config.dataDir);
  let spool: Spool | undefined;
  const commit = new GroupCommit(store.db, () => spool!.syncDir());
  spool = await Spool.open(path.join(config.dataDir, 'spool'), store, commit, log);
  const metrics = new Metrics();
  const webhooks = new WebhookDispatcher(new WebhookStore(store), config.webhooks, log);
  const events = new EventLog(store, (e) => metrics.observe(e), (e) => webhooks.opsForEvent(e));

  const resolver = dnsResolver(config.dns.servers);
  const deliverer = config.queue.deliveryThread
    ? new ThreadedDeliverer({ hostname: config.system.hostname, dnsServers: config.dns.servers, logLevel: config.logLevel }, log)
    : new InlineDeliverer(config.system.hostname, resolver, log);
  const openSpool = spool;

  let adminTokens = config.admin.tokens;
  const directory = new Directory(config, new TenantStore(store.tenants, store.upstreams));
  await directory.load();
  const domains = new DomainVerifier({ system: config.system, tenants: () => directory.tenants() }, resolver, store.domains, log);
  directory.onChange(() => void domains.tenantsChanged());
  await domains.start();
  const verpSecret = await loadVerpSecret(config.dataDir, config.system.verpSecret);

  const deliverMessage = async (record: MessageRecord, recipients: string[], body?: Buffer) => {
    const plan = planDelivery(record, recipients, {
      sender: directory.senderFor(record.tenant, record.source),
      tenant: directory.tenant(record.tenant),
      verifiedSigners: domains.verifiedSigners(),
      unverifiedReasons: domains.reasons(),
      system: config.system,
      verpSecret,
    });
    return deliverer.deliver(plan.upstream, plan.envelope, body ? { kind: 'buffer', data: body } : openSpool.bodyLocation(record.body), plan.prepare);
  };

  const suppression = new SuppressionList(store, (entry) => webhooks.opsForSuppression(entry));
  const softBounces = new SoftBounceCounter(store, events);
  const scheduler = new Scheduler({
    spool,
    events,
    deliverMessage,
    policy: { retrySchedule: config.queue.retrySchedule, maxAge: config.queue.maxAge },
    concurrency: config.queue.concurrency,
    // A 5xx "no such user" during delivery is the bounce (direct MX delivery gets no bounce message): suppress as for one.
    outcomeOps: (event) => deliveryOutcomeOps(event, suppression, softBounces),
    lane: (record) => laneFor(record, directory.senderFor(record.tenant, record.source).upstream),
    log,
  });
  const optOuts = new OptOutList(store.optOuts);
  const tracking = createTrackingService(config.tracking, {
    store,
    tenant: (id) => {
      const t = directory.tenant(id);
      return t ? { name: t.name, from: directory.senderFor(id, { kind: 'tracking' }).from ?? config.system.sender } : undefined;
    },
    submit: (tenant, envelope, body) => queue.submit({ tenant, envelope, body, source: { kind: 'tracking' } }),
    queuedByMessageId: (messageId) => openSpool.byMessageId(messageId),
    recordEvents: (evs) => openSpool.appendEvents(evs.flatMap((e) => events.ops(e))),
    hostname: config.system.hostname,
    log,
    ...(opts.now ? { now: opts.now } : {}),
  });
  const queue = new MailQueue({
    spool, events, suppression, scheduler, optOuts, tenant: (id) => directory.tenant(id), limits: config.limits, log,
    adminCopies: (tenant, category) => tracking.adminCopies(tenant, category),
  });
  const bounces = new InboundBounces({ spool, store, events, suppression, commit, verpSecret, bounceDomain: config.system.bounceDomain, log }, config.dataDir, config.limits.bounceParseTimeout, log);
  const disk = new DiskSpace(config.dataDir, config.limits.minFreeSpace ?? Math.round(1.5 * config.limits.maxMessageSize) + 64 * 1024 * 1024, log);
  const smtp = new SmtpListeners(config, { config, access: () => directory.access(), queue, log, disk }, { onStored: (file) => bounces.handle(file), unsubscribe: mailtoUnsubscribe(verpSecret, optOuts, log) }, log);
  let listening = false;
  const admin = await createAdminApp({
    allowPrivateTenantUpstreams: () => config.admin.allowPrivateTenantUpstreams,
    signIns: {
      get: async (k) => (await store.consoleSignIns.get(k)) as number | undefined,
      set: (k, t) => store.consoleSignIns.put(k, t),
    },
    shipments: tracking.shipments,
    intake: tracking.intake,
    phoneGateways: () => new Set(tracking.gateways.keys()),
    tenantTokens: new TenantTokens(store),
    metrics: async () => {
      const next = await openSpool.nextDue();
      return metrics.render({ queueDepth: await openSpool.depth(), nextDueSeconds: next === undefined ? null : (Date.now() - next) / 1000 }) + tracking.worker.metrics();
    },
    queue,
    directory,
    webhooks,
    optOuts,
    scheduler,
    backup: () => backupStream({ db: store.db, dataDir: config.dataDir, hold: () => openSpool.hold() }),
    unsubscribeSecret: verpSecret,
    systemUpstream: () => directory.systemUpstream(),
    testMail: (upstream, to) => sendTestMail(upstream, { to, from: config.system.sender.address, hostname: config.system.hostname, resolver }),
    suppression,

    tokens: () => adminTokens,
    domains,
    events,
    spool,
    healthy: () => ({ ok: listening, checks: { store: store.db.status === 'open', submission: listening, inbound: listening } }),
  });

  const addresses: RunningMailgate['addresses'] = { ...(await smtp.listen()), admin: '' };
  await admin.listen({ host: config.listen.admin.host, port: config.listen.admin.port });
  addresses.admin = addressText(admin.server.address() as AddressInfo);
  listening = true;
  await writeRuntimeInfo(config.dataDir, { pid: process.pid, ...addresses });
  scheduler.start();
  await webhooks.start();
  if (opts.trackingLoop !== false) tracking.worker.start();
  void bounces.backlog();
  log.info({ ...addresses, dataDir: config.dataDir }, 'mailgate ready');

  let stopping: Promise<void> | undefined;
  return {
    addresses,
    queue,
    scheduler,
    events,
    tracking: tracking.worker,
    async reload(next) {
      // System upstream and tenants are checked against the API-made ones before anything changes.
      await directory.replaceConfig({ ...next, system: { ...config.system, upstream: next.system.upstream } });
      adminTokens = next.admin.tokens;
      log.level = next.logLevel;
      return { applied: RELOADED, needsRestart: needsRestart(config, next) };
    },
    stop() {
      stopping ??= (async () => {
        log.info('shutting down: no new connections');
        listening = false;
        // Stop listening first; connections mid-DATA finish (their messages are committed) or time out.
        const closing = smtp.close();
        // The tracking cycle in progress finishes (a notice is never cut between "sending" and "sent").
        await tracking.worker.stop();
        const { abandoned } = await scheduler.stop(config.shutdownGrace);
        if (abandoned > 0) log.warn({ abandoned }, 'deliveries still in flight were abandoned; they retry after restart');
        await closing;
        domains.stop();
        await webhooks.stop();
        await bounces.close();
        await deliverer.close();
        await admin.close();
        await openSpool.close();
        await store.close();
        await fs.rm(runtimeInfoPath(config.dataDir), { force: true });
        log.info('mailgate stopped');
      })();
      return stopping;
    },
  };
}
