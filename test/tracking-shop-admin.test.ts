// Tracking from the shop admin's side (issue 19): codes of a carrier with no account are visible (API,
// error log once per cycle, console banner, check-config), an invalid phone keeps the parcel with
// e-mail only, moving the sending window re-plans waiting notices, and the daily report carries every
// tracked code as a CSV attachment. One in-process mailgate with an injected clock; DHL has no account.
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChromium, launchChromium } from './helpers/browser.js';
import { repoRoot } from './helpers/mailgate-process.js';
import { api, at, closeWorld, enable, makeWorld, msk, shipment, type World } from './helpers/tracking-world.js';

interface ErrorEvent { type: string; code?: string; msgId: string; detail?: string; time: number }

const errorLog = async (w: World) => ((await (await api(w, '/errors?tenant=shop&limit=100')).json()) as { events: ErrorEvent[] }).events;
const DHL_CODES = ['JJD0001111111', 'JJD0002222222', 'JJD0003333333'];

describe('tracking for the shop admin', () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld();
    w.clock.now = msk('2026-11-02T10:30:00');
    await enable(w);
  });
  afterAll(() => closeWorld(w));

  it('codes of a carrier with no account: a problem on the stats, one error-log entry per failed cycle with what to add, the reason on each parcel', async () => {
    const r = await api(w, '/shipments', { method: 'POST', body: { tenant: 'shop', shipments: DHL_CODES.map((code, i) => ({ code, carrier: 'dhl', email: `dhl${i}@buyer.test` })) } });
    expect(r.status).toBe(201);
    const stats = (await (await api(w, '/tracking/stats?tenant=shop')).json()) as { problems: Array<{ code: string; carrier: string; waiting: number; message: string }> };
    expect(stats.problems).toEqual([{
      code: 'TRACKING_CARRIER_MISSING', carrier: 'dhl', waiting: 3,
      message: 'no carrier configured for DHL: add tracking.carriers.dhl (apiKey) to the mailgate config and restart mailgate; 3 DHL tracking codes are not checked until then',
    }]);

    await at(w, msk('2026-11-02T10:32:00')); // first check due (firstCheckDelay 1m)
    let entries = (await errorLog(w)).filter((e) => e.code === 'TRACKING_CARRIER_MISSING');
    expect(entries).toHaveLength(1); // one per cycle, not one per code
    expect(entries[0]).toMatchObject({ type: 'tracking-failed' });
    expect(entries[0]!.detail).toContain('no carrier configured for DHL: add tracking.carriers.dhl (apiKey)');
    expect(entries[0]!.detail).toContain('3 DHL tracking codes');
    const parcel = (await (await api(w, `/shipments/dhl/${DHL_CODES[0]}?tenant=shop`)).json()) as { lastError?: string };
    expect(parcel.lastError).toMatch(/^no carrier configured for DHL: add tracking.carriers.dhl/);

    // A cycle with nothing due adds nothing; the next failed cycle adds one more.
    await at(w, msk('2026-11-02T10:40:00'));
    expect((await errorLog(w)).filter((e) => e.code === 'TRACKING_CARRIER_MISSING')).toHaveLength(1);
    await at(w, msk('2026-11-02T16:40:00'));
    entries = (await errorLog(w)).filter((e) => e.code === 'TRACKING_CARRIER_MISSING');
    expect(entries).toHaveLength(2);

    // Switched off: no problem to show (nothing is meant to be checked).
    await enable(w, { enabled: false });
    expect(((await (await api(w, '/tracking/stats?tenant=shop')).json()) as { problems: unknown[] }).problems).toEqual([]);
    // A parcel sent while tracking is off is refused, and the answer does not claim it was created (issue 20).
    const refused = await api(w, '/shipments', { method: 'POST', body: { tenant: 'shop', code: 'JJD0004444444', carrier: 'dhl', email: 'off@buyer.test' } });
    expect(refused.status).toBe(409);
    const body = (await refused.json()) as { error: string; created?: number };
    expect(body.error).toBe('TRACKING_DISABLED');
    expect(body.created ?? 0).toBe(0);
    expect((await api(w, '/shipments/dhl/JJD0004444444?tenant=shop')).status).toBe(404);
    await enable(w);
  });

  it.skipIf(!findChromium())('the console\'s tracking page shows the problem as a banner', async () => {
    const token = ((await (await api(w, '/tenants/shop/tokens', { method: 'POST', body: { name: 'shop-admin' } })).json()) as { token: string }).token;
    const browser = await launchChromium(findChromium()!);
    try {
      const page = await browser.newPage();
      const base = `http://${w.mg.addresses.admin}`;
      await page.goto(`${base}/`);
      await page.fill('input[name=token]', token);
      await Promise.all([page.waitForURL(`${base}/`), page.click('#signin-form button[type=submit]')]);
      await page.goto(`${base}/tracking`);
      const banner = await page.textContent('#tracking-problems');
      expect(banner).toContain('Parcels are not being checked.');
      expect(banner).toContain('no carrier configured for DHL: add tracking.carriers.dhl (apiKey)');
    } finally {
      await browser.close();
    }
  });

  it('an invalid phone keeps the parcel: e-mail notice yes, SMS no, and the answer says the phone was dropped', async () => {
    const code = '80082345679001';
    w.clock.now = msk('2026-11-03T10:00:00');
    const r = await api(w, '/shipments', { method: 'POST', body: { tenant: 'shop', code, email: 'anna@buyer.test', phone: '12345', name: 'Anna' } });
    expect(r.status).toBe(201);
    const body = (await r.json()) as { created: number; phonesDropped: unknown[]; rows: Array<{ warnings: string[] }> };
    expect(body.created).toBe(1);
    expect(body.phonesDropped).toEqual([{ line: 1, phone: '12345', reason: '"12345" is not a valid phone number: no SMS or calls' }]);
    expect(body.rows[0]!.warnings).toEqual(['phone "12345" is not a valid phone number: no SMS or calls']);

    w.post.setHistory(code, [{ status: 'arrived-at-pickup', time: msk('2026-11-03T09:00:00') }]);
    await at(w, msk('2026-11-03T10:05:00'));
    await w.sink.waitFor(1);
    expect(w.sink.messages.map((m) => m.to)).toEqual([['anna@buyer.test']]);
    const s = await shipment(w, code);
    expect(s.notices['arrived-at-pickup:email']).toMatchObject({ state: 'sent' });
    expect(s.notices['arrived-at-pickup:sms']).toMatchObject({ state: 'skipped', detail: '"12345" is not a valid phone number: no SMS or calls' });
    expect(w.twilio.received).toHaveLength(0);
    w.sink.messages.length = 0;
  });

  it('moving the sending window re-plans the notices waiting for the old one', async () => {
    const code = '80082345679002';
    w.clock.now = msk('2026-11-04T22:00:00');
    expect((await api(w, '/shipments', { method: 'POST', body: { tenant: 'shop', code, email: 'boris@buyer.test', phone: '+79161234500' } })).status).toBe(201);
    w.post.setHistory(code, [{ status: 'arrived-at-pickup', time: msk('2026-11-04T21:00:00') }]);
    await at(w, msk('2026-11-04T22:05:00'));
    let s = await shipment(w, code);
    expect(s.notices['arrived-at-pickup:email']!.sendAt).toBe(msk('2026-11-05T10:00:00'));

    // The shop now sends from 07:00 to 09:00: tomorrow's notices go at 07:00, not at the old 10:00 (which
    // the new window no longer covers, so they would wait another day).
    const r = await api(w, '/tracking/settings', { method: 'PATCH', body: { tenant: 'shop', window: { from: '07:00', to: '09:00' } } });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { noticesReplanned: number }).noticesReplanned).toBe(2);
    s = await shipment(w, code);
    expect(s.notices['arrived-at-pickup:email']!.sendAt).toBe(msk('2026-11-05T07:00:00'));
    expect(s.notices['arrived-at-pickup:sms']!.sendAt).toBe(msk('2026-11-05T07:00:00'));

    await at(w, msk('2026-11-05T07:05:00'));
    await w.sink.waitFor(1);
    expect(w.sink.messages.map((m) => m.to)).toEqual([['boris@buyer.test']]);
    expect(await w.twilio.waitFor(1)).toHaveLength(1);
    w.sink.messages.length = 0;
    w.twilio.received.length = 0;
    await enable(w);
  });

  it('the daily report carries every tracked code as a CSV attachment, the summary in the body', async () => {
    await enable(w, { reportTime: '09:00' });
    await at(w, msk('2026-11-06T08:00:00')); // plans the first report
    await at(w, msk('2026-11-06T09:00:30'));
    const [report] = await w.sink.waitFor(1);
    const mail = await simpleParser(report!.raw);
    expect(mail.text).toContain('Parcels tracked: 5');
    expect(mail.text).toContain('All 5 tracked codes are in the attached file tracking-2026-11-06.csv.');
    expect(mail.attachments).toHaveLength(1);
    const csv = mail.attachments[0]!;
    expect(csv.filename).toBe('tracking-2026-11-06.csv');
    expect(csv.contentType).toBe('text/csv');
    const lines = csv.content.toString('utf8').replace(/^\uFEFF/, '').trim().split('\r\n');
    expect(lines[0]).toBe('Tracking code,Carrier,Status,Status since,Buyer,E-mail,Phone,Phone problem,Order,Order sum,Added,Last check,Last problem,Still checked,Notices');
    const codes = lines.slice(1).map((l) => l.split(',')[0]);
    expect(codes.sort()).toEqual([...DHL_CODES, '80082345679001', '80082345679002'].sort());
    const anna = lines.find((l) => l.startsWith('80082345679001,'))!;
    expect(anna).toContain('Russian Post,arrived-at-pickup,');
    expect(anna).toContain(',Anna,anna@buyer.test,12345,"""12345"" is not a valid phone number: no SMS or calls",');
    const dhl = lines.find((l) => l.startsWith(`${DHL_CODES[0]},`))!;
    expect(dhl).toContain('DHL,unknown,');
    expect(dhl).toContain('no carrier configured for DHL');
    w.sink.messages.length = 0;
    await enable(w);
  });

  it('check-config warns about the stored codes of a carrier the file has no account for', async () => {
    await w.mg.stop(); // LevelDB is free to read once mailgate has stopped
    const file = path.join(w.dir, 'mailgate.yaml');
    await writeFile(file, w.yaml);
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'cli.js'), 'check-config', '--config', file], { cwd: w.dir, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ok \\(\\d+ warnings\\)\n$`)); // with the setup's own (DKIM key, host name)
    expect(r.stderr).toContain('warning: tenant shop: no carrier configured for DHL: add tracking.carriers.dhl (apiKey) to the mailgate config and restart mailgate; 3 DHL tracking codes are not checked until then');
  });
});
