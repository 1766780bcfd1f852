// Two mailgate processes, each with its own data directory, on one real PostgreSQL database: what a
// shop-hosting provider runs behind one SMTP name. Either node's API shows every message; a bounce
// received by one node suppresses the address at the other; a tenant made through one node's API
// logs in at the other within 2 s; work that runs on one node at a time (webhooks here) moves to the
// other node when its holder is killed with SIGKILL.
import { mkdir, readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { ADMIN_TOKEN, sinkUpstream, testConfig } from './helpers/config.js';
import { waitForEvent } from './helpers/events.js';
import { runCli, startMailgate, writeConfig, type MailgateProcess } from './helpers/mailgate-process.js';
import { hasPostgres, noPostgresReason, startPostgres, type TestPostgres } from './helpers/postgres.js';
import { getHeader, startSink, type Sink } from './helpers/smtp-sink.js';
import { startRussianPostServer, type RussianPostServer } from './helpers/carrier-servers.js';
import { startTwilioServer, type TwilioServer } from './helpers/phone-gateway-servers.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';
import { startReceiver } from './helpers/webhook-receiver.js';

function dsn(to: string, recipient: string): string {
  return [
    'From: MAILER-DAEMON@mx.example.com', `To: ${to}`, 'Subject: Undelivered Mail Returned to Sender', 'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"', '',
    '--B1', 'Content-Type: text/plain', '', `<${recipient}>: host mx.example.com said: 550 5.1.1 User unknown`, '',
    '--B1', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; mx.example.com', '',
    `Final-Recipient: rfc822; ${recipient}`, 'Action: failed', 'Status: 5.1.1', 'Diagnostic-Code: smtp; 550 5.1.1 <' + recipient + '>: User unknown', '',
    '--B1--', '',
  ].join('\r\n');
}

describe.skipIf(!hasPostgres)(`two nodes on one PostgreSQL${hasPostgres ? '' : ` (skipped: ${noPostgresReason})`}`, () => {
  let pg: TestPostgres;
  let dir: string;
  let sink: Sink;
  let slowSink: Sink;
  let flakySink: Sink;
  let flaky = true;
  const nodes: Record<'a' | 'b', MailgateProcess> & { c?: MailgateProcess } = {} as never;
  let env: NodeJS.ProcessEnv;
  const files: Record<'a' | 'b' | 'c', string> = {} as never;

  const api = (mg: MailgateProcess, path: string, init: { method?: string; body?: unknown } = {}) => fetch(`${mg.adminUrl}/api/v1${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const submit = (mg: MailgateProcess, user = 'shop', pass = 'correct-horse') => nodemailer.createTransport({ host: mg.submission.host, port: mg.submission.port, secure: false, ignoreTLS: true, auth: { user, pass } });

  beforeAll(async () => {
    pg = await startPostgres();
    dir = await makeTempDir('mg-cluster-');
    sink = await startSink();
    slowSink = await startSink({ dataDelayMs: 250 });
    flakySink = await startSink({ rcptReply: () => (flaky ? { code: 451, message: '4.3.0 try again later' } : undefined) });
    // The database URL is a secret: from the environment, as an operator would give it.
    env = { MG_STORE_URL: await pg.database('cluster') };
    for (const n of ['a', 'b', 'c'] as const) {
      await mkdir(`${dir}/${n}`);
      files[n] = await writeConfig(`${dir}/${n}`, testConfig({
        dataDir: `${dir}/${n}/data`,
        upstreams: [sinkUpstream('up', sink.port), `{ name: slow, host: 127.0.0.1, port: ${slowSink.port}, tls: none, maxConnections: 2 }`, sinkUpstream('flaky', flakySink.port)],
        tenants: [
          '{ id: shop, name: Shop, auth: [ { user: shop, password: correct-horse } ], upstream: up }',
          '{ id: slowshop, name: Slow Shop, auth: [ { user: slowshop, password: correct-horse } ], upstream: slow }',
          '{ id: flakyshop, name: Flaky Shop, auth: [ { user: flakyshop, password: correct-horse } ], upstream: flaky }',
        ],
        extra: ['store: { engine: postgres, urlEnv: MG_STORE_URL }', 'queue: { retrySchedule: [1s] }', 'webhooks: { retrySchedule: [1s, 1s], timeout: 2s, allowPrivateTargets: true }'].join('\n'),
      }));
    }
    nodes.a = await startMailgate({ configFile: files.a, env });
    nodes.b = await startMailgate({ configFile: files.b, env });
  }, 90_000);
  afterAll(async () => {
    await Promise.all(Object.values(nodes).map((n) => n?.kill()));
    await sink?.close();
    await slowSink?.close();
    await flakySink?.close();
    await pg?.stop();
    if (dir) await removeDir(dir);
  });

  it('shows every message at either node, and a bounce received by B suppresses the address at A', async () => {
    await submit(nodes.a).sendMail({ from: 'orders@shop.test', to: 'gone@example.com', subject: 'Order 1', text: 'x', headers: { 'X-Order-Id': 'A-1' } });
    const [relayed] = await sink.waitFor(1);
    // B lists and finds A's message
    const listed = (await (await api(nodes.b, '/messages?tenant=shop&reference=A-1')).json()) as { messages: Array<{ id: string; subject: string }> };
    expect(listed.messages.map((m) => m.subject)).toEqual(['Order 1']);

    const inboundB = nodemailer.createTransport({ host: nodes.b.inbound.host, port: nodes.b.inbound.port, secure: false, ignoreTLS: true });
    await inboundB.sendMail({ envelope: { from: '', to: relayed!.from }, raw: dsn(relayed!.from, 'gone@example.com') });
    await waitForEvent(nodes.b, 'gone@example.com', 'bounced');

    const info = await submit(nodes.a).sendMail({ from: 'orders@shop.test', to: 'gone@example.com', subject: 'Order 2', text: 'x' });
    expect(info.response).toMatch(/^250 /);
    const { match } = await waitForEvent(nodes.a, 'gone@example.com', 'failed');
    expect(match).toMatchObject({ code: 'RECIPIENT_SUPPRESSED', class: 'hard', reason: 'user-unknown' });
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.messages).toHaveLength(1);
    // both nodes' error logs are the same log
    const errorsAt = async (mg: MailgateProcess) => ((await (await api(mg, '/errors?tenant=shop')).json()) as { events: Array<{ type: string }> }).events.map((e) => e.type);
    expect(await errorsAt(nodes.a)).toEqual(['failed', 'bounced']);
    expect(await errorsAt(nodes.b)).toEqual(['failed', 'bounced']);
  });

  it('a tenant made through node A\'s API logs in at node B within 2 s', async () => {
    const created = await api(nodes.a, '/tenants', { method: 'POST', body: { id: 'newshop', name: 'New Shop', upstream: 'up', auth: [{ user: 'newshop', password: 'a-long-enough-password' }] } });
    expect(created.status).toBe(201);
    const t0 = Date.now();
    let delivered = false;
    while (!delivered && Date.now() - t0 < 5000) {
      delivered = await submit(nodes.b, 'newshop', 'a-long-enough-password').sendMail({ from: 'shop@new.test', to: 'buyer@example.com', subject: 'Welcome', text: 'x' }).then(() => true, () => false);
      if (!delivered) await new Promise((r) => setTimeout(r, 100));
    }
    const ms = Date.now() - t0;
    expect(delivered).toBe(true);
    expect(ms).toBeLessThan(2000);
  });

  it('an upstream\'s maxConnections holds across both nodes', async () => {
    const send = (mg: MailgateProcess, i: number) => submit(mg, 'slowshop').sendMail({ from: 'orders@slow.test', to: `buyer${i}@example.com`, subject: `Slow ${i}`, text: 'x' });
    await Promise.all(Array.from({ length: 12 }, (_, i) => send(i % 2 === 0 ? nodes.a : nodes.b, i)));
    await slowSink.waitFor(12, 30_000);
    expect(slowSink.maxConcurrentTransactions).toBe(2);
  }, 40_000);

  it('a queued message is held, retried or deleted, and its content read or re-sent, only through the node that holds it', async () => {
    await submit(nodes.a, 'flakyshop').sendMail({ from: 'orders@flaky.test', to: 'stay@example.com', subject: 'Stays at A', text: 'x' });
    const { match } = await waitForEvent(nodes.a, 'stay@example.com', 'deferred');
    const id = match.msgId;
    const aId = (await readFile(`${dir}/a/data/node-id`, 'utf8')).trim();
    // Node B sees the message but refuses to change it, and says where to go.
    for (const [method, path] of [['POST', `/queue/${id}/hold`], ['POST', `/queue/${id}/retry`], ['POST', `/queue/${id}/release`], ['DELETE', `/queue/${id}`]] as const) {
      const res = await api(nodes.b, path, { method });
      expect(res.status, `${method} ${path}`).toBe(409);
      const body = (await res.json()) as { error: string; message: string; node: string };
      expect(body).toMatchObject({ error: 'ON_OTHER_NODE', node: aId });
      expect(body.message).toContain(aId);
    }
    const atA = async () => ((await (await api(nodes.a, '/queue?tenant=flakyshop')).json()) as { messages: Array<{ id: string; held: unknown }> }).messages.find((m) => m.id === id);
    expect(await atA()).toMatchObject({ held: null });
    // Node A does it (after a running attempt, if one is).
    let held: Response | undefined;
    for (let i = 0; i < 20 && (held = await api(nodes.a, `/queue/${id}/hold`, { method: 'POST' })).status === 409; i++) await new Promise((r) => setTimeout(r, 100));
    expect(held!.status).toBe(200);
    expect((await atA())?.held).toMatchObject({ by: expect.any(String) });
    const deleted = await api(nodes.a, `/queue/${id}`, { method: 'DELETE' });
    expect(await deleted.json()).toEqual({ id, failed: ['stay@example.com'] });
    // Its content stays on A's disk (kept for a re-send): B sends to A for the raw source and a re-send, A serves them.
    for (const [method, path, body] of [['GET', `/messages/${id}/raw`, undefined], ['POST', `/messages/${id}/resend`, { recipient: 'fixed@example.com' }]] as const) {
      const res = await api(nodes.b, path, { method, ...(body ? { body } : {}) });
      expect(res.status, path).toBe(409);
      expect(await res.json()).toMatchObject({ error: 'ON_OTHER_NODE', node: aId });
    }
    expect(await (await api(nodes.a, `/messages/${id}/raw`)).text()).toContain('Subject: Stays at A');

    // A node not heard from for more than 5 minutes is taken for dead: its queued messages can be deleted elsewhere.
    await submit(nodes.a, 'flakyshop').sendMail({ from: 'orders@flaky.test', to: 'orphan@example.com', subject: 'Left at A', text: 'x' });
    const orphan = (await waitForEvent(nodes.a, 'orphan@example.com', 'deferred')).match.msgId;
    let kept: Response | undefined;
    for (let i = 0; i < 20 && (kept = await api(nodes.a, `/queue/${orphan}/hold`, { method: 'POST' })).status === 409; i++) await new Promise((r) => setTimeout(r, 100));
    expect(kept!.status).toBe(200); // held, so A makes no attempt while B deletes it
    expect((await api(nodes.b, `/queue/${orphan}`, { method: 'DELETE' })).status).toBe(409); // A is alive
    const db = new URL(env.MG_STORE_URL!).pathname.slice(1);
    let gone: Response | undefined;
    for (let i = 0; i < 5; i++) {
      // As if A had stopped 10 minutes ago (its own heartbeat, every 5 s, may put it back between the two calls).
      await pg.sql(db, 'update nodes set heartbeat_at = heartbeat_at - 600000 where id = $1', [aId]);
      if ((gone = await api(nodes.b, `/queue/${orphan}`, { method: 'DELETE' })).status !== 409) break;
    }
    expect(await gone!.json()).toEqual({ id: orphan, failed: ['orphan@example.com'] });
  }, 30_000);

  it('`mailgate node drain` hands a node\'s queued messages to the others, which deliver them', async () => {
    const c = (nodes.c = await startMailgate({ configFile: files.c, env }));
    const sent = await Promise.all([1, 2, 3].map((i) => submit(c, 'flakyshop').sendMail({ from: 'orders@flaky.test', to: `wait${i}@example.com`, subject: `Held ${i}`, text: `body ${i}` })));
    for (const i of [1, 2, 3]) await waitForEvent(c, `wait${i}@example.com`, 'deferred');
    const drained = await runCli(['node', 'drain', '--grace', '2', '--config', files.c, '--json'], { env, timeoutMs: 30_000 });
    expect(drained.code, drained.stderr).toBe(0);
    expect(JSON.parse(drained.stdout)).toMatchObject({ handedOver: 3, kept: 0 });
    expect(await c.exited()).toBe(0);
    // C holds no message any more: the three belong to nobody until another node takes them on
    const cId = (await readFile(`${dir}/c/data/node-id`, 'utf8')).trim();
    const db = new URL(env.MG_STORE_URL!).pathname.slice(1);
    expect((await pg.sql(db, 'select count(*)::int as n from messages where node = $1 and due_at is not null', [cId])).rows[0].n).toBe(0);
    flaky = false;
    const got = await flakySink.waitFor(3, 20_000);
    expect(got.map((m) => m.messageId).sort()).toEqual(sent.map((x) => x.messageId).sort());
    expect(got.map((m) => m.raw.toString()).every((raw) => /body [123]/.test(raw))).toBe(true);
  }, 60_000);

  it('`mailgate status` and /metrics show the node and the cluster', async () => {
    const r = await runCli(['status', '--config', files.a, '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const status = JSON.parse(r.stdout) as { node: string; engine: string; nodes: Array<{ id: string; heartbeatAgeSeconds: number }> };
    expect(status.engine).toBe('postgres');
    expect(status.nodes).toHaveLength(2);
    expect(status.nodes.map((n) => n.id)).toContain(status.node);
    expect(status.nodes.every((n) => n.heartbeatAgeSeconds < 15)).toBe(true);
    const metrics = await (await fetch(`${nodes.b.adminUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    expect(metrics).toMatch(/^mailgate_node_info\{node="[^"]+",engine="postgres"\} 1$/m);
    expect(metrics.match(/^mailgate_cluster_heartbeat_age_seconds\{/gm)).toHaveLength(2);
  });

  it('webhook deliveries run on one node; after SIGKILL of that node the other takes them over within 30 s', async () => {
    const receiver = await startReceiver();
    try {
      const hook = await api(nodes.a, '/webhooks', { method: 'POST', body: { tenant: 'shop', url: receiver.url, events: ['failed'] } });
      expect(hook.status).toBe(201);
      const holds = async (mg: MailgateProcess) => /^mailgate_lease_held\{lease="webhooks"\} 1$/m.test(await (await fetch(`${mg.adminUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text());
      let holder: 'a' | 'b' | undefined;
      for (const until = Date.now() + 20_000; !holder && Date.now() < until;) {
        const [a, b] = [await holds(nodes.a), await holds(nodes.b)];
        expect(a && b).toBe(false);
        holder = a ? 'a' : b ? 'b' : undefined;
        if (!holder) await new Promise((r) => setTimeout(r, 200));
      }
      expect(holder).toBeDefined();
      const survivor = holder === 'a' ? 'b' : 'a';
      // the webhook made at A reaches B's list within 2 s
      const created = Date.now();
      while (!(await (await api(nodes[survivor], '/webhooks?tenant=shop')).text()).includes(receiver.url)) {
        expect(Date.now() - created).toBeLessThan(2000);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await nodes[holder!].kill('SIGKILL')).toBeNull();
      const killedAt = Date.now();
      // a suppressed address fails at once: a "failed" event for the webhook, committed by the survivor
      expect((await api(nodes[survivor], '/suppression', { method: 'POST', body: { tenant: 'shop', address: 'blocked@example.com' } })).status).toBe(201);
      await submit(nodes[survivor]).sendMail({ from: 'orders@shop.test', to: 'blocked@example.com', subject: 'Order 3', text: 'x' });
      const [got] = await receiver.waitFor(1, 35_000);
      const movedMs = Date.now() - killedAt;
      expect(JSON.parse(got!.body)).toMatchObject({ type: 'failed', data: { recipient: 'blocked@example.com' } });
      expect(movedMs).toBeLessThan(30_000);
      expect(await holds(nodes[survivor])).toBe(true);
      console.log(`webhook lease moved ${movedMs} ms after SIGKILL of its holder`);
    } finally {
      await receiver.close();
    }
  }, 60_000);
});

describe.skipIf(!hasPostgres)(`two nodes: parcel tracking moves to the other node when its holder is killed mid-cycle${hasPostgres ? '' : ` (skipped: ${noPostgresReason})`}`, () => {
  const CODE = '80082345679999';
  let pg: TestPostgres;
  let dir: string;
  let sink: Sink;
  let post: RussianPostServer;
  let twilio: TwilioServer;
  let env: NodeJS.ProcessEnv;
  const nodes: Partial<Record<'a' | 'b', MailgateProcess>> = {};

  beforeAll(async () => {
    pg = await startPostgres();
    dir = await makeTempDir('mg-cluster-tracking-');
    sink = await startSink();
    // The carrier answers after 3 s: long enough to kill the node that asked while its cycle waits.
    post = await startRussianPostServer({ login: 'shop-login', password: 'shop-password', latencyMs: 3000 });
    twilio = await startTwilioServer({ accountSid: 'AC0123456789abcdef0123456789abcdef', authToken: 'twilio-token' });
    env = { MG_STORE_URL: await pg.database('tracking') };
    for (const n of ['a', 'b'] as const) {
      await mkdir(`${dir}/${n}`);
      const file = await writeConfig(`${dir}/${n}`, testConfig({
        dataDir: `${dir}/${n}/data`,
        upstreams: [sinkUpstream('up', sink.port)],
        tenants: ['{ id: shop, name: Demo Shop, upstream: up, from: { address: orders@shop.test, name: Demo Shop }, auth: [ { user: shop, password: shop-password } ] }'],
        extra: [
          'store: { engine: postgres, urlEnv: MG_STORE_URL }',
          'tracking:',
          '  firstCheckDelay: 1s',
          `  carriers: { russian-post: { url: "${post.url}", login: shop-login, password: shop-password, timeout: 10s } }`,
          `  phoneGateways: [ { name: sms, type: twilio, baseUrl: "${twilio.url}", accountSid: AC0123456789abcdef0123456789abcdef, authToken: twilio-token } ]`,
        ].join('\n'),
      }));
      nodes[n] = await startMailgate({ configFile: file, env });
    }
  }, 90_000);
  afterAll(async () => {
    await Promise.all(Object.values(nodes).map((n) => n?.kill()));
    await Promise.all([sink?.close(), post?.close(), twilio?.close()]);
    await pg?.stop();
    if (dir) await removeDir(dir);
  });

  const api = (mg: MailgateProcess, path: string, init: { method?: string; body?: unknown } = {}) => fetch(`${mg.adminUrl}/api/v1${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const holdsTracking = async (mg: MailgateProcess) => /^mailgate_lease_held\{lease="tracking"\} 1$/m.test(await (await fetch(`${mg.adminUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text());

  it('sends each notice exactly once after SIGKILL of the node whose carrier call was in flight', async () => {
    const a = nodes.a!;
    const settings = await api(a, '/tracking/settings', { method: 'PUT', body: {
      tenant: 'shop', enabled: true, timeZone: 'UTC', window: { from: '00:01', to: '00:00' }, sms: { gateway: 'sms', sender: 'DemoShop' },
      adminAddresses: ['admin@shop.test'], reportTime: null,
      templates: { ru: { 'arrived-at-pickup': { subject: 'Заказ {orderReference} ждёт вас', text: 'Посылка {trackingCode} ждёт вас.', sms: 'Посылка {trackingCode} ждёт вас' } } },
    } });
    expect(settings.status, await settings.clone().text()).toBe(200);
    post.setHistory(CODE, [{ status: 'arrived-at-pickup', time: Date.now() - 60_000 }]);
    const created = await api(a, '/shipments', { method: 'POST', body: { tenant: 'shop', code: CODE, carrier: 'russian-post', name: 'Анна', email: 'anna@buyer.test', phone: '+79167654321', orderReference: 'Z-77' } });
    expect(created.status, await created.clone().text()).toBe(201);

    // The holder of the tracking lease asks the carrier; kill it while the answer is on its way.
    for (const until = Date.now() + 15_000; post.requests === 0 && Date.now() < until;) await new Promise((r) => setTimeout(r, 50));
    expect(post.requests).toBe(1);
    const holder = (await holdsTracking(nodes.a!)) ? 'a' : 'b';
    expect(await holdsTracking(nodes[holder === 'a' ? 'b' : 'a']!)).toBe(false);
    expect(await nodes[holder]!.kill('SIGKILL')).toBeNull();
    const killedAt = Date.now();
    const survivor = nodes[holder === 'a' ? 'b' : 'a']!;

    const [sms] = await twilio.waitFor(1, 40_000);
    const [mail] = await sink.waitFor(1, 10_000);
    const movedMs = Date.now() - killedAt;
    expect(sms!.body).toContain(CODE);
    expect(getHeader(mail!.headers, 'To')).toContain('anna@buyer.test');
    expect(movedMs).toBeLessThan(30_000);
    // and never a second time
    await new Promise((r) => setTimeout(r, 3000));
    expect(twilio.received).toHaveLength(1);
    expect(sink.messages).toHaveLength(1);
    expect(post.requests).toBe(2);
    const s = (await (await api(survivor, `/shipments/russian-post/${CODE}?tenant=shop`)).json()) as { notices: Record<string, { state: string }> };
    expect(Object.values(s.notices).map((n) => n.state).sort()).toEqual(['sent', 'sent']);
    expect(await holdsTracking(survivor)).toBe(true);
    console.log(`tracking lease moved; notices sent ${movedMs} ms after SIGKILL of the holder`);
  }, 60_000);
});
