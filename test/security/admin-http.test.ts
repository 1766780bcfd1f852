// Security findings 6 and 9 (issue 21), the HTTP side: the bad-token limit (API and /metrics) counts
// per address and token prefix and never refuses a valid token; invalid unsubscribe links are limited per address; behind a configured reverse proxy (admin.trustProxy)
// the client's X-Forwarded-For address counts, not the proxy's; the console cookie is Secure over
// HTTPS; a time parameter past what a Date holds is refused (400), not ignored; the OpenAPI
// document has no `name` parameter on GET /tenants/{tenant}/tokens; an ARF report's free-text
// Feedback-Type is stored as a short token. Against a running mailgate.
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, sinkUpstream, testConfig } from '../helpers/config.js';
import { runCli } from '../helpers/mailgate-process.js';
import { useMailgate } from '../helpers/use-mailgate.js';

describe('admin HTTP: bad tokens, proxies, cookies, times, OpenAPI', () => {
  const w = useMailgate({
    prefix: 'mg-admin-sec-',
    sinks: [{}],
    config: ({ dir, sinks }) => testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('shop-smtp', sinks[0]!.port)],
      tenants: ['{ id: shop, name: Shop, upstream: shop-smtp, auth: [ { user: shop, password: correct-horse } ] }'],
      admin: 'trustProxy: [ 127.0.0.1 ]',
    }),
  });
  const get = (p: string, headers: Record<string, string> = {}) => fetch(`${w.mg.adminUrl}${p}`, { headers, redirect: 'manual' });
  const bearer = (token: string, forwardedFor?: string) => ({ authorization: `Bearer ${token}`, ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) });

  it('after many bad tokens from one address, valid tokens still work and another token prefix is not refused', async () => {
    const issued = await (await w.api('/tenants/shop/tokens', { method: 'POST', body: { name: 'script' } })).json() as { token: string };
    for (let i = 0; i < 10; i++) expect((await get('/api/v1/whoami', bearer('wrongwrong-token'))).status).toBe(401);
    expect((await get('/api/v1/whoami', bearer('wrongwrong-token'))).status).toBe(429);
    expect((await get('/api/v1/whoami'))).toHaveProperty('status', 401);
    expect((await get('/api/v1/whoami', bearer(ADMIN_TOKEN))).status).toBe(200);
    expect((await get('/api/v1/whoami', bearer(issued.token))).status).toBe(200);
    expect((await get('/api/v1/whoami', bearer('another-bad-token'))).status).toBe(401);
  });

  it('behind the configured proxy, X-Forwarded-For is the address that is counted', async () => {
    for (let i = 0; i < 10; i++) expect((await get('/api/v1/whoami', bearer('proxybad-token', '198.51.100.7'))).status).toBe(401);
    expect((await get('/api/v1/whoami', bearer('proxybad-token', '198.51.100.7'))).status).toBe(429);
    // Another client behind the same proxy, same bad prefix: its own count.
    expect((await get('/api/v1/whoami', bearer('proxybad-token', '198.51.100.8'))).status).toBe(401);
  });

  it('/metrics counts bad tokens too, and an unsubscribe page refuses a client trying link after link', async () => {
    for (let i = 0; i < 10; i++) expect((await get('/metrics', bearer('scrapebad-token', '198.51.100.20'))).status).toBe(401);
    const over = await get('/metrics', bearer('scrapebad-token', '198.51.100.20'));
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await get('/metrics', bearer(ADMIN_TOKEN, '198.51.100.20'))).status).toBe(200);
    for (let i = 0; i < 30; i++) expect((await get(`/unsubscribe/guess${i}`, { 'x-forwarded-for': '198.51.100.21' })).status).toBe(400);
    const refused = await get('/unsubscribe/guess-more', { 'x-forwarded-for': '198.51.100.21' });
    expect(refused.status).toBe(429);
    expect(await refused.text()).toMatch(/Too many invalid links/);
    expect((await get('/unsubscribe/guess-other', { 'x-forwarded-for': '198.51.100.22' })).status).toBe(400);
  });

  it('an IPv6 client counts per /64: rotating the address inside it does not give fresh budgets', async () => {
    for (let i = 1; i <= 10; i++) expect((await get('/api/v1/whoami', bearer('v6bad-token', `2001:db8:1:2::${i}`))).status).toBe(401);
    expect((await get('/api/v1/whoami', bearer('v6bad-token', '2001:db8:1:2::ffff'))).status).toBe(429);
    expect((await get('/api/v1/whoami', bearer('v6bad-token', '2001:db8:1:3::1'))).status).toBe(401);
  });

  it('the console cookie is Secure when the request came over HTTPS (through the trusted proxy), not otherwise', async () => {
    const overHttps = (await get('/', { 'x-forwarded-proto': 'https' })).headers.get('set-cookie') ?? '';
    const overHttp = (await get('/')).headers.get('set-cookie') ?? '';
    expect(overHttps).toMatch(/mg_session=/);
    expect(overHttps).toMatch(/;\s*Secure/i);
    expect(overHttp).toMatch(/mg_session=/);
    expect(overHttp).not.toMatch(/;\s*Secure/i);
  });

  it('refuses a time parameter past what a Date holds (400) instead of ignoring it', async () => {
    for (const p of ['/errors/count?since=1e20', '/errors?since=99999999999999999999', '/errors?until=1e300', '/messages?tenant=shop&from=1e20', '/stats?from=1e20']) {
      const res = await w.api(p);
      expect(res.status, p).toBe(400);
    }
    expect((await w.api(`/errors/count?since=${Date.now()}`)).status).toBe(200);
  });

  it('the OpenAPI document declares only the path\'s own parameters on GET /tenants/{tenant}/tokens', async () => {
    const doc = await (await w.api('/openapi.json')).json() as { paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }> }>> };
    const params = doc.paths['/api/v1/tenants/{tenant}/tokens']!.get!.parameters!.filter((p) => p.in === 'path').map((p) => p.name);
    expect(params).toEqual(['tenant']);
    const del = doc.paths['/api/v1/tenants/{tenant}/tokens/{name}']!.delete!.parameters!.filter((p) => p.in === 'path').map((p) => p.name).sort();
    expect(del).toEqual(['name', 'tenant']);
  });

  it('an ARF report with a free-text Feedback-Type is read as a short token, never the raw text', async () => {
    const file = path.join(w.dir, 'arf.eml');
    await fs.writeFile(file, [
      'From: fbl@isp.example', 'To: fbl@bounces.relay.test', 'Subject: complaint', 'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=feedback-report; boundary="b"', '',
      '--b', 'Content-Type: text/plain', '', 'complaint', '',
      '--b', 'Content-Type: message/feedback-report', '', 'Feedback-Type: \ufffd\ufffd<script>alert(1)</script>', 'User-Agent: x/1', 'Version: 1', 'Original-Rcpt-To: kunde@example.test', '',
      '--b', 'Content-Type: text/rfc822-headers', '', 'From: shop@shop.test', 'To: kunde@example.test', 'Message-ID: <x@shop.test>', '',
      '--b--', '',
    ].join('\r\n'));
    const r = await runCli(['bounces', 'parse', file]);
    expect(r.stdout).not.toContain('<script>');
    expect(r.stdout).toMatch(/"feedbackType":\s*"other"/);
  });
});
