// MTA-STS (RFC 8461) for direct delivery, against real servers on loopback: a DNS server with the
// _mta-sts TXT records, an HTTPS server playing every mta-sts.<domain> policy host (certificate from
// a test CA), and SMTP sinks with STARTTLS (a CA-signed certificate for mx.secure.test, a
// self-signed one) or without it. The policy cache is driven by an injected clock; the last suite
// runs a mailgate process to see the operator's side: the reason in the error log.
import { Resolver } from 'node:dns/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Deliverer } from '../src/delivery/deliverer.js';
import { mxAllowed, parseStsPolicy, parseStsTxt } from '../src/delivery/tls-policy/mta-sts-policy.js';
import { MtaStsPolicies, RECHECK_MS } from '../src/delivery/tls-policy/mta-sts.js';
import { directDelivery, mxUpstream } from './helpers/direct-delivery.js';
import { startDnsServer, type DnsServer, type Zone } from './helpers/dns-server.js';
import { startPolicyServer, type PolicyServer } from './helpers/https-policy-server.js';
import { startSink, type Sink } from './helpers/smtp-sink.js';
import { makeTestCa, type TestCa } from './helpers/test-ca.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';
import { useMailgate } from './helpers/use-mailgate.js';
import { testConfig } from './helpers/config.js';
import { waitForEvent } from './helpers/events.js';

const policy = (mode: string, mx: string[], maxAge = 86400) => `version: STSv1\r\nmode: ${mode}\r\n${mx.map((m) => `mx: ${m}\r\n`).join('')}max_age: ${maxAge}\r\n`;

/** A domain with one MX host at 127.0.0.1, an _mta-sts TXT record with `id`, and its policy host. */
function stsDomain(domain: string, mx: string, id: string | undefined): Zone {
  return {
    [domain]: { MX: [{ preference: 10, exchange: mx }] },
    [mx]: { A: ['127.0.0.1'] },
    ...(id ? { [`_mta-sts.${domain}`]: { TXT: [`v=STSv1; id=${id};`, 'unrelated text record'] } } : {}),
    [`mta-sts.${domain}`]: { A: ['127.0.0.1'] },
  };
}

describe('MTA-STS records and policies (pure)', () => {
  it('reads the id of the one v=STSv1 TXT record; none or two mean no policy', () => {
    expect(parseStsTxt([['v=STSv1; id=20240101T000000;'], ['v=spf1 -all']])).toEqual({ ok: true, value: '20240101T000000' });
    expect(parseStsTxt([['v=STSv1;', ' id=abc123']])).toEqual({ ok: true, value: 'abc123' });
    expect(parseStsTxt([['v=spf1 -all']])).toMatchObject({ ok: false });
    expect(parseStsTxt([['v=STSv1; id=a'], ['v=STSv1; id=b']])).toMatchObject({ ok: false, reason: expect.stringContaining('2 "v=STSv1"') });
    expect(parseStsTxt([['v=STSv1; id=not-alnum!']])).toMatchObject({ ok: false });
  });

  it('parses a policy: mode, several mx, max_age; refuses what RFC 8461 does not allow', () => {
    expect(parseStsPolicy('version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.Example.net.\nmax_age: 604800\n')).toEqual({
      ok: true, value: { mode: 'enforce', mx: ['mail.example.com', '*.example.net'], maxAge: 604800, lines: ['version: STSv1', 'mode: enforce', 'mx: mail.example.com', 'mx: *.Example.net.', 'max_age: 604800'] },
    });
    expect(parseStsPolicy('version: STSv1\nmode: none\nmax_age: 0\n')).toMatchObject({ ok: true, value: { mode: 'none', mx: [] } });
    expect(parseStsPolicy('version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n')).toMatchObject({ ok: false, reason: 'version is not STSv1' });
    expect(parseStsPolicy('version: STSv1\nmode: enforce\nmax_age: 1\n')).toMatchObject({ ok: false, reason: 'mode enforce without any mx' });
    expect(parseStsPolicy('version: STSv1\nmode: strict\nmx: a.test\nmax_age: 1\n')).toMatchObject({ ok: false });
    expect(parseStsPolicy('version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 31557601\n')).toMatchObject({ ok: false });
    expect(parseStsPolicy('<html>not a policy</html>')).toMatchObject({ ok: false });
  });

  it('matches MX names: exactly, or a wildcard for one label', () => {
    expect(mxAllowed('mx1.example.com', ['mx1.example.com'])).toBe(true);
    expect(mxAllowed('MX1.Example.com.', ['mx1.example.com'])).toBe(true);
    expect(mxAllowed('mx1.example.com', ['*.example.com'])).toBe(true);
    expect(mxAllowed('example.com', ['*.example.com'])).toBe(false);
    expect(mxAllowed('a.b.example.com', ['*.example.com'])).toBe(false);
    expect(mxAllowed('mx.evil.test', ['mx1.example.com', '*.example.com'])).toBe(false);
  });
});

describe('MTA-STS against loopback DNS, HTTPS and SMTP', () => {
  let dir: string;
  let ca: TestCa;
  let dns: DnsServer;
  let web: PolicyServer;
  let tlsSink: Sink;
  let selfSignedSink: Sink;
  let plainSink: Sink;
  let resolver: Resolver;
  const log = pino({ level: 'silent' });
  const domains = ['secure.test', 'wrongname.test', 'notlisted.test', 'testing.test', 'plain.test', 'untrusted.test', 'cached.test', 'gone.test', 'nopolicy.test', 'wild.test'];

  beforeAll(async () => {
    dir = await makeTempDir('mg-mta-sts-');
    ca = makeTestCa(dir);
    const mxCert = ca.issue('mx', ['mx.secure.test', 'a.wild.test']);
    const webCert = ca.issue('web', domains.map((d) => `mta-sts.${d}`));
    const selfSigned = ca.selfSigned('self', ['mx.untrusted.test']);
    [tlsSink, selfSignedSink, plainSink] = await Promise.all([startSink({ tls: mxCert }), startSink({ tls: selfSigned }), startSink()]);
    web = await startPolicyServer(webCert);
    dns = await startDnsServer({
      ...stsDomain('secure.test', 'mx.secure.test', '1'),
      ...stsDomain('wrongname.test', 'mx.wrongname.test', '1'),
      ...stsDomain('notlisted.test', 'mx.elsewhere.test', '1'),
      ...stsDomain('testing.test', 'mx.testing.test', '1'),
      ...stsDomain('plain.test', 'mx.plain.test', '1'),
      ...stsDomain('untrusted.test', 'mx.untrusted.test', '1'),
      ...stsDomain('cached.test', 'mx.cached.test', '1'),
      ...stsDomain('nopolicy.test', 'mx.nopolicy.test', undefined),
      ...stsDomain('wild.test', 'a.wild.test', 'w1'),
    });
    web.setPolicy('secure.test', policy('enforce', ['mx.secure.test']));
    web.setPolicy('wrongname.test', policy('enforce', ['mx.wrongname.test']));
    web.setPolicy('notlisted.test', policy('enforce', ['mx.notlisted.test', '*.notlisted.test']));
    web.setPolicy('testing.test', policy('testing', ['mx.testing.test']));
    web.setPolicy('plain.test', policy('enforce', ['mx.plain.test']));
    web.setPolicy('untrusted.test', policy('enforce', ['mx.untrusted.test']));
    web.setPolicy('cached.test', policy('enforce', ['mx.cached.test'], 3600));
    web.setPolicy('wild.test', policy('enforce', ['*.wild.test']));
    resolver = new Resolver();
    resolver.setServers([dns.address]);
  }, 30_000);
  afterAll(async () => {
    await Promise.all([tlsSink?.close(), selfSignedSink?.close(), plainSink?.close(), web?.close(), dns?.close()]);
    await removeDir(dir);
  });

  const deliver = directDelivery(() => ({ resolver, mtaStsPort: web.port, ca: ca.caPem }));
  const deliverer = (now?: () => number) => new Deliverer({ hostname: 'relay.test', resolver, log, secure: { mtaStsPort: web.port, ca: ca.caPem }, ...(now ? { now } : {}) });
  const body = () => Buffer.from('Subject: sts\r\n\r\nhello\r\n');

  it('enforce, and the MX host\'s certificate is valid for its name: delivered over TLS, the session counted as a success', async () => {
    const d = deliverer();
    try {
      const [r] = await d.deliver(mxUpstream(tlsSink), { from: 'a@relay.test', to: ['x@secure.test'] }, body);
      expect(r).toMatchObject({ outcome: 'delivered', upstream: 'direct/mx.secure.test' });
      const [wild] = await d.deliver(mxUpstream(tlsSink), { from: 'a@relay.test', to: ['y@wild.test'] }, body);
      expect(wild).toMatchObject({ outcome: 'delivered', upstream: 'direct/a.wild.test' });
      expect(tlsSink.messages.filter((m) => m.to[0] === 'x@secure.test' || m.to[0] === 'y@wild.test').map((m) => m.secure)).toEqual([true, true]);
      expect(d.takeTlsSessions()).toEqual([
        expect.objectContaining({ policyDomain: 'secure.test', policyType: 'sts', result: 'success', receivingMx: 'mx.secure.test', receivingIp: '127.0.0.1', mxHosts: ['mx.secure.test'], policyStrings: ['version: STSv1', 'mode: enforce', 'mx: mx.secure.test', 'max_age: 86400'] }),
        expect.objectContaining({ policyDomain: 'wild.test', result: 'success', receivingMx: 'a.wild.test' }),
      ]);
      expect(web.requests.filter((q) => q.host === 'mta-sts.secure.test')).toEqual([{ host: 'mta-sts.secure.test', method: 'GET', path: '/.well-known/mta-sts.txt' }]);
    } finally {
      await d.close();
    }
  });

  it('enforce, and the certificate names another host: deferred with a reason that says so, nothing sent', async () => {
    const { result, sessions, message } = await deliver(tlsSink, 'x@wrongname.test');
    expect(result).toMatchObject({
      outcome: 'deferred', code: 'TLS_POLICY_FAILED', upstream: 'direct/mx.wrongname.test',
      reply: { code: 451, enhanced: '4.7.5', text: 'MTA-STS policy of wrongname.test requires TLS with a valid certificate for mx.wrongname.test: the certificate is for mx.secure.test, a.wild.test' },
    });
    expect(message).toBeUndefined();
    expect(sessions).toEqual([expect.objectContaining({ policyDomain: 'wrongname.test', result: 'certificate-host-mismatch', receivingMx: 'mx.wrongname.test' })]);
  });

  it('enforce, and the certificate is self-signed: deferred (not trusted)', async () => {
    const { result, sessions, message } = await deliver(selfSignedSink, 'x@untrusted.test');
    expect(result).toMatchObject({ outcome: 'deferred', code: 'TLS_POLICY_FAILED', reply: { text: expect.stringMatching(/^MTA-STS policy of untrusted\.test requires TLS with a valid certificate for mx\.untrusted\.test: the certificate is not signed by a trusted authority/) } });
    expect(message).toBeUndefined();
    expect(sessions).toEqual([expect.objectContaining({ result: 'certificate-not-trusted', reasonCode: 'DEPTH_ZERO_SELF_SIGNED_CERT' })]);
  });

  it('enforce, and the domain\'s MX host is not in the policy: deferred without connecting', async () => {
    const connections = tlsSink.connectionCount;
    const { result, sessions } = await deliver(tlsSink, 'x@notlisted.test');
    expect(result).toMatchObject({
      outcome: 'deferred', code: 'TLS_POLICY_FAILED', upstream: 'direct',
      reply: { code: 451, enhanced: '4.7.5', text: 'MTA-STS policy of notlisted.test allows only MX hosts matching mx.notlisted.test, *.notlisted.test; mx.elsewhere.test is not one of them' },
    });
    expect(tlsSink.connectionCount).toBe(connections);
    expect(sessions).toEqual([expect.objectContaining({ policyDomain: 'notlisted.test', result: 'validation-failure', receivingMx: 'mx.elsewhere.test', reasonCode: 'mx-not-in-policy' })]);
  });

  it('enforce, and the MX host offers no STARTTLS: deferred, nothing sent in the clear', async () => {
    const { result, sessions, message } = await deliver(plainSink, 'x@plain.test');
    expect(result).toMatchObject({ outcome: 'deferred', code: 'TLS_POLICY_FAILED', reply: { text: 'MTA-STS policy of plain.test requires TLS with a valid certificate for mx.plain.test: the server does not offer STARTTLS' } });
    expect(message).toBeUndefined();
    expect(sessions).toEqual([expect.objectContaining({ result: 'starttls-not-supported' })]);
  });

  it('testing mode: delivered although the certificate names another host, the failure recorded for the report', async () => {
    const d = deliverer();
    try {
      const [r] = await d.deliver(mxUpstream(tlsSink), { from: 'a@relay.test', to: ['x@testing.test'] }, body);
      expect(r).toMatchObject({ outcome: 'delivered', upstream: 'direct/mx.testing.test' });
      expect(tlsSink.messages.find((m) => m.to[0] === 'x@testing.test')).toMatchObject({ secure: true });
      // And without STARTTLS at all, in the clear.
      web.setPolicy('plain.test', policy('testing', ['mx.plain.test']));
      const d2 = deliverer();
      const [clear] = await d2.deliver(mxUpstream(plainSink), { from: 'a@relay.test', to: ['y@plain.test'] }, body);
      await d2.close();
      web.setPolicy('plain.test', policy('enforce', ['mx.plain.test']));
      expect(clear).toMatchObject({ outcome: 'delivered' });
      expect(plainSink.messages.map((m) => [m.to[0], m.secure])).toEqual([['y@plain.test', false]]);
      expect(d.takeTlsSessions()).toEqual([expect.objectContaining({ policyDomain: 'testing.test', result: 'certificate-host-mismatch', policyStrings: expect.arrayContaining(['mode: testing']) })]);
    } finally {
      await d.close();
    }
  });

  it('no policy published: delivered as before (opportunistic TLS), no session recorded', async () => {
    const d = deliverer();
    try {
      const [r] = await d.deliver(mxUpstream(selfSignedSink), { from: 'a@relay.test', to: ['x@nopolicy.test'] }, body);
      expect(r).toMatchObject({ outcome: 'delivered' });
      expect(d.takeTlsSessions()).toEqual([]);
      // Switched off for the upstream: a domain's policy is not even looked up.
      const asked = dns.queries.length;
      const [off] = await d.deliver(mxUpstream(selfSignedSink, { mtaSts: false }), { from: 'a@relay.test', to: ['z@untrusted.test'] }, body);
      expect(off).toMatchObject({ outcome: 'delivered' });
      expect(dns.queries.slice(asked).map((q) => q.name)).not.toContain('_mta-sts.untrusted.test');
    } finally {
      await d.close();
    }
  });

  it('a connection that fails before SMTP frees its pool slot: more failures than maxConnections, each delivery still answered', async () => {
    const d = deliverer();
    const closed = await startSink();
    await closed.close();
    try {
      for (let i = 0; i < 3; i++) {
        const [r] = await d.deliver(mxUpstream(closed, { maxConnections: 1, mtaSts: false }), { from: 'a@relay.test', to: [`x${i}@nopolicy.test`] }, body);
        expect(r).toMatchObject({ outcome: 'deferred', code: 'UPSTREAM_UNREACHABLE' });
      }
      for (let i = 0; i < 3; i++) {
        const [r] = await d.deliver(mxUpstream(plainSink, { maxConnections: 1 }), { from: 'a@relay.test', to: [`x${i}@plain.test`] }, body);
        expect(r).toMatchObject({ outcome: 'deferred', code: 'TLS_POLICY_FAILED' });
      }
    } finally {
      await d.close();
    }
  });

  it('keeps using a cached policy when its HTTPS server is gone; a new policy id makes it fetch again', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    // A policy host of its own, which this test takes down.
    const own = await startPolicyServer(ca.issue('own', ['mta-sts.cached.test']));
    own.setPolicy('cached.test', policy('enforce', ['mx.cached.test'], 3600));
    const d = new Deliverer({ hostname: 'relay.test', resolver, log, secure: { mtaStsPort: own.port, ca: ca.caPem }, now: () => now });
    try {
      const send = async () => (await d.deliver(mxUpstream(tlsSink), { from: 'a@relay.test', to: ['x@cached.test'] }, body))[0]!;
      const refused = { outcome: 'deferred', code: 'TLS_POLICY_FAILED', reply: { text: expect.stringContaining('MTA-STS policy of cached.test requires TLS with a valid certificate for mx.cached.test') } };
      expect(await send()).toMatchObject(refused);
      expect(own.requests).toHaveLength(1);
      // Within max_age and the same id: no fetch.
      now += RECHECK_MS + 1;
      expect(await send()).toMatchObject(refused);
      expect(own.requests).toHaveLength(1);
      // The server is gone and the id changed: the refetch fails, the cached policy still applies.
      await own.close();
      dns.set('_mta-sts.cached.test', { TXT: ['v=STSv1; id=2'] });
      now += RECHECK_MS + 1;
      expect(await send()).toMatchObject(refused);
      expect(d.takeTlsSessions()).toEqual(expect.arrayContaining([expect.objectContaining({ policyDomain: 'cached.test', policyType: 'sts', result: 'sts-policy-fetch-error' })]));
      // Past max_age with no server: no policy any more, delivered opportunistically.
      now += 3600 * 1000;
      expect(await send()).toMatchObject({ outcome: 'delivered' });
      expect(d.takeTlsSessions()).toEqual([expect.objectContaining({ policyDomain: 'cached.test', policyType: 'no-policy-found', result: 'sts-policy-fetch-error' })]);
    } finally {
      await d.close();
      await own.close();
      dns.set('_mta-sts.cached.test', { TXT: ['v=STSv1; id=1'] });
    }
  });

  it('policy cache: fetched once per id, kept when the TXT record goes, refetched when the id changes', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const policies = new MtaStsPolicies({ resolver, port: web.port, ca: ca.caPem, now: () => now });
    const fetches = () => web.requests.filter((q) => q.host === 'mta-sts.gone.test').length;
    dns.set('_mta-sts.gone.test', { TXT: ['v=STSv1; id=a1'] });
    dns.set('mta-sts.gone.test', { A: ['127.0.0.1'] });
    web.setPolicy('gone.test', policy('enforce', ['mx.gone.test'], 600));
    expect(await policies.lookup('gone.test', true)).toMatchObject({ policy: { mode: 'enforce', mx: ['mx.gone.test'] } });
    await Promise.all([policies.lookup('gone.test', true), policies.lookup('gone.test', true)]);
    expect(fetches()).toBe(1);
    dns.delete('_mta-sts.gone.test');
    now += RECHECK_MS + 1;
    expect(await policies.lookup('gone.test', true)).toMatchObject({ policy: { mode: 'enforce' } });
    web.setPolicy('gone.test', policy('testing', ['mx.gone.test'], 600));
    dns.set('_mta-sts.gone.test', { TXT: ['v=STSv1; id=a2'] });
    now += RECHECK_MS + 1;
    expect(await policies.lookup('gone.test', true)).toMatchObject({ policy: { mode: 'testing' } });
    expect(fetches()).toBe(2);
    // mode none: no policy.
    web.setPolicy('gone.test', 'version: STSv1\nmode: none\nmax_age: 600\n');
    dns.set('_mta-sts.gone.test', { TXT: ['v=STSv1; id=a3'] });
    now += RECHECK_MS + 1;
    expect(await policies.lookup('gone.test', true)).toEqual({});
  });

  it('a policy that cannot be used: not found, a redirect, the wrong type, an untrusted certificate, a private address', async () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    dns.set('_mta-sts.gone.test', { TXT: ['v=STSv1; id=b1'] });
    const lookup = async (reply: Parameters<PolicyServer['setPolicy']>[1] | undefined, opts: { allowPrivate?: boolean; ca?: string } = {}) => {
      if (reply === undefined) web.removePolicy('gone.test');
      else web.setPolicy('gone.test', reply);
      return new MtaStsPolicies({ resolver, port: web.port, ...(opts.ca === undefined ? { ca: ca.caPem } : opts.ca ? { ca: opts.ca } : {}), now: () => now }).lookup('gone.test', opts.allowPrivate ?? true);
    };
    expect(await lookup(undefined)).toEqual({ failure: { type: 'sts-policy-fetch-error', detail: 'mta-sts.gone.test: HTTP 404' } });
    expect(await lookup({ status: 301, body: '' })).toEqual({ failure: { type: 'sts-policy-fetch-error', detail: 'mta-sts.gone.test: HTTP 301 (redirects are not followed)' } });
    expect(await lookup({ contentType: 'text/html', body: policy('enforce', ['mx.gone.test']) })).toEqual({ failure: { type: 'sts-policy-invalid', detail: 'mta-sts.gone.test: served as "text/html", not text/plain' } });
    expect(await lookup('version: STSv1\nmode: enforce\nmax_age: 60\n')).toEqual({ failure: { type: 'sts-policy-invalid', detail: 'mta-sts.gone.test: mode enforce without any mx' } });
    expect(await lookup(policy('enforce', ['mx.gone.test']), { ca: '' })).toMatchObject({ failure: { type: 'sts-webpki-invalid' } });
    expect(await lookup(policy('enforce', ['mx.gone.test']), { allowPrivate: false })).toMatchObject({ failure: { type: 'sts-policy-fetch-error', detail: expect.stringContaining('resolves only to private addresses (127.0.0.1)') } });
  });
});

describe('MTA-STS in a running mailgate: the operator reads why mail waits', () => {
  let ca: TestCa;
  let caDir: string;
  let web: PolicyServer;
  beforeAll(async () => {
    caDir = await makeTempDir('mg-mta-sts-ca-');
    ca = makeTestCa(caDir);
    web = await startPolicyServer(ca.issue('web', ['mta-sts.shop-buyers.test', 'mta-sts.other-buyers.test']));
    web.setPolicy('shop-buyers.test', policy('enforce', ['mx.shop-buyers.test']));
    web.setPolicy('other-buyers.test', policy('enforce', ['mx.other-buyers.test']));
  });
  afterAll(async () => {
    await web?.close();
    await removeDir(caDir);
  });
  const w = useMailgate({
    prefix: 'mg-mta-sts-run-',
    sinks: [{}],
    dns: { ...stsDomain('shop-buyers.test', 'mx.shop-buyers.test', '1'), ...stsDomain('other-buyers.test', 'mx.other-buyers.test', '1') },
    config: async ({ dir, sinks, dns }) => {
      // The sink gets its certificate here: the CA is made in beforeAll, which runs first.
      const cert = ca.issue('mx', ['mx.shop-buyers.test']);
      await sinks[0]!.close();
      sinks[0] = await startSink({ port: sinks[0]!.port, tls: cert });
      return testConfig({
        dataDir: `${dir}/data`,
        upstreams: [`{ name: direct, type: mx, port: ${sinks[0]!.port}, allowPrivateAddresses: true }`],
        tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, password: correct-horse } ] }'],
        extra: `dns: { servers: [ "${dns.address}" ] }\nqueue: { retrySchedule: [1h], maxAge: 1d }\nsecureDelivery: { caFile: ${ca.caFile}, mtaStsPort: ${web.port} }`,
      });
    },
  });

  it('delivers to a domain whose policy the MX host meets, and defers the other with the policy\'s reason in the error log', async () => {
    await w.submit({ user: 'shop', pass: 'correct-horse' }).sendMail({ envelope: { from: 'orders@shop.test', to: ['a@shop-buyers.test', 'b@other-buyers.test'] }, raw: 'Subject: sts\r\n\r\nhello\r\n' });
    expect((await waitForEvent(w.mg, 'a@shop-buyers.test', ['delivered', 'deferred'])).match).toMatchObject({ type: 'delivered', upstream: 'direct/mx.shop-buyers.test' });
    expect(w.sinks[0]!.messages.map((m) => [m.to[0], m.secure])).toEqual([['a@shop-buyers.test', true]]);
    const deferred = (await waitForEvent(w.mg, 'b@other-buyers.test', ['delivered', 'deferred'])).match;
    expect(deferred).toMatchObject({ type: 'deferred', code: 'TLS_POLICY_FAILED', reply: { code: 451, enhanced: '4.7.5', text: 'MTA-STS policy of other-buyers.test requires TLS with a valid certificate for mx.other-buyers.test: the certificate is for mx.shop-buyers.test' } });
    const errors = (await (await w.api('/errors?tenant=shop')).json()) as { events: Array<{ code?: string; reply?: { text: string } }> };
    expect(errors.events).toEqual([expect.objectContaining({ code: 'TLS_POLICY_FAILED', reply: expect.objectContaining({ text: expect.stringContaining('MTA-STS policy of other-buyers.test requires TLS') }) })]);
  });
});
