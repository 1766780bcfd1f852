// DNS verification of tenant sender domains against a real DNS server on loopback:
// the exact messages a shop admin sees for each kind of missing or wrong record.
import { generateKeyPairSync } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDomain } from '../src/identity/domain-check.js';
import { dkimRecord } from '../src/identity/dns-records.js';
import { startDnsServer, type DnsServer } from './helpers/dns-server.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const ed = generateKeyPairSync('ed25519').privateKey;
const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const spf = { include: '_spf.relay.test' };

describe('sender domain DNS checks', () => {
  let dns: DnsServer;
  let resolver: Resolver;

  beforeAll(async () => {
    dns = await startDnsServer({
      'good.test': { TXT: ['google-site-verification=abc', 'v=spf1 mx include:_spf.relay.test ~all'] },
      'mg1._domainkey.good.test': { TXT: [dkimRecord(rsa)] },
      'mg2._domainkey.good.test': { TXT: [dkimRecord(ed)] },
      '_dmarc.good.test': { TXT: ['v=DMARC1; p=quarantine; rua=mailto:d@good.test'] },
      'nospf.test': { TXT: ['some other text'] },
      'mg1._domainkey.nospf.test': { TXT: [dkimRecord(rsa)] },
      'otherspf.test': { TXT: ['v=spf1 include:_spf.google.com -all'] },
      'wrongkey.test': { TXT: ['v=spf1 include:_spf.relay.test ~all'] },
      'mg1._domainkey.wrongkey.test': { TXT: [dkimRecord(otherRsa)] },
    });
    resolver = new Resolver();
    resolver.setServers([dns.address]);
  });
  afterAll(async () => { await dns?.close(); });

  it('verifies correct SPF, rsa and ed25519 DKIM keys and notes the DMARC policy', async () => {
    const r = await checkDomain(resolver, { domain: 'good.test', selectors: [{ selector: 'mg1', key: rsa }, { selector: 'mg2', key: ed }], spf }, 1234);
    expect(r.verified).toBe(true);
    expect(r.checkedAt).toBe(1234);
    expect(r.spf).toMatchObject({ ok: true, found: 'v=spf1 mx include:_spf.relay.test ~all' });
    expect(r.dkim.map((d) => [d.selector, d.ok])).toEqual([['mg1', true], ['mg2', true]]);
    expect(r.dmarc).toMatchObject({ ok: true, policy: 'quarantine' });
  });

  it('says which SPF record to publish when there is none, and does not verify', async () => {
    const r = await checkDomain(resolver, { domain: 'nospf.test', selectors: [{ selector: 'mg1', key: rsa }], spf }, 0);
    expect(r.verified).toBe(false);
    expect(r.spf.message).toBe('no SPF record at nospf.test: publish TXT "v=spf1 include:_spf.relay.test ~all"');
    expect(r.dkim[0]!.ok).toBe(true);
  });

  it('shows how to extend an SPF record that does not authorise the relay', async () => {
    const r = await checkDomain(resolver, { domain: 'otherspf.test', selectors: [], spf }, 0);
    expect(r.spf.message).toBe('the SPF record of otherspf.test does not authorise this relay: add include:_spf.relay.test (publish TXT "v=spf1 include:_spf.google.com include:_spf.relay.test -all")');
  });

  it('names the selector whose published key does not match, with the record to publish', async () => {
    const r = await checkDomain(resolver, { domain: 'wrongkey.test', selectors: [{ selector: 'mg1', key: rsa }], spf }, 0);
    expect(r.verified).toBe(false);
    expect(r.dkim[0]!.message).toBe(`the DKIM key published at mg1._domainkey.wrongkey.test does not match the key mailgate signs with: replace it with TXT "${dkimRecord(rsa)}"`);
  });

  it('reports a missing DMARC record with a starting record, without failing verification', async () => {
    const r = await checkDomain(resolver, { domain: 'wrongkey.test', selectors: [{ selector: 'mg1', key: otherRsa }], spf }, 0);
    expect(r.verified).toBe(true);
    expect(r.dmarc.message).toBe('no DMARC record at _dmarc.wrongkey.test: publish TXT "v=DMARC1; p=none; rua=mailto:dmarc@wrongkey.test" (recommended; start with p=none)');
  });

  it('reports a missing DKIM record', async () => {
    const r = await checkDomain(resolver, { domain: 'otherspf.test', selectors: [{ selector: 'mg1', key: ed }], spf }, 0);
    expect(r.dkim[0]!.message).toBe(`no DKIM key at mg1._domainkey.otherspf.test: publish TXT "${dkimRecord(ed)}"`);
    expect(r.dkim[0]!.unchecked).toBeUndefined();
  });

  it('tells a failed lookup (nothing known) from a missing record', async () => {
    const dead = new Resolver({ timeout: 300, tries: 1 });
    dead.setServers(['127.0.0.1:9']); // nothing listens: ECONNREFUSED or a timeout
    const r = await checkDomain(dead, { domain: 'good.test', selectors: [{ selector: 'mg1', key: rsa }], spf }, 0);
    expect(r.verified).toBe(false);
    expect([r.spf.unchecked, r.dkim[0]!.unchecked]).toEqual([true, true]);
    expect(r.spf.message).toMatch(/^DNS lookup of good\.test failed \(\w+\); it will be checked again$/);
  });
});
