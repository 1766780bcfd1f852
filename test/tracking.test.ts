// Parcel tracking end to end: a real mailgate (in this process, so its clock can be injected) with a
// loopback Russian Post, a loopback Twilio and an SMTP sink. Import with preview, a parcel's whole
// story (accepted → in transit → at the pick-up point → reminder → storage expired → blacklist), the
// sending window, a restart in the middle, and carrier failures that must not produce notices.
import path from 'node:path';
import libmime from 'libmime';
import { simpleParser } from 'mailparser';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN } from './helpers/config.js';
import { getHeader } from './helpers/smtp-sink.js';
import nodemailer from 'nodemailer';
import writeXlsxFile from 'write-excel-file/node';
import { openStore } from '../src/store/open.js';
import { ShipmentStore } from '../src/store/shipments.js';
import type { TrackingRecords } from '../src/tracking/shipments.js';
import { CARRIERS } from '../src/tracking/types.js';
import { HOUR, DAY, START, msk, type World, log, boot, makeWorld, closeWorld, api, enable, at, shipment, subjects } from './helpers/tracking-world.js';

describe('tracking: import with preview', () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld();
    await enable(w);
  });
  afterAll(() => closeWorld(w));

  const csv = [
    'Трек-номер;ФИО;Телефон;E-mail;Номер заказа;Сумма заказа',
    '80082345678901;Иван Петров;8 (916) 123-45-67;ivan@buyer.test;A-1001;1 250,00 ₽',
    '80082345678902;Мария Сидорова;12345;maria@buyer.test;A-1002;990',
    '80082345678901;Иван Петров;+79161234567;ivan@buyer.test;A-1003;100',
    ';Без Кода;+79161112233;nocode@buyer.test;A-1004;100',
    '80082345678905;Олег Смирнов;+7 495 123-45-67;oleg@buyer.test;A-1005;500',
  ].join('\r\n');

  it('dry run reports every row exactly and writes nothing', async () => {
    const r = await api(w, '/shipments/import?tenant=shop&dryRun=true', { method: 'POST', raw: csv });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { dryRun: boolean; created: number; updated: number; rejected: number; rows: Array<{ line: number; errors: string[]; warnings: string[]; action?: string }> };
    expect(body.dryRun).toBe(true);
    const byLine = new Map(body.rows.map((row) => [row.line, row]));
    expect(byLine.get(2)).toMatchObject({ errors: [], action: 'create' });
    // Seed 004: an invalid phone is a placeholder (e-mail notices, no SMS), not a reason to drop the parcel.
    expect(byLine.get(3)).toMatchObject({ errors: [], action: 'create', warnings: ['phone "12345" is not a valid phone number: no SMS or calls'] });
    expect(byLine.get(4)!.errors).toEqual(['tracking code 80082345678901 is already on line 2']);
    expect(byLine.get(5)!.errors).toEqual(['tracking code is missing']);
    expect(byLine.get(6)).toMatchObject({ errors: [], action: 'create' });
    expect(byLine.get(6)!.warnings[0]).toMatch(/landline/);
    expect(body).toMatchObject({ created: 3, updated: 0, rejected: 2 });
    expect((body as unknown as { phonesDropped: unknown }).phonesDropped).toEqual([
      { line: 3, phone: '12345', reason: '"12345" is not a valid phone number: no SMS or calls' },
      { line: 6, phone: '+7 495 123-45-67', reason: '+74951234567 is a landline: no SMS or calls' },
    ]);
    const list = (await (await api(w, '/shipments?tenant=shop')).json()) as { shipments: unknown[] };
    expect(list.shipments).toHaveLength(0);
  });

  it('the real import creates only the good rows; re-importing updates instead of duplicating', async () => {
    const r = await api(w, '/shipments/import?tenant=shop', { method: 'POST', raw: csv });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ dryRun: false, created: 3, rejected: 2 });
    const list = (await (await api(w, '/shipments?tenant=shop')).json()) as { shipments: Array<{ code: string; phoneE164?: string; phoneProblem?: string; orderSum?: string }> };
    expect(list.shipments.map((s) => s.code).sort()).toEqual(['80082345678901', '80082345678902', '80082345678905']);
    expect(list.shipments.find((s) => s.code === '80082345678902')).toMatchObject({ phoneProblem: '"12345" is not a valid phone number: no SMS or calls' });
    expect(list.shipments.find((s) => s.code === '80082345678902')!.phoneE164).toBeUndefined();
    const ivan = list.shipments.find((s) => s.code === '80082345678901')!;
    expect(ivan).toMatchObject({ phoneE164: '+79161234567', orderSum: '1 250,00 ₽' });
    expect(list.shipments.find((s) => s.code === '80082345678905')!.phoneProblem).toMatch(/landline/);

    const again = await api(w, '/shipments/import?tenant=shop', { method: 'POST', raw: 'code;email;order\n80082345678901;ivan.new@buyer.test;A-1001' });
    expect(await again.json()).toMatchObject({ created: 0, updated: 1 });
    const found = (await (await api(w, '/shipments?tenant=shop&email=ivan.new@buyer.test')).json()) as { shipments: Array<{ code: string }> };
    expect(found.shipments.map((s) => s.code)).toEqual(['80082345678901']);
    expect(((await (await api(w, '/shipments?tenant=shop')).json()) as { shipments: unknown[] }).shipments).toHaveLength(3);
    // By order reference and by phone as a buyer would type it.
    expect(((await (await api(w, '/shipments?tenant=shop&reference=a-1001')).json()) as { shipments: unknown[] }).shipments).toHaveLength(1);
  });

  it('imports an XLSX upload (numbers kept exact) and refuses an unreadable file with a clear error', async () => {
    const xlsx = await writeXlsxFile([
      ['Tracking number', 'Mobile', 'Customer', 'Order'],
      [80082345678920, 79161112233, 'Пётр', 'X-9'],
    ]).toBuffer();
    const r = await fetch(`http://${w.mg.addresses.admin}/api/v1/shipments/import?tenant=shop&dryRun=true`, {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' }, body: new Uint8Array(xlsx),
    });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { format: string; rows: Array<{ shipment?: { code: string; phoneE164?: string; name?: string } }> };
    expect(body.format).toBe('xlsx');
    expect(body.rows[0]!.shipment).toMatchObject({ code: '80082345678920', phoneE164: '+79161112233', name: 'Пётр' });
    const bad = await api(w, '/shipments/import?tenant=shop', { method: 'POST', raw: 'PK\u0003\u0004 broken', type: 'application/octet-stream' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/could not be read as XLSX/);
  });

  it('refuses an import beyond the monthly quota, naming the numbers', async () => {
    await enable(w, { monthlyQuota: 4 });
    const r = await api(w, '/shipments', { method: 'POST', body: { tenant: 'shop', shipments: [
      { code: '80082345670001', email: 'a@buyer.test' }, { code: '80082345670002', email: 'b@buyer.test' },
    ] } });
    expect(r.status).toBe(429);
    const body = (await r.json()) as { error: string; message: string };
    expect(body.error).toBe('QUOTA_EXCEEDED');
    expect(body.message).toContain('only 1 of the monthly quota of 4');
    expect((await api(w, '/shipments', { method: 'POST', body: { tenant: 'shop', code: '80082345670001', email: 'a@buyer.test' } })).status).toBe(201);
    await enable(w);
  });
});

describe('tracking: a parcel\'s whole story', () => {
  let w: World;
  const CODE = '80082345678910';
  beforeAll(async () => {
    w = await makeWorld();
    await enable(w);
    const r = await api(w, '/shipments', { method: 'POST', body: { tenant: 'shop', code: CODE, carrier: 'russian-post', name: 'Анна <b>Иванова</b>', email: 'anna@buyer.test', phone: '8 916 765-43-21', orderReference: 'Z-77', orderSum: '2 490 ₽' } });
    expect(r.status).toBe(201);
  });
  afterAll(() => closeWorld(w));

  it('accepted → in transit (no notice) → arrived (e-mail and SMS with macros) → reminder after 5 days → storage expired → blacklist', async () => {
    w.post.setHistory(CODE, [{ status: 'accepted', time: START - HOUR, place: '125009 Москва' }]);
    await at(w, START + 2 * 60_000);
    await w.sink.waitFor(1);
    expect(subjects(w.sink)[0]).toMatch(/Z-77/);
    expect(w.sink.messages[0]!.to).toEqual(['anna@buyer.test']);

    // Sorting/in transit: no notice.
    w.post.setHistory(CODE, [{ status: 'accepted', time: START - HOUR, place: '125009 Москва' }, { status: 'in-transit', time: START + 3 * HOUR, place: '140980 Московский АСЦ' }]);
    await at(w, START + 8 * HOUR);
    expect((await shipment(w, CODE)).status).toBe('in-transit');

    // Arrives at 11:00 Moscow the next day; checked at 11:05: e-mail and SMS at once (inside the window).
    const arrived = msk('2026-11-03T11:00:00');
    w.post.setHistory(CODE, [
      { status: 'accepted', time: START - HOUR, place: '125009 Москва' },
      { status: 'in-transit', time: START + 3 * HOUR, place: '140980 Московский АСЦ' },
      { status: 'arrived-at-pickup', time: arrived, place: '101000 Москва' },
    ]);
    await at(w, arrived + 5 * 60_000);
    await w.sink.waitFor(2);
    const mail = w.sink.messages[1]!;
    expect(getHeader(mail.headers, 'X-Order-Id')).toBe('Z-77');
    const parsed = await simpleParser(mail.raw);
    expect(w.twilio.received).toHaveLength(1);
    const sms = w.twilio.received[0]!;
    expect(sms).toMatchObject({ kind: 'sms', to: '+79167654321', from: 'DemoShop' });
    expect(sms.body).toBe('Анна <b>Иванова</b>, посылка 80082345678910 ждёт вас: 101000 Москва. Сумма 2 490 ₽');
    // HTML part escapes the buyer-typed name; no macro left unfilled, never "undefined".
    expect(parsed.html).toContain('Здравствуйте, Анна &lt;b&gt;Иванова&lt;/b&gt;! Посылка <b>80082345678910</b>');
    expect(parsed.text).toContain('Посылка 80082345678910 в 101000 Москва. К оплате 2 490 ₽.');
    for (const part of [parsed.text, parsed.html, parsed.subject]) {
      expect(part).not.toContain('undefined');
      expect(part).not.toMatch(/\{[a-zA-Z]+\}/);
    }

    // Five days later (checked inside the window): the first reminder; not before.
    await at(w, arrived + 4 * DAY);
    expect(w.sink.messages).toHaveLength(2);
    await at(w, msk('2026-11-08T11:10:00'));
    await w.sink.waitFor(3);
    expect(subjects(w.sink)[2]).toMatch(/Напоминание/);
    expect(w.twilio.received).toHaveLength(2);

    // Storage expired: notice, polling stops, buyer on the blacklist.
    w.post.setHistory(CODE, [
      { status: 'accepted', time: START - HOUR },
      { status: 'arrived-at-pickup', time: arrived, place: '101000 Москва' },
      { status: 'storage-expired', time: msk('2026-11-10T09:00:00'), place: '101000 Москва' },
    ]);
    await at(w, msk('2026-11-10T11:00:00'));
    await w.sink.waitFor(4);
    const s = await shipment(w, CODE);
    expect(s.status).toBe('storage-expired');
    expect(s.nextCheckAt).toBeUndefined();
    const check = (await (await api(w, '/blacklist/check?tenant=shop&phone=%2B7%20916%20765%2043%2021')).json()) as { listed: boolean; entries: Array<{ reason: string; code: string }> };
    expect(check.listed).toBe(true);
    expect(check.entries[0]).toMatchObject({ code: CODE });
    expect(((await (await api(w, '/blacklist/check?tenant=shop&email=ANNA@buyer.test')).json()) as { listed: boolean }).listed).toBe(true);
    expect(((await (await api(w, '/blacklist/check?tenant=shop&email=other@buyer.test')).json()) as { listed: boolean }).listed).toBe(false);

    // Stats and removal from the blacklist.
    const stats = (await (await api(w, '/tracking/stats?tenant=shop')).json()) as { byStatus: Record<string, number> };
    expect(stats.byStatus['storage-expired']).toBe(1);
    expect((await api(w, '/blacklist?tenant=shop&email=anna@buyer.test', { method: 'DELETE' })).status).toBe(204);
    expect(((await (await api(w, '/blacklist/check?tenant=shop&email=anna@buyer.test')).json()) as { listed: boolean }).listed).toBe(false);

    // Each notice exactly once over the whole story.
    const requests = w.post.requests;
    await at(w, msk('2026-11-11T11:00:00'));
    expect(w.post.requests).toBe(requests);
    expect(w.sink.messages).toHaveLength(4);
    expect(w.twilio.received).toHaveLength(2);
    const metrics = await (await api(w, '/../../metrics')).text();
    expect(metrics).toMatch(/^mailgate_tracking_notices_sent_total 6$/m);
  });
});

describe('tracking: sending window, restarts and carrier trouble', () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld();
    await enable(w);
  });
  afterAll(() => closeWorld(w));
  afterEach(() => {
    w.sink.messages.length = 0;
    w.twilio.received.length = 0;
  });

  const add = async (code: string) => {
    const r = await api(w, '/shipments', { method: 'POST', body: { tenant: 'shop', code, email: `${code}@buyer.test`, phone: '+79161230000', orderReference: `O-${code}` } });
    expect(r.status).toBe(201);
  };

  it('a status change at 23:00 Moscow time is notified at 10:00 the next day, not before', async () => {
    const code = '80082345670100';
    w.clock.now = msk('2026-11-12T22:50:00');
    await add(code);
    w.post.setHistory(code, [{ status: 'arrived-at-pickup', time: msk('2026-11-12T22:40:00'), place: '190000 Санкт-Петербург' }]);
    await at(w, msk('2026-11-12T23:00:00'));
    const s = await shipment(w, code);
    expect(s.status).toBe('arrived-at-pickup');
    expect(s.notices['arrived-at-pickup:email']).toMatchObject({ state: 'scheduled', sendAt: msk('2026-11-13T10:00:00') });
    await at(w, msk('2026-11-13T09:59:00'));
    expect(w.sink.messages).toHaveLength(0);
    expect(w.twilio.received).toHaveLength(0);
    await at(w, msk('2026-11-13T10:00:00'));
    await w.sink.waitFor(1);
    expect(w.twilio.received).toHaveLength(1);
    expect((await shipment(w, code)).notices['arrived-at-pickup:sms']!.state).toBe('sent');
  });

  it('restart in the middle: none lost, none sent twice', async () => {
    const code = '80082345670200';
    w.clock.now = msk('2026-11-14T20:00:00');
    await add(code);
    w.post.setHistory(code, [{ status: 'arrived-at-pickup', time: msk('2026-11-14T19:00:00'), place: '190000 Санкт-Петербург' }]);
    await at(w, msk('2026-11-14T20:05:00'));
    expect((await shipment(w, code)).notices['arrived-at-pickup:email']!.state).toBe('scheduled');

    // Restart before the window: the planned notices survive.
    await w.mg.stop();
    w.mg = await boot(w);
    await at(w, msk('2026-11-15T10:01:00'));
    await w.sink.waitFor(1);
    expect(w.twilio.received).toHaveLength(1);

    // Restart after sending: nothing goes out again, even with the window open and the carrier unchanged.
    await w.mg.stop();
    w.mg = await boot(w);
    await at(w, msk('2026-11-15T11:30:00'));
    await new Promise((r) => setTimeout(r, 300));
    expect(w.sink.messages).toHaveLength(1);
    expect(w.twilio.received).toHaveLength(1);
  });

  it('carrier 500, garbage and timeout: retried with backoff, no notice, the reason kept', async () => {
    const code = '80082345670300';
    // Only this parcel is checked in this test: the carrier's failures below are meant for its request.
    const earlier = (await (await api(w, '/shipments?tenant=shop')).json()) as { shipments: Array<{ code: string }> };
    for (const e of earlier.shipments) expect((await api(w, `/shipments/russian-post/${e.code}?tenant=shop`, { method: 'DELETE' })).status).toBe(204);
    w.clock.now = msk('2026-11-16T10:00:00');
    await add(code);
    w.post.setHistory(code, [{ status: 'arrived-at-pickup', time: msk('2026-11-16T09:00:00'), place: '190000 Санкт-Петербург' }]);
    let t = msk('2026-11-16T10:02:00');
    for (const [mode, reason] of [['http500', /HTTP 500/], ['garbage', /unreadable/i], ['timeout', /did not answer/]] as const) {
      w.post.fail(mode, 1);
      await at(w, t);
      const s = await shipment(w, code);
      expect(s.lastError).toMatch(reason);
      expect(s.status).toBe('unknown');
      expect(s.nextCheckAt! - t).toBeLessThanOrEqual(15 * 60_000);
      expect(w.sink.messages).toHaveLength(0);
      expect(w.twilio.received).toHaveLength(0);
      t = s.nextCheckAt!;
    }
    await at(w, t);
    await w.sink.waitFor(1);
    const s = await shipment(w, code);
    expect(s.lastError).toBeUndefined();
    expect(s.status).toBe('arrived-at-pickup');
  });

  it('an SMS the gateway refuses is recorded with the reason and in the error log; a deleted shipment sends nothing', async () => {
    const code = '80082345670400';
    w.clock.now = msk('2026-11-17T10:00:00');
    await add(code);
    w.twilio.refuse('+79161230000', 21610);
    w.post.setHistory(code, [{ status: 'arrived-at-pickup', time: msk('2026-11-17T09:00:00') }]);
    await at(w, msk('2026-11-17T10:02:00'));
    await w.sink.waitFor(1);
    const s = await shipment(w, code);
    expect(s.notices['arrived-at-pickup:sms']).toMatchObject({ state: 'failed' });
    const errors = (await (await api(w, '/errors?tenant=shop')).json()) as { events: Array<{ type: string; code: string; msgId: string; detail: string }> };
    const failed = errors.events.find((e) => e.type === 'notice-failed' && e.msgId === code);
    expect(failed).toMatchObject({ code: 'SMS_FAILED' });
    expect(failed!.detail).toMatch(/21610/);

    // A gateway that takes the request but does not answer: the SMS may have gone out, so it is not repeated.
    const slow = '80082345670450';
    w.clock.now = msk('2026-11-17T10:10:00');
    expect((await api(w, '/shipments', { method: 'POST', body: { tenant: 'shop', code: slow, phone: '+79161230001' } })).status).toBe(201);
    w.post.setHistory(slow, [{ status: 'arrived-at-pickup', time: msk('2026-11-17T09:00:00') }]);
    w.twilio.fail('hang', 1);
    const attemptsBefore = w.twilio.attempts;
    await at(w, msk('2026-11-17T10:12:00'));
    expect((await shipment(w, slow)).notices['arrived-at-pickup:sms']).toMatchObject({ state: 'failed' });
    expect((await shipment(w, slow)).notices['arrived-at-pickup:sms']!.detail).toMatch(/may have sent it, so it is not repeated/);
    await at(w, msk('2026-11-17T11:30:00'));
    expect(w.twilio.attempts - attemptsBefore).toBe(1);

    // Seed 004: the buyer already picked up; the shop deletes the code; the pending notice never goes out.
    const late = '80082345670500';
    w.clock.now = msk('2026-11-17T20:00:00');
    await add(late);
    w.post.setHistory(late, [{ status: 'arrived-at-pickup', time: msk('2026-11-17T19:00:00') }]);
    await at(w, msk('2026-11-17T20:02:00'));
    expect((await api(w, `/shipments/russian-post/${late}?tenant=shop`, { method: 'DELETE' })).status).toBe(204);
    w.sink.messages.length = 0;
    await at(w, msk('2026-11-18T10:30:00'));
    await new Promise((r) => setTimeout(r, 300));
    expect(w.sink.messages.filter((m) => m.to.includes(`${late}@buyer.test`))).toHaveLength(0);
    expect((await api(w, `/shipments/russian-post/${late}?tenant=shop`)).status).toBe(404);
  });
});

describe('tracking: calls, daily report, copies for the shop admin, crash mid-send, tenant isolation', () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld();
  });
  afterAll(() => closeWorld(w));
  afterEach(() => {
    w.sink.messages.length = 0;
    w.twilio.received.length = 0;
  });

  it('a robot voice call through the same gateway interface, with the caller id and its own template', async () => {
    await enable(w, { notices: { 'arrived-at-pickup': ['call'] }, call: { gateway: 'voice', callerId: '+74950000000' } });
    const code = '80082345671000';
    w.clock.now = msk('2026-11-20T10:00:00');
    expect((await api(w, '/shipments', { method: 'POST', body: { tenant: 'shop', code, phone: '+79161239999' } })).status).toBe(201);
    w.post.setHistory(code, [{ status: 'arrived-at-pickup', time: msk('2026-11-20T09:00:00') }]);
    await at(w, msk('2026-11-20T10:05:00'));
    const [call] = await w.twilio.waitFor(1);
    expect(call).toMatchObject({ kind: 'call', to: '+79161239999', from: '+74950000000' });
    expect(call!.say).toEqual({ language: 'ru-RU', text: 'Здравствуйте! Ваша посылка прибыла в пункт выдачи. Пожалуйста, заберите её.' });
    expect(w.sink.messages).toHaveLength(0);
  });

  it('sends the shop admin a daily report at the configured local time, once a day', async () => {
    await enable(w, { reportTime: '09:00' });
    await at(w, msk('2026-11-21T08:00:00'));
    await at(w, msk('2026-11-21T08:59:00'));
    expect(w.sink.messages).toHaveLength(0);
    await at(w, msk('2026-11-21T09:00:30'));
    const [report] = await w.sink.waitFor(1);
    expect(report!.to).toEqual(['admin@shop.test']);
    const parsed = await simpleParser(report!.raw);
    expect(parsed.subject).toMatch(/^Tracking report 2026-11-21: 1 parcels/);
    expect(parsed.text).toMatch(/arrived-at-pickup\s+1/);
    await at(w, msk('2026-11-21T15:00:00'));
    await new Promise((r) => setTimeout(r, 200));
    expect(w.sink.messages).toHaveLength(1);
  });

  it('copies the shop\'s mail of a chosen category to the admin addresses (seed 003), other mail not', async () => {
    await enable(w, { copyCategories: ['order-confirmation'] });
    const transport = nodemailer.createTransport({ host: w.mg.addresses.submission.split(':')[0], port: Number(w.mg.addresses.submission.split(':')[1]), secure: false, ignoreTLS: true, auth: { user: 'shop', pass: 'shop-password' } });
    await transport.sendMail({ from: 'orders@shop.test', to: 'buyer@example.com', subject: 'Order 1', text: 'thanks', headers: { 'X-Mailgate-Category': 'order-confirmation' } });
    await transport.sendMail({ from: 'orders@shop.test', to: 'buyer2@example.com', subject: 'Newsletter', text: 'news', headers: { 'X-Mailgate-Category': 'newsletter' } });
    await w.sink.waitFor(2);
    await new Promise((r) => setTimeout(r, 300));
    const recipients = w.sink.messages.flatMap((m) => m.to).sort();
    expect(recipients).toEqual(['admin@shop.test', 'buyer2@example.com', 'buyer@example.com']);
    const copy = w.sink.messages.find((m) => m.to.includes('admin@shop.test'))!;
    expect(libmime.decodeWords(getHeader(copy.headers, 'Subject')!)).toBe('Order 1');
    expect(getHeader(copy.headers, 'To')).toMatch(/buyer@example\.com/);
  });

  it('after a crash between "sending" and "sent": the e-mail goes out once, the SMS is not repeated and is in the error log', async () => {
    await enable(w);
    const code = '80082345672000';
    w.clock.now = msk('2026-11-22T20:00:00');
    expect((await api(w, '/shipments', { method: 'POST', body: { tenant: 'shop', code, email: 'crash@buyer.test', phone: '+79161238888' } })).status).toBe(201);
    w.post.setHistory(code, [{ status: 'arrived-at-pickup', time: msk('2026-11-22T19:00:00') }]);
    await at(w, msk('2026-11-22T20:05:00'));
    await w.mg.stop();
    // What a kill -9 right after the synced "sending" mark leaves behind.
    const store = await openStore(path.join(w.dir, 'data'));
    const shipments = new ShipmentStore<TrackingRecords>(store, CARRIERS);
    const s = (await shipments.get('shop', 'russian-post', code))!;
    const after = { ...s, notices: { ...s.notices, 'arrived-at-pickup:email': { ...s.notices['arrived-at-pickup:email']!, state: 'sending' as const }, 'arrived-at-pickup:sms': { ...s.notices['arrived-at-pickup:sms']!, state: 'sending' as const } } };
    await shipments.write(shipments.ops(s, after), true);
    await store.close();
    w.mg = await boot(w);
    await at(w, msk('2026-11-23T10:01:00'));
    await w.sink.waitFor(1);
    expect(w.sink.messages[0]!.to).toEqual(['crash@buyer.test']);
    expect(w.twilio.received).toHaveLength(0);
    const sh = await shipment(w, code);
    expect(sh.notices['arrived-at-pickup:email']!.state).toBe('sent');
    expect(sh.notices['arrived-at-pickup:sms']).toMatchObject({ state: 'failed' });
    expect(sh.notices['arrived-at-pickup:sms']!.detail).toMatch(/interrupted by a restart/);
    const errors = (await (await api(w, '/errors?tenant=shop')).json()) as { events: Array<{ type: string; msgId: string; code: string }> };
    expect(errors.events.some((e) => e.type === 'notice-failed' && e.msgId === code && e.code === 'SMS_FAILED')).toBe(true);
    // The next cycle sends nothing more.
    await at(w, msk('2026-11-23T11:00:00'));
    await new Promise((r) => setTimeout(r, 200));
    expect(w.sink.messages).toHaveLength(1);
  });

  it('a tenant token sees only its own shipments, settings and blacklist', async () => {
    const issued = (await (await api(w, '/tenants/other/tokens', { method: 'POST', body: { name: 'app' } })).json()) as { token: string };
    const asOther = (p: string, method = 'GET', body?: unknown) => fetch(`http://${w.mg.addresses.admin}/api/v1${p}`, {
      method, headers: { authorization: `Bearer ${issued.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    expect(await (await asOther('/whoami')).json()).toEqual({ role: 'tenant', tenant: 'other' });
    expect((await asOther('/shipments?tenant=shop')).status).toBe(403);
    expect((await asOther('/shipments/russian-post/80082345672000?tenant=shop')).status).toBe(403);
    expect((await asOther('/shipments/russian-post/80082345672000?tenant=shop', 'DELETE')).status).toBe(403);
    expect((await asOther('/tracking/settings?tenant=shop')).status).toBe(403);
    expect((await asOther('/blacklist/check?tenant=shop&email=a@b.test')).status).toBe(403);
    // Naming its own tenant in the query does not let it act on another one named in the body.
    expect((await asOther('/tracking/settings?tenant=other', 'PUT', { tenant: 'shop', enabled: true, adminAddresses: ['evil@attacker.test'] })).status).toBe(403);
    expect((await asOther('/shipments?tenant=other', 'POST', { tenant: 'shop', code: '80082345679999', email: 'x@buyer.test' })).status).toBe(403);
    expect((await shipment(w, '80082345679999') as unknown as { error?: string }).error).toBe('NOT_FOUND');
    const own = await asOther('/shipments?tenant=other');
    expect(own.status).toBe(200);
    expect(((await own.json()) as { shipments: unknown[] }).shipments).toHaveLength(0);
    // Upstreams of a shop admin may not point into the operator's network (loopback/private), nor be moved there.
    const probe = await asOther('/upstreams', 'POST', { name: 'probe', host: '127.0.0.1', port: 6379, tls: 'none' });
    expect(probe.status).toBe(400);
    expect(((await probe.json()) as { error: string }).error).toBe('PRIVATE_HOST');
    expect((await asOther('/upstreams/shop-smtp/copy', 'POST', { name: 'other-copy' })).status).toBe(201);
    expect((await asOther('/upstreams/other-copy', 'PATCH', { port: 6379 })).status).toBe(400);
    expect((await asOther('/upstreams/other-copy/test', 'POST', { to: 'a@example.com' })).status).toBe(400);
    // Same code in another tenant is another shipment.
    expect((await asOther('/shipments/russian-post/80082345672000?tenant=other')).status).toBe(404);
  });
});
