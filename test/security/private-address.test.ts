// The private-address check that keeps MX delivery, webhooks and shop upstreams off the relay's own
// network: every range that is not global unicast (ipaddr.js's classification), and IPv6 forms that
// carry an IPv4 address inside judged by that address — forms the old hand-written list let through.
import { describe, expect, it } from 'vitest';
import { isPrivateAddress } from '../../src/security/private-address.js';

describe('isPrivateAddress', () => {
  it.each([
    ['10.0.0.1'], ['127.0.0.1'], ['100.64.0.1'], ['169.254.169.254'], ['0.0.0.0'], ['255.255.255.255'],
    ['192.0.0.8'], ['198.18.0.1'], ['192.0.2.1'], ['::1'], ['fe80::1'], ['fc00::1'], ['2001:db8::1'],
    ['::ffff:10.0.0.1'],
    // NAT64 (RFC 6052), 6to4 and Teredo addresses whose IPv4 inside is private: the old list passed these.
    ['64:ff9b::a00:1'], ['2002:a00:1::'], ['2001:0:4136:e378:8000:63bf:f5ff:fffe'],
    ['not an address'],
  ])('%s is not for delivery', (address) => {
    expect(isPrivateAddress(address)).toBe(true);
  });

  it.each([['93.184.216.34'], ['::ffff:93.184.216.34'], ['64:ff9b::5db8:d822'], ['2002:5db8:d822::'], ['2a00:1450:4001::1']])('%s is public', (address) => {
    expect(isPrivateAddress(address)).toBe(false);
  });
});
