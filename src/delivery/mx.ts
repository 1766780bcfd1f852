// Where direct delivery goes: the recipient domain's MX hosts by preference (equal preferences
// shuffled), the domain itself when it has no MX (RFC 5321 §5.1), nothing for a null MX (RFC 7505).
// DNS answers that mean "this will never work" fail; DNS trouble defers. Loopback, private and
// link-local addresses are left out unless the upstream allows them: the route holds only addresses
// that may be connected to, and delivery connects to exactly these (no second lookup by name).
import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import type { SmtpReply } from '../store/records.js';
import { isPrivateAddress } from '../security/private-address.js';

/** The resolver for MX and domain checks: `servers` ("ip" or "ip:port"), or the system's resolv.conf when empty. */
export function dnsResolver(servers: string[]): Resolver {
  const resolver = new Resolver({ timeout: 5000, tries: 2 });
  if (servers.length > 0) resolver.setServers(servers);
  return resolver;
}

export interface MxHost {
  /** Host name as published (for TLS SNI and logs). */
  name: string;
  addresses: string[];
}

export type MxRoute =
  | { ok: true; hosts: MxHost[] }
  | { ok: false; outcome: 'failed' | 'deferred'; reply: SmtpReply; code: string };

const NOT_FOUND = new Set(['ENOTFOUND', 'NXDOMAIN']);
const NO_DATA = new Set(['ENODATA']);

function dnsCode(err: unknown): string {
  return (err as { code?: string }).code ?? 'EUNKNOWN';
}

export interface MxOptions {
  /** Keep loopback, private and link-local addresses (the upstream's allowPrivateAddresses); default false. */
  allowPrivateAddresses?: boolean;
  random?: () => number;
}

/** Resolves the delivery route for one recipient domain. */
export async function resolveMx(resolver: Resolver, domain: string, options: MxOptions = {}): Promise<MxRoute> {
  const allowed = (address: string) => options.allowPrivateAddresses === true || !isPrivateAddress(address);
  const random = options.random ?? Math.random;
  const literal = /^\[(?:IPv6:)?([^\]]+)\]$/i.exec(domain);
  if (literal && net.isIP(literal[1]!)) {
    const address = literal[1]!;
    if (!allowed(address)) return fail('failed', 550, '5.4.4', `${address} is a private/loopback address; refusing to deliver`, 'DOMAIN_PRIVATE_MAIL_HOST');
    return { ok: true, hosts: [{ name: address, addresses: [address] }] };
  }

  let names: string[];
  let implicit = false;
  try {
    const mx = await resolver.resolveMx(domain);
    if (mx.length === 1 && (mx[0]!.exchange === '' || mx[0]!.exchange === '.')) {
      return fail('failed', 556, '5.1.10', `domain ${domain} does not accept mail (null MX)`, 'DOMAIN_NULL_MX');
    }
    names = mx
      .map((m) => ({ ...m, r: random() }))
      .sort((a, b) => a.priority - b.priority || a.r - b.r)
      .map((m) => m.exchange.replace(/\.$/, ''));
  } catch (err) {
    const code = dnsCode(err);
    if (NOT_FOUND.has(code)) {
      return fail('failed', 550, '5.1.2', `domain ${domain} does not exist (DNS: no such domain)`, 'DOMAIN_NOT_FOUND');
    }
    if (!NO_DATA.has(code)) {
      return fail('deferred', 451, '4.4.3', `DNS lookup of MX for ${domain} failed (${code})`, 'DNS_TEMPORARY');
    }
    names = [domain]; // no MX records: the domain's own address is the implicit MX
    implicit = true;
  }

  const hosts: MxHost[] = [];
  /** Hosts that resolved, but only to addresses that are not allowed, and those addresses. */
  const refused: MxHost[] = [];
  let temporary = false;
  for (const name of names) {
    const addresses: string[] = [];
    for (const lookup of [resolver.resolve4.bind(resolver), resolver.resolve6.bind(resolver)]) {
      try {
        addresses.push(...(await lookup(name)));
      } catch (err) {
        const code = dnsCode(err);
        if (!NOT_FOUND.has(code) && !NO_DATA.has(code)) temporary = true;
      }
    }
    const usable = addresses.filter(allowed);
    if (usable.length > 0) hosts.push({ name, addresses: usable });
    else if (addresses.length > 0) refused.push({ name, addresses });
  }
  if (hosts.length > 0) return { ok: true, hosts };
  if (temporary) return fail('deferred', 451, '4.4.3', `DNS lookup of the mail hosts of ${domain} failed`, 'DNS_TEMPORARY');
  if (refused.length > 0) {
    // Permanent, with the 5.4.4 (unable to route) of a mail host without address: a retry would find
    // the same DNS answer, and the sender should learn now that the recipient's domain is unusable.
    const all = [...new Set(refused.flatMap((h) => h.addresses))];
    const shown = `${all.slice(0, 4).join(', ')}${all.length > 4 ? ', …' : ''}`;
    const who = implicit ? `${domain} has no MX record and` : refused.length === 1 ? `MX host ${refused[0]!.name}` : `MX hosts ${refused.map((h) => h.name).join(', ')}`;
    const verb = implicit || refused.length === 1 ? 'resolves' : 'resolve';
    return fail('failed', 550, '5.4.4', `${who} ${verb} only to private/loopback addresses (${shown}); refusing to deliver`, 'DOMAIN_PRIVATE_MAIL_HOST');
  }
  return fail('failed', 550, '5.4.4', `no address found for the mail hosts of ${domain} (${names.join(', ')})`, 'DOMAIN_NO_MAIL_HOST');
}

function fail(outcome: 'failed' | 'deferred', code: number, enhanced: string, text: string, errCode: string): MxRoute {
  return { ok: false, outcome, reply: { code, enhanced, text }, code: errCode };
}
