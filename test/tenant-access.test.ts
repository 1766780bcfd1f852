// Who a client is by its source network: the most specific network wins, IPv4-mapped addresses are
// the plain ones, and asking again (every RCPT and DATA) gives the same answer. A stored network too
// wide to be one shop's servers is not used.
import { describe, expect, it } from 'vitest';
import { TenantAccess } from '../src/smtp/tenant-access.js';
import type { Tenant } from '../src/config/types.js';
import { parseConfig } from '../src/config/load.js';
import { openLevelStore } from '../src/store/level/index.js';
import { Directory } from '../src/tenants/directory.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';

const tenant = (id: string, networks: string[]): Tenant => ({ id, name: id, auth: [], networks, domains: [], source: 'config' });

describe('tenants by source network', () => {
  const access = new TenantAccess([tenant('wide', ['10.0.0.0/8', '2001:db8::/32']), tenant('narrow', ['10.1.2.3/32'])]);

  it('finds the most specific network, the same again when asked again, and nobody outside', () => {
    for (let i = 0; i < 3; i++) {
      expect(access.byNetwork('10.1.2.3')).toEqual({ tenant: expect.objectContaining({ id: 'narrow' }), network: '10.1.2.3/32' });
      expect(access.byNetwork('::ffff:10.1.2.4')).toEqual({ tenant: expect.objectContaining({ id: 'wide' }), network: '10.0.0.0/8' });
      expect(access.byNetwork('2001:db8::25')?.tenant.id).toBe('wide');
      expect(access.byNetwork('192.0.2.1')).toBeUndefined();
      expect(access.byNetwork('2001:db9::1')).toBeUndefined();
    }
  });

  it('keeps answering correctly past its memory of 10,000 addresses', () => {
    for (let i = 0; i < 10_050; i++) expect(access.byNetwork(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`)?.tenant.id).toBe(i === 0x010203 ? 'narrow' : 'wide');
    expect(access.byNetwork('10.1.2.3')?.tenant.id).toBe('narrow');
    expect(access.byNetwork('172.16.0.1')).toBeUndefined();
  });
});

describe('API-made tenants stored before networks had a width limit', () => {
  it('are loaded without a network that would make an open relay, and the operator is told', async () => {
    const dir = await makeTempDir('mg-wide-');
    const store = await openLevelStore(dir);
    try {
      await store.tenants.putTenant({ ...tenant('old', ['0.0.0.0/0', '10.1.0.0/16']), source: 'store', networkSenders: [{ cidr: '0.0.0.0/0', from: { address: 'x@old.test' } }] });
      const directory = new Directory(parseConfig('dataDir: /tmp/x\nsystem: { hostname: relay.shop.org, sender: { address: noreply@shop.org }, bounceDomain: bounces.shop.org }\n', { baseDir: '/tmp', env: {} }), store.tenants);
      const problems = await directory.load();
      expect(problems).toEqual([expect.stringMatching(/^tenant old: network 0\.0\.0\.0\/0 is not used: network "0\.0\.0\.0\/0" is too wide/)]);
      expect(directory.access().byNetwork('8.8.8.8')).toBeUndefined();
      expect(directory.access().byNetwork('10.1.2.3')?.tenant.id).toBe('old');
      expect(directory.tenant('old')?.networkSenders ?? []).toEqual([]);
    } finally {
      await store.close();
      await removeDir(dir);
    }
  });
});
