// Composition root: opens the store and spool, wires queue → scheduler → delivery, starts the
// submission, inbound and admin listeners, and shuts everything down cleanly.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { SMTPServer } from 'smtp-server';
import type { Config, ListenAddress, Upstream } from './config/types.js';
import { createAdminApp } from './admin/app.js';
import { ThreadedDeliverer } from './delivery/threaded.js';
import { MailQueue } from './queue/queue.js';
import { Scheduler } from './queue/scheduler.js';
import { Spool } from './queue/spool.js';
import type { MessageRecord } from './queue/types.js';
import { createInboundServer } from './smtp/inbound.js';
import { createSubmissionServer } from './smtp/submission.js';
import { TenantAccess } from './smtp/tenant-access.js';
import { EventLog } from './store/event-log.js';
import { GroupCommit } from './store/group-commit.js';
import { openStore } from './store/level.js';

export interface RunningMailgate {
  addresses: { submission: string; inbound: string; admin: string };
  queue: MailQueue;
  scheduler: Scheduler;
  events: EventLog;
  stop(): Promise<void>;
}

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

export interface RuntimeInfo {
  pid: number;
  submission: string;
  inbound: string;
  admin: string;
}

/** <dataDir>/runtime.json: where the running server listens, for the CLI (ports may be 0 in the config). */
export function runtimeInfoPath(dataDir: string): string {
  return path.join(dataDir, 'runtime.json');
}

async function writeRuntimeInfo(dataDir: string, info: RuntimeInfo): Promise<void> {
  await fs.writeFile(runtimeInfoPath(dataDir), `${JSON.stringify(info)}\n`, { mode: 0o644 });
}

/** The upstream a message of this tenant leaves through. */
export function upstreamFor(config: Config, tenantId: string): Upstream {
  const tenant = config.tenants.find((t) => t.id === tenantId);
  const name = tenant?.upstream ?? config.system.upstream;
  const upstream = config.upstreams.find((u) => u.name === name);
  if (!upstream) throw new Error(`upstream "${name}" is not configured`);
  return upstream;
}

export async function startMailgate(config: Config, log: Logger): Promise<RunningMailgate> {
  const store = await openStore(config.dataDir);
  let spool: Spool | undefined;
  const commit = new GroupCommit(store.db, () => spool!.syncDir());
  spool = await Spool.open(path.join(config.dataDir, 'spool'), store, commit, log);
  const events = new EventLog(store);

  const deliverer = new ThreadedDeliverer({ hostname: config.system.hostname, dnsServers: config.dns.servers, logLevel: config.logLevel }, log);
  const openSpool = spool;

  const deliverMessage = async (record: MessageRecord, recipients: string[], body?: Buffer) => {
    const upstream = upstreamFor(config, record.tenant);
    return deliverer.deliver(upstream, { from: record.envelope.from, to: recipients }, body ? { kind: 'buffer', data: body } : openSpool.bodyLocation(record.body));
  };

  const scheduler = new Scheduler({
    spool,
    events,
    deliverMessage,
    policy: { retrySchedule: config.queue.retrySchedule, maxAge: config.queue.maxAge },
    concurrency: config.queue.concurrency,
    log,
  });
  const queue = new MailQueue({ spool, events, scheduler, limits: config.limits, log });
  const access = new TenantAccess(config.tenants);

  const submission = createSubmissionServer({ config, access: () => access, queue, log });
  const inbound = createInboundServer(config, log);
  for (const [name, server] of [['submission', submission], ['inbound', inbound]] as const) {
    server.on('error', (err: Error) => log.warn({ listener: name, err: err.message }, 'SMTP connection error'));
  }
  let listening = false;
  const admin = createAdminApp({
    tokens: () => config.admin.tokens,
    events,
    spool,
    healthy: () => ({ ok: listening, checks: { store: store.db.status === 'open', submission: listening, inbound: listening } }),
  });

  const addresses = {
    submission: await listenSmtp(submission, config.listen.submission),
    inbound: await listenSmtp(inbound, config.listen.inbound),
    admin: '',
  };
  await admin.listen({ host: config.listen.admin.host, port: config.listen.admin.port });
  const a = admin.server.address() as AddressInfo;
  addresses.admin = `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  listening = true;
  await writeRuntimeInfo(config.dataDir, { pid: process.pid, ...addresses });
  scheduler.start();
  log.info({ ...addresses, dataDir: config.dataDir }, 'mailgate ready');

  let stopping: Promise<void> | undefined;
  return {
    addresses,
    queue,
    scheduler,
    events,
    stop() {
      stopping ??= (async () => {
        log.info('shutting down: no new connections');
        listening = false;
        // Stop listening first; connections mid-DATA finish (their messages are committed) or time out.
        const closing = Promise.all([closeSmtp(submission), closeSmtp(inbound)]);
        const { abandoned } = await scheduler.stop(config.shutdownGrace);
        if (abandoned > 0) log.warn({ abandoned }, 'deliveries still in flight were abandoned; they retry after restart');
        await closing;
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
