// The admin API's contract for operators and shops, over real HTTP against a running mailgate, on
// LevelDB and on PostgreSQL: an admin token without `tenant` lists and searches errors, messages,
// suppression entries and parcels of every tenant (each row names its tenant; `tenant=` filters);
// a tenant token never sees another tenant's rows; every error answers { error, message }; unknown
// query parameters and body fields are refused by name; hostile input gets a clear 4xx, never a crash.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { ADMIN_TOKEN, sinkUpstream, testConfig } from './helpers/config.js';
import { startMailgate, writeConfig, type MailgateProcess } from './helpers/mailgate-process.js';
import { hasPostgres, noPostgresReason, startPostgres, type TestPostgres } from './helpers/postgres.js';
import { startSink, type Sink } from './helpers/smtp-sink.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';

const TENANTS = ['alpha', 'shop', 'zeta'];

interface Answer { status: number; body: Record<string, unknown> & { error?: string; message?: string } }

for (const engine of ['level', 'postgres'] as const) {
  const skip = engine === 'postgres' && !hasPostgres;
  describe.skipIf(skip)(`operator-wide views and the API's error contract (${engine}${skip ? `, skipped: ${noPostgresReason}` : ''})`, () => {
    let dir: string;
    let sink: Sink;
    let mg: MailgateProcess;
    let pg: TestPostgres | undefined;
    const tokens: Record<string, string> = {};

    const call = async (path: string, init: { method?: string; body?: unknown; token?: string; raw?: string; type?: string } = {}): Promise<Answer> => {
      const body = init.raw ?? (init.body !== undefined ? JSON.stringify(init.body) : undefined);
      const res = await fetch(`${mg.adminUrl}/api/v1${path}`, {
        method: init.method ?? 'GET',
        headers: { authorization: `Bearer ${init.token ?? ADMIN_TOKEN}`, ...(body !== undefined ? { 'content-type': init.type ?? 'application/json' } : {}) },
        ...(body !== undefined ? { body } : {}),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : {} };
    };
    /**
     * A body over the limit, announced by its Content-Length: the server answers 413 without reading
     * it. Only its start is written (the rest would go to a socket the server closes: EPIPE).
     */
    const oversized = (path: string, size: number) => new Promise<Answer>((resolve, reject) => {
      const req = http.request(`${mg.adminUrl}/api/v1${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', 'content-length': size } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => {
          resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : {} });
          req.destroy();
        });
      });
      req.on('error', reject);
      req.write('{"tenant":"shop","address":"');
    });
    const tenantsOf = (rows: unknown) => [...new Set((rows as Array<{ tenant: string }>).map((r) => r.tenant))].sort();

    beforeAll(async () => {
      dir = await makeTempDir('mg-opviews-');
      sink = await startSink({});
      let env: NodeJS.ProcessEnv = {};
      if (engine === 'postgres') {
        pg = await startPostgres();
        env = { MG_STORE_URL: await pg.database('opviews') };
      }
      mg = await startMailgate({
        env,
        configFile: await writeConfig(dir, testConfig({
          dataDir: `${dir}/data`,
          upstreams: [sinkUpstream('up', sink.port)],
          systemUpstream: 'up',
          tenants: TENANTS.map((t) => `{ id: ${t}, name: ${t}, auth: [ { user: ${t}, password: ${t}-password } ] }`),
          ...(engine === 'postgres' ? { extra: 'store: { engine: postgres, urlEnv: MG_STORE_URL }' } : {}),
        })),
      });
      for (const t of TENANTS) {
        const smtp = nodemailer.createTransport({ host: mg.submission.host, port: mg.submission.port, secure: false, ignoreTLS: true, auth: { user: t, pass: `${t}-password` } });
        await smtp.sendMail({ from: `orders@${t}.test`, to: `buyer@${t}.example`, subject: `order of ${t}`, text: 'x', headers: { 'X-Order-Id': `ORD-${t}` } });
        expect((await call('/errors', { method: 'POST', body: { tenant: t, type: 'PAYMENT_LATE', message: `late payment at ${t}`, reference: 'ORD-SHARED', email: `buyer@${t}.example` } })).status).toBe(201);
        expect((await call('/suppression', { method: 'POST', body: { tenant: t, address: `gone@${t}.example` } })).status).toBe(201);
        expect((await call('/tracking/settings', { method: 'PUT', body: { tenant: t, enabled: true } })).status).toBe(200);
        expect((await call('/shipments', { method: 'POST', body: { tenant: t, code: `8008234567000${TENANTS.indexOf(t)}`, carrier: 'russian-post', email: `buyer@${t}.example` } })).status).toBe(201);
        tokens[t] = ((await call(`/tenants/${t}/tokens`, { method: 'POST', body: { name: 'shop-admin' } })).body as { token: string }).token;
      }
      await sink.waitFor(3);
    }, 60_000);
    afterAll(async () => {
      await mg?.kill();
      await sink?.close();
      await pg?.stop();
      if (dir) await removeDir(dir);
    });

    it('an admin token without tenant lists every tenant\'s errors, messages, suppression entries and parcels, each row naming its tenant', async () => {
      const errors = await call('/errors');
      expect(errors.status).toBe(200);
      expect(tenantsOf(errors.body.events)).toEqual(TENANTS);
      const times = (errors.body.events as Array<{ time: number }>).map((e) => e.time);
      expect([...times].sort((a, b) => b - a)).toEqual(times);
      expect((await call('/errors/count?since=0')).body).toEqual({ tenant: null, since: 0, count: 3 });
      const messages = await call('/messages');
      expect(messages.status).toBe(200);
      expect(tenantsOf(messages.body.messages)).toEqual(TENANTS);
      expect(tenantsOf((await call('/suppression')).body.entries)).toEqual(TENANTS);
      expect(tenantsOf((await call('/shipments')).body.shipments)).toEqual(TENANTS);
    });

    it('searches across tenants (reference, recipient, Message-ID, parcel contact), and `tenant=` filters', async () => {
      expect(tenantsOf((await call('/errors?reference=ORD-SHARED')).body.events)).toEqual(TENANTS);
      expect(tenantsOf((await call('/errors?recipient=buyer@zeta.example')).body.events)).toEqual(['zeta']);
      expect(tenantsOf((await call('/messages?reference=ORD-shop')).body.messages)).toEqual(['shop']);
      expect(tenantsOf((await call('/messages?recipient=buyer@alpha.example')).body.messages)).toEqual(['alpha']);
      expect(tenantsOf((await call('/suppression?address=zeta')).body.entries)).toEqual(['zeta']);
      expect(tenantsOf((await call('/shipments?email=buyer@shop.example')).body.shipments)).toEqual(['shop']);
      expect(tenantsOf((await call('/shipments?code=80082345670002')).body.shipments)).toEqual(['zeta']);
      for (const [path, key] of [['/errors', 'events'], ['/messages', 'messages'], ['/suppression', 'entries'], ['/shipments', 'shipments']] as const) {
        expect(tenantsOf((await call(`${path}?tenant=alpha`)).body[key]), path).toEqual(['alpha']);
      }
      expect((await call('/errors/count?since=0&tenant=shop')).body).toEqual({ tenant: 'shop', since: 0, count: 1 });
      // paging across tenants: one row a page, no repeats, every tenant
      const seen: string[] = [];
      for (let cursor: string | undefined, n = 0; n === 0 || cursor; n++) {
        const page = await call(`/messages?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        seen.push(...(page.body.messages as Array<{ id: string }>).map((m) => m.id));
        cursor = page.body.cursor as string | undefined;
        expect(n).toBeLessThan(10);
      }
      expect(new Set(seen).size).toBe(3);
    });

    it('a tenant token sees only its own rows: without tenant its own, another tenant\'s refused, a foreign cursor reads nothing', async () => {
      const t = tokens.shop!;
      for (const [path, key] of [['/errors', 'events'], ['/messages', 'messages'], ['/suppression', 'entries'], ['/shipments', 'shipments'], ['/errors?reference=ORD-SHARED', 'events'], ['/messages?reference=ORD-alpha', 'messages'], ['/errors?recipient=buyer@alpha.example', 'events'], ['/shipments?code=80082345670000', 'shipments']] as const) {
        const r = await call(path, { token: t });
        expect(r.status, path).toBe(200);
        expect((r.body[key] as Array<{ tenant: string }>).every((x) => x.tenant === 'shop'), path).toBe(true);
      }
      expect((await call('/errors/count?since=0', { token: t })).body).toEqual({ tenant: 'shop', since: 0, count: 1 });
      for (const path of ['/errors?tenant=alpha', '/messages?tenant=zeta', '/suppression?tenant=alpha', '/shipments?tenant=alpha', '/errors/count?since=0&tenant=alpha']) {
        const r = await call(path, { token: t });
        expect(r.status, path).toBe(403);
        expect(r.body.error).toBe('FORBIDDEN');
      }
      // who asks is checked before what is asked: an admin route refuses a shop token before looking at its parameters
      expect((await call('/events?bogus=1', { token: t })).body.error).toBe('FORBIDDEN');
      expect((await call('/tracking/settings?tenant=alpha', { method: 'PUT', token: t, body: { tenant: 'shop', enabled: false } })).body.error).toBe('FORBIDDEN');
      // an admin's cross-tenant cursor, replayed by a shop, still reads only the shop's rows
      const adminPage = await call('/messages?limit=1');
      const replay = await call(`/messages?limit=50&cursor=${encodeURIComponent(adminPage.body.cursor as string)}`, { token: t });
      expect(replay.status).toBe(200);
      expect((replay.body.messages as Array<{ tenant: string }>).every((m) => m.tenant === 'shop')).toBe(true);
    });

    it('finds application errors by the customer\'s phone, however it is written, within the asking shop', async () => {
      expect((await call('/errors', { method: 'POST', body: { tenant: 'shop', type: 'TICKETS_TWICE', message: 'sold twice', phone: '+49 30 1234-5678' } })).status).toBe(201);
      for (const typed of ['030 12345678', '+49 (30) 1234 5678', '12345678']) {
        const found = await call(`/errors?tenant=shop&phone=${encodeURIComponent(typed)}`);
        expect(found.status, typed).toBe(200);
        expect((found.body.events as Array<{ detail?: string; phone?: string }>).map((e) => e.phone), typed).toEqual(['+49 30 1234-5678']);
      }
      expect(((await call('/errors?tenant=shop&phone=99999999')).body.events as unknown[])).toEqual([]);
      const other = Object.keys(tokens).find((t) => t !== 'shop')!;
      expect(((await call(`/errors?phone=12345678`, { token: tokens[other] })).body.events as unknown[])).toEqual([]);
    });

    it('refuses unknown query parameters and body fields by name (a misspelt filter must not look like a match)', async () => {
      const r = await call('/errors?tenant=shop&name=Anna&q=x&fone=123');
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('UNKNOWN_PARAMETER');
      expect(r.body.message).toMatch(/unknown query parameters: name, q, fone/);
      expect((await call('/messages?recipeint=a@b.test')).body.message).toMatch(/unknown query parameter: recipeint/);
      expect((await call('/tenants?x=1')).body).toMatchObject({ error: 'UNKNOWN_PARAMETER' });
      const body = await call('/suppression', { method: 'POST', body: { tenant: 'shop', address: 'a@b.test', note: 'x' } });
      expect(body.status).toBe(400);
      expect(body.body.message).toMatch(/unknown body field: note/);
    });

    it('answers every error in one shape { error, message }: validation, bad JSON, wrong type, too large, no route, no token', async () => {
      const cases: Array<[string, Promise<Answer>, number]> = [
        ['bad enum', call('/errors?class=bogus'), 400],
        ['bad integer', call('/errors/count?since=yesterday'), 400],
        ['missing field', call('/errors/count'), 400],
        ['bad JSON', call('/suppression', { method: 'POST', raw: '{"tenant":' }), 400],
        ['wrong content type', call('/suppression', { method: 'POST', raw: '<x/>', type: 'application/xml' }), 415],
        ['too large', oversized('/suppression', 2 * 1024 * 1024), 413],
        ['no route', call('/no-such-thing'), 404],
        ['no token', call('/errors', { token: 'nope' }), 401],
        ['bad id', call('/messages/..%2F..%2Fetc'), 400],
      ];
      for (const [what, answer, status] of cases) {
        const r = await answer;
        expect(r.status, what).toBe(status);
        expect(Object.keys(r.body).sort().slice(0, 2), what).toEqual(['error', 'message']);
        expect(r.body.error, what).toMatch(/^[A-Z_]+$/);
        expect(r.body.message, what).toEqual(expect.any(String));
        expect(r.body, what).not.toHaveProperty('statusCode');
      }
      expect((await call('/errors?class=bogus')).body.error).toBe('INVALID');
      expect(mg.exitCode).toBeUndefined();
    });
  });
}
