// Issue 20, items 5 and 6, against the built CLI: one Postfix-style log line per recipient and
// attempt (JSON keys and the text mode's human line), the suppressed-recipients line, the SMTP
// greeting, and /metrics on prom-client (default Node metrics, recipient counters under their new
// names, per-upstream and per-domain outcomes with bounded domains, queue gauges), read over HTTP.
import net from 'node:net';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useMailgate } from './helpers/use-mailgate.js';
import { ADMIN_TOKEN, sinkUpstream, testConfig } from './helpers/config.js';
import { repoRoot, writeConfig } from './helpers/mailgate-process.js';
import { startSink } from './helpers/smtp-sink.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';

const PASSWORD = 'correct-horse-battery';
const POSTFIX_LINE = /^(\w+): to=<([^>]+)>, relay=(\S+), delay=([\d.]+), delays=([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+), dsn=(\d\.\d{1,3}\.\d{1,3}), status=(sent|deferred|bounced|expired) \((.*)\)$/;

/** The first line the server sends on a new connection. */
function greeting(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host);
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      data += chunk;
      if (data.includes('\r\n')) {
        socket.destroy();
        resolve(data.slice(0, data.indexOf('\r\n')));
      }
    });
    socket.on('error', reject);
  });
}

describe('delivery log lines, greeting and /metrics (JSON logs, direct MX)', () => {
  const w = useMailgate({
    prefix: 'mg-logs-',
    sinks: [{ rcptReply: (rcpt) => (rcpt.startsWith('gone@') ? { code: 550, message: '5.1.1 No such user' } : rcpt.startsWith('later@') ? { code: 451, message: '4.2.0 Try again later' } : undefined) }],
    dns: {
      'buyers.test': { MX: [{ preference: 10, exchange: 'mx.buyers.test' }] },
      'big.test': { MX: [{ preference: 10, exchange: 'mx.buyers.test' }] },
      'gmail.com': { MX: [{ preference: 10, exchange: 'mx.buyers.test' }] },
      'mx.buyers.test': { A: ['127.0.0.1'] },
    },
    config: ({ dir, sinks, dns }) => testConfig({
      dataDir: `${dir}/data`,
      upstreams: [`{ name: direct, type: mx, port: ${sinks[0]!.port}, allowPrivateAddresses: true }`],
      tenants: [`{ id: shop, name: Shop, auth: [ { user: shop, password: ${PASSWORD} } ] }`],
      extra: `dns: { servers: [ "${dns.address}" ] }\nqueue: { retrySchedule: [1h], maxAge: 1d }`,
    }),
  });

  it('greets with "220 <hostname> ESMTP mailgate" on submission and inbound', async () => {
    expect(await greeting(w.mg.submission.host, w.mg.submission.port)).toBe('220 relay.test ESMTP mailgate');
    expect(await greeting(w.mg.inbound.host, w.mg.inbound.port)).toBe('220 relay.test ESMTP mailgate');
  });

  it('logs one Postfix-style line per recipient: relay host[ip]:port, delay split, dsn, status and reply; as JSON keys too', async () => {
    const sent = await w.submit({ user: 'shop', pass: PASSWORD }).sendMail({ from: 'orders@shop.test', to: ['ok@buyers.test', 'gone@buyers.test', 'later@buyers.test'], subject: 'x', text: 'x' });
    const queueId = /queued as (\w+)/.exec(sent.response)![1]!;
    const lineFor = (to: string) => w.mg.waitForLog((l) => l.msgId === queueId && l.to === to);
    const [ok, gone, later] = await Promise.all([lineFor('ok@buyers.test'), lineFor('gone@buyers.test'), lineFor('later@buyers.test')]);
    const relay = `mx.buyers.test[127.0.0.1]:${w.sink.port}`;
    expect(ok).toMatchObject({ level: 30, msgId: queueId, relay, dsn: '2.0.0', status: 'sent', upstream: 'direct/mx.buyers.test', tenant: 'shop' });
    expect(gone).toMatchObject({ relay, dsn: '5.1.1', status: 'bounced', reply: '550 5.1.1 No such user' });
    expect(later).toMatchObject({ relay, dsn: '4.2.0', status: 'deferred', reply: '451 4.2.0 Try again later' });
    for (const l of [ok, gone, later]) {
      const m = POSTFIX_LINE.exec(String(l.msg));
      expect(m, String(l.msg)).not.toBeNull();
      expect(m![1]).toBe(queueId);
      expect([m![2], m![3], Number(m![4]), m![9], m![10], m![11]]).toEqual([l.to, l.relay, l.delay, l.dsn, l.status, l.reply]);
      // delay is the sum of its parts (each rounded to 10 ms).
      const parts = [m![5], m![6], m![7], m![8]].map(Number);
      expect(l.delays).toBe(parts.join('/'));
      expect(Math.abs(parts.reduce((a, b) => a + b, 0) - Number(m![4]))).toBeLessThanOrEqual(0.03);
    }
    // The delivered recipient's reply is the sink's own 250 text.
    expect(String(ok.reply)).toMatch(/^250 /);
    // Secrets never reach the log: not the tenant's password, not the admin token.
    expect(w.mg.stdout).not.toContain(PASSWORD);
    expect(w.mg.stdout).not.toContain(ADMIN_TOKEN);
  });

  it('logs suppressed recipients once per message, with a count', async () => {
    for (const address of ['blocked@buyers.test', 'blocked2@buyers.test']) {
      expect((await w.api('/suppression', { method: 'POST', body: { tenant: 'shop', address } })).status).toBe(201);
    }
    const sent = await w.submit({ user: 'shop', pass: PASSWORD }).sendMail({ from: 'orders@shop.test', to: ['blocked@buyers.test', 'blocked2@buyers.test', 'ok2@buyers.test'], subject: 'x', text: 'x' });
    const queueId = /queued as (\w+)/.exec(sent.response)![1]!;
    const line = await w.mg.waitForLog((l) => l.msgId === queueId && l.status === 'suppressed');
    expect(line).toMatchObject({ suppressed: 2, unsubscribed: 0, to: ['blocked@buyers.test', 'blocked2@buyers.test'], tenant: 'shop' });
    expect(String(line.msg)).toBe(`${queueId}: 2 recipient(s) not sent: on the suppression list or unsubscribed`);
    await w.mg.waitForLog((l) => l.msgId === queueId && l.to === 'ok2@buyers.test' && l.status === 'sent');
    expect(w.mg.logs.filter((l) => l.msgId === queueId && l.status === 'suppressed')).toHaveLength(1);
  });

  it('serves prom-client metrics behind the admin token: Node defaults, recipients_*, per upstream and per bounded domain, queue gauges', async () => {
    expect((await fetch(`${w.mg.adminUrl}/metrics`)).status).toBe(401);
    // 12 recipients at big.test: the 10th promotes the domain to a label of its own; lone.test stays "other"; gmail.com is named.
    const big = Array.from({ length: 12 }, (_, i) => `b${i}@big.test`);
    const sent = await w.submit({ user: 'shop', pass: PASSWORD }).sendMail({ from: 'orders@shop.test', to: [...big, 'x@gmail.com'], subject: 'x', text: 'x' });
    const queueId = /queued as (\w+)/.exec(sent.response)![1]!;
    await w.mg.waitForLog((l) => l.msgId === queueId && l.to === 'x@gmail.com' && l.status === 'sent');
    await w.mg.waitForLog((l) => l.msgId === queueId && l.to === 'b11@big.test' && l.status === 'sent');

    const started = performance.now();
    const res = await fetch(`${w.mg.adminUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const renderMs = performance.now() - started;
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    // prom-client's defaults: process, GC and event-loop lag.
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d/m);
    expect(text).toMatch(/^# TYPE nodejs_gc_duration_seconds histogram$/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
    // Recipient counters: 3 + 3 + 13 accepted; the old name duplicates it for one release.
    expect(value('mailgate_recipients_accepted_total{tenant="shop"}')).toBe(19);
    expect(value('mailgate_messages_accepted_total{tenant="shop"}')).toBe(19);
    expect(value('mailgate_recipients_failed_total{tenant="shop"}')).toBe(3); // gone@ refused, two suppressed
    // Per upstream (the configured name, not the MX host): suppressed recipients are not delivery outcomes.
    expect(value('mailgate_upstream_recipients_total{upstream="direct",outcome="delivered"}')).toBe(15);
    expect(value('mailgate_upstream_recipients_total{upstream="direct",outcome="bounced"}')).toBe(1);
    expect(value('mailgate_upstream_recipients_total{upstream="direct",outcome="deferred"}')).toBe(1);
    // Per domain: big providers by name, a busy domain from its 10th recipient on, the rest "other".
    expect(value('mailgate_domain_recipients_total{domain="gmail.com",outcome="delivered"}')).toBe(1);
    expect(value('mailgate_domain_recipients_total{domain="big.test",outcome="delivered"}')).toBe(3);
    expect(value('mailgate_domain_recipients_total{domain="other",outcome="delivered"}')).toBe(2 + 9);
    expect(value('mailgate_domain_recipients_total{domain="other",outcome="bounced"}')).toBe(1);
    expect(text).not.toContain('domain="buyers.test"');
    expect(text).toMatch(/^mailgate_delivery_latency_seconds_count 15$/m);
    // later@ waits for its retry in an hour: one message queued, accepted a moment ago.
    expect(value('mailgate_queue_depth')).toBe(1);
    const age = value('mailgate_queue_oldest_age_seconds')!;
    expect(age).toBeGreaterThan(0);
    expect(age).toBeLessThan(120);
    expect(value('mailgate_queue_oldest_due_age_seconds')).toBe(0);
    // The cluster gauges that were there before (one node, LevelDB).
    expect(text).toMatch(/^mailgate_node_info\{node="[^"]+",engine="level"\} 1$/m);
    expect(text).toMatch(/^mailgate_lease_held\{lease="webhooks"\} [01]$/m);
    expect(text).toMatch(/^mailgate_tracking_checks_total 0$/m);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await (await fetch(`${w.mg.adminUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
      times.push(performance.now() - t0);
    }
    console.log(`/metrics: ${text.length} bytes; first scrape ${renderMs.toFixed(1)} ms, median of 5 more ${times.sort((a, b) => a - b)[2]!.toFixed(1)} ms`);
  });
});

describe('logFormat: text', () => {
  it('writes local-time human lines with level names, and the Postfix line as is', async () => {
    const dir = await makeTempDir('mg-logtext-');
    const sink = await startSink({});
    // A zone without daylight saving and with an odd offset: UTC or the wrong zone cannot pass by chance.
    const configFile = await writeConfig(dir, `${testConfig({
      dataDir: `${dir}/data`, upstreams: [sinkUpstream('up', sink.port)], systemUpstream: 'up',
      tenants: [`{ id: shop, name: Shop, auth: [ { user: shop, password: ${PASSWORD} } ] }`],
    })}\nlogFormat: text\n`);
    const child = spawn(process.execPath, [path.join(repoRoot, 'dist/cli.js'), 'serve', '--config', configFile], { cwd: repoRoot, env: { ...process.env, TZ: 'Asia/Kathmandu' }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      child.stdout.setEncoding('utf8');
      const lines = (pred: RegExp) => new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line ${pred} in:\n${out}`)), 15_000);
        const look = () => {
          const hit = out.split('\n').find((l) => pred.test(l));
          if (hit) { clearTimeout(timer); child.stdout.off('data', look); resolve(hit); }
        };
        child.stdout.on('data', look);
        look();
      });
      child.stdout.on('data', (c: string) => { out += c; });
      const ready = await lines(/ INFO  mailgate ready /);
      const submission = /submission=([\d.]+):(\d+)/.exec(ready)!;
      const { default: nodemailer } = await import('nodemailer');
      const t = nodemailer.createTransport({ host: submission[1], port: Number(submission[2]), secure: false, ignoreTLS: true, auth: { user: 'shop', pass: PASSWORD } });
      await t.sendMail({ from: 'orders@shop.test', to: 'anna@example.test', subject: 'x', text: 'x' });
      const line = await lines(/status=sent/);
      const m = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) INFO  (\w+: to=<anna@example\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:(\d+), delay=[\d.]+, delays=[\d./]+, dsn=2\.\d\.\d, status=sent \(250 [^)]*\)) /.exec(line);
      expect(m, line).not.toBeNull();
      expect(Number(m![3])).toBe(sink.port);
      const printed = Date.parse(`${m![1]!.replace(' ', 'T')}+05:45`);
      expect(Math.abs(printed - Date.now())).toBeLessThan(60_000);
      // Fields follow as key=value; no JSON line anywhere.
      expect(line).toMatch(/ msgId=\w+ tenant=shop to=anna@example\.test relay=127/);
      expect(out.split('\n').filter((l) => l.startsWith('{'))).toEqual([]);
      expect(out).not.toContain(PASSWORD);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
      await sink.close();
      await removeDir(dir);
    }
  }, 30_000);
});
