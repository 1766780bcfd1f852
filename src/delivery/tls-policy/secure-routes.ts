// Direct delivery's TLS policies, applied to one recipient domain's MX route: which hosts mail may
// go to and what each host's TLS session must satisfy. MTA-STS (RFC 8461 §5): in enforce mode only
// hosts matching the policy's mx patterns, over TLS with a valid certificate for the host's name; in
// testing mode every host, failures only reported. Every policy session (and a policy that could not
// be fetched) is kept for the TLS reports until taken with takeSessions(). Imports: config types,
// store records, mx.ts's route shape, the tls-policy modules.
import type { Resolver } from 'node:dns/promises';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { MxUpstream } from '../../config/types.js';
import type { SmtpReply, TlsSession } from '../../store/records.js';
import type { MxHost } from '../mx.js';
import { mxAllowed, type StsPolicy } from './mta-sts-policy.js';
import { MtaStsPolicies } from './mta-sts.js';
import type { PeerCheck } from './peer-check.js';
import type { PolicySession } from './starttls.js';

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
  requiredBy: string;
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
  const requiredBy = `MTA-STS policy of ${domain}`;
  const planned = hosts
    .map((host) => ({ host, listed: mxAllowed(host.name, policy.mx) }))
    .filter((h) => h.listed || !enforce)
    .map(({ host, listed }) => ({ host, requirement: { policy: name, check: { kind: 'webpki' as const, hostname: host.name }, enforce, requiredBy, ...(listed ? {} : { unlisted: true }) } }));
  if (planned.length > 0) return { ok: true, hosts: planned };
  const names = hosts.map((h) => h.name);
  return {
    ok: false,
    reply: { code: 451, enhanced: '4.7.5', text: `${requiredBy} allows only MX hosts matching ${policy.mx.join(', ')}; ${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} not one of them` },
  };
}

export class SecureRoutes {
  private readonly sts: MtaStsPolicies;
  private readonly secureContext: tls.SecureContext | undefined;
  private sessions: TlsSession[] = [];
  private readonly now: () => number;

  constructor(private readonly opts: SecureRouteOptions) {
    this.now = opts.now ?? Date.now;
    this.sts = new MtaStsPolicies({ resolver: opts.resolver, port: opts.mtaStsPort, ...(opts.ca ? { ca: opts.ca } : {}), now: this.now });
    this.secureContext = opts.ca ? tls.createSecureContext({ ca: [...tls.rootCertificates, opts.ca] }) : undefined;
  }

  /** The route to `domain`'s `hosts` under its policies (none apply to a domain literal). */
  async route(upstream: MxUpstream, domain: string, hosts: MxHost[]): Promise<SecureRoute> {
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
      check: req.check, enforce: req.enforce, requiredBy: req.requiredBy, ehloName: this.opts.hostname, timeoutMs,
      ...(this.secureContext ? { secureContext: this.secureContext } : {}),
      report: (result) => {
        const where = { receivingMx: req.check.hostname, receivingIp: address, ...(localAddress() ? { sendingIp: localAddress()! } : {}) };
        if (result.ok && !req.unlisted) return this.keep(req.policy, 'success', where);
        const failure = result.ok ? { type: 'validation-failure', detail: 'the MX host is not listed in the policy', reasonCode: 'mx-not-in-policy' } : result.failure;
        if (!req.enforce) this.opts.log.warn({ domain: req.policy.policyDomain, mx: req.check.hostname, address, failure: failure.type }, `${req.requiredBy} (testing mode) would refuse ${req.check.hostname}: ${failure.detail}; delivering anyway`);
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
