// DANE for SMTP (RFC 7672) in direct delivery, against real servers on loopback: a DNS server that
// serves TLSA records and sets the AD flag for names marked as DNSSEC-validated (as a validating
// resolver does), SMTP sinks with STARTTLS (a self-signed certificate for DANE-EE, a chain from a
// test CA for DANE-TA) or without it, and an HTTPS policy host for the MTA-STS precedence case.
import { createHash, X509Certificate } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querySecure } from '../src/delivery/tls-policy/dnssec-query.js';
import { certMatches, matchTlsa, presentTlsa, usableTlsa, type TlsaRecord } from '../src/delivery/tls-policy/tlsa.js';
import { directDelivery } from './helpers/direct-delivery.js';
import { startDnsServer, type DnsServer, type TlsaRecord as ZoneTlsa } from './helpers/dns-server.js';
import { startPolicyServer, type PolicyServer } from './helpers/https-policy-server.js';
import { startSink, type Sink } from './helpers/smtp-sink.js';
import { makeTestCa, type IssuedCert, type TestCa } from './helpers/test-ca.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';
import { useMailgate } from './helpers/use-mailgate.js';
import { testConfig } from './helpers/config.js';
import { waitForEvent } from './helpers/events.js';

const spki = (pem: string) => new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();
/** The DANE-EE record of a certificate's key: 3 1 1 <sha256 of the SubjectPublicKeyInfo>. */
const eeRecord = (pem: string): ZoneTlsa => ({ usage: 3, selector: 1, matchingType: 1, data: sha256(spki(pem)) });
const WRONG: ZoneTlsa = { usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32, 7) };

describe('TLSA records (pure)', () => {
  let dir: string;
  let ca: TestCa;
  let leaf: IssuedCert;
  beforeAll(async () => {
    dir = await makeTempDir('mg-tlsa-');
    ca = makeTestCa(dir);
    leaf = ca.issue('leaf', ['mx.example.test']);
  });
  afterAll(() => removeDir(dir));

  it('matches a certificate by each selector (whole certificate, public key) and matching type (exact, SHA-256, SHA-512)', () => {
    const cert = new X509Certificate(leaf.cert);
    const bytes = [cert.raw, spki(leaf.cert)];
    for (const selector of [0, 1]) {
      const b = bytes[selector]!;
      for (const [matchingType, data] of [[0, b], [1, sha256(b)], [2, createHash('sha512').update(b).digest()]] as const) {
        expect(certMatches({ usage: 3, selector, matchingType, data }, cert), `3 ${selector} ${matchingType}`).toBe(true);
        expect(certMatches({ usage: 3, selector, matchingType, data: Buffer.from(data.map((x) => x ^ 1)) }, cert)).toBe(false);
      }
    }
  });

  it('uses only DANE-TA and DANE-EE records of known selector and matching type, with the right length', () => {
    const ok: TlsaRecord = { usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32) };
    const records: TlsaRecord[] = [ok, { ...ok, usage: 1 }, { ...ok, usage: 0 }, { ...ok, selector: 2 }, { ...ok, matchingType: 3 }, { ...ok, data: Buffer.alloc(31) }, { usage: 2, selector: 0, matchingType: 2, data: Buffer.alloc(64) }];
    expect(usableTlsa(records)).toEqual([ok, records[6]]);
    expect(presentTlsa(ok)).toBe(`3 1 1 ${'00'.repeat(32)}`);
  });

  it('DANE-EE ignores names and dates; DANE-TA needs the chain up to the anchor and the MX host\'s name', () => {
    const chain = [new X509Certificate(leaf.cert), new X509Certificate(ca.caPem)];
    const now = Date.now();
    expect(matchTlsa([eeAsRecord(leaf.cert)], chain, 'some.other.name', now)).toBeUndefined();
    const ta: TlsaRecord = { usage: 2, selector: 0, matchingType: 1, data: sha256(chain[1]!.raw) };
    expect(matchTlsa([ta], chain, 'mx.example.test', now)).toBeUndefined();
    expect(matchTlsa([ta], chain, 'mx.other.test', now)).toMatchObject({ reasonCode: 'dane-ta-chain', detail: expect.stringContaining('for another name') });
    expect(matchTlsa([ta], chain, 'mx.example.test', now + 5 * 86400_000)).toMatchObject({ detail: expect.stringContaining('is not valid now') });
    expect(matchTlsa([ta], [chain[0]!], 'mx.example.test', now)).toMatchObject({ reasonCode: 'dane-no-match' });
  });
});

function eeAsRecord(pem: string): TlsaRecord {
  const r = eeRecord(pem);
  return { ...r, data: r.data as Buffer };
}

describe('DANE in direct delivery against loopback DNS and SMTP', () => {
  let dir: string;
  let ca: TestCa;
  let dns: DnsServer;
  let web: PolicyServer;
  let eeSink: Sink;
  let taSink: Sink;
  let plainSink: Sink;
  let ee: IssuedCert;
  let resolver: Resolver;

  /** A domain with one MX host at 127.0.0.1 whose TLSA records (for `port`) are `tlsa`, validated or not. */
  const daneDomain = (domain: string, port: number, tlsa: ZoneTlsa[] | 'SERVFAIL', validated = true) => {
    const mx = `mx.${domain}`;
    dns.set(domain, { MX: [{ preference: 10, exchange: mx }] });
    dns.set(mx, { A: ['127.0.0.1'], AD: validated });
    dns.set(`_${port}._tcp.${mx}`, tlsa === 'SERVFAIL' ? { SERVFAIL: ['TLSA'] } : { TLSA: tlsa, AD: validated });
  };

  beforeAll(async () => {
    dir = await makeTempDir('mg-dane-');
    ca = makeTestCa(dir);
    // DANE-EE needs no authority and no matching name: a self-signed certificate for some other name.
    ee = ca.selfSigned('ee', ['not-the-mx.invalid']);
    const ta = ca.issue('ta', ['mx.ta.test']);
    [eeSink, taSink, plainSink] = await Promise.all([startSink({ tls: ee }), startSink({ tls: { key: ta.key, cert: ta.cert + ca.caPem } }), startSink()]);
    web = await startPolicyServer(ca.issue('web', ['mta-sts.sts-too.test']));
    web.setPolicy('sts-too.test', 'version: STSv1\nmode: enforce\nmx: mx.sts-too.test\nmax_age: 86400\n');
    dns = await startDnsServer({ '_mta-sts.sts-too.test': { TXT: ['v=STSv1; id=1'] }, 'mta-sts.sts-too.test': { A: ['127.0.0.1'] } });
    const caDer = new X509Certificate(ca.caPem).raw;
    daneDomain('ee.test', eeSink.port, [WRONG, eeRecord(ee.cert)]);
    daneDomain('mismatch.test', eeSink.port, [WRONG]);
    daneDomain('unvalidated.test', eeSink.port, [WRONG], false);
    daneDomain('ta.test', taSink.port, [{ usage: 2, selector: 0, matchingType: 1, data: sha256(caDer) }]);
    daneDomain('ta-name.test', taSink.port, [{ usage: 2, selector: 0, matchingType: 1, data: sha256(caDer) }]);
    daneDomain('plain.test', plainSink.port, [eeRecord(ee.cert)]);
    daneDomain('pkix-only.test', eeSink.port, [{ usage: 1, selector: 1, matchingType: 1, data: Buffer.alloc(32) }]);
    daneDomain('pkix-only-plain.test', plainSink.port, [{ usage: 1, selector: 1, matchingType: 1, data: Buffer.alloc(32) }]);
    daneDomain('sts-too.test', eeSink.port, [eeRecord(ee.cert)]);
    daneDomain('signed-broken.test', eeSink.port, 'SERVFAIL', true);
    daneDomain('unsigned-broken.test', eeSink.port, 'SERVFAIL', false);
    resolver = new Resolver();
    resolver.setServers([dns.address]);
  }, 30_000);
  afterAll(async () => {
    await Promise.all([eeSink?.close(), taSink?.close(), plainSink?.close(), web?.close(), dns?.close()]);
    await removeDir(dir);
  });

  const deliver = directDelivery(() => ({ resolver, mtaStsPort: web.port, ca: ca.caPem }), { dane: true });

  it('asks the resolver with dns-packet and sees its AD flag', async () => {
    const validated = await querySecure([dns.address], `_${eeSink.port}._tcp.mx.ee.test`, 'TLSA');
    expect(validated).toMatchObject({ rcode: 'NOERROR', authentic: true, answers: [expect.objectContaining({ type: 'TLSA' }), expect.objectContaining({ type: 'TLSA' })] });
    expect(await querySecure(['127.0.0.1:1', dns.address], `_${eeSink.port}._tcp.mx.unvalidated.test`, 'TLSA', 500)).toMatchObject({ rcode: 'NOERROR', authentic: false });
    expect(await querySecure([dns.address], 'nothing-here.test', 'TLSA')).toMatchObject({ rcode: 'NXDOMAIN', authentic: false, answers: [] });
  });

  it('DANE-EE: the server\'s key matches a validated TLSA record: delivered over TLS, whatever the certificate\'s name', async () => {
    const { result, sessions, message } = await deliver(eeSink, 'x@ee.test');
    expect(result).toMatchObject({ outcome: 'delivered', upstream: 'direct/mx.ee.test' });
    expect(message).toMatchObject({ secure: true });
    expect(sessions).toEqual([expect.objectContaining({
      policyDomain: 'ee.test', policyType: 'tlsa', result: 'success', receivingMx: 'mx.ee.test', mxHosts: ['mx.ee.test'],
      policyStrings: [`3 1 1 ${'07'.repeat(32)}`, presentTlsa(eeAsRecord(ee.cert))],
    })]);
  });

  it('DANE-EE mismatch: deferred with a reason that says so, nothing sent', async () => {
    const { result, sessions, message } = await deliver(eeSink, 'x@mismatch.test');
    expect(result).toMatchObject({
      outcome: 'deferred', code: 'TLS_POLICY_FAILED', upstream: 'direct/mx.mismatch.test',
      reply: { code: 451, enhanced: '4.7.5', text: `DNSSEC-signed TLSA records of mx.mismatch.test require TLS with a certificate that matches them: the server's certificate does not match the TLSA record (3 1 1 070707070707070707…)` },
    });
    expect(message).toBeUndefined();
    expect(sessions).toEqual([expect.objectContaining({ policyType: 'tlsa', result: 'tlsa-invalid', reasonCode: 'dane-no-match' })]);
  });

  it('TLSA records without the AD flag are not trusted: ignored, delivered as before', async () => {
    const { result, sessions } = await deliver(eeSink, 'x@unvalidated.test');
    expect(result).toMatchObject({ outcome: 'delivered' });
    expect(sessions).toEqual([]);
  });

  it('DANE off for the upstream: no TLSA lookup, a mismatching record changes nothing', async () => {
    const asked = dns.queries.length;
    const { result } = await deliver(eeSink, 'y@mismatch.test', { dane: false });
    expect(result).toMatchObject({ outcome: 'delivered' });
    expect(dns.queries.slice(asked).some((q) => q.type === 'TLSA')).toBe(false);
  });

  it('DANE-TA: a chain to the anchor and the MX host\'s name: delivered; the same chain for another name: deferred', async () => {
    expect((await deliver(taSink, 'x@ta.test')).result).toMatchObject({ outcome: 'delivered' });
    const other = await deliver(taSink, 'x@ta-name.test');
    expect(other.result).toMatchObject({ outcome: 'deferred', code: 'TLS_POLICY_FAILED', reply: { text: expect.stringContaining('the certificate signed by the TLSA trust anchor is for another name') } });
  });

  it('STARTTLS missing under DANE: deferred, nothing sent in the clear', async () => {
    const { result, sessions, message } = await deliver(plainSink, 'x@plain.test');
    expect(result).toMatchObject({ outcome: 'deferred', code: 'TLS_POLICY_FAILED', reply: { text: 'DNSSEC-signed TLSA records of mx.plain.test require TLS with a certificate that matches them: the server does not offer STARTTLS' } });
    expect(message).toBeUndefined();
    expect(sessions).toEqual([expect.objectContaining({ policyType: 'tlsa', result: 'starttls-not-supported' })]);
  });

  it('validated TLSA records none of which SMTP can use: TLS required, any certificate', async () => {
    expect((await deliver(eeSink, 'x@pkix-only.test')).result).toMatchObject({ outcome: 'delivered' });
    expect((await deliver(plainSink, 'x@pkix-only-plain.test')).result).toMatchObject({ outcome: 'deferred', reply: { text: 'DNSSEC-signed TLSA records of mx.pkix-only-plain.test require TLS: the server does not offer STARTTLS' } });
  });

  it('DANE takes precedence over MTA-STS for a host with usable TLSA records', async () => {
    // The policy asks for a WebPKI certificate for mx.sts-too.test, which the self-signed one is not; DANE-EE vouches for its key.
    const { result, sessions } = await deliver(eeSink, 'x@sts-too.test');
    expect(result).toMatchObject({ outcome: 'delivered' });
    expect(sessions).toEqual([expect.objectContaining({ policyType: 'tlsa', result: 'success' })]);
    expect((await deliver(eeSink, 'y@sts-too.test', { dane: false })).result).toMatchObject({ outcome: 'deferred', reply: { text: expect.stringContaining('MTA-STS policy of sts-too.test requires TLS') } });
  });

  it('a failed TLSA lookup defers a host in a signed zone, and is ignored for an unsigned one', async () => {
    const signed = await deliver(eeSink, 'x@signed-broken.test');
    expect(signed.result).toMatchObject({ outcome: 'deferred', code: 'TLS_POLICY_FAILED', reply: { text: `DANE: the TLSA lookup of _${eeSink.port}._tcp.mx.signed-broken.test failed (SERVFAIL) although mx.signed-broken.test is in a DNSSEC-signed zone` } });
    expect(signed.sessions).toEqual([expect.objectContaining({ result: 'dnssec-invalid', receivingMx: 'mx.signed-broken.test' })]);
    expect((await deliver(eeSink, 'x@unsigned-broken.test')).result).toMatchObject({ outcome: 'delivered' });
  });
});

describe('DANE in a running mailgate (the delivery thread asks the configured resolver)', () => {
  let certDir: string;
  let ee: IssuedCert;
  beforeAll(async () => {
    certDir = await makeTempDir('mg-dane-run-ca-');
    ee = makeTestCa(certDir).selfSigned('ee', ['not-the-mx.invalid']);
  });
  afterAll(() => removeDir(certDir));
  const w = useMailgate({
    prefix: 'mg-dane-run-',
    sinks: [{}],
    dns: {},
    config: async ({ dir, sinks, dns }) => {
      await sinks[0]!.close();
      sinks[0] = await startSink({ port: sinks[0]!.port, tls: ee });
      for (const [domain, tlsa] of [['good-dane.test', eeRecord(ee.cert)], ['bad-dane.test', WRONG]] as const) {
        dns.set(domain, { MX: [{ preference: 10, exchange: `mx.${domain}` }] });
        dns.set(`mx.${domain}`, { A: ['127.0.0.1'] });
        dns.set(`_${sinks[0]!.port}._tcp.mx.${domain}`, { TLSA: [tlsa], AD: true });
      }
      return testConfig({
        dataDir: `${dir}/data`,
        upstreams: [`{ name: direct, type: mx, port: ${sinks[0]!.port}, allowPrivateAddresses: true, dane: true }`],
        tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, password: correct-horse } ] }'],
        extra: `dns: { servers: [ "${dns.address}" ] }\nqueue: { retrySchedule: [1h], maxAge: 1d }`,
      });
    },
  });

  it('delivers where the key matches and defers the other with the reason in the error log', async () => {
    await w.submit({ user: 'shop', pass: 'correct-horse' }).sendMail({ envelope: { from: 'orders@shop.test', to: ['a@good-dane.test', 'b@bad-dane.test'] }, raw: 'Subject: dane\r\n\r\nhello\r\n' });
    expect((await waitForEvent(w.mg, 'a@good-dane.test', ['delivered', 'deferred'])).match).toMatchObject({ type: 'delivered' });
    expect((await waitForEvent(w.mg, 'b@bad-dane.test', ['delivered', 'deferred'])).match).toMatchObject({
      type: 'deferred', code: 'TLS_POLICY_FAILED', reply: { text: expect.stringContaining('DNSSEC-signed TLSA records of mx.bad-dane.test require TLS with a certificate that matches them') },
    });
    expect(w.sinks[0]!.messages.map((m) => [m.to[0], m.secure])).toEqual([['a@good-dane.test', true]]);
  });
});
