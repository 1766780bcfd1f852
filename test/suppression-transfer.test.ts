// The suppression list out and in as CSV, as shop admins move lists between services: the API with a
// dry run, the CLI (`mailgate suppression export|import`), and the console's paste → preview →
// confirm in chromium. An imported address gets no more mail; one already suppressed by a bounce
// keeps its bounce entry; junk rows are named with their line.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { ADMIN_TOKEN, sinkUpstream, testConfig } from './helpers/config.js';
import { findChromium, launchChromium } from './helpers/browser.js';
import { waitForEvent } from './helpers/events.js';
import { runCli } from './helpers/mailgate-process.js';
import { useMailgate } from './helpers/use-mailgate.js';

type Imported = { rows: number; added?: number; wouldAdd?: number; alreadySuppressed: number; duplicates: number; rejectedCount: number; rejected: Array<{ line: number; value: string; why: string }> };

describe('suppression list export and import', () => {
  const w = useMailgate({
    prefix: 'mg-supp-io-',
    sinks: [{ rcptReply: (rcpt) => (rcpt.startsWith('gone') ? { code: 550, message: `5.1.1 <${rcpt}>: User unknown` } : undefined) }],
    config: ({ dir, sinks }) => testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('up', sinks[0]!.port)],
      tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, password: correct-horse } ], upstream: up }', '{ id: other, name: Other, auth: [ { user: other, password: other-horse } ], upstream: up }'],
    }),
  });
  const csvImport = (query: string, body: string, token?: string) => fetch(`${w.mg.adminUrl}/api/v1/suppression/import?${query}`, {
    method: 'POST', headers: { authorization: `Bearer ${token ?? ADMIN_TOKEN}`, 'content-type': 'text/csv' }, body,
  });

  beforeAll(async () => {
    // One address suppressed the real way: the receiving server said it does not exist.
    await w.submit({ user: 'shop', pass: 'correct-horse' }).sendMail({ from: 'orders@shop.test', to: 'gone@example.com', subject: 'x', text: 'x' });
    await waitForEvent(w.mg, 'gone@example.com', 'failed');
  });

  it('previews, then imports a list with a header and a reason column; keeps a bounce entry; names the junk', async () => {
    const list = 'E-Mail;Grund\nAnna@Example.com;asked by phone\ngone@example.com;old list\nnot an address;x\nanna@example.com;again\n=cmd|calc;x\nbert@example.com;\n';
    const dry = await csvImport('tenant=shop&dryRun=true', list);
    expect(dry.status).toBe(200);
    const preview = (await dry.json()) as Imported;
    expect(preview).toMatchObject({ rows: 6, wouldAdd: 2, alreadySuppressed: 1, duplicates: 1, rejectedCount: 2 });
    expect(preview.rejected.map((r) => r.line)).toEqual([4, 6]);
    expect(((await (await w.api('/suppression?tenant=shop')).json()) as { entries: unknown[] }).entries).toHaveLength(1); // the dry run added nothing

    const done = (await (await csvImport('tenant=shop', list)).json()) as Imported;
    expect(done).toMatchObject({ added: 2, alreadySuppressed: 1 });
    const entries = ((await (await w.api('/suppression?tenant=shop')).json()) as { entries: Array<{ address: string; class: string; reason: string }> }).entries;
    expect(entries.map((e) => [e.address, e.class, e.reason])).toEqual([
      ['anna@example.com', 'admin', 'asked by phone'], ['bert@example.com', 'admin', 'imported'], ['gone@example.com', 'hard', 'user-unknown'],
    ]);
    // Added by hand again: the bounce's entry is kept, as the import keeps it (200, the entry as it is).
    const again = await w.api('/suppression', { method: 'POST', body: { tenant: 'shop', address: 'Gone@Example.com', reason: 'dup add' } });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ address: 'gone@example.com', class: 'hard', reason: 'user-unknown', source: 'bounce' });
    // An imported address gets no more mail.
    await w.submit({ user: 'shop', pass: 'correct-horse' }).sendMail({ from: 'orders@shop.test', to: 'anna@example.com', subject: 'y', text: 'y' });
    const { match } = await waitForEvent(w.mg, 'anna@example.com', 'failed');
    expect(match).toMatchObject({ code: 'RECIPIENT_SUPPRESSED' });
    // Another shop's token cannot import into this one.
    const token = ((await (await w.api('/tenants/other/tokens', { method: 'POST', body: { name: 'x' } })).json()) as { token: string }).token;
    expect((await csvImport('tenant=shop', 'x@example.com\n', token)).status).toBe(403);
    expect((await csvImport('tenant=shop', '')).status).toBe(400);
  });

  it('exports the list as CSV a spreadsheet opens (BOM, CRLF), and the CLI imports it into another shop', async () => {
    const res = await w.api('/suppression/export?tenant=shop');
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('content-disposition')).toMatch(/attachment; filename="suppression-shop-/);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]); // the BOM spreadsheet programs need for UTF-8
    const csv = bytes.subarray(3).toString('utf8');
    expect(csv.startsWith('address,class,reason,source,since,message,rule,diagnostic\r\n')).toBe(true);
    expect(csv).toMatch(/\r\ngone@example\.com,hard,user-unknown,bounce,20\d\d-/);

    const file = path.join(w.dir, 'exported.csv');
    const out = await runCli(['suppression', 'export', 'shop', '--config', w.configFile], { env: { MAILGATE_TOKEN: ADMIN_TOKEN } });
    expect(out.code).toBe(0);
    expect(out.stdout).toBe(`\uFEFF${csv}`); // what the API sends, BOM and CRLF included
    await writeFile(file, out.stdout);
    const dry = await runCli(['suppression', 'import', 'other', file, '--dry-run', '--config', w.configFile], { env: { MAILGATE_TOKEN: ADMIN_TOKEN } });
    expect(dry.stdout).toMatch(/^3 row\(s\): would add 3, 0 already suppressed/);
    const real = await runCli(['suppression', 'import', 'other', file, '--config', w.configFile], { env: { MAILGATE_TOKEN: ADMIN_TOKEN } });
    expect(real.stdout).toMatch(/added 3/);
    const other = ((await (await w.api('/suppression?tenant=other')).json()) as { entries: Array<{ address: string }> }).entries.map((e) => e.address);
    expect(other).toEqual(['anna@example.com', 'bert@example.com', 'gone@example.com']);
    expect((await runCli(['suppression', 'import', 'other', path.join(w.dir, 'missing.csv'), '--config', w.configFile], { env: { MAILGATE_TOKEN: ADMIN_TOKEN } })).code).toBe(1);
  }, 60_000);

  const chromium = findChromium();
  describe.skipIf(!chromium)('in the console', () => {
    let browser: Browser;
    let page: Page;
    beforeAll(async () => {
      browser = await launchChromium(chromium!);
      page = await browser.newPage();
      const token = ((await (await w.api('/tenants/shop/tokens', { method: 'POST', body: { name: 'console' } })).json()) as { token: string }).token;
      await page.goto(`${w.mg.adminUrl}/`);
      await page.fill('input[name=token]', token);
      await Promise.all([page.waitForURL(`${w.mg.adminUrl}/`), page.click('#signin-form button[type=submit]')]);
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('pastes a list, shows the preview, adds on confirm', async () => {
      await page.goto(`${w.mg.adminUrl}/suppression`);
      await page.fill('#suppression-import-form textarea', 'carl@example.com\nnonsense\ndora@example.com');
      await Promise.all([page.waitForURL(/\/suppression\/preview$/), page.click('#suppression-import-form button[type=submit]')]);
      expect(await page.textContent('#suppression-import-summary')).toContain('would add 2');
      expect(await page.textContent('#suppression-import-rejected')).toContain('nonsense');
      await Promise.all([page.waitForURL(/\/suppression$/), page.click('#confirm-suppression-import')]);
      expect(await page.textContent('.flash')).toContain('2 added');
      expect(await page.textContent('#suppressed')).toContain('dora@example.com');
      const download = await page.request.get(`${w.mg.adminUrl}/suppression/export.csv`);
      expect(await download.text()).toContain('carl@example.com');
    });

    it('says so when the list is longer than one page, and the filter finds what is past it', async () => {
      const many = Array.from({ length: 520 }, (_, i) => `zz${String(i).padStart(4, '0')}@example.com`).join('\n');
      expect((await csvImport('tenant=shop', many)).status).toBe(200);
      await page.goto(`${w.mg.adminUrl}/suppression`);
      expect(await page.locator('#suppressed tbody tr').count()).toBe(500);
      expect(await page.textContent('#suppression-more')).toContain('Only the first 500 addresses');
      await page.goto(`${w.mg.adminUrl}/suppression?address=zz0519`);
      expect(await page.textContent('#suppressed')).toContain('zz0519@example.com');
      expect(await page.locator('#suppression-more').count()).toBe(0);
    });
  });
});
