// DNS lookups for outgoing connections that refuse loopback, private and link-local answers, so a
// tenant's webhook URL, own SMTP server or a recipient domain's published names (MTA-STS policy hosts,
// TLS report addresses) cannot aim mailgate at the operator's network. Each is the lookup of the
// connection itself: the address checked is the address connected to, so a name that resolved to a
// public address when it was saved and inside the network later (DNS rebinding) is refused at that
// moment. publicOnlyLookup asks the system resolver (host names the operator's users configured);
// publicLookup asks mailgate's resolver (dns.servers), as MX lookups do. Imports: node, private-address.ts.
import dns from 'node:dns';
import type { Resolver } from 'node:dns/promises';
import net, { type LookupFunction } from 'node:net';
import { isPrivateAddress } from './private-address.js';

/** The error a refused target fails with (`code` PRIVATE_TARGET; `privateTarget` survives nodemailer setting its own code). */
export class PrivateTargetError extends Error {
  code = 'PRIVATE_TARGET';
  readonly privateTarget = true;
}

/** Why `host` (an IP literal) may not be connected to, or undefined; names are checked by the lookups. */
export function privateLiteral(host: string, allowHint: string): PrivateTargetError | undefined {
  const bare = host.replace(/^\[|\]$/g, '');
  return net.isIP(bare) !== 0 && isPrivateAddress(bare) ? new PrivateTargetError(`${bare} is a private address (${allowHint})`) : undefined;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/**
 * Answers a lookup from `found`; with `refusing` (the hint naming the setting that would allow them)
 * private addresses are dropped. Fails when none is left.
 */
function answer(hostname: string, found: dns.LookupAddress[], all: boolean | undefined, cb: LookupCallback, refusing?: string): void {
  const usable = refusing === undefined ? found : found.filter((a) => !isPrivateAddress(a.address));
  if (usable.length === 0) {
    const err = found.length === 0
      ? Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' })
      : new PrivateTargetError(`${hostname} resolves only to private addresses (${found.map((a) => a.address).join(', ')}); ${refusing}`);
    return cb(err, '', 0);
  }
  if (all) return cb(null, usable);
  cb(null, usable[0]!.address, usable[0]!.family);
}

/**
 * A `lookup` for net/tls/http connections through the system resolver that answers only public
 * addresses; `allowHint` names the setting that would allow private ones, for the error text.
 */
export function publicOnlyLookup(allowHint: string): LookupFunction {
  return ((hostname: string, options: dns.LookupOptions, cb: LookupCallback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return cb(err, '', 0);
      answer(hostname, addresses, options.all, cb, allowHint);
    });
  }) as LookupFunction;
}

export interface PublicLookupOptions {
  allowPrivate: boolean;
  /** The config key that would allow private addresses, for the error message. */
  setting: string;
}

/** Why `host` (an IP literal) may not be connected to, or undefined when it may. */
export function refusedLiteral(host: string, opts: PublicLookupOptions): string | undefined {
  return opts.allowPrivate ? undefined : privateLiteral(host, `set ${opts.setting} to allow`)?.message;
}

/** A `lookup` for http(s).request and tls.connect through mailgate's resolver: A records first, then AAAA. */
export function publicLookup(resolver: Resolver, opts: PublicLookupOptions): LookupFunction {
  return ((hostname: string, options: dns.LookupOptions, cb: LookupCallback) => {
    void resolveAll(resolver, hostname).then(
      (found) => answer(hostname, found, options.all, cb, opts.allowPrivate ? undefined : `set ${opts.setting} to allow`),
      (err: NodeJS.ErrnoException) => cb(err, '', 0),
    );
  }) as LookupFunction;
}

async function resolveAll(resolver: Resolver, hostname: string): Promise<Array<{ address: string; family: 4 | 6 }>> {
  const out: Array<{ address: string; family: 4 | 6 }> = [];
  let lastError: unknown;
  for (const [family, lookup] of [[4, resolver.resolve4.bind(resolver)], [6, resolver.resolve6.bind(resolver)]] as const) {
    try {
      for (const address of await lookup(hostname)) out.push({ address, family });
    } catch (err) {
      lastError = err;
    }
  }
  const code = (lastError as { code?: string } | undefined)?.code;
  if (out.length === 0 && lastError && code !== 'ENODATA' && code !== 'ENOTFOUND') throw lastError;
  return out;
}
