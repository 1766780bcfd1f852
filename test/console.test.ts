// The web console (src/console) in a real browser: Debian's chromium driven by playwright-core,
// against a running mailgate (child process) with loopback SMTP sinks. Screenshots of the main pages
// go to test/screenshots/ (ignored by git; README "Web console" names the folder).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startSink, type Sink } from './helpers/smtp-sink.js';
import { repoRoot, startMailgate, writeConfig, type MailgateProcess } from './helpers/mailgate-process.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';
import { ADMIN_TOKEN, sinkUpstream, testConfig } from './helpers/config.js';
import { findChromium, launchChromium } from './helpers/browser.js';

const chromiumPath = findChromium();
if (!chromiumPath) console.warn('console browser tests SKIPPED: no chromium found (apt-get install -y chromium, or set CHROMIUM_PATH)');

const SHOTS = path.join(repoRoot, 'test', 'screenshots');
const XSS_SUBJECT = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"> Order A-1001';

describe.skipIf(!chromiumPath)('web console in a real browser', () => {
  let dir: string;
  let mailSink: Sink;
  let authSink: Sink;
  let mg: MailgateProcess;
  let configFile: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let demoToken: string;
  let otherToken: string;
  let failedId: string;
  const dialogs: string[] = [];
  const adminHeaders = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const api = async (p: string, method = 'GET', body?: unknown) => {
    const r = await fetch(`${mg.adminUrl}/api/v1${p}`, { method, headers: adminHeaders, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    return { status: r.status, data: (await r.json()) as Record<string, unknown> };
  };
  const send = (user: string, to: string, subject: string, orderId?: string) =>
    nodemailer.createTransport({ host: mg.submission.host, port: mg.submission.port, secure: false, ignoreTLS: true, auth: { user, pass: `${user}-password` } })
      .sendMail({ from: `shop@${user}.test`, to, subject, text: 'Your order', ...(orderId ? { headers: { 'X-Order-Id': orderId } } : {}) })
      .then((info) => info.response.split(' ').pop()!);
  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  const signIn = async (token: string) => {
    await page.goto(`${mg.adminUrl}/`);
    await page.fill('input[name=token]', token);
    await Promise.all([page.waitForURL(`${mg.adminUrl}/`), page.click('#signin-form button[type=submit]')]);
    await page.waitForSelector('#signout');
  };

  beforeAll(async () => {
    dir = await makeTempDir('mg-console-');
    await mkdir(SHOTS, { recursive: true });
    [mailSink, authSink] = await Promise.all([
      startSink({ rcptReply: (rcpt) => (rcpt.startsWith('wrong') ? { code: 550, message: '5.1.1 <' + rcpt + '>: No such user here' } : undefined) }),
      startSink({ auth: { user: 'right-user', password: 'right-password' } }),
    ]);
    mg = await startMailgate({ configFile: configFile = await writeConfig(dir, testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('shop-smtp', mailSink.port), `{ name: strict-smtp, host: 127.0.0.1, port: ${authSink.port}, tls: none, auth: { user: wrong-user, password: wrong-password } }`],
      tenants: [
        '{ id: demo, name: Demo Shop, upstream: shop-smtp, auth: [ { user: demo, password: demo-password } ] }',
        '{ id: other, name: Other Shop, upstream: shop-smtp, auth: [ { user: other, password: other-password } ] }',
      ],
    })) });
    demoToken = (await api('/tenants/demo/tokens', 'POST', { name: 'shop-admin' })).data.token as string;
    otherToken = (await api('/tenants/other/tokens', 'POST', { name: 'shop-admin' })).data.token as string;
    browser = await launchChromium(chromiumPath!);
    context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    page = await context.newPage();
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
  });
  afterAll(async () => {
    await browser?.close();
    await mg?.kill();
    await Promise.all([mailSink?.close(), authSink?.close()]);
    await removeDir(dir);
  });

  it('signs in with a tenant token: HttpOnly SameSite=Strict session cookie, CSP header', async () => {
    const first = await page.goto(`${mg.adminUrl}/`);
    expect(first!.headers()['content-security-policy']).toContain("default-src 'self'");
    await shot('signin');
    await signIn(demoToken);
    expect(await page.textContent('#error-counter .counter')).toBe('0');
    expect(await page.textContent('#shop-name')).toBe('Demo Shop'); // the shop's name, not its id
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'mg_session')!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(session.value).not.toContain(demoToken.slice(4, 20));
    // The console's routes stay out of the API description.
    expect(JSON.stringify((await api('/openapi.json')).data)).not.toContain('/signin');
  });

  it('shows the red counter at 2 after two failed deliveries', async () => {
    failedId = await send('demo', 'wrong1@example.com', XSS_SUBJECT, 'A-1001');
    await send('demo', 'wrong2@example.com', 'Invoice A-1002', 'A-1002');
    const deadline = Date.now() + 15_000;
    while ((await api('/errors/count?tenant=demo&since=0')).data.count !== 2) {
      if (Date.now() > deadline) throw new Error('the two failures were not recorded');
      await new Promise((r) => setTimeout(r, 100));
    }
    await page.reload();
    const counter = page.locator('#error-counter .counter');
    expect(await counter.textContent()).toBe('2');
    expect(await counter.evaluate((el) => getComputedStyle(el).backgroundColor)).toBe('rgb(209, 31, 42)');
    await shot('overview');
    // Every page carries it.
    await page.goto(`${mg.adminUrl}/suppression`);
    expect(await page.textContent('#error-counter .counter')).toBe('2');
  });

  it('shows a subject containing <script> as text, and no script runs', async () => {
    await page.goto(`${mg.adminUrl}/`);
    const subjects = await page.locator('td.subject').allTextContents();
    expect(subjects).toContain(XSS_SUBJECT);
    await page.goto(`${mg.adminUrl}/messages/${failedId}`);
    expect(await page.textContent('#message-subject')).toBe(XSS_SUBJECT);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('main script, main img').count()).toBe(0);
    expect(dialogs).toEqual([]);
  });

  it('filters the error log by recipient', async () => {
    await page.goto(`${mg.adminUrl}/errors`);
    expect(await page.locator('table.errors tbody tr').count()).toBe(2);
    await shot('errors');
    await page.fill('#error-filters input[name=recipient]', 'wrong2@example.com');
    await page.click('#error-filters button');
    await page.waitForURL(/recipient=wrong2/);
    const rows = page.locator('table.errors tbody tr');
    expect(await rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain('550');
  });

  it('finds the message by its order reference', async () => {
    await page.goto(`${mg.adminUrl}/`);
    await page.fill('#search-box', 'A-1001');
    await Promise.all([page.waitForURL(/\/search\?q=A-1001/), page.press('#search-box', 'Enter')]);
    const found = page.locator('#found-messages');
    expect(await found.locator(`a[href="/messages/${failedId}"]`).count()).toBe(1);
    expect(await found.textContent()).not.toContain('Invoice A-1002');
    await shot('search');
  });

  it('re-sends to a corrected address, which reaches the sink', async () => {
    await page.goto(`${mg.adminUrl}/messages/${failedId}`);
    expect(await page.textContent('#attempts')).toContain('No such user here');
    await shot('message');
    await page.fill('#resend input[name=recipient]', 'right@example.com');
    await Promise.all([page.waitForURL((u) => !u.pathname.endsWith(failedId)), page.click('#resend button')]);
    expect(await page.textContent('.flash.ok')).toContain('Re-sent to right@example.com');
    const [msg] = await mailSink.waitFor(1);
    expect(msg!.to).toEqual(['right@example.com']);
    expect(msg!.raw.toString()).toMatch(/^X-Order-Id: A-1001/im);
  });

  it("answers another tenant's message opened by URL as one that does not exist", async () => {
    const othersId = await send('other', 'someone@example.com', 'Other shop mail');
    const res = await page.goto(`${mg.adminUrl}/messages/${othersId}`);
    expect(res!.status()).toBe(404);
    expect(await page.textContent('#api-error')).toBe(`no message ${othersId}`);
    expect(await page.textContent('main')).not.toContain('Other shop mail');
    await shot('forbidden');
    void otherToken;
  });

  it('refuses a POST without the CSRF token', async () => {
    const without = await page.request.post(`${mg.adminUrl}/suppression/add`, { form: { address: 'csrf@example.com' }, maxRedirects: 0 });
    expect(without.status()).toBe(403);
    const wrong = await page.request.post(`${mg.adminUrl}/suppression/add`, { form: { address: 'csrf@example.com', _csrf: 'x'.repeat(43) }, maxRedirects: 0 });
    expect(wrong.status()).toBe(403);
    expect((await api('/suppression?tenant=demo&address=csrf@example.com')).data.entries).toEqual([]);
  });

  it('signs out: the session is gone', async () => {
    const before = (await context.cookies()).find((c) => c.name === 'mg_session')!.value;
    await page.click('#signout');
    await page.waitForSelector('#signin-form');
    // The old cookie no longer opens a page.
    const res = await fetch(`${mg.adminUrl}/errors`, { headers: { cookie: `mg_session=${before}` }, redirect: 'manual' });
    expect(res.status).toBe(302);
    await page.goto(`${mg.adminUrl}/errors`);
    expect(await page.locator('#signin-form').count()).toBe(1);
    // A form sent with the ended session: "sign in again", not a forgery warning; nothing done.
    const late = await fetch(`${mg.adminUrl}/suppression/add`, { method: 'POST', headers: { cookie: `mg_session=${before}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'address=late%40example.com&_csrf=x', redirect: 'manual' });
    expect(late.status).toBe(401);
    expect(await late.text()).toContain('Your session has ended');
    expect((await api('/suppression?tenant=demo&address=late@example.com')).data.entries).toEqual([]);
  });

  it('upstream test mail (admin) shows the 535 of a sink that wants other credentials', async () => {
    await signIn(ADMIN_TOKEN);
    await page.goto(`${mg.adminUrl}/upstreams`);
    expect(await page.textContent('#upstreams')).toContain('strict-smtp');
    await shot('upstreams');
    await page.goto(`${mg.adminUrl}/upstreams/strict-smtp`);
    await page.fill('#test-mail input[name=to]', 'you@example.com');
    await Promise.all([page.waitForSelector('#test-answer'), page.click('#test-mail button')]);
    expect(await page.textContent('#test-answer')).toContain('535');
    expect(await page.textContent('#test-dialogue')).toMatch(/C: AUTH/);
    expect(authSink.messages).toHaveLength(0);
    await shot('upstream-test');
    // The copy's name is checked by the browser (a pattern it can compile) before anything is sent.
    const copyName = page.locator('input[name=name]');
    await copyName.fill('no spaces allowed');
    expect(await copyName.evaluate((el: HTMLInputElement) => el.validity.patternMismatch)).toBe(true);
    await copyName.fill('strict-smtp.copy_2');
    expect(await copyName.evaluate((el: HTMLInputElement) => el.validity.valid)).toBe(true);
    // A copy is editable; a refused save shows the form again with what was typed and why.
    await Promise.all([page.waitForURL(/\/upstreams\/strict-smtp\.copy_2$/), page.click('form[action$="/copy"] button')]);
    await page.fill('#upstream-edit input[name=host]', 'not a host name');
    await page.fill('#upstream-edit input[name=user]', 'typed-user');
    await Promise.all([page.waitForSelector('#upstream-not-saved'), page.click('#upstream-edit button')]);
    expect(await page.textContent('#upstream-not-saved')).toMatch(/^Not saved: .*host/);
    expect(await page.inputValue('#upstream-edit input[name=host]')).toBe('not a host name');
    expect(await page.inputValue('#upstream-edit input[name=user]')).toBe('typed-user');
    // Tracking import: the preview lists each row's errors before anything is imported.
    await page.goto(`${mg.adminUrl}/tracking`);
    await page.setInputFiles('#import-form input[type=file]', { name: 'orders.csv', mimeType: 'text/csv', buffer: Buffer.from('Tracking Code;Email;Name\nRA123456789RU;buyer@example.com;<b>Anna</b>\nAB-12;x@example.com;Bob\n') });
    await Promise.all([page.waitForURL(/\/tracking\/preview$/), page.click('#import-form button')]);
    const rows = await page.locator('#import-rows tbody tr').allTextContents();
    expect(rows).toHaveLength(2);
    expect(rows[0]).toContain('<b>Anna</b>');
    expect(await page.locator('#import-rows .bad').count()).toBeGreaterThan(0);
    // This shop has tracking switched off: the preview says so, and there is nothing to confirm.
    expect(await page.locator('#confirm-import').isDisabled()).toBe(true);
    await shot('tracking-preview');
    for (const p of ['suppression', 'domains', 'tracking']) {
      await page.goto(`${mg.adminUrl}/${p}`);
      await shot(p);
    }
    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto(`${mg.adminUrl}/`);
    await shot('overview-phone');
  });

  it('tracking as a shop admin: preview, confirm the import, shipments by status, blacklist check', async () => {
    expect((await api('/tracking/settings', 'PUT', { tenant: 'demo', enabled: true })).status).toBe(200);
    await context.clearCookies();
    await page.setViewportSize({ width: 1200, height: 800 });
    await signIn(demoToken);
    await page.goto(`${mg.adminUrl}/tracking`);
    await page.setInputFiles('#import-form input[type=file]', { name: 'orders.csv', mimeType: 'text/csv', buffer: Buffer.from('Трек-номер;E-mail;ФИО;Номер заказа\n80082345678901;anna@example.com;Анна;A-1\n12;bad@example.com;Bob;A-2\n') });
    await Promise.all([page.waitForURL(/\/tracking\/preview$/), page.click('#import-form button')]);
    expect(await page.textContent('#import-summary')).toMatch(/Would create 1, would update 0, rejected 1/);
    expect(await page.locator('#confirm-import').isDisabled()).toBe(false);
    await Promise.all([page.waitForLoadState('load'), page.click('#confirm-import')]);
    await page.waitForSelector('#import-summary');
    expect(await page.textContent('#import-summary')).toMatch(/Created 1, updated 0, rejected 1/);
    await page.goto(`${mg.adminUrl}/tracking`);
    expect(await page.textContent('#shipments')).toContain('80082345678901');
    expect(await page.textContent('#shipments')).toContain('A-1');
    await page.goto(`${mg.adminUrl}/tracking?email=anna@example.com`);
    expect(await page.textContent('#blacklist-answer')).toContain('not on the blacklist');
    await shot('tracking');
    // Support staff find the parcel from whatever the buyer gives them: e-mail, order number or name.
    for (const q of ['anna@example.com', 'A-1', 'анна']) {
      await page.goto(`${mg.adminUrl}/search?q=${encodeURIComponent(q)}`);
      expect(await page.textContent('#found-shipments')).toContain('80082345678901');
    }
  });

  it('an operator (admin) sees every tenant\'s errors, search hits, suppression entries and parcels, with a tenant column and filter; a shop user does not', async () => {
    for (const t of ['demo', 'other']) {
      expect((await api('/errors', 'POST', { tenant: t, type: 'PAYMENT_LATE', message: `late payment at ${t}`, reference: 'ORD-OPS-1' })).status).toBe(201);
      expect((await api('/suppression', 'POST', { tenant: t, address: `blocked@${t}.example` })).status).toBe(201);
    }
    await context.clearCookies();
    await page.setViewportSize({ width: 1200, height: 800 });
    await signIn(ADMIN_TOKEN);
    const column = async (table: string) => (await page.locator(`${table} td.tenant`).allTextContents()).sort();
    await page.goto(`${mg.adminUrl}/errors`);
    expect(await page.locator('table.errors thead th').first().textContent()).toBe('Tenant');
    expect(new Set(await column('table.errors'))).toEqual(new Set(['demo', 'other']));
    await shot('operator-errors');
    await page.selectOption('#error-filters select[name=tenant]', 'other');
    await Promise.all([page.waitForURL(/tenant=other/), page.click('#error-filters button')]);
    expect(new Set(await column('table.errors'))).toEqual(new Set(['other']));
    await page.goto(`${mg.adminUrl}/search?q=ORD-OPS-1`);
    expect(await column('#found-errors table')).toEqual(['demo', 'other']);
    await page.goto(`${mg.adminUrl}/suppression`);
    expect(new Set(await column('#suppressed'))).toEqual(new Set(['demo', 'other']));
    await page.goto(`${mg.adminUrl}/tracking`);
    expect(await column('#shipments')).toContain('demo');
    expect(await page.locator('#shipment-filters select[name=tenant]').count()).toBe(1);
    // a shop's user: its own rows only, no tenant column or filter
    await context.clearCookies();
    await signIn(otherToken);
    await page.goto(`${mg.adminUrl}/search?q=ORD-OPS-1`);
    expect(await page.locator('#found-errors tbody tr').count()).toBe(1);
    expect(await page.locator('td.tenant, select.tenant-filter').count()).toBe(0);
    await page.goto(`${mg.adminUrl}/suppression`);
    expect(await page.textContent('#suppressed')).not.toContain('demo.example');
    // (demo signs in once more, so the next test's "since my last sign-in" starts after these errors)
    await context.clearCookies();
    await signIn(demoToken);
  });

  it('counts errors since the previous sign-in also across a restart of mailgate', async () => {
    // demo signed in after the two failures (previous tests); a restart must not reset "since" to the beginning.
    expect((await api('/errors/count?tenant=demo&since=0')).data.count).toBeGreaterThanOrEqual(2);
    expect(await mg.kill()).toBe(0);
    mg = await startMailgate({ configFile });
    await context.clearCookies();
    await signIn(demoToken);
    expect(await page.textContent('#error-counter .counter')).toBe('0');
  });
});
