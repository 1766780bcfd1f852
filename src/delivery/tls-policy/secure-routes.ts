// Direct delivery's TLS policies, applied to one recipient domain's MX route: which hosts mail may
// go to and what each host's TLS session must satisfy. MTA-STS (RFC 8461 §5): in enforce mode only
// hosts matching the policy's mx patterns, over TLS with a valid certificate for the host's name; in
// testing mode every host, failures only reported. DANE (RFC 7672), when the upstream has it on and
// the host has DNSSEC-validated TLSA records: TLS with a certificate matching them, in place of
// MTA-STS for that host (RFC 8461 §2). Every policy session (and a policy that could not be fetched)
// is kept for the TLS reports until taken with takeSessions(). Imports: config types, store
// records, mx.ts's route shape, the tls-policy modules.
import type { Resolver } from 'node:dns/promises';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { MxUpstream } from '../../config/types.js';
import type { SmtpReply, TlsSession } from '../../store/records.js';
import type { MxHost } from '../mx.js';
import { DaneLookups, type DaneStatus } from './dane.js';
import { mxAllowed, type StsPolicy } from './mta-sts-policy.js';
import { MtaStsPolicies } from './mta-sts.js';
import type { PeerCheck } from './peer-check.js';
import type { PolicySession } from './starttls.js';
import { presentTlsa } from './tlsa.js';

export interface SecureRouteOptions {
  resolver: Resolver;
  /** The name mailgate gives in EHLO. */
  hostname: string;
  /** Port of the MTA-STS policy host. */
  mtaStsPort: number;
  /** PEM CAs trusted besides the system's. */
  ca?: string;
  log: Logger;
  now?: () => number;
}

/** The policy a session is held to, as the reports name it. */
export type PolicyName = Pick<TlsSession, 'policyDomain' | 'policyType' | 'policyStrings' | 'mxHosts'>;

/** What one MX host's sessions must satisfy; plain data (it is part of the connection pool's identity). */
export interface HostRequirement {
  policy: PolicyName;
  check: PeerCheck;
  enforce: boolean;
  /** The policy in words: "MTA-STS policy of example.com". */
  name: string;
  /** What it asks, the head of a deferral's reason: "… requires TLS with a valid certificate for mx.example.com". */
  demand: string;
  /** Testing mode, and the host is not one the policy lists: every session is reported as failed. */
  unlisted?: boolean;
}

export type SecureRoute =
  | { ok: true; hosts: Array<{ host: MxHost; requirement?: HostRequirement }> }
  | { ok: false; reply: SmtpReply };

/** The hosts an MTA-STS policy lets mail go to, and how (pure). */
export function applyStsPolicy(domain: string, hosts: MxHost[], policy: StsPolicy | undefined): SecureRoute {
  if (!policy) return { ok: true, hosts: hosts.map((host) => ({ host })) };
  const name: PolicyName = { policyDomain: domain, policyType: 'sts', policyStrings: policy.lines, mxHosts: policy.mx };
  const enforce = policy.mode === 'enforce';
  const who = `MTA-STS policy of ${domain}`;
  const planned = hosts
    .map((host) => ({ host, listed: mxAllowed(host.name, policy.mx) }))
    .filter((h) => h.listed || !enforce)
    .map(({ host, listed }) => ({
      host,
      requirement: { policy: name, check: { kind: 'webpki' as const, hostname: host.name }, enforce, name: who, demand: `${who} requires TLS with a valid certificate for ${host.name}`, ...(listed ? {} : { unlisted: true }) },
    }));
  if (planned.length > 0) return { ok: true, hosts: planned };
  const names = hosts.map((h) => h.name);
  return deferral(`${who} allows only MX hosts matching ${policy.mx.join(', ')}; ${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} not one of them`);
}

/** What DANE makes of a host's STS-planned route entry (pure): DANE's requirement in place of MTA-STS's, or no route. */
export function applyDane(domain: string, planned: { host: MxHost; requirement?: HostRequirement }, dane: DaneStatus): { host: MxHost; requirement?: HostRequirement } | { refused: string } {
  const { host } = planned;
  if (dane.kind === 'none' || (dane.kind === 'unusable' && planned.requirement)) return planned;
  if (dane.kind === 'failed') return { refused: `DANE: ${dane.detail}` };
  const policy: PolicyName = { policyDomain: domain, policyType: 'tlsa', policyStrings: dane.all.map(presentTlsa), mxHosts: [host.name] };
  const name = `DNSSEC-signed TLSA records of ${host.name}`;
  if (dane.kind === 'unusable') return { host, requirement: { policy, check: { kind: 'encrypted', hostname: host.name }, enforce: true, name, demand: `${name} require TLS` } };
  return { host, requirement: { policy, check: { kind: 'dane', hostname: host.name, records: dane.usable }, enforce: true, name, demand: `${name} require TLS with a certificate that matches them` } };
}

function deferral(text: string): SecureRoute {
  return { ok: false, reply: { code: 451, enhanced: '4.7.5', text } };
}

export class SecureRoutes {
  private readonly sts: MtaStsPolicies;
  private readonly dane: DaneLookups;
  private readonly secureContext: tls.SecureContext | undefined;
  private sessions: TlsSession[] = [];
  private readonly now: () => number;

  constructor(private readonly opts: SecureRouteOptions) {
    this.now = opts.now ?? Date.now;
    this.sts = new MtaStsPolicies({ resolver: opts.resolver, port: opts.mtaStsPort, ...(opts.ca ? { ca: opts.ca } : {}), now: this.now });
    this.dane = new DaneLookups({ servers: () => opts.resolver.getServers(), now: this.now });
    this.secureContext = opts.ca ? tls.createSecureContext({ ca: [...tls.rootCertificates, opts.ca] }) : undefined;
  }

  /** The route to `domain`'s `hosts` under its policies (none apply to a domain literal). */
  async route(upstream: MxUpstream, domain: string, hosts: MxHost[]): Promise<SecureRoute> {
    const sts = await this.stsRoute(upstream, domain, hosts);
    return sts.ok && upstream.dane ? this.daneRoute(domain, upstream.port, sts.hosts) : sts;
  }

  private async daneRoute(domain: string, port: number, planned: Array<{ host: MxHost; requirement?: HostRequirement }>): Promise<SecureRoute> {
    const statuses = await Promise.all(planned.map((p) => (net.isIP(p.host.name) ? { kind: 'none' as const } : this.dane.forHost(p.host.name, port))));
    const hosts: Array<{ host: MxHost; requirement?: HostRequirement }> = [];
    let refused = '';
    planned.forEach((p, i) => {
      const next = applyDane(domain, p, statuses[i]!);
      if (!('refused' in next)) return hosts.push(next);
      refused = next.refused;
      this.keep({ policyDomain: domain, policyType: 'tlsa', policyStrings: [], mxHosts: [p.host.name] }, 'dnssec-invalid', { receivingMx: p.host.name });
    });
    return hosts.length > 0 ? { ok: true, hosts } : deferral(refused);
  }

  private async stsRoute(upstream: MxUpstream, domain: string, hosts: MxHost[]): Promise<SecureRoute> {
    if (!upstream.mtaSts || net.isIP(domain.replace(/^\[(?:IPv6:)?|\]$/gi, '')) !== 0) return applyStsPolicy(domain, hosts, undefined);
    const found = await this.sts.lookup(domain, upstream.allowPrivateAddresses);
    if (found.failure) {
      this.opts.log.warn({ domain, failure: found.failure.type, detail: found.failure.detail, cached: Boolean(found.policy) }, `MTA-STS policy of ${domain} could not be fetched${found.policy ? '; the cached one applies' : ''}`);
      this.keep({ policyDomain: domain, policyType: found.policy ? 'sts' : 'no-policy-found', policyStrings: found.policy?.lines ?? [], mxHosts: found.policy?.mx ?? [] }, found.failure.type, {});
    }
    const route = applyStsPolicy(domain, hosts, found.policy);
    if (!route.ok && found.policy) for (const host of hosts) this.keep({ policyDomain: domain, policyType: 'sts', policyStrings: found.policy.lines, mxHosts: found.policy.mx }, 'validation-failure', { receivingMx: host.name, reasonCode: 'mx-not-in-policy' });
    return route;
  }

  /** The STARTTLS session for one connection to `address` under `req`. */
  session(req: HostRequirement, address: string, timeoutMs: number, localAddress: () => string | undefined): PolicySession {
    return {
      check: req.check, enforce: req.enforce, demand: req.demand, ehloName: this.opts.hostname, timeoutMs,
      ...(this.secureContext ? { secureContext: this.secureContext } : {}),
      report: (result) => {
        const where = { receivingMx: req.check.hostname, receivingIp: address, ...(localAddress() ? { sendingIp: localAddress()! } : {}) };
        if (result.ok && !req.unlisted) return this.keep(req.policy, 'success', where);
        const failure = result.ok ? { type: 'validation-failure', detail: 'the MX host is not listed in the policy', reasonCode: 'mx-not-in-policy' } : result.failure;
        if (!req.enforce) this.opts.log.warn({ domain: req.policy.policyDomain, mx: req.check.hostname, address, failure: failure.type }, `${req.name} (testing mode) would refuse ${req.check.hostname}: ${failure.detail}; delivering anyway`);
        this.keep(req.policy, failure.type, { ...where, ...(failure.reasonCode ? { reasonCode: failure.reasonCode } : {}) });
      },
    };
  }

  /** The sessions since the last call (for the TLS reports). */
  takeSessions(): TlsSession[] {
    const taken = this.sessions;
    this.sessions = [];
    return taken;
  }

  private keep(policy: PolicyName, result: string, where: Pick<TlsSession, 'receivingMx' | 'receivingIp' | 'sendingIp' | 'reasonCode'>): void {
    // Bounded: without a reader (reports off) the oldest are dropped.
    if (this.sessions.length >= 10_000) this.sessions.shift();
    this.sessions.push({ time: this.now(), ...policy, result, ...where });
  }
}
