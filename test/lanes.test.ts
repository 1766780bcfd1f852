// Delivery lanes: a hanging upstream holds at most its maxConnections deliveries, so mail for other
// upstreams still flows while it hangs (without lanes it would take every delivery slot).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { startSink, type Sink } from './helpers/smtp-sink.js';
import { startTarpit, type Tarpit } from './helpers/tarpit.js';
import { startMailgate, writeConfig, type MailgateProcess } from './helpers/mailgate-process.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';
import { sinkUpstream, testConfig } from './helpers/config.js';

describe('delivery lanes per upstream', () => {
  let dir: string;
  let sink: Sink;
  let tarpit: Tarpit;
  let mg: MailgateProcess;

  beforeAll(async () => {
    dir = await makeTempDir('mg-lanes-');
    sink = await startSink();
    tarpit = await startTarpit();
    mg = await startMailgate({ configFile: await writeConfig(dir, testConfig({
      dataDir: `${dir}/data`,
      upstreams: [`{ name: hanging, host: 127.0.0.1, port: ${tarpit.port}, tls: none, maxConnections: 2 }`, sinkUpstream('fast', sink.port)],
      systemUpstream: 'fast',
      tenants: [
        '{ id: slow, name: Slow, upstream: hanging, auth: [ { user: slow, password: slow-password } ] }',
        '{ id: quick, name: Quick, upstream: fast, auth: [ { user: quick, password: quick-password } ] }',
      ],
      extra: 'queue: { concurrency: 4 }',
    })) });
  });
  afterAll(async () => {
    await mg?.kill('SIGKILL');
    await sink?.close();
    await tarpit?.close();
    await removeDir(dir);
  });

  it('keeps delivering to a healthy upstream while another one hangs', async () => {
    const send = (user: string, i: number) => nodemailer.createTransport({ host: mg.submission.host, port: mg.submission.port, secure: false, ignoreTLS: true, auth: { user, pass: `${user}-password` } })
      .sendMail({ from: `${user}@shop.test`, to: `buyer${i}@example.com`, subject: `${user} ${i}`, text: 'x' });
    for (let i = 0; i < 8; i++) await send('slow', i);
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    for (let i = 0; i < 3; i++) await send('quick', i);
    await sink.waitFor(3, 5000);
    expect(Date.now() - started).toBeLessThan(5000);
    // The hanging upstream got no more connections than its lane allows.
    expect(tarpit.connections).toBeLessThanOrEqual(2);
  });
});
