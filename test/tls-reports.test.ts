// SMTP TLS reports (RFC 8460): the report format, and the whole way in a real relay — direct
// delivery under MTA-STS to loopback SMTP sinks counts its TLS sessions, and the daily job sends
// each recipient domain that publishes `_smtp._tls` its gzipped JSON report: POSTed to a loopback
// HTTPS server and mailed through the relay's own queue. The relay is the built one, in this
// process, so the job's day can be moved on with an injected clock.
import { Resolver } from 'node:dns/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { simpleParser } from 'mailparser';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { QueueEvent } from '../src/store/records.js';
import type { TlsSessionCount } from '../src/store/tls-reports.js';
import { openLevelStore } from '../src/store/level/index.js';
import { buildReport, parseTlsRptTxt, reportFileName, reportMail } from '../src/tls-reports/report.js';
import { TlsReportJob, type ReportSubmission } from '../src/tls-reports/job.js';
import type { Relay } from '../src/relay.js';
import { testConfig } from './helpers/config.js';
import { startDnsServer, type DnsServer } from './helpers/dns-server.js';
import { startPolicyServer, type PolicyServer } from './helpers/https-policy-server.js';
import { repoRoot } from './helpers/mailgate-process.js';
import { startSink, type Sink } from './helpers/smtp-sink.js';
import { makeTestCa, type TestCa } from './helpers/test-ca.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';

// The built relay: its delivery worker thread is a compiled file.
const { buildRelay } = (await import(pathToFileURL(path.join(repoRoot, 'dist', 'relay.js')).href)) as typeof import('../src/relay.js');

const DAY = 86400_000;
const source = { organization: 'Relay Test', contact: 'tlsrpt@relay.test', submitter: 'relay.test' };
const count = (over: Partial<TlsSessionCount>): TlsSessionCount => ({
  day: '2030-05-01', policyDomain: 'b.test', policyType: 'sts', policyStrings: ['version: STSv1', 'mode: enforce', 'mx: mx.b.test', 'max_age: 86400'], mxHosts: ['mx.b.test'],
  result: 'success', receivingMx: 'mx.b.test', receivingIp: '192.0.2.1', count: 1, ...over,
});

describe('TLS reports (pure)', () => {
  it('reads the report addresses of the one v=TLSRPTv1 record', () => {
    expect(parseTlsRptTxt([['v=TLSRPTv1; rua=mailto:tls@b.test,https://r.b.test/tlsrpt'], ['v=spf1 -all']])).toEqual(['mailto:tls@b.test', 'https://r.b.test/tlsrpt']);
    expect(parseTlsRptTxt([['v=TLSRPTv1;rua=', 'http://insecure.test/, https://ok.test/x']])).toEqual(['https://ok.test/x']);
    expect(parseTlsRptTxt([['v=TLSRPTv1; rua=mailto:a@b.test'], ['v=TLSRPTv1; rua=mailto:c@b.test']])).toEqual([]);
    expect(parseTlsRptTxt([])).toEqual([]);
  });

  it('builds the RFC 8460 report: one entry per policy, successes and failures summed, failure details', () => {
    const report = buildReport('2030-05-01', 'b.test', [
      count({ count: 5 }),
      count({ result: 'certificate-host-mismatch', reasonCode: 'ERR_TLS_CERT_ALTNAME_INVALID', sendingIp: '198.51.100.7', count: 2 }),
      count({ result: 'starttls-not-supported', receivingMx: 'mx2.b.test', receivingIp: '192.0.2.2', count: 1 }),
      count({ policyType: 'tlsa', policyStrings: ['3 1 1 ab'], mxHosts: ['mx.b.test'], count: 4 }),
      count({ policyType: 'no-policy-found', policyStrings: [], mxHosts: [], result: 'sts-policy-fetch-error', receivingMx: undefined, receivingIp: undefined, count: 1 }),
    ], source);
    expect(report).toEqual({
      'organization-name': 'Relay Test',
      'date-range': { 'start-datetime': '2030-05-01T00:00:00Z', 'end-datetime': '2030-05-01T23:59:59Z' },
      'contact-info': 'tlsrpt@relay.test',
      'report-id': '2030-05-01T00:00:00Z_b.test@relay.test',
      policies: [
        {
          policy: { 'policy-type': 'sts', 'policy-string': ['version: STSv1', 'mode: enforce', 'mx: mx.b.test', 'max_age: 86400'], 'policy-domain': 'b.test', 'mx-host': ['mx.b.test'] },
          summary: { 'total-successful-session-count': 5, 'total-failure-session-count': 3 },
          'failure-details': [
            { 'result-type': 'certificate-host-mismatch', 'sending-mta-ip': '198.51.100.7', 'receiving-mx-hostname': 'mx.b.test', 'receiving-ip': '192.0.2.1', 'failed-session-count': 2, 'failure-reason-code': 'ERR_TLS_CERT_ALTNAME_INVALID' },
            { 'result-type': 'starttls-not-supported', 'receiving-mx-hostname': 'mx2.b.test', 'receiving-ip': '192.0.2.2', 'failed-session-count': 1 },
          ],
        },
        {
          policy: { 'policy-type': 'tlsa', 'policy-string': ['3 1 1 ab'], 'policy-domain': 'b.test', 'mx-host': ['mx.b.test'] },
          summary: { 'total-successful-session-count': 4, 'total-failure-session-count': 0 },
        },
        {
          policy: { 'policy-type': 'no-policy-found', 'policy-domain': 'b.test' },
          summary: { 'total-successful-session-count': 0, 'total-failure-session-count': 1 },
          'failure-details': [{ 'result-type': 'sts-policy-fetch-error', 'failed-session-count': 1 }],
        },
      ],
    });
    expect(reportFileName('2030-05-01', 'b.test', source)).toBe('relay.test!b.test!1903824000!1903910399.json.gz');
  });

  it('mails a report as multipart/report with the gzipped JSON attached', async () => {
    const mail = await simpleParser(reportMail('tls@b.test', '2030-05-01', 'b.test', Buffer.from('gz'), source, new Date('2030-05-02T01:00:00Z')));
    expect(mail.subject).toBe('Report Domain: b.test Submitter: relay.test Report-ID: <2030-05-01T00:00:00Z_b.test@relay.test>');
    expect(mail.headers.get('tls-report-domain')).toBe('b.test');
    expect(mail.headers.get('tls-report-submitter')).toBe('relay.test');
    expect((mail.headers.get('content-type') as { value: string; params: Record<string, string> })).toMatchObject({ value: 'multipart/report', params: { 'report-type': 'tlsrpt' } });
    expect(mail.attachments).toEqual([expect.objectContaining({ contentType: 'application/tlsrpt+gzip', filename: 'relay.test!b.test!1903824000!1903910399.json.gz', content: Buffer.from('gz') })]);
  });
});

describe('the report job against loopback DNS and HTTPS', () => {
  let dir: string;
  let ca: TestCa;
  let dns: DnsServer;
  let web: PolicyServer;
  let resolver: Resolver;
  beforeAll(async () => {
    dir = await makeTempDir('mg-tlsrpt-job-');
    ca = makeTestCa(dir);
    web = await startPolicyServer(ca.issue('web', ['reports.test']));
    dns = await startDnsServer({ 'reports.test': { A: ['127.0.0.1'] } });
    resolver = new Resolver();
    resolver.setServers([dns.address]);
  });
  afterAll(async () => {
    await Promise.all([web?.close(), dns?.close()]);
    await removeDir(dir);
  });

  it('sends finished days only, drops a domain that asks for none, keeps one no address took, gives up after three days', async () => {
    const store = await openLevelStore(path.join(dir, 'store'));
    let now = Date.parse('2030-05-01T12:00:00Z');
    const mails: ReportSubmission[] = [];
    const job = (over: { allowPrivateTargets?: boolean } = {}) => new TlsReportJob({
      store: store.tlsReports, resolver, log: pino({ level: 'silent' }), now: () => now,
      settings: { enabled: true, organization: 'Relay Test', contact: 'tlsrpt@relay.test', submitter: 'relay.test', timeout: 5000, allowPrivateTargets: over.allowPrivateTargets ?? true, ca: ca.caPem },
      submit: async (m) => void mails.push(m),
    });
    try {
      dns.set('_smtp._tls.asks.test', { TXT: [`v=TLSRPTv1; rua=https://reports.test:${web.port}/tlsrpt,mailto:tls@asks.test`] });
      dns.set('_smtp._tls.failing.test', { TXT: [`v=TLSRPTv1; rua=https://reports.test:${web.port}/down`] });
      const session = (policyDomain: string, time: number) => ({ time, policyDomain, policyType: 'sts' as const, policyStrings: ['mode: enforce'], mxHosts: ['mx.x'], result: 'success', receivingMx: 'mx.x' });
      await store.tlsReports.record([session('asks.test', now), session('silent.test', now), session('failing.test', now)]);
      expect(await job().runOnce()).toEqual([]); // the day is not over
      now += DAY;
      web.postStatus = 500;
      const first = await job().runOnce();
      expect(first.map((r) => [r.policyDomain, r.delivered, r.failed.map((f) => f.error)])).toEqual([
        ['asks.test', ['mailto:tls@asks.test'], ['HTTP 500']],
        ['failing.test', [], ['HTTP 500']],
      ]);
      expect(mails.map((m) => [m.tenant, m.envelope])).toEqual([['tls-reports', { from: 'tlsrpt@relay.test', to: ['tls@asks.test'] }]]);
      // asks.test was taken by one address and silent.test asks for nothing: both gone; failing.test waits.
      expect(await store.tlsReports.pending('2030-06-01', 10)).toEqual([{ day: '2030-05-01', policyDomain: 'failing.test' }]);
      web.postStatus = 200;
      expect((await job({ allowPrivateTargets: false }).runOnce())[0]!.failed[0]!.error).toContain('resolves only to private addresses (127.0.0.1); set secureDelivery.tlsReports.allowPrivateTargets to allow');
      web.postStatus = 503;
      now += 4 * DAY;
      expect((await job().runOnce())[0]).toMatchObject({ policyDomain: 'failing.test', delivered: [] });
      expect(await store.tlsReports.pending('2030-06-01', 10)).toEqual([]);
      web.postStatus = 200;
    } finally {
      await store.close();
    }
  });
});

describe('TLS reports in a running relay', () => {
  let dir: string;
  let ca: TestCa;
  let dns: DnsServer;
  let web: PolicyServer;
  let sink: Sink;
  let relay: Relay;
  let clock = Date.now();
  const policy = (mode: string, mx: string) => `version: STSv1\nmode: ${mode}\nmx: ${mx}\nmax_age: 86400\n`;

  beforeAll(async () => {
    dir = await makeTempDir('mg-tlsrpt-');
    ca = makeTestCa(dir);
    sink = await startSink({ tls: ca.issue('mx', ['mx.good.test', 'mx.reports.test']) });
    web = await startPolicyServer(ca.issue('web', ['mta-sts.good.test', 'mta-sts.testing.test', 'mta-sts.wrong.test', 'reports.test']));
    web.setPolicy('good.test', policy('enforce', 'mx.good.test'));
    web.setPolicy('testing.test', policy('testing', 'mx.testing.test'));
    web.setPolicy('wrong.test', policy('enforce', 'mx.wrong.test'));
    const zone: Parameters<typeof startDnsServer>[0] = { 'reports.test': { A: ['127.0.0.1'], MX: [{ preference: 10, exchange: 'mx.reports.test' }] }, 'mx.reports.test': { A: ['127.0.0.1'] } };
    for (const d of ['good.test', 'testing.test', 'wrong.test']) {
      Object.assign(zone, {
        [d]: { MX: [{ preference: 10, exchange: `mx.${d}` }] },
        [`mx.${d}`]: { A: ['127.0.0.1'] },
        [`_mta-sts.${d}`]: { TXT: ['v=STSv1; id=1'] },
        [`mta-sts.${d}`]: { A: ['127.0.0.1'] },
      });
    }
    zone['_smtp._tls.good.test'] = { TXT: [`v=TLSRPTv1; rua=https://reports.test:${web.port}/tlsrpt/good`] };
    zone['_smtp._tls.testing.test'] = { TXT: [`v=TLSRPTv1; rua=mailto:tlsrpt@reports.test`] };
    zone['_smtp._tls.wrong.test'] = { TXT: [`v=TLSRPTv1; rua=https://reports.test:${web.port}/tlsrpt/wrong`] };
    dns = await startDnsServer(zone);
    const yaml = testConfig({
      dataDir: `${dir}/data`,
      upstreams: [`{ name: direct, type: mx, port: ${sink.port}, allowPrivateAddresses: true, maxConnections: 1 }`],
      tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, password: correct-horse } ] }'],
      extra: [
        `dns: { servers: [ "${dns.address}" ] }`,
        'queue: { retrySchedule: [1h], maxAge: 3d }',
        `secureDelivery: { caFile: ${ca.caFile}, mtaStsPort: ${web.port}, tlsReports: { enabled: true, organization: Relay Test, allowPrivateTargets: true } }`,
      ].join('\n'),
    });
    relay = await buildRelay(parseConfig(yaml, { baseDir: dir, env: {} }), pino({ level: 'silent' }), { now: () => clock });
    await relay.start({ trackingLoop: false });
  }, 30_000);
  afterAll(async () => {
    await relay?.stopWork(1000);
    await relay?.close();
    await Promise.all([sink?.close(), web?.close(), dns?.close()]);
    await removeDir(dir);
  });

  const send = (to: string) => relay.queue.submit({ tenant: 'shop', envelope: { from: 'orders@shop.test', to: [to] }, body: Readable.from([Buffer.from(`Subject: hi\r\n\r\nhello ${to}\r\n`)]), source: { kind: 'api' } });
  const outcome = async (to: string): Promise<QueueEvent> => {
    for (let i = 0; i < 200; i++) {
      const ev = (await relay.store.events.byRecipient(to, 20)).find((e) => e.type === 'delivered' || e.type === 'deferred');
      if (ev) return ev;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no outcome for ${to}`);
  };

  it('counts the sessions, and the next day each domain gets its report with the right counts: over HTTPS, and by mail through the queue', async () => {
    // good.test: connections that meet the policy, one session each (pooled: usually one carries both
    // messages, but a busy box may open a second; the report counts what the sink saw);
    // testing.test: delivered over a certificate for another name (one failed session);
    // wrong.test (enforce): each attempt is a new connection, refused (two failed sessions).
    for (const to of ['a@good.test', 'b@good.test', 'c@testing.test', 'd@wrong.test', 'e@wrong.test']) {
      await send(to);
      await outcome(to);
    }
    expect(await Promise.all(['a@good.test', 'b@good.test', 'c@testing.test', 'd@wrong.test'].map(async (to) => (await outcome(to)).type))).toEqual(['delivered', 'delivered', 'delivered', 'deferred']);
    const day = new Date(clock).toISOString().slice(0, 10);
    // Counted with the delivery outcomes; nothing is sent while the day lasts.
    await expect.poll(async () => (await relay.store.tlsReports.counts(day, 'wrong.test')).reduce((n, c) => n + c.count, 0)).toBe(2);
    expect(await relay.tlsReports.runOnce()).toEqual([]);

    // wrong.test's two messages are retried (an hour later by this clock) and each attempt counts a
    // session at the delivery thread's own time (today): taken out of the queue before the day ends.
    for (const to of ['d@wrong.test', 'e@wrong.test']) {
      const id = (await outcome(to)).msgId;
      for (let i = 0; i < 100 && (await relay.scheduler.remove(id, 'test')).status === 'busy'; i++) await new Promise((r) => setTimeout(r, 50));
    }
    // The report of a day goes out an hour after it ends (an attempt running over midnight is counted first).
    clock += DAY;
    if (Date.parse(`${new Date(clock).toISOString().slice(0, 10)}T01:00:00Z`) > clock) {
      expect(await relay.tlsReports.runOnce()).toEqual([]);
      clock += 60 * 60 * 1000;
    }
    const sent = await relay.tlsReports.runOnce();
    expect(sent.map((s) => [s.policyDomain, s.delivered])).toEqual([
      ['good.test', [`https://reports.test:${web.port}/tlsrpt/good`]],
      ['testing.test', ['mailto:tlsrpt@reports.test']],
      ['wrong.test', [`https://reports.test:${web.port}/tlsrpt/wrong`]],
    ]);
    const posted = (p: string) => {
      const post = web.posts.find((x) => x.path === p)!;
      expect(post.contentType).toBe('application/tlsrpt+gzip');
      return JSON.parse(gunzipSync(post.body).toString('utf8')) as { policies: Array<{ policy: Record<string, unknown>; summary: Record<string, number>; 'failure-details'?: Array<Record<string, unknown>> }> } & Record<string, unknown>;
    };
    const good = posted('/tlsrpt/good');
    expect(good).toMatchObject({ 'organization-name': 'Relay Test', 'contact-info': 'noreply@relay.test', 'report-id': `${day}T00:00:00Z_good.test@relay.test`, 'date-range': { 'start-datetime': `${day}T00:00:00Z` } });
    expect(good.policies).toEqual([{
      policy: { 'policy-type': 'sts', 'policy-string': ['version: STSv1', 'mode: enforce', 'mx: mx.good.test', 'max_age: 86400'], 'policy-domain': 'good.test', 'mx-host': ['mx.good.test'] },
      summary: { 'total-successful-session-count': new Set(sink.messages.filter((m) => m.to.some((t) => t.endsWith('@good.test'))).map((m) => m.session)).size, 'total-failure-session-count': 0 },
    }]);
    expect(posted('/tlsrpt/wrong').policies).toEqual([expect.objectContaining({
      summary: { 'total-successful-session-count': 0, 'total-failure-session-count': 2 },
      'failure-details': [{ 'result-type': 'certificate-host-mismatch', 'sending-mta-ip': '127.0.0.1', 'receiving-mx-hostname': 'mx.wrong.test', 'receiving-ip': '127.0.0.1', 'failed-session-count': 2, 'failure-reason-code': 'ERR_TLS_CERT_ALTNAME_INVALID' }],
    })]);
    // The mailed report went through the queue to reports.test's MX (the sink), DKIM and all.
    await outcome('tlsrpt@reports.test');
    const mailed = sink.messages.find((m) => m.to[0] === 'tlsrpt@reports.test')!;
    const parsed = await simpleParser(mailed.raw);
    expect(parsed.headers.get('tls-report-domain')).toBe('testing.test');
    const report = JSON.parse(gunzipSync(parsed.attachments[0]!.content).toString('utf8')) as { policies: Array<{ summary: Record<string, number>; 'failure-details': Array<Record<string, unknown>> }> };
    expect(report.policies[0]!.summary).toEqual({ 'total-successful-session-count': 0, 'total-failure-session-count': 1 });
    expect(report.policies[0]!['failure-details'][0]).toMatchObject({ 'result-type': 'certificate-host-mismatch', 'receiving-mx-hostname': 'mx.testing.test' });
    // Sent once.
    expect(await relay.tlsReports.runOnce()).toEqual([]);
  });
});
