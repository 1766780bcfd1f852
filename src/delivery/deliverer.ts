// Hands a prepared message to its upstream: a pooled nodemailer transport per configured SMTP
// upstream, or direct delivery to each recipient domain's MX hosts under the domain's TLS policies
// (tls-policy/: MTA-STS, and the TLS sessions kept for reports). Reports per recipient.
import type { Resolver } from 'node:dns/promises';
import type { Readable } from 'node:stream';
import net from 'node:net';
import nodemailer from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import type { Logger } from 'pino';
import type { MxUpstream, SmtpUpstream, Upstream } from '../config/types.js';
import { CONNECT_TIMEOUT_MS, connectSocket } from './connect.js';
import { resolveMx } from './mx.js';
import { mxTransportOptions, smtpTransportOptions } from './transport-options.js';
import { withVerdict } from './reply.js';
import { sendTransaction, type Envelope, type SmtpTransport } from './smtp-client.js';
import type { RecipientResult } from '../queue/delivery-result.js';
import type { TlsSession } from '../store/records.js';
import { SecureRoutes, type HostRequirement } from './tls-policy/secure-routes.js';
import { negotiatePolicyTls } from './tls-policy/starttls.js';

const IDLE_POOL_MS = 120_000;
const NEXT_HOST_CODES = new Set(['UPSTREAM_UNREACHABLE', 'UPSTREAM_TLS_FAILED', 'TLS_POLICY_FAILED']);

type SocketCallback = (err: Error | null, socketOptions?: { connection: net.Socket; secure?: boolean; secured?: boolean }) => void;

/**
 * A socket that fails as soon as nodemailer has it. nodemailer's pool (8.0.x) never frees the slot of
 * a connection whose getSocket() reported an error, so after maxConnections such errors a pool would
 * take no more mail; an error on the socket it was handed goes through its normal clean-up instead.
 */
function failedSocket(err: Error): { connection: net.Socket } {
  const socket = new net.Socket();
  setImmediate(() => socket.destroy(err));
  return { connection: socket };
}

interface PoolEntry {
  transport: SmtpTransport;
  lastUsed: number;
  /** Fingerprint of the settings it was built from, so a changed upstream gets a new pool. */
  settings: string;
  /** The address the pool's most recent connection reached (for the delivery log line). */
  address?: string;
}

export interface DelivererOptions {
  hostname: string;
  resolver: Resolver;
  log: Logger;
  /** What direct delivery under MTA-STS needs: the policy host's port, extra CAs. */
  secure: { mtaStsPort: number; ca?: string };
  now?: () => number;
}

export class Deliverer {
  private readonly pools = new Map<string, PoolEntry>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly now: () => number;
  private readonly routes: SecureRoutes;

  constructor(private readonly opts: DelivererOptions) {
    this.now = opts.now ?? Date.now;
    this.routes = new SecureRoutes({ resolver: opts.resolver, hostname: opts.hostname, log: opts.log, mtaStsPort: opts.secure.mtaStsPort, ...(opts.secure.ca ? { ca: opts.secure.ca } : {}), now: this.now });
    this.sweeper = setInterval(() => this.sweep(), 30_000);
    this.sweeper.unref();
  }

  /** Delivers one message to its recipients; `openBody` is called once per SMTP transaction. */
  async deliver(upstream: Upstream, envelope: Envelope, openBody: () => Readable | Buffer): Promise<RecipientResult[]> {
    return (await this.send(upstream, envelope, openBody)).map(withVerdict);
  }

  private async send(upstream: Upstream, envelope: Envelope, openBody: () => Readable | Buffer): Promise<RecipientResult[]> {
    if (upstream.type === 'smtp') {
      const pool = this.smtpPool(upstream);
      return sendTransaction(pool.transport, envelope, openBody(), upstream.name, () => ({ host: upstream.host, ...(pool.address ? { address: pool.address } : {}), port: upstream.port }));
    }
    const byDomain = new Map<string, string[]>();
    for (const rcpt of envelope.to) {
      const domain = rcpt.slice(rcpt.lastIndexOf('@') + 1).toLowerCase();
      byDomain.set(domain, [...(byDomain.get(domain) ?? []), rcpt]);
    }
    const parts = await Promise.all(
      [...byDomain].map(([domain, to]) => this.deliverToDomain(upstream, domain, { from: envelope.from, to }, openBody)),
    );
    return parts.flat();
  }

  /** The TLS policy sessions since the last call (for the TLS reports). */
  takeTlsSessions(): TlsSession[] {
    return this.routes.takeSessions();
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const p of this.pools.values()) p.transport.close();
    this.pools.clear();
  }

  private async deliverToDomain(upstream: MxUpstream, domain: string, envelope: Envelope, openBody: () => Readable | Buffer): Promise<RecipientResult[]> {
    const route = await resolveMx(this.opts.resolver, domain, { allowPrivateAddresses: upstream.allowPrivateAddresses });
    if (!route.ok) {
      return envelope.to.map((recipient) => ({ recipient, outcome: route.outcome, reply: route.reply, upstream: upstream.name, code: route.code }));
    }
    const secured = await this.routes.route(upstream, domain, route.hosts);
    if (!secured.ok) return envelope.to.map((recipient) => ({ recipient, outcome: 'deferred', reply: secured.reply, upstream: upstream.name, code: 'TLS_POLICY_FAILED' }));
    let last: RecipientResult[] = [];
    for (const { host, requirement } of secured.hosts) {
      for (const address of host.addresses) {
        const label = `${upstream.name}/${host.name}`;
        const results = await sendTransaction(this.mxPool(upstream, host.name, address, requirement).transport, envelope, openBody(), label, () => ({ host: host.name, address, port: upstream.port }));
        last = results;
        // Try the next host only when this one could not be reached, failed its TLS policy or refused the session (421).
        const unreachable = results.every((r) => NEXT_HOST_CODES.has(r.code ?? '') || r.reply.code === 421);
        if (!unreachable) return results;
        this.opts.log.debug({ domain, host: host.name, address }, 'MX host unreachable, trying next');
      }
    }
    return last;
  }

  private smtpPool(u: SmtpUpstream): PoolEntry {
    const settings = JSON.stringify([u.host, u.port, u.tls, u.tlsVerify, u.auth?.user, u.auth?.password, u.maxConnections, u.publicOnly === true]);
    return this.pool(`smtp:${u.name}`, settings, () => ({ ...smtpTransportOptions(u), maxConnections: u.maxConnections }), { publicOnly: u.publicOnly === true });
  }

  /** `requirement`: the host's TLS policy; its connections then do STARTTLS through negotiatePolicyTls. */
  private mxPool(u: MxUpstream, hostName: string, address: string, requirement?: HostRequirement): PoolEntry {
    const settings = JSON.stringify([u.port, u.requireTls, u.maxConnections]);
    // One pool per TLS requirement: two recipient domains on the same MX host, one with a policy and one
    // without (or with another), must not keep replacing (and closing) each other's pool.
    const policy = requirement ? `:${JSON.stringify(requirement)}` : '';
    const secure = requirement && ((socket: net.Socket, cb: SocketCallback) => {
      const local = socket.localAddress;
      negotiatePolicyTls(socket, this.routes.session(requirement, address, CONNECT_TIMEOUT_MS, () => local)).then(
        (n) => cb(null, n.secured ? { connection: n.connection, secure: true, secured: true } : { connection: n.connection }),
        (err: Error) => cb(err),
      );
    });
    return this.pool(`mx:${u.name}:${address}:${hostName}${policy}`, settings, () => ({ ...mxTransportOptions(u, hostName, address), maxConnections: u.maxConnections }), secure ? { secure } : {});
  }

  private pool(key: string, settings: string, options: () => Omit<SMTPPool.Options, 'pool'>, how: { secure?: (socket: net.Socket, cb: SocketCallback) => void; publicOnly?: boolean } = {}): PoolEntry {
    const existing = this.pools.get(key);
    if (existing && existing.settings === settings) {
      existing.lastUsed = this.now();
      return existing;
    }
    existing?.transport.close();
    const entry: PoolEntry = { transport: undefined as unknown as SmtpTransport, lastUsed: this.now(), settings };
    const transport = nodemailer.createTransport({
      // Every connection through connect.ts (Nagle off; a shop's own server on public addresses only);
      // a failure is handed over as a failed socket, so nodemailer's pool frees the slot.
      getSocket: (o: Parameters<typeof connectSocket>[0], cb: SocketCallback) => connectSocket(
        o,
        (err, so) => {
          if (err || !so) return cb(null, failedSocket(err ?? new Error('no connection')));
          if (!how.secure) return cb(null, so);
          how.secure(so.connection, (e, negotiated) => cb(null, e || !negotiated ? failedSocket(e ?? new Error('no connection')) : negotiated));
        },
        { publicOnly: how.publicOnly === true, connected: (address) => { entry.address = address; } },
      ),
      name: this.opts.hostname,
      maxMessages: 1000,
      // A pooled connection that closes without an error mid-send is retried on another connection
      // at most twice; after that the attempt is deferred and the queue's retry schedule takes over.
      maxRequeues: 2,
      connectionTimeout: 30_000,
      greetingTimeout: 30_000,
      socketTimeout: 300_000,
      disableFileAccess: true,
      disableUrlAccess: true,
      logger: false,
      ...options(),
      pool: true,
    } as SMTPPool.Options) as SmtpTransport;
    entry.transport = transport;
    this.pools.set(key, entry);
    return entry;
  }

  private sweep(): void {
    const cutoff = this.now() - IDLE_POOL_MS;
    for (const [key, p] of this.pools) {
      if (p.lastUsed < cutoff) {
        p.transport.close();
        this.pools.delete(key);
      }
    }
  }
}
