// Addresses mailgate must not be pointed at from outside: everything that is not global unicast —
// loopback, private (RFC 1918, ULA), shared (CGNAT), link-local, "this network", multicast,
// benchmarking, documentation and the other reserved ranges — as ipaddr.js classifies them, and
// IPv6 forms that carry an IPv4 address inside (IPv4-mapped, 6to4, NAT64 of RFC 6052, Teredo)
// judged by that address. Webhook targets and MX hosts are checked against this, on the address
// actually connected to. Not an address at all: treated as private (refused).
import ipaddr from 'ipaddr.js';

/** The IPv4 addresses an IPv6 address carries inside (mapped, 6to4, NAT64, Teredo server and client). */
function embeddedIpv4(v6: ipaddr.IPv6): ipaddr.IPv4[] {
  const b = v6.toByteArray();
  const v4 = (i: number, flip = false) => new ipaddr.IPv4([0, 1, 2, 3].map((k) => (flip ? b[i + k]! ^ 0xff : b[i + k]!)));
  switch (v6.range()) {
    case 'ipv4Mapped': return [v6.toIPv4Address()];
    case '6to4': return [v4(2)];
    case 'rfc6052':
    case 'rfc6145': return [v4(12)];
    case 'teredo': return [v4(4), v4(12, true)];
    default: return [];
  }
}

/** True unless `address` is a global unicast IPv4 or IPv6 address (and any IPv4 inside it is too). */
export function isPrivateAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return true;
  const ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv4') return ip.range() !== 'unicast';
  const inside = embeddedIpv4(ip as ipaddr.IPv6);
  if (inside.length > 0) return inside.some((v4) => v4.range() !== 'unicast');
  return ip.range() !== 'unicast';
}
