// Held mail: a shop under review (tenants[].hold) has its mail accepted and kept, not delivered,
// until the operator releases it — one message, or all of the shop's at once; an operator can also
// hold a queued message. Flush does not let held mail go. API, CLI and the console's Release button.
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, sinkUpstream, testConfig } from './helpers/config.js';
import { findChromium, launchChromium } from './helpers/browser.js';
import { runCli } from './helpers/mailgate-process.js';
import { useMailgate } from './helpers/use-mailgate.js';

describe('held mail', () => {
  let deferring = true;
  const w = useMailgate({
    prefix: 'mg-held-',
    sinks: [{}, { rcptReply: () => (deferring ? { code: 451, message: '4.7.1 try later' } : undefined) }],
    config: ({ dir, sinks }) => testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('up', sinks[0]!.port), sinkUpstream('slow', sinks[1]!.port)],
      tenants: [
        '{ id: review, name: New Shop, upstream: up, hold: true, auth: [ { user: review, password: review-password } ] }',
        '{ id: shop, name: Shop, upstream: slow, auth: [ { user: shop, password: shop-password-1 } ] }',
      ],
    }),
  });
  const send = async (user: string, pass: string, to: string) =>
    (await w.submit({ user, pass }).sendMail({ from: 'orders@shop.test', to, subject: 'x', text: 'x' })).response.split(' ').pop()!;
  const cli = (...args: string[]) => runCli([...args, '--config', w.configFile], { env: { MAILGATE_TOKEN: ADMIN_TOKEN } });
  const message = async (id: string) => (await (await w.api(`/messages/${id}`)).json()) as { held: { by: string } | null; recipients: Array<{ status: string }> };

  it('keeps a held shop\'s mail (answered 250) until released; flush does not let it go', async () => {
    const a = await send('review', 'review-password', 'a@example.com');
    const b = await send('review', 'review-password', 'b@example.com');
    expect((await message(a)).held).toMatchObject({ by: 'the shop is on hold' });
    expect((await (await w.api('/queue/flush', { method: 'POST' })).json())).toEqual({ flushed: 0 });
    await new Promise((r) => setTimeout(r, 1500));
    expect(w.sinks[0]!.messages).toHaveLength(0);
    const listed = await cli('queue');
    expect(listed.stdout).toMatch(new RegExp(`${a} .*\\(held\\)`));
    expect((await w.api(`/queue/${a}/retry`, { method: 'POST' })).status).toBe(409);

    const one = await cli('queue', 'release', a.toLowerCase());
    expect(one.stdout).toContain(`${a}: released`);
    const [delivered] = await w.sinks[0]!.waitFor(1);
    expect(delivered!.to).toEqual(['a@example.com']);
    expect((await message(a)).held).toBeNull();

    const typo = await cli('queue', 'release-all', 'reveiw'); // a shop that does not exist is said to be one, not "0 released"
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(/no tenant reveiw/);
    const all = await cli('queue', 'release-all', 'review');
    expect(all.stdout).toMatch(/^1 held message\(s\) of review released/);
    await w.sinks[0]!.waitFor(2);
    expect((await message(b)).recipients[0]!.status).toBe('delivered');
  }, 60_000);

  it('lets an operator hold a queued message and release it from the console', async () => {
    const id = await send('shop', 'shop-password-1', 'c@example.com');
    await w.mg.waitForLog((l) => 'relay' in l && l.to === 'c@example.com');
    expect(((await (await w.api(`/queue/${id}/hold`, { method: 'POST' })).json()) as { status: string }).status).toBe('held');
    deferring = false;
    expect((await (await w.api('/queue/flush', { method: 'POST' })).json())).toEqual({ flushed: 0 });
    await new Promise((r) => setTimeout(r, 1000));
    expect(w.sinks[1]!.messages).toHaveLength(0);

    const chromium = findChromium();
    if (!chromium) {
      await w.api(`/queue/${id}/release`, { method: 'POST' });
    } else {
      const browser = await launchChromium(chromium);
      try {
        const page = await browser.newPage();
        await page.goto(`${w.mg.adminUrl}/`);
        await page.fill('input[name=token]', ADMIN_TOKEN);
        await Promise.all([page.waitForURL(`${w.mg.adminUrl}/`), page.click('#signin-form button[type=submit]')]);
        await page.goto(`${w.mg.adminUrl}/messages/${id}`);
        expect(await page.textContent('#held')).toMatch(/Held since .* \(an administrator \(admin API\)\)/);
        await Promise.all([page.waitForURL(`${w.mg.adminUrl}/messages/${id}`), page.click('#held button[type=submit]')]);
        expect(await page.textContent('.flash')).toContain('Released');
      } finally {
        await browser.close();
      }
    }
    const [delivered] = await w.sinks[1]!.waitFor(1);
    expect(delivered!.to).toEqual(['c@example.com']);
  }, 60_000);
});
