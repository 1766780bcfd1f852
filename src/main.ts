// Composition root: opens the store and spool, wires queue → scheduler → delivery, starts the
// submission, inbound and admin listeners, and shuts everything down cleanly.
import { randomBytes } from 'node:crypto';
import { dnsResolver } from './delivery/mx.js';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { SMTPServer } from 'smtp-server';
import type { Config, ListenAddress } from './config/types.js';
import { createAdminApp } from './admin/app.js';
import { ThreadedDeliverer } from './delivery/threaded.js';
import { InlineDeliverer } from './delivery/inline.js';
import { sendTestMail } from './delivery/test-mail.js';
import { DomainVerifier } from './identity/domain-verifier.js';
import type { TraceInfo } from './identity/prepare.js';
import type { IdentityInput } from './identity/sender-policy.js';
import { messageIdTag, verpAddress } from './identity/verp.js';
import { MailQueue } from './queue/queue.js';
import { Scheduler } from './queue/scheduler.js';
import { Spool } from './queue/spool.js';
import type { MessageRecord } from './store/records.js';
import { createInboundServer } from './smtp/inbound.js';
import { createSubmissionServer } from './smtp/submission.js';
import { Directory } from './tenants/directory.js';
import { TenantStore } from './store/tenant-store.js';
import { EventLog } from './store/event-log.js';
import { Metrics } from './admin/metrics.js';
import { SuppressionList } from './store/suppression.js';
import { TenantTokens } from './store/api-tokens.js';
import { BounceProcessor, deliveryOutcomeOps } from './bounces/processor.js';
import { SoftBounceCounter } from './bounces/soft-bounces.js';
import { BounceParseThread } from './bounces/parse-thread.js';
import { GroupCommit } from './store/group-commit.js';
import { openStore } from './store/level.js';
import { WebhookStore } from './store/webhooks.js';
import { OptOutList } from './store/opt-outs.js';
import { backupStream } from './backup/backup.js';
import { DiskSpace } from './queue/disk-space.js';
import { listUnsubscribe as listUnsubscribeValue, readUnsubscribeToken } from './unsubscribe/token.js';
import { WebhookDispatcher } from './webhooks/dispatcher.js';
import { ShipmentStore } from './store/shipments.js';
import type { Shipments } from './tracking/shipments.js';
import { CARRIERS } from './tracking/types.js';
import { ShipmentIntake } from './tracking/intake.js';
import { TrackingWorker } from './tracking/worker.js';
import { createCarrierRegistry } from './tracking/carriers/index.js';
import { createPhoneGateway } from './tracking/gateways/index.js';
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

/** Sections that are read once at start. */
const RESTART_ONLY = ['dataDir', 'listen', 'tls', 'limits', 'queue', 'dns', 'system', 'webhooks', 'tracking', 'shutdownGrace'] as const;

function listenSmtp(server: SMTPServer, at: ListenAddress): Promise<string> {
  // Replies to pipelined commands go out at once, not after the client's delayed ACK.
  server.server.on('connection', (socket: Socket) => socket.setNoDelay(true));
  return new Promise((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.server.off('error', reject);
      const a = server.server.address() as AddressInfo;
      resolve(`${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`);
    });
  });
}

function closeSmtp(server: SMTPServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** The key of the VERP MACs: <dataDir>/verp.secret, created (0600) on first start. */
async function loadVerpSecret(dataDir: string): Promise<Buffer> {
  const file = path.join(dataDir, 'verp.secret');
  try {
    return Buffer.from((await fs.readFile(file, 'utf8')).trim(), 'hex');
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err;
    const secret = randomBytes(32);
    await fs.writeFile(file, `${secret.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  }
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
  const verpSecret = config.system.verpSecret ? Buffer.from(config.system.verpSecret, 'utf8') : await loadVerpSecret(config.dataDir);
  const systemDkim = config.system.dkim;

  const deliverMessage = async (record: MessageRecord, recipients: string[], body?: Buffer) => {
    const { upstream, from } = directory.senderFor(record.tenant, record.source);
    const tenant = directory.tenant(record.tenant);
    const own = new Set(tenant?.domains.map((d) => d.domain) ?? []);
    // Only this tenant's keys and reasons travel to the delivery thread.
    const pick = <T>(all: Record<string, T>) => Object.fromEntries(Object.entries(all).filter(([d]) => own.has(d)));
    const identity: IdentityInput = {
      tenant: {
        id: record.tenant,
        name: tenant?.name ?? record.tenant,
        ...(from?.name ? { fromName: from.name } : {}),
        ...(from?.address ? { fromAddress: from.address } : {}),
        domains: tenant?.domains.map((d) => d.domain) ?? [],
      },
      verified: pick(domains.verifiedSigners()),
      unverifiedReasons: pick(domains.reasons()),
      system: { sender: config.system.sender, hostname: config.system.hostname, ...(systemDkim ? { dkim: systemDkim } : {}) },
    };
    const trace: TraceInfo = {
      queueId: record.id,
      messageIdTag: messageIdTag(verpSecret, record.id),
      hostname: config.system.hostname,
      ...(record.source.helo ? { helo: record.source.helo } : {}),
      ...(record.source.remoteAddress ? { ip: record.source.remoteAddress } : {}),
      authenticated: Boolean(record.source.user),
      secure: Boolean(record.source.secure),
      date: record.createdAt,
    };
    const verp = recipients.map((r) => verpAddress(verpSecret, record.id, record.envelope.to.indexOf(r), config.system.bounceDomain));
    const category = record.category;
    const listUnsubscribe = category?.optional
      ? recipients.map((address) => listUnsubscribeValue(verpSecret, { tenant: record.tenant, category: category.name, address }, config.system.unsubscribeUrl, config.system.bounceDomain))
      : undefined;
    return deliverer.deliver(upstream, { from: record.envelope.from, to: recipients }, body ? { kind: 'buffer', data: body } : openSpool.bodyLocation(record.body), {
      identity, trace, verp, ...(listUnsubscribe ? { listUnsubscribe } : {}),
    });
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
    // Per upstream (or per recipient domain for direct MX delivery): at most its maxConnections in delivery.
    lane: (record) => {
      const { upstream } = directory.senderFor(record.tenant, record.source);
      if (upstream.type === 'smtp') return { key: `up:${upstream.name}`, limit: upstream.maxConnections };
      const rcpt = record.recipients.find((r) => r.status === 'queued' || r.status === 'deferred')?.address ?? '';
      return { key: `mx:${upstream.name}:${rcpt.slice(rcpt.lastIndexOf('@') + 1).toLowerCase()}`, limit: upstream.maxConnections };
    },
    log,
  });
  const optOuts = new OptOutList(store.optOuts);
  const shipments: Shipments = new ShipmentStore(store, CARRIERS);
  const queue = new MailQueue({
    spool, events, suppression, scheduler, optOuts, tenant: (id) => directory.tenant(id), limits: config.limits, log,
    adminCopies: async (tenant, category) => {
      const s = await shipments.settings(tenant);
      return s?.copyCategories.includes(category) ? s.adminAddresses : [];
    },
  });
  // Inbound mail is untrusted: it is parsed on a thread of its own with a deadline, never on the main loop.
  const bounceParser = new BounceParseThread({ deadlineMs: config.limits.bounceParseTimeout });
  const bounces = new BounceProcessor({
    spool, store, events, suppression, commit, verpSecret, bounceDomain: config.system.bounceDomain, log,
    parse: (raw, own) => bounceParser.parse(raw, own),
  });
  const inboundDir = path.join(config.dataDir, 'inbound');
  const processInbound = (file: string) => {
    bounces.processFile(file).catch((err: Error) => log.error({ file, err: err.message }, 'inbound message could not be processed; it is kept and retried at the next start'));
  };
  const disk = new DiskSpace(config.dataDir, config.limits.minFreeSpace ?? Math.round(1.5 * config.limits.maxMessageSize) + 64 * 1024 * 1024, log);
  const submissionDeps = { config, access: () => directory.access(), queue, log, disk };
  const submission = createSubmissionServer(submissionDeps);
  // SMTPS (implicit TLS, 465) for apps that only know "SSL": same policy, TLS from the first byte.
  const submissions = config.listen.submissions ? createSubmissionServer(submissionDeps, true) : undefined;
  const inbound = createInboundServer(config, log, processInbound, {
    valid: (token) => readUnsubscribeToken(verpSecret, token) !== undefined,
    apply: async (token) => {
      const t = readUnsubscribeToken(verpSecret, token)!;
      await optOuts.add({ ...t, time: Date.now(), via: 'mailto' });
      log.info({ tenant: t.tenant, category: t.category }, 'unsubscribed by mail');
    },
  }, disk);
  for (const [name, server] of [['submission', submission], ['inbound', inbound], ...(submissions ? [['submissions', submissions] as const] : [])] as const) {
    server.on('error', (err: Error) => log.warn({ listener: name, err: err.message }, 'SMTP connection error'));
  }
  const carriers = createCarrierRegistry(config.tracking.carriers);
  const phoneGateways = new Map(config.tracking.phoneGateways.map((g) => [g.name, createPhoneGateway(g)]));
  const tracking = new TrackingWorker({
    shipments,
    carriers,
    gateways: phoneGateways,
    options: config.tracking,
    tenant: (id) => {
      const t = directory.tenant(id);
      if (!t) return undefined;
      return { name: t.name, from: directory.senderFor(id, { kind: 'tracking' }).from ?? config.system.sender };
    },
    submit: (tenant, envelope, body) => queue.submit({ tenant, envelope, body, source: { kind: 'tracking' } }),
    queuedByMessageId: (messageId) => openSpool.byMessageId(messageId),
    recordEvents: (evs) => openSpool.appendEvents(evs.flatMap((e) => events.ops(e))),
    hostname: config.system.hostname,
    log: log.child({ component: 'tracking' }),
    ...(opts.now ? { now: opts.now } : {}),
  });
  const intake = new ShipmentIntake(shipments, { firstCheckDelayMs: config.tracking.firstCheckDelayMs, ...(opts.now ? { now: opts.now } : {}) });

  let listening = false;
  const admin = await createAdminApp({
    allowPrivateTenantUpstreams: () => config.admin.allowPrivateTenantUpstreams,
    signIns: {
      get: async (k) => (await store.consoleSignIns.get(k)) as number | undefined,
      set: (k, t) => store.consoleSignIns.put(k, t),
    },
    shipments,
    intake,
    phoneGateways: () => new Set(phoneGateways.keys()),
    tenantTokens: new TenantTokens(store),
    metrics: async () => {
      const next = await openSpool.nextDue();
      return metrics.render({ queueDepth: await openSpool.depth(), nextDueSeconds: next === undefined ? null : (Date.now() - next) / 1000 }) + tracking.metrics();
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

  const addresses: RunningMailgate['addresses'] = {
    submission: await listenSmtp(submission, config.listen.submission),
    inbound: await listenSmtp(inbound, config.listen.inbound),
    admin: '',
    ...(submissions && config.listen.submissions ? { submissions: await listenSmtp(submissions, config.listen.submissions) } : {}),
  };
  await admin.listen({ host: config.listen.admin.host, port: config.listen.admin.port });
  const a = admin.server.address() as AddressInfo;
  addresses.admin = `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  listening = true;
  await writeRuntimeInfo(config.dataDir, { pid: process.pid, ...addresses });
  scheduler.start();
  await webhooks.start();
  if (opts.trackingLoop !== false) tracking.start();
  void bounces.processBacklog(inboundDir);
  log.info({ ...addresses, dataDir: config.dataDir }, 'mailgate ready');

  let stopping: Promise<void> | undefined;
  return {
    addresses,
    queue,
    scheduler,
    events,
    tracking,
    async reload(next) {
      // System upstream and tenants are checked against the API-made ones before anything changes.
      await directory.replaceConfig({ ...next, system: { ...config.system, upstream: next.system.upstream } });
      adminTokens = next.admin.tokens;
      log.level = next.logLevel;
      const same = (k: (typeof RESTART_ONLY)[number]) =>
        k === 'system' ? JSON.stringify({ ...next.system, upstream: '' }) === JSON.stringify({ ...config.system, upstream: '' }) : JSON.stringify(next[k]) === JSON.stringify(config[k]);
      return { applied: ['tenants', 'upstreams', 'system.upstream', 'admin.tokens', 'logLevel'], needsRestart: RESTART_ONLY.filter((k) => !same(k)) };
    },
    stop() {
      stopping ??= (async () => {
        log.info('shutting down: no new connections');
        listening = false;
        // Stop listening first; connections mid-DATA finish (their messages are committed) or time out.
        const closing = Promise.all([closeSmtp(submission), closeSmtp(inbound), ...(submissions ? [closeSmtp(submissions)] : [])]);
        // The tracking cycle in progress finishes (a notice is never cut between "sending" and "sent").
        await tracking.stop();
        const { abandoned } = await scheduler.stop(config.shutdownGrace);
        if (abandoned > 0) log.warn({ abandoned }, 'deliveries still in flight were abandoned; they retry after restart');
        await closing;
        domains.stop();
        await webhooks.stop();
        await bounceParser.close();
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
