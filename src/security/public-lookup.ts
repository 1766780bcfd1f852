// A DNS lookup for outgoing connections that refuses loopback, private and link-local answers, so a
// tenant's webhook URL or own SMTP server cannot aim mailgate at the operator's network. It is the
// lookup of the connection itself: the address checked is the address connected to, so a name that
// resolved to a public address when it was saved and inside the network later (DNS rebinding) is
// refused at that moment. Imports only the address ranges.
import dns from 'node:dns';
import net from 'node:net';
import { isPrivateAddress } from './private-address.js';

/** The error a refused target fails with (`code` PRIVATE_TARGET). */
export class PrivateTargetError extends Error {
  readonly code = 'PRIVATE_TARGET';
}

/** Why `host` (an IP literal) may not be connected to, or undefined; names are checked by publicOnlyLookup. */
export function privateLiteral(host: string, allowHint: string): PrivateTargetError | undefined {
  const bare = host.replace(/^\[|\]$/g, '');
  return net.isIP(bare) !== 0 && isPrivateAddress(bare) ? new PrivateTargetError(`${bare} is a private address (${allowHint})`) : undefined;
}

/**
 * A `lookup` for net/tls/http connections that answers only public addresses; `allowHint` names the
 * setting that would allow private ones, for the error text. With `all` (Node's address family
 * selection), private answers are dropped and the lookup fails when none is left.
 */
export function publicOnlyLookup(allowHint: string): net.LookupFunction {
  return ((hostname: string, options: dns.LookupOptions, cb: (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return cb(err, '', 0);
      const usable = addresses.filter((a) => !isPrivateAddress(a.address));
      if (usable.length === 0) {
        const seen = addresses.map((a) => a.address).join(', ');
        return cb(new PrivateTargetError(`${hostname} resolves to ${seen}, a private address (${allowHint})`), '', 0);
      }
      if (options.all) return cb(null, usable);
      cb(null, usable[0]!.address, usable[0]!.family);
    });
  }) as net.LookupFunction;
}
