// The shop admin's daily job in a real browser (Debian's chromium): a message that bounced after
// delivery reads "bounced" with the remote server's words, its kept content is shown raw and re-sent
// to the corrected address; the overview and statistics pages draw their charts (uPlot, served by
// mailgate) from real counts, with the numbers per recipient domain; an unverified sender domain
// shows a banner on every page; times are in the browser's zone with UTC on hover; on a phone the
// tables stack instead of running off the screen. Screenshots go to test/screenshots/.
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { sinkUpstream, testConfig } from './helpers/config.js';
import { findChromium, launchChromium } from './helpers/browser.js';
import { waitForEvent } from './helpers/events.js';
import { repoRoot } from './helpers/mailgate-process.js';
import { useMailgate } from './helpers/use-mailgate.js';

const chromiumPath = findChromium();
const SHOTS = path.join(repoRoot, 'test', 'screenshots');

function dsn(to: string, recipient: string): string {
  return [
    'From: MAILER-DAEMON@mx.example.com', `To: ${to}`, 'Subject: Undelivered Mail Returned to Sender', 'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"', '',
    '--B1', 'Content-Type: text/plain', '', `<${recipient}>: host mx.example.com said: 550 5.1.1 <${recipient}>: Recipient address rejected: User unknown`, '',
    '--B1', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; mx.example.com', '',
    `Final-Recipient: rfc822; ${recipient}`, 'Action: failed', 'Status: 5.1.1', `Diagnostic-Code: smtp; 550 5.1.1 <${recipient}>: Recipient address rejected: User unknown`, '',
    '--B1--', '',
  ].join('\r\n');
}

describe.skipIf(!chromiumPath)('the shop admin\'s day in the console', () => {
  const w = useMailgate({
    prefix: 'mg-console-life-',
    sinks: [{}],
    // shop.test publishes nothing: its mail goes out as the system sender.
    dns: { 'relay.test': { TXT: ['v=spf1 -all'] } },
    config: async ({ dir, sinks, dns }) => {
      const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
      await writeFile(path.join(dir, 'shop.key'), key);
      return testConfig({
        dataDir: `${dir}/data`,
        upstreams: [sinkUpstream('smarthost', sinks[0]!.port)],
        tenants: [`{ id: demo, name: Demo Shop, upstream: smarthost, auth: [ { user: demo, password: demo-password } ], domains: [ { domain: shop.test, dkim: { selector: mg1, privateKeyFile: ${dir}/shop.key } } ] }`],
        extra: `dns: { servers: [ "${dns.address}" ] }`,
      });
    },
  });
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let token: string;
  let bouncedId: string;
  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true });
    token = ((await (await w.api('/tenants/demo/tokens', { method: 'POST', body: { name: 'shop-admin' } })).json()) as { token: string }).token;
    const send = async (to: string, subject: string) => {
      const info = await w.submit({ user: 'demo', pass: 'demo-password' }).sendMail({ from: 'orders@shop.test', to, subject, text: 'Your tickets: 4711' });
      await waitForEvent(w.mg, to, 'delivered');
      return info.response.split(' ').pop()!;
    };
    bouncedId = await send('anna@exampel.test', 'Tickets for Saturday');
    await send('bob@example.test', 'Order 2');
    await send('carl@example.test', 'Order 3');
    const verp = w.sink.messages.find((m) => m.to.includes('anna@exampel.test'))!.from;
    await w.inbound().sendMail({ envelope: { from: '', to: verp }, raw: dsn(verp, 'anna@exampel.test') });
    await waitForEvent(w.mg, 'anna@exampel.test', 'bounced');
    browser = await launchChromium(chromiumPath!);
    context = await browser.newContext({ viewport: { width: 1200, height: 800 }, timezoneId: 'Asia/Tokyo', locale: 'en-GB' });
    page = await context.newPage();
    await page.goto(`${w.mg.adminUrl}/`);
    await page.fill('input[name=token]', token);
    await Promise.all([page.waitForURL(`${w.mg.adminUrl}/`), page.click('#signin-form button[type=submit]')]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('draws the last 24 hours on the overview from the real counts, and names the unverified domain in a banner', async () => {
    await page.goto(`${w.mg.adminUrl}/`);
    await page.waitForSelector('#chart-24h[data-drawn=true] canvas');
    expect(await page.textContent('#chart-24h figcaption')).toMatch(/3 accepted, 3 delivered, 1 bounced or refused/);
    // The legend names every line; the numbers are in a table too.
    expect(await page.locator('#chart-24h .u-legend').textContent()).toMatch(/Delivered.*Bounced \(hard\)/s);
    expect(await page.locator('#chart-24h details table tbody tr').count()).toBeGreaterThan(0);
    expect(await page.textContent('#domain-banner')).toContain('shop.test');
    await shot('overview-chart');
    // The banner is on every page, and the favicon is served.
    await page.goto(`${w.mg.adminUrl}/suppression`);
    expect(await page.textContent('#domain-banner')).toContain('shop.test');
    const icon = await page.request.get(`${w.mg.adminUrl}/favicon.svg`);
    expect(icon.headers()['content-type']).toContain('image/svg+xml');
  });

  it('shows the bounce on the message, its raw source, and re-sends it to the corrected address', async () => {
    await page.goto(`${w.mg.adminUrl}/messages/${bouncedId}`);
    const status = page.locator('#recipients td.status-bounced');
    expect(await status.textContent()).toMatch(/^bounced \(hard, user-unknown\)delivered first; bounced/);
    expect(await page.textContent('#recipients')).toContain('Recipient address rejected: User unknown');
    expect(await page.textContent('#content-kept')).toMatch(/kept until/);
    // Times in the browser's zone (Tokyo, UTC+9), UTC on hover.
    const created = page.locator('dd time').first();
    const utc = (await created.getAttribute('title'))!;
    expect(utc).toMatch(/ UTC$/);
    const hourUtc = Number(/ (\d\d):/.exec(utc)![1]);
    expect(await created.textContent()).toContain(`${String((hourUtc + 9) % 24).padStart(2, '0')}:`);
    await shot('message-bounced');

    await page.click('#content-kept a');
    await page.waitForSelector('#raw-source');
    expect(await page.textContent('#raw-source')).toMatch(/Subject: Tickets for Saturday[\s\S]*Your tickets: 4711/);
    await shot('raw-source');

    await page.goto(`${w.mg.adminUrl}/messages/${bouncedId}`);
    await page.fill('#resend input[name=recipient]', 'anna@example.test');
    await Promise.all([page.waitForURL(/\/messages\/[0-9A-Z]{20}$/), page.click('#resend button[type=submit]')]);
    await w.sink.waitFor(4);
    expect(w.sink.messages.at(-1)!.to).toEqual(['anna@example.test']);
    expect(w.sink.messages.at(-1)!.raw.toString()).toContain('Your tickets: 4711');
  });

  it('shows statistics per day and per recipient domain, with the bounce rate', async () => {
    await page.goto(`${w.mg.adminUrl}/stats?period=7d`);
    await page.waitForSelector('#chart-period[data-drawn=true] canvas');
    const rows = await page.locator('#by-domain tbody tr').allTextContents();
    const exampel = rows.find((r) => r.includes('exampel.test'))!;
    expect(exampel).toContain('100.0 %');
    expect(rows.some((r) => r.includes('example.test'))).toBe(true);
    expect(await page.textContent('#by-upstream')).toContain('smarthost');
    await shot('stats');
  });

  it('stacks tables on a phone: nothing runs off the screen, each cell says its column', async () => {
    const phone = await context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${w.mg.adminUrl}/`);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(1);
    const cell = phone.locator('table.messages tbody tr').first().locator('td').nth(2);
    expect(await cell.getAttribute('data-label')).toBe('To');
    expect(await cell.evaluate((el) => getComputedStyle(el).display)).toBe('block');
    await phone.screenshot({ path: path.join(SHOTS, 'narrow-overview.png'), fullPage: true });
    await phone.close();
  });
});
