// Days later, as a shop admin lives it: a ticket mail is delivered through a smarthost, its bounce
// comes back two days later, the admin signs in, sees "bounced" and re-sends the kept content to the
// corrected address; a week and a day later the content is gone and the console says so. The
// relay's clock is moved with libfaketime (Debian's faketime: the running process's wall clock jumps,
// its timers keep the real monotonic clock), the browser is Debian's chromium.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { sinkUpstream, testConfig } from './helpers/config.js';
import { findChromium, launchChromium } from './helpers/browser.js';
import { waitForEvent } from './helpers/events.js';
import { useMailgate } from './helpers/use-mailgate.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';

const LIBFAKETIME = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1'].find(existsSync);
const chromium = findChromium();
const why = !LIBFAKETIME ? 'no libfaketime (apt-get install faketime; .ci/run installs it)' : !chromium ? 'no chromium' : undefined;
if (why) console.warn(`days-later console test SKIPPED: ${why}`);

const stampDir = await makeTempDir('mg-faketime-');
const stamp = path.join(stampDir, 'offset');
await writeFile(stamp, '+0d\n');
/** Moves the relay's wall clock: '+2d' is two days ahead of now. */
const setClock = (offset: string) => writeFile(stamp, `${offset}\n`);

function dsn(to: string, recipient: string): string {
  return [
    'From: MAILER-DAEMON@mx.example.com', `To: ${to}`, 'Subject: Undelivered Mail Returned to Sender', 'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"', '',
    '--B1', 'Content-Type: text/plain', '', `<${recipient}>: host mx.example.com said: 550 5.1.2 Host unknown`, '',
    '--B1', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; mx.example.com', '',
    `Final-Recipient: rfc822; ${recipient}`, 'Action: failed', 'Status: 5.1.2', 'Diagnostic-Code: smtp; 550 5.1.2 Host unknown: exampel.test', '',
    '--B1--', '',
  ].join('\r\n');
}

describe.skipIf(why !== undefined)('re-send days later', () => {
  const w = useMailgate({
    prefix: 'mg-days-later-',
    sinks: [{}],
    config: ({ dir, sinks }) => testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('smarthost', sinks[0]!.port)],
      tenants: ['{ id: shop, name: Shop, upstream: smarthost, auth: [ { user: shop, password: shop-password-1 } ] }'],
    }),
    env: { LD_PRELOAD: LIBFAKETIME ?? '', FAKETIME_TIMESTAMP_FILE: stamp, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' },
  });
  let browser: Browser;
  let page: Page;
  let token: string;
  const signIn = async () => {
    await page.context().clearCookies();
    await page.goto(`${w.mg.adminUrl}/`);
    await page.fill('input[name=token]', token);
    await Promise.all([page.waitForURL(`${w.mg.adminUrl}/`), page.click('#signin-form button[type=submit]')]);
  };

  beforeAll(async () => {
    token = ((await (await w.api('/tenants/shop/tokens', { method: 'POST', body: { name: 'shop-admin' } })).json()) as { token: string }).token;
    browser = await launchChromium(chromium!);
    page = await browser.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await removeDir(stampDir);
  });

  it('re-sends from the kept content two days after delivery, and says it is gone after eight', async () => {
    const info = await w.submit({ user: 'shop', pass: 'shop-password-1' }).sendMail({ from: 'tickets@shop.test', to: 'anna@exampel.test', subject: 'Your tickets', text: 'Ticket code 4711' });
    const id = info.response.split(' ').pop()!;
    const [delivered] = await w.sink.waitFor(1);
    await waitForEvent(w.mg, 'anna@exampel.test', 'delivered');

    await setClock('+2d');
    await w.inbound().sendMail({ envelope: { from: '', to: delivered!.from }, raw: dsn(delivered!.from, 'anna@exampel.test') });
    const { match } = await waitForEvent(w.mg, 'anna@exampel.test', 'bounced');
    expect((match as unknown as { time: number }).time - Date.now()).toBeGreaterThan(47 * 3600_000); // the relay lives two days ahead
    await signIn();
    await page.goto(`${w.mg.adminUrl}/messages/${id}`);
    expect(await page.textContent('#recipients')).toContain('bounced (hard');
    expect(await page.textContent('#content-kept')).toMatch(/kept until/);
    await page.fill('#resend input[name=recipient]', 'anna@example.test');
    await Promise.all([page.waitForURL(/\/messages\/[0-9A-Z]{20}$/), page.click('#resend button[type=submit]')]);
    const [, copy] = await w.sink.waitFor(2);
    expect(copy!.to).toEqual(['anna@example.test']);
    expect(copy!.raw.toString()).toContain('Ticket code 4711');

    await setClock('+8d');
    await signIn(); // a week later the console session has ended as well
    await page.goto(`${w.mg.adminUrl}/messages/${id}`);
    expect(await page.textContent('#content-kept')).toMatch(/no longer kept/);
    expect(await page.locator('#resend form').count()).toBe(0);
    expect((await w.api(`/messages/${id}/raw`)).status).toBe(410);
  }, 60_000);
});
