// Composition root: builds the relay's parts (relay.ts), puts the SMTP listeners and the admin API
// in front of them, and starts, reloads and stops the whole in the right order.
import fs from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from './config/types.js';
import { createAdminApp } from './admin/app.js';
import { clusterStatus } from './admin/cluster.js';
import { sendTestMail } from './delivery/test-mail.js';
import { addressText, SmtpListeners } from './smtp/listen.js';
import type { MailQueue } from './queue/queue.js';
import { drainQueue, type DrainResult } from './queue/drain.js';
import type { Scheduler } from './queue/scheduler.js';
import type { EventLog } from './store/event-log.js';
import { TenantTokens } from './store/api-tokens.js';
import { backupStream } from './backup/backup.js';
import { mailtoUnsubscribe } from './unsubscribe/mailto.js';
import { needsRestart, RELOADED } from './config/reload.js';
import type { TrackingWorker } from './tracking/worker.js';
import { buildRelay } from './relay.js';
import { runtimeInfoPath, writeRuntimeInfo } from './runtime-info.js';
import { currentWarnings } from './admin/setup-warnings.js';

export interface RunningMailgate {
  addresses: { submission: string; inbound: string; admin: string; submissions?: string };
  queue: MailQueue;
  scheduler: Scheduler;
  events: EventLog;
  /** The parcel tracking worker (tests drive its cycles with an injected clock). */
  tracking: TrackingWorker;
  /** Takes the node out of service: stops accepting, delivers what is due within `graceMs`, hands the rest over (or keeps it). */
  drain(graceMs: number): Promise<DrainResult>;
  /** Applies a re-read config (SIGHUP): what took effect, and which changed sections need a restart. Throws if it is refused. */
  reload(next: Config): Promise<{ applied: string[]; needsRestart: string[] }>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** The clock of the tracking worker (poll schedule, reminders, sending window); tests inject one. */
  now?: () => number;
  /** Start the tracking worker's own loop (default true; tests may drive runOnce() themselves). */
  trackingLoop?: boolean;
  /** Called once a drain (POST /node/drain) has finished: the process should stop now. */
  onDrained?: () => void;
  /** Where the admin token mailgate generated is kept (the config lists none): said in the setup warnings. */
  generatedTokenFile?: string;
}

export async function startMailgate(config: Config, log: Logger, opts: StartOptions = {}): Promise<RunningMailgate> {
  const relay = await buildRelay(config, log, opts.now ? { now: opts.now } : {});
  const { store, spool, queue, directory, tracking, verpSecret } = relay;
  let adminTokens = config.admin.tokens;
  const cluster = () => clusterStatus(store.cluster, store.engine, relay.leases);
  let listening = false;
  const warnings = () => currentWarnings(config, { tenants: () => directory.tenants(), domainProblems: () => relay.domains.reasons(), tracking: () => tracking.setupWarnings() }, opts.generatedTokenFile);

  const smtp = new SmtpListeners(config, { config, access: () => directory.access(), queue, log, disk: relay.disk, recordEvents: relay.recordEvents, limits: relay.limits, authAlarm: relay.loginAlarm }, { onStored: (file) => relay.bounces.handle(file), unsubscribe: mailtoUnsubscribe(verpSecret, relay.optOuts, log) }, log);
  const admin = await createAdminApp({
    allowPrivateTenantUpstreams: () => config.admin.allowPrivateTenantUpstreams,
    trustProxy: config.admin.trustProxy, secureCookie: config.admin.secureCookie,
    signIns: store.signIns, stats: store.stats, acrossTenants: store.acrossTenants,
    checkResponses: process.env.MAILGATE_CHECK_RESPONSES === '1',
    shipments: tracking.shipments,
    intake: tracking.intake,
    saveSettings: (tenant, settings) => tracking.saveSettings(tenant, settings),
    trackingProblems: (tenant) => tracking.problems(tenant),
    phoneGateways: () => new Set(tracking.gateways.keys()),
    tenantTokens: new TenantTokens(store),
    metrics: () => relay.metrics.render(),
    cluster, log,
    queue,
    directory,
    webhooks: relay.webhooks,
    optOuts: relay.optOuts,
    scheduler: relay.scheduler,
    ...(store.snapshot ? { backup: () => backupStream({ snapshot: store.snapshot!, dataDir: config.dataDir, hold: () => spool.hold() }) } : {}),
    unsubscribeSecret: verpSecret,
    systemUpstream: () => directory.systemUpstream(),
    testMail: (upstream, to) => sendTestMail(directory.forDelivery(upstream), { to, from: config.system.sender.address, hostname: config.system.hostname, resolver: relay.resolver }),
    suppression: relay.suppression,
    tokens: () => adminTokens,
    domains: relay.domains,
    events: relay.events,
    spool,
    healthy: () => {
      const storeOk = store.isOpen();
      return { ok: listening && storeOk, checks: { store: storeOk, submission: listening, inbound: listening, ...(draining ? { draining: true } : {}) } };
    },
    drain: (graceMs) => running.drain(graceMs),
    setupWarnings: warnings,
  });

  const addresses: RunningMailgate['addresses'] = { ...(await smtp.listen()), admin: '' };
  await admin.listen({ host: config.listen.admin.host, port: config.listen.admin.port });
  addresses.admin = addressText(admin.server.address() as AddressInfo);
  listening = true;
  await writeRuntimeInfo(config.dataDir, { pid: process.pid, ...addresses });
  await relay.start({ trackingLoop: opts.trackingLoop !== false });
  log.info({ ...addresses, dataDir: config.dataDir }, 'mailgate ready');
  // What the setup lacks (admin token, DKIM key, host name, sender domains' DNS, tracking carriers) is said at start.
  void warnings().then((ws) => ws.forEach((w) => log.warn(`config warning: ${w}`)), () => undefined);

  let stopping: Promise<void> | undefined;
  let draining: Promise<DrainResult> | undefined;
  const running: RunningMailgate = {
    addresses,
    queue,
    scheduler: relay.scheduler,
    events: relay.events,
    tracking: tracking.worker,
    async reload(next) {
      // System upstream and tenants are checked against the API-made ones before anything changes.
      await directory.replaceConfig({ ...next, system: { ...config.system, upstream: next.system.upstream } });
      adminTokens = next.admin.tokens;
      log.level = next.logLevel;
      return { applied: RELOADED, needsRestart: needsRestart(config, next) };
    },
    drain(graceMs) {
      draining ??= (async () => {
        log.info({ graceMs }, 'draining: no new connections; delivering what is due, then handing the rest over');
        listening = false;
        await smtp.close();
        const result = await drainQueue(spool, (grace) => relay.stopWork(grace), graceMs);
        await store.cluster.leave();
        log.info(result, 'node drained');
        setTimeout(() => opts.onDrained?.(), 200).unref();
        return result;
      })();
      return draining;
    },
    stop() {
      stopping ??= (async () => {
        log.info('shutting down: no new connections');
        listening = false;
        // Stop listening first; connections mid-DATA finish (their messages are committed) or time out.
        const closing = smtp.close();
        await relay.stopWork(config.shutdownGrace);
        await closing;
        await admin.close();
        await relay.close();
        await fs.rm(runtimeInfoPath(config.dataDir), { force: true });
        log.info('mailgate stopped');
      })();
      return stopping;
    },
  };
  return running;
}
