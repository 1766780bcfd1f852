// The DNS lookup for mailgate's own outgoing HTTPS to names a recipient domain publishes (MTA-STS
// policy hosts, TLS report addresses): through mailgate's resolver (dns.servers), as MX lookups are,
// and refusing loopback, private and link-local addresses unless the setting named in the error
// allows them. The check runs on the addresses actually handed to the connection, so DNS rebinding
// does not get around it. Imports: node only, and private-address.ts.
import type { Resolver } from 'node:dns/promises';
import net, { type LookupFunction } from 'node:net';
import { isPrivateAddress } from './private-address.js';

export interface PublicLookupOptions {
  allowPrivate: boolean;
  /** The config key that would allow private addresses, for the error message. */
  setting: string;
}

/** Why `host` (an IP literal) may not be connected to, or undefined when it may. */
export function refusedLiteral(host: string, opts: PublicLookupOptions): string | undefined {
  const bare = host.replace(/^\[|\]$/g, '');
  if (net.isIP(bare) === 0 || opts.allowPrivate || !isPrivateAddress(bare)) return undefined;
  return `${bare} is a private address (set ${opts.setting} to allow)`;
}

/** A `lookup` for http(s).request and tls.connect: A records first, then AAAA. */
export function publicLookup(resolver: Resolver, opts: PublicLookupOptions): LookupFunction {
  return (hostname, options, callback) => {
    void resolveAll(resolver, hostname).then(
      (found) => {
        const allowed = opts.allowPrivate ? found : found.filter((a) => !isPrivateAddress(a.address));
        if (allowed.length === 0) {
          const err = found.length === 0
            ? Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' })
            : Object.assign(new Error(`${hostname} resolves only to private addresses (${found.map((a) => a.address).join(', ')}); set ${opts.setting} to allow`), { code: 'PRIVATE_TARGET' });
          return callback(err, '', 0);
        }
        if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: typeof allowed) => void)(null, allowed);
        callback(null, allowed[0]!.address, allowed[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
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
