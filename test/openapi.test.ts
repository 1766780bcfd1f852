// The admin API's OpenAPI document is complete and true: every operation has a summary, a
// description, a success schema and the shared error schema; a broad walk over real HTTP against
// a mailgate in check mode (every answer validated against its closed schema before it is sent)
// gets no answer its schema does not describe, and every body also matches the served document;
// TypeScript types generated from the document (openapi-typescript) type-check a small client.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import pino from 'pino';
import { Ajv } from 'ajv';
import nodemailer from 'nodemailer';
import { installApiContract } from '../src/admin/api-contract.js';
import { installErrorHandler } from '../src/admin/errors.js';
import { sinkUpstream, testConfig } from './helpers/config.js';
import { repoRoot } from './helpers/mailgate-process.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';
import { useMailgate } from './helpers/use-mailgate.js';

interface Operation { summary?: string; description?: string; responses?: Record<string, { content?: Record<string, { schema?: object }>; description?: string }> }
type Doc = { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, object>; securitySchemes: Record<string, unknown> }; security: unknown[] };

describe('OpenAPI document and response schemas', () => {
  const w = useMailgate({
    prefix: 'mg-openapi-',
    sinks: [{}],
    env: { MAILGATE_CHECK_RESPONSES: '1' },
    config: ({ dir, sinks }) => testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('up', sinks[0]!.port)],
      systemUpstream: 'up',
      tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, password: shop-password-1 } ] }', '{ id: other, name: Other, networks: [ 127.0.0.2/32 ] }'],
    }),
  });
  const doc = async () => (await (await w.api('/openapi.json')).json()) as Doc;

  it('describes every operation: summary, description, a 2xx answer and the shared error answer; the bearer scheme', async () => {
    const d = await doc();
    const problems: string[] = [];
    let operations = 0;
    for (const [p, methods] of Object.entries(d.paths)) {
      for (const [m, op] of Object.entries(methods)) {
        operations++;
        const name = `${m.toUpperCase()} ${p}`;
        if (!op.summary) problems.push(`${name}: no summary`);
        if (!op.description) problems.push(`${name}: no description`);
        const codes = Object.keys(op.responses ?? {});
        const ok = codes.filter((c) => /^2/.test(c));
        if (ok.length === 0) problems.push(`${name}: no 2xx answer`);
        for (const c of ok) if (c !== '204' && !Object.values(op.responses![c]!.content ?? {})[0]?.schema) problems.push(`${name}: ${c} has no schema`);
        if (p.startsWith('/api/v1/')) for (const c of ['4XX', '5XX']) if (!JSON.stringify(op.responses?.[c] ?? {}).includes('ErrorAnswer')) problems.push(`${name}: ${c} is not ErrorAnswer`);
      }
    }
    expect(problems).toEqual([]);
    expect(operations).toBeGreaterThanOrEqual(60);
    expect(d.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
    expect(d.security).toEqual([{ bearer: [] }]);
    expect(Object.keys(d.components.schemas)).toEqual(expect.arrayContaining(['ErrorAnswer', 'Event', 'MessageSummary', 'SuppressionEntry']));
  });

  it('a broad walk gets only answers its schemas describe (checked before sending, and again against the served document)', async () => {
    await nodemailer.createTransport({ host: w.mg.submission.host, port: w.mg.submission.port, secure: false, ignoreTLS: true, auth: { user: 'shop', pass: 'shop-password-1' } })
      .sendMail({ from: 'a@shop.test', to: 'buyer@example.com', subject: '=?utf-8?b?w5xiZXI=?=', text: 'x', headers: { 'X-Order-Id': 'ORD-1' } });
    await w.sink.waitFor(1);
    const token = ((await (await w.api('/tenants/shop/tokens', { method: 'POST', body: { name: 'app' } })).json()) as { token: string }).token;
    const msgId = ((await (await w.api('/messages')).json()) as { messages: Array<{ id: string }> }).messages[0]!.id;
    const calls: Array<[string, string, unknown?, string?]> = [
      ['GET', '/whoami'], ['GET', '/whoami', undefined, token], ['GET', '/queue/summary'], ['GET', '/events'], ['GET', `/events?msgId=${msgId}`],
      ['POST', '/errors', { tenant: 'shop', type: 'PAYMENT_LATE', message: 'late', reference: 'ORD-1', email: 'buyer@example.com', phone: '+49 30 1234567' }],
      ['GET', '/errors'], ['GET', '/errors?tenant=shop'], ['GET', '/errors?reference=ORD-1'], ['GET', '/errors?recipient=buyer@example.com', undefined, token], ['GET', '/errors/count?since=0'], ['GET', '/errors/count?since=0', undefined, token],
      ['GET', '/stats'], ['GET', `/stats?tenant=shop&bucket=day&from=${Date.now() - 7 * 86_400_000}`], ['GET', '/stats?by=domain', undefined, token], ['GET', '/stats?by=upstream&limit=5'], ['GET', '/messages?status=bounced'],
      ['GET', '/messages'], ['GET', '/messages?limit=1'], ['GET', '/messages?reference=ORD-1', undefined, token], ['GET', `/messages/${msgId}`], ['GET', `/messages/${msgId}`, undefined, token],
      ['POST', '/suppression', { tenant: 'shop', address: 'gone@example.com', reason: 'asked' }], ['GET', '/suppression'], ['GET', '/suppression?tenant=shop', undefined, token], ['DELETE', '/suppression/shop/gone@example.com'],
      ['PUT', '/tracking/settings', { tenant: 'shop', enabled: true }], ['GET', '/tracking/settings?tenant=shop'], ['PATCH', '/tracking/settings', { tenant: 'shop', adminAddresses: ['a@shop.test'] }], ['GET', '/tracking/stats?tenant=shop'],
      ['POST', '/shipments', { tenant: 'shop', code: '80082345670001', carrier: 'russian-post', email: 'buyer@example.com', orderReference: 'ORD-1' }], ['GET', '/shipments'], ['GET', '/shipments?tenant=shop&email=buyer@example.com'],
      ['GET', '/shipments/russian-post/80082345670001?tenant=shop'], ['GET', '/blacklist?tenant=shop'], ['GET', '/blacklist/check?tenant=shop&email=buyer@example.com'],
      ['GET', '/tenants'], ['GET', '/tenants/shop'], ['GET', '/tenants/shop', undefined, token], ['POST', '/tenants', { id: 'made', name: 'Made' }], ['PATCH', '/tenants/made', { name: 'Made 2' }],
      ['POST', '/tenants/made/credentials', { user: 'made-app' }], ['GET', '/tenants/shop/tokens'], ['DELETE', '/tenants/made'],
      ['GET', '/upstreams'], ['GET', '/upstreams', undefined, token], ['GET', '/upstreams/up'], ['POST', '/upstreams/up/copy', { name: 'up-copy' }], ['PATCH', '/upstreams/up-copy', { port: 2525 }], ['DELETE', '/upstreams/up-copy'],
      ['POST', '/webhooks', { tenant: 'shop', url: 'https://hooks.example.com/mailgate' }], ['GET', '/webhooks'], ['GET', '/optouts?tenant=shop'], ['GET', '/domains'], ['GET', '/queue'], ['POST', '/queue/flush'], ['GET', '/cluster'],
      // errors: each answers ErrorAnswer
      ['GET', '/errors?tenant=other', undefined, token], ['GET', '/errors?nope=1'], ['GET', '/messages/AAAAAAAAAAAAAAAAAAAA'], ['GET', '/tenants/nobody'], ['GET', '/events', undefined, token], ['POST', '/suppression', { tenant: 'shop' }],
      ['GET', '/stats?from=0'], ['GET', '/stats?tenant=other', undefined, token],
    ];
    const d = await doc();
    const ajv = new Ajv({ strict: false, allErrors: true });
    for (const [name, schema] of Object.entries(d.components.schemas)) ajv.addSchema(schema, `#/components/schemas/${name}`);
    const seen: string[] = [];
    for (const [method, p, body, tok] of calls) {
      const res = await w.api(p, { method, ...(body !== undefined ? { body } : {}), ...(tok ? { token: tok } : {}) });
      const text = await res.text();
      const what = `${method} ${p} → ${res.status}`;
      seen.push(what);
      expect(res.status, `${what}: ${text}`).toBeLessThan(500);
      if (res.status === 204) continue;
      // the served document's schema for this operation and status validates the body too
      const route = Object.keys(d.paths).find((k) => d.paths[k]![method.toLowerCase()] && new RegExp(`^${k.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(`/api/v1${p.split('?')[0]}`));
      expect(route, `${what}: no operation in the document`).toBeDefined();
      const responses = d.paths[route!]![method.toLowerCase()]!.responses!;
      const schema = (responses[String(res.status)] ?? responses[`${String(res.status)[0]}XX`])?.content?.['application/json']?.schema;
      expect(schema, what).toBeDefined();
      const validate = ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"#/components/schemas/')));
      expect(validate(JSON.parse(text)), `${what}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    }
    expect(seen.filter((s) => / → 2/.test(s)).length).toBeGreaterThan(45);
    expect(seen.filter((s) => / → 4/.test(s)).length).toBeGreaterThanOrEqual(6);
  });

  it('check mode fails an answer with a field its schema lacks, or a wrong type; without it the field would silently vanish', async () => {
    const build = async (checkResponses: boolean, answer: unknown) => {
      const app = Fastify();
      await app.register(async (api) => {
        installErrorHandler(api);
        installApiContract(api, { checkResponses });
        api.get('/whoami', async () => answer);
      }, { prefix: '/api/v1' });
      return app.inject({ url: '/api/v1/whoami' });
    };
    const extra = await build(true, { role: 'admin', secret: 'leak' });
    expect(extra.statusCode).toBe(500);
    expect(extra.json()).toMatchObject({ error: 'INTERNAL', message: expect.stringMatching(/GET \/api\/v1\/whoami 200: .*additional properties/) });
    const wrongType = await build(true, { role: 7 });
    expect(wrongType.statusCode).toBe(500);
    expect(wrongType.json().message).toMatch(/must be string/);
    expect((await build(true, { role: 'tenant', tenant: 'shop' })).json()).toEqual({ role: 'tenant', tenant: 'shop' });
    expect((await build(false, { role: 'admin', secret: 'leak' })).json()).toEqual({ role: 'admin' }); // what production would hide
  });

  it('writes a failure inside mailgate (500) to the server log with method, route and error, never the query string', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    const app = Fastify();
    await app.register(async (api) => {
      installErrorHandler(api, log);
      api.get('/messages/:id', async () => {
        throw new Error('the store went away');
      });
    }, { prefix: '/api/v1' });
    const res = await app.inject({ url: '/api/v1/messages/M1?token=secret-in-query&to=buyer@shop.test' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'INTERNAL', message: 'the request failed inside mailgate; the server log has the details' });
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, any>;
    expect(line).toMatchObject({ level: 50, msg: 'admin API request failed', method: 'GET', route: '/api/v1/messages/:id', err: { type: 'Error', message: 'the store went away' } });
    expect(line.err.stack).toMatch(/the store went away\n\s+at /);
    expect(lines[0]).not.toMatch(/secret-in-query|buyer@shop/);
  });

  it('generates TypeScript types from the served document (openapi-typescript) that type-check a small client', async () => {
    const { default: openapiTS, astToString } = await import('openapi-typescript');
    const types = astToString(await openapiTS((await doc()) as never));
    const dir = await makeTempDir('mg-openapi-ts-');
    try {
      await writeFile(path.join(dir, 'api.d.ts'), types);
      await writeFile(path.join(dir, 'client.ts'), `import type { paths, components } from './api.js';
type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;
type ErrorsPage = Json<paths['/api/v1/errors']['get']['responses'][200]>;
type Query = NonNullable<paths['/api/v1/errors']['get']['parameters']['query']>;
type Problem = components['schemas']['ErrorAnswer'];
export async function errorsOf(base: string, token: string, q: Query): Promise<ErrorsPage> {
  const qs = new URLSearchParams(Object.entries(q).map(([k, v]) => [k, String(v)]));
  const res = await fetch(\`\${base}/api/v1/errors?\${qs}\`, { headers: { authorization: \`Bearer \${token}\` } });
  if (!res.ok) throw new Error(((await res.json()) as Problem).message);
  return (await res.json()) as ErrorsPage;
}
export const tenantOfFirst = (p: ErrorsPage): string | undefined => p.events[0]?.tenant;
export const count: Json<paths['/api/v1/errors/count']['get']['responses'][200]>['count'] = 3;
// @ts-expect-error: the query has no 'name' parameter
export const wrong: Query = { name: 'Anna' };
`);
      await writeFile(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', lib: ['ES2022', 'DOM'], skipLibCheck: false, types: [] }, files: ['client.ts'] }));
      const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
      const run = await promisify(execFile)(process.execPath, [tsc, '-p', dir]).then(() => ({ ok: true, out: '' }), (e: { stdout: string }) => ({ ok: false, out: e.stdout }));
      expect(run.out).toBe('');
      expect(run.ok).toBe(true);
      expect(types).toContain('"/api/v1/errors"');
    } finally {
      await removeDir(dir);
    }
  }, 60_000);
});
