// Crash safety: every message answered 250 survives SIGKILL and is delivered exactly once after restart.
import { afterAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { startSink, type Sink } from './helpers/smtp-sink.js';
import { startMailgate, writeConfig, type MailgateProcess } from './helpers/mailgate-process.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';
import { sinkUpstream, testConfig } from './helpers/config.js';
import { startTarpit, type Tarpit } from './helpers/tarpit.js';

describe('crash safety', () => {
  let dir: string;
  let mg: MailgateProcess | undefined;
  let sink: Sink | undefined;
  let tarpit: Tarpit | undefined;

  afterAll(async () => {
    await mg?.kill();
    await sink?.close();
    await tarpit?.close();
    await removeDir(dir);
  });

  it('delivers every accepted message exactly once after SIGKILL and restart', async () => {
    dir = await makeTempDir('mg-crash-');
    tarpit = await startTarpit();
    const tenants = ['{ id: shop, name: Shop, auth: [ { user: shop, password: correct-horse } ], upstream: up }'];
    const extra = 'queue: { retrySchedule: [1h], maxAge: 3d }';
    mg = await startMailgate({ configFile: await writeConfig(dir, testConfig({ dataDir: `${dir}/data`, upstreams: [sinkUpstream('up', tarpit.port)], tenants, extra })) });

    const transport = nodemailer.createTransport({
      host: mg.submission.host, port: mg.submission.port, secure: false, ignoreTLS: true,
      pool: true, maxConnections: 5, maxMessages: 10, auth: { user: 'shop', pass: 'correct-horse' },
    });
    const N = 60;
    const sent = await Promise.all(Array.from({ length: N }, (_, i) => transport.sendMail({
      from: 'orders@shop.test', to: `buyer${i}@example.test`, subject: `order ${i}`,
      messageId: `<crash-${i}@shop.test>`, text: `order ${i}\n`.repeat(200),
    })));
    transport.close();
    expect(sent.every((s) => /queued as/.test(s.response))).toBe(true);

    expect(await mg.kill('SIGKILL')).toBeNull();
    mg = undefined;

    sink = await startSink();
    mg = await startMailgate({ configFile: await writeConfig(dir, testConfig({ dataDir: `${dir}/data`, upstreams: [sinkUpstream('up', sink.port)], tenants, extra })) });
    await sink.waitFor(N, 20_000);
    await new Promise((r) => setTimeout(r, 1500)); // anything extra would be a duplicate
    expect(sink.messages).toHaveLength(N);
    expect(new Set(sink.messages.map((m) => m.messageId))).toEqual(new Set(Array.from({ length: N }, (_, i) => `<crash-${i}@shop.test>`)));
    for (const m of sink.messages) {
      const i = /crash-(\d+)@/.exec(m.messageId!)![1];
      expect(m.to).toEqual([`buyer${i}@example.test`]);
      expect(m.raw.toString()).toContain(`order ${i}\r\n`.repeat(200));
    }
  });

  it('on SIGTERM abandons hanging deliveries within the grace period, exits 0, and delivers them after restart', async () => {
    await mg?.kill('SIGKILL');
    await sink?.close();
    await removeDir(dir);
    dir = await makeTempDir('mg-term-');
    tarpit ??= await startTarpit();
    const tenants = ['{ id: shop, name: Shop, auth: [ { user: shop, password: correct-horse } ], upstream: up }'];
    const extra = 'queue: { retrySchedule: [1h], maxAge: 3d }';
    mg = await startMailgate({ configFile: await writeConfig(dir, testConfig({ dataDir: `${dir}/data`, upstreams: [sinkUpstream('up', tarpit.port)], tenants, extra })) });
    const transport = nodemailer.createTransport({ host: mg.submission.host, port: mg.submission.port, secure: false, ignoreTLS: true, auth: { user: 'shop', pass: 'correct-horse' } });
    for (let i = 0; i < 5; i++) await transport.sendMail({ from: 'orders@shop.test', to: `t${i}@example.test`, subject: 's', messageId: `<term-${i}@shop.test>`, text: 'x' });
    const started = Date.now();
    expect(await mg.kill('SIGTERM')).toBe(0); // shutdownGrace is 3s in the test config
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(mg.logs.some((l) => l.msg === 'deliveries still in flight were abandoned; they retry after restart' && l.abandoned === 5)).toBe(true);
    mg = undefined;

    sink = await startSink();
    mg = await startMailgate({ configFile: await writeConfig(dir, testConfig({ dataDir: `${dir}/data`, upstreams: [sinkUpstream('up', sink.port)], tenants, extra })) });
    await sink.waitFor(5, 10_000);
    expect(new Set(sink.messages.map((m) => m.messageId))).toEqual(new Set([0, 1, 2, 3, 4].map((i) => `<term-${i}@shop.test>`)));
  });
});
