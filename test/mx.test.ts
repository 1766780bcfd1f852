// Direct MX delivery against a real DNS server on loopback: preference order with fallback,
// implicit MX, and DNS answers that fail a recipient (no such domain, null MX).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { startSink, type Sink } from './helpers/smtp-sink.js';
import { startDnsServer, type DnsServer } from './helpers/dns-server.js';
import { startMailgate, writeConfig, type MailgateProcess } from './helpers/mailgate-process.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';
import { testConfig } from './helpers/config.js';
import { waitForEvent } from './helpers/events.js';

const finalEvent = async (mg: MailgateProcess, rcpt: string) => (await waitForEvent(mg, rcpt, ['delivered', 'failed'])).match;

describe('direct MX delivery', () => {
  let dir: string;
  let sink: Sink;
  let dns: DnsServer;
  let mg: MailgateProcess;

  beforeAll(async () => {
    dir = await makeTempDir('mg-mx-');
    sink = await startSink();
    dns = await startDnsServer({
      // mx1 (preferred) has no listener at 127.0.0.3: delivery falls back to mx2.
      'buyers.test': { MX: [{ preference: 20, exchange: 'mx2.buyers.test' }, { preference: 10, exchange: 'mx1.buyers.test' }] },
      'mx1.buyers.test': { A: ['127.0.0.3'] },
      'mx2.buyers.test': { A: ['127.0.0.1'] },
      'nomx.test': { A: ['127.0.0.1'] },
      'nullmx.test': { MX: [{ preference: 0, exchange: '.' }] },
    });
    const cfg = await writeConfig(dir, testConfig({
      dataDir: `${dir}/data`,
      upstreams: [`{ name: direct, type: mx, port: ${sink.port} }`],
      tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, password: correct-horse } ] }'],
      extra: `dns: { servers: [ "${dns.address}" ] }\nqueue: { retrySchedule: [1h], maxAge: 1d }`,
    }));
    mg = await startMailgate({ configFile: cfg });
  });
  afterAll(async () => {
    await mg?.kill();
    await sink?.close();
    await dns?.close();
    await removeDir(dir);
  });

  it('delivers to each domain through its MX hosts in preference order, one transaction per recipient', async () => {
    const t = nodemailer.createTransport({ host: mg.submission.host, port: mg.submission.port, secure: false, ignoreTLS: true, auth: { user: 'shop', pass: 'correct-horse' } });
    await t.sendMail({
      envelope: { from: 'orders@shop.test', to: ['a@buyers.test', 'b@buyers.test', 'c@nomx.test', 'd@nxdomain.test', 'e@nullmx.test'] },
      raw: 'Subject: mx\r\n\r\nhello\r\n',
    });
    const msgs = await sink.waitFor(3);
    expect(msgs.map((m) => m.to.join(',')).sort()).toEqual(['a@buyers.test', 'b@buyers.test', 'c@nomx.test']);

    expect(await finalEvent(mg, 'a@buyers.test')).toMatchObject({ type: 'delivered', upstream: 'direct/mx2.buyers.test' });
    expect(await finalEvent(mg, 'c@nomx.test')).toMatchObject({ type: 'delivered', upstream: 'direct/nomx.test' });
    expect(await finalEvent(mg, 'd@nxdomain.test')).toMatchObject({
      type: 'failed', code: 'DOMAIN_NOT_FOUND', reply: { code: 550, enhanced: '5.1.2' },
    });
    expect(await finalEvent(mg, 'e@nullmx.test')).toMatchObject({ type: 'failed', code: 'DOMAIN_NULL_MX', reply: { code: 556 } });
    // The preferred host was asked first.
    const aQueries = dns.queries.filter((q) => q.type === 'A').map((q) => q.name);
    expect(aQueries.indexOf('mx1.buyers.test')).toBeLessThan(aQueries.indexOf('mx2.buyers.test'));
  });
});
