// Pure parts of parcel tracking: the sending window (time zones, DST), what a carrier check means for a
// shipment (lifecycle), notice templates, tenant settings validation, and the notice e-mail itself.
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { inWindow, isTimeZone, nextLocalTime, nextWindowStart, wallClock, zonedTime, type SendingWindow } from '../src/tracking/window.js';
import { applyCheck, applyFailure, DAY, newShipment, nextCheck, retryDelay, type LifecycleRules, type Shipment } from '../src/tracking/lifecycle.js';
import { BUILT_IN_TEMPLATES, MACROS, renderTemplate, unknownMacros, type MacroValues } from '../src/tracking/templates.js';
import { DEFAULT_SETTINGS, parseTrackingSettings, unknownGateways, type TrackingSettings } from '../src/tracking/settings.js';
import { composeMail, noticeMessageId, type ComposedMail } from '../src/tracking/compose.js';
import { NOTICE_STATUSES, type CarrierEvent, type NormalisedStatus } from '../src/tracking/types.js';
import { CanonicalStream } from '../src/queue/canonical-stream.js';
import { replannedSendAt, windowMoved } from '../src/tracking/replan.js';
import { csvCell, shipmentsCsv } from '../src/tracking/report-csv.js';

const HOUR = 60 * 60 * 1000;
const MINUTE = 60 * 1000;
const utc = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0) => Date.UTC(y, mo - 1, d, h, mi, s);

// ---------------------------------------------------------------------------------------------------
describe('sending window', () => {
  const moscow: SendingWindow = { from: '10:00', to: '12:00', timeZone: 'Europe/Moscow' }; // UTC+3, no DST

  it('Moscow 10:00–12:00: 23:00 waits for 10:00 the next day', () => {
    const t = utc(2026, 1, 15, 20, 0); // 23:00 MSK
    expect(inWindow(t, moscow)).toBe(false);
    expect(nextWindowStart(t, moscow)).toBe(utc(2026, 1, 16, 7, 0)); // 10:00 MSK on the 16th
  });

  it('Moscow: 09:59 waits for 10:00 the same day', () => {
    const t = utc(2026, 1, 15, 6, 59); // 09:59 MSK
    expect(inWindow(t, moscow)).toBe(false);
    expect(nextWindowStart(t, moscow)).toBe(utc(2026, 1, 15, 7, 0));
  });

  it('Moscow: 10:00 is inside (inclusive), 11:59:59 too, 12:00 is outside (exclusive) and waits for the next day', () => {
    const ten = utc(2026, 1, 15, 7, 0);
    expect(inWindow(ten, moscow)).toBe(true);
    expect(nextWindowStart(ten, moscow)).toBe(ten);
    const almostNoon = utc(2026, 1, 15, 8, 59, 59);
    expect(inWindow(almostNoon, moscow)).toBe(true);
    expect(nextWindowStart(almostNoon, moscow)).toBe(almostNoon);
    const noon = utc(2026, 1, 15, 9, 0);
    expect(inWindow(noon, moscow)).toBe(false);
    expect(nextWindowStart(noon, moscow)).toBe(utc(2026, 1, 16, 7, 0));
  });

  describe('Europe/Berlin across the 2026 DST changes', () => {
    const berlin: SendingWindow = { from: '10:00', to: '12:00', timeZone: 'Europe/Berlin' };

    it('29 March (spring forward): the window start moves from 09:00Z to 08:00Z', () => {
      expect(nextWindowStart(utc(2026, 3, 28, 0, 0), berlin)).toBe(utc(2026, 3, 28, 9, 0)); // 10:00 CET
      expect(nextWindowStart(utc(2026, 3, 28, 12, 0), berlin)).toBe(utc(2026, 3, 29, 8, 0)); // 10:00 CEST
      expect(inWindow(utc(2026, 3, 29, 7, 59), berlin)).toBe(false);
      expect(inWindow(utc(2026, 3, 29, 8, 0), berlin)).toBe(true);
      expect(inWindow(utc(2026, 3, 29, 9, 59), berlin)).toBe(true);
      expect(inWindow(utc(2026, 3, 29, 10, 0), berlin)).toBe(false); // 12:00 CEST
    });

    it('25 October (fall back): the window start moves from 08:00Z to 09:00Z', () => {
      expect(nextWindowStart(utc(2026, 10, 24, 0, 0), berlin)).toBe(utc(2026, 10, 24, 8, 0)); // 10:00 CEST
      expect(nextWindowStart(utc(2026, 10, 24, 12, 0), berlin)).toBe(utc(2026, 10, 25, 9, 0)); // 10:00 CET
      expect(inWindow(utc(2026, 10, 25, 8, 30), berlin)).toBe(false); // 09:30 CET
      expect(inWindow(utc(2026, 10, 25, 9, 0), berlin)).toBe(true);
      expect(inWindow(utc(2026, 10, 25, 10, 59), berlin)).toBe(true);
      expect(inWindow(utc(2026, 10, 25, 11, 0), berlin)).toBe(false);
    });

    it('a wall time in the spring-forward gap (02:30 on 29 March) moves forward by the gap to 03:30 CEST', () => {
      const t = zonedTime(2026, 3, 29, 2, 30, 'Europe/Berlin');
      expect(t).toBe(utc(2026, 3, 29, 1, 30));
      expect(wallClock(t, 'Europe/Berlin')).toMatchObject({ year: 2026, month: 3, day: 29, hour: 3, minute: 30 });
      // A window starting in the gap opens at the moved time that day, and at 02:30 CEST the day after.
      const w: SendingWindow = { from: '02:30', to: '04:00', timeZone: 'Europe/Berlin' };
      expect(nextWindowStart(utc(2026, 3, 28, 12, 0), w)).toBe(utc(2026, 3, 29, 1, 30));
      expect(nextWindowStart(utc(2026, 3, 29, 3, 0), w)).toBe(utc(2026, 3, 30, 0, 30));
    });

    it('times next to the transitions map to the right instant', () => {
      expect(zonedTime(2026, 3, 29, 1, 30, 'Europe/Berlin')).toBe(utc(2026, 3, 29, 0, 30)); // still CET
      expect(zonedTime(2026, 3, 29, 3, 30, 'Europe/Berlin')).toBe(utc(2026, 3, 29, 1, 30)); // already CEST
      expect(zonedTime(2026, 10, 25, 1, 30, 'Europe/Berlin')).toBe(utc(2026, 10, 24, 23, 30)); // still CEST
      expect(zonedTime(2026, 10, 25, 3, 30, 'Europe/Berlin')).toBe(utc(2026, 10, 25, 2, 30)); // CET
      // 02:30 on 25 October happens twice: either occurrence is acceptable, but it must show 02:30.
      const twice = zonedTime(2026, 10, 25, 2, 30, 'Europe/Berlin');
      expect([utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)]).toContain(twice);
      expect(wallClock(twice, 'Europe/Berlin')).toMatchObject({ day: 25, hour: 2, minute: 30 });
    });
  });

  describe('a window crossing midnight (22:00–02:00)', () => {
    it('Asia/Kolkata (UTC+5:30)', () => {
      const w: SendingWindow = { from: '22:00', to: '02:00', timeZone: 'Asia/Kolkata' };
      expect(inWindow(utc(2026, 5, 10, 16, 29), w)).toBe(false); // 21:59 IST
      expect(inWindow(utc(2026, 5, 10, 16, 30), w)).toBe(true); // 22:00
      expect(inWindow(utc(2026, 5, 10, 18, 29), w)).toBe(true); // 23:59
      expect(inWindow(utc(2026, 5, 10, 18, 30), w)).toBe(true); // 00:00 on the 11th
      expect(inWindow(utc(2026, 5, 10, 20, 29), w)).toBe(true); // 01:59
      expect(inWindow(utc(2026, 5, 10, 20, 30), w)).toBe(false); // 02:00 (exclusive)
      // From 02:00 IST on the 11th, the next start is 22:00 IST on the 11th.
      expect(nextWindowStart(utc(2026, 5, 10, 20, 30), w)).toBe(utc(2026, 5, 11, 16, 30));
      // From 21:00 IST, the same evening.
      expect(nextWindowStart(utc(2026, 5, 10, 15, 30), w)).toBe(utc(2026, 5, 10, 16, 30));
      // Inside, after midnight: now.
      expect(nextWindowStart(utc(2026, 5, 10, 19, 0), w)).toBe(utc(2026, 5, 10, 19, 0));
    });

    it('America/New_York, in winter and across both DST changes', () => {
      const w: SendingWindow = { from: '22:00', to: '02:00', timeZone: 'America/New_York' };
      // Winter (EST, UTC-5): 22:00 EST on 15 January is 03:00Z on the 16th.
      expect(nextWindowStart(utc(2026, 1, 15, 12, 0), w)).toBe(utc(2026, 1, 16, 3, 0));
      expect(inWindow(utc(2026, 1, 16, 2, 59), w)).toBe(false); // 21:59 EST
      expect(inWindow(utc(2026, 1, 16, 3, 0), w)).toBe(true);
      expect(inWindow(utc(2026, 1, 16, 6, 59), w)).toBe(true); // 01:59 EST
      expect(inWindow(utc(2026, 1, 16, 7, 0), w)).toBe(false); // 02:00 EST
      // 8 March (spring forward at 02:00 EST): 01:30 EST is inside; one hour later the clock shows 03:30 EDT.
      expect(inWindow(utc(2026, 3, 8, 6, 30), w)).toBe(true);
      expect(inWindow(utc(2026, 3, 8, 7, 30), w)).toBe(false);
      expect(nextWindowStart(utc(2026, 3, 8, 7, 30), w)).toBe(utc(2026, 3, 9, 2, 0)); // 22:00 EDT
      // 1 November (fall back at 02:00 EDT): 01:30 happens twice, both inside; 02:00 EST is outside.
      expect(inWindow(utc(2026, 11, 1, 5, 30), w)).toBe(true); // 01:30 EDT
      expect(inWindow(utc(2026, 11, 1, 6, 30), w)).toBe(true); // 01:30 EST
      expect(inWindow(utc(2026, 11, 1, 7, 0), w)).toBe(false); // 02:00 EST
      expect(nextWindowStart(utc(2026, 11, 1, 7, 0), w)).toBe(utc(2026, 11, 2, 3, 0)); // 22:00 EST
    });
  });

  it('from === to means always open', () => {
    const w: SendingWindow = { from: '10:00', to: '10:00', timeZone: 'Europe/Moscow' };
    for (const h of [0, 6, 7, 8, 12, 20, 23]) {
      const t = utc(2026, 2, 1, h, 17);
      expect(inWindow(t, w)).toBe(true);
      expect(nextWindowStart(t, w)).toBe(t);
    }
  });

  it('isTimeZone accepts IANA zones and refuses unknown ones', () => {
    expect(isTimeZone('Europe/Moscow')).toBe(true);
    expect(isTimeZone('Asia/Kolkata')).toBe(true);
    expect(isTimeZone('America/New_York')).toBe(true);
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(isTimeZone('Europe/Mordor')).toBe(false);
    expect(isTimeZone('')).toBe(false);
    expect(isTimeZone('+03:00')).toBe(false);
  });

  it('wallClock gives the local date and time, hour 0 at midnight (not 24)', () => {
    expect(wallClock(utc(2026, 1, 1, 21, 0, 5), 'Europe/Moscow')).toEqual({ year: 2026, month: 1, day: 2, hour: 0, minute: 0, second: 5 });
    expect(wallClock(utc(2026, 1, 1, 0, 0), 'UTC')).toMatchObject({ day: 1, hour: 0 });
    expect(wallClock(utc(2026, 5, 10, 18, 45), 'Asia/Kolkata')).toMatchObject({ day: 11, hour: 0, minute: 15 });
    expect(wallClock(utc(2026, 3, 29, 0, 59, 59), 'Europe/Berlin')).toMatchObject({ hour: 1, minute: 59, second: 59 });
    expect(wallClock(utc(2026, 3, 29, 1, 0), 'Europe/Berlin')).toMatchObject({ hour: 3, minute: 0 });
  });

  it('nextLocalTime finds the next time the local clock shows HH:MM', () => {
    expect(nextLocalTime(utc(2026, 1, 15, 5, 0), '09:00', 'Europe/Moscow')).toBe(utc(2026, 1, 15, 6, 0)); // 08:00 → 09:00 today
    expect(nextLocalTime(utc(2026, 1, 15, 7, 0), '09:00', 'Europe/Moscow')).toBe(utc(2026, 1, 16, 6, 0)); // 10:00 → tomorrow
    expect(nextLocalTime(utc(2026, 1, 15, 6, 0), '09:00', 'Europe/Moscow')).toBe(utc(2026, 1, 15, 6, 0)); // exactly now
    expect(nextLocalTime(utc(2026, 1, 14, 21, 0), '23:59', 'Europe/Moscow')).toBe(utc(2026, 1, 15, 20, 59)); // 00:00 → 23:59
    // The daily report in Berlin follows DST: 09:00 CET then 09:00 CEST.
    expect(nextLocalTime(utc(2026, 3, 28, 9, 0), '09:00', 'Europe/Berlin')).toBe(utc(2026, 3, 29, 7, 0));
  });
});

// ---------------------------------------------------------------------------------------------------
describe('shipment lifecycle', () => {
  const rules: LifecycleRules = { acceptedNoticeMaxDelayDays: 4, notPickedUpDays: [5, 10], maxAgeMs: 60 * DAY };
  const T0 = utc(2026, 4, 1, 9, 0);
  const ev = (status: NormalisedStatus, time: number, extra: Partial<CarrierEvent> = {}): CarrierEvent => ({ carrierStatus: `${status}@${time}`, status, time, ...extra });
  const fresh = (createdAt = T0): Shipment => newShipment('demo', { code: 'RA123456789RU', carrier: 'russian-post', name: 'Иван', email: 'ivan@example.test' }, createdAt);

  it('newShipment starts unknown, active, with nothing reached', () => {
    const s = fresh();
    expect(s).toMatchObject({ tenant: 'demo', code: 'RA123456789RU', carrier: 'russian-post', name: 'Иван', status: 'unknown', active: true, checks: 0, failures: 0, createdAt: T0, updatedAt: T0 });
    expect(s.events).toEqual([]);
    expect(s.reached).toEqual([]);
    expect(s.notices).toEqual({});
  });

  it('appends new events once; the same history again gives no new notice (each status notifies at most once)', () => {
    const history = [ev('accepted', T0 + HOUR, { place: '101000 Москва' })];
    const first = applyCheck(fresh(), history, T0 + 2 * HOUR, rules);
    expect(first.due).toEqual(['accepted']);
    expect(first.shipment.status).toBe('accepted');
    expect(first.shipment.events).toHaveLength(1);
    expect(first.shipment.events[0]).toMatchObject({ status: 'accepted', time: T0 + HOUR, seenAt: T0 + 2 * HOUR });
    expect(first.shipment.reached).toEqual(['accepted']);
    expect(first.shipment.checks).toBe(1);

    const second = applyCheck(first.shipment, history, T0 + 8 * HOUR, rules);
    expect(second.due).toEqual([]);
    expect(second.skipped).toEqual([]);
    expect(second.shipment.events).toHaveLength(1);
    expect(second.shipment.events[0]!.seenAt).toBe(T0 + 2 * HOUR); // when first seen, kept
    expect(second.shipment.reached).toEqual(['accepted']);
    expect(second.shipment.checks).toBe(2);
    expect(second.shipment.lastCheckAt).toBe(T0 + 8 * HOUR);
  });

  it('in-transit moves the status but gives no notice', () => {
    const s1 = applyCheck(fresh(), [ev('accepted', T0 + HOUR)], T0 + 2 * HOUR, rules).shipment;
    const o = applyCheck(s1, [ev('accepted', T0 + HOUR), ev('in-transit', T0 + 5 * HOUR)], T0 + 6 * HOUR, rules);
    expect(o.shipment.status).toBe('in-transit');
    expect(o.shipment.statusTime).toBe(T0 + 5 * HOUR);
    expect(o.shipment.statusSeenAt).toBe(T0 + 6 * HOUR);
    expect(o.due).toEqual([]);
    expect(o.skipped).toEqual([]);
    expect(o.shipment.active).toBe(true);
    expect(o.blacklist).toBe(false);
  });

  it('arrived-at-pickup takes arrivedAt and the pick-up point from the carrier event, not from when it was seen', () => {
    const arrival = T0 + 2 * DAY;
    const history = [ev('accepted', T0 + HOUR), ev('in-transit', T0 + DAY), ev('arrived-at-pickup', arrival, { place: '190000 Санкт-Петербург', pickupPoint: 'ОПС 190000' })];
    const s1 = applyCheck(fresh(), history.slice(0, 2), T0 + DAY + HOUR, rules).shipment;
    const seen = arrival + 3 * DAY; // the carrier showed it late
    const o = applyCheck(s1, history, seen, rules);
    expect(o.due).toEqual(['arrived-at-pickup']);
    expect(o.shipment).toMatchObject({ status: 'arrived-at-pickup', statusTime: arrival, statusSeenAt: seen, arrivedAt: arrival, pickupPoint: 'ОПС 190000' });
    // Without a pickupPoint, the event's place is used.
    const o2 = applyCheck(s1, [...history.slice(0, 2), ev('arrived-at-pickup', arrival, { place: '190000 Санкт-Петербург' })], seen, rules);
    expect(o2.shipment.pickupPoint).toBe('190000 Санкт-Петербург');
  });

  it('not-picked-up-1 is due at arrivedAt + notPickedUpDays[0] days (carrier time), -2 at the second', () => {
    const arrival = T0 + 2 * DAY;
    const history = [ev('accepted', T0 + HOUR), ev('arrived-at-pickup', arrival)];
    const s1 = applyCheck(fresh(), history.slice(0, 1), T0 + 2 * HOUR, rules).shipment;
    // Seen 3 days after the carrier's time: only the arrival notice now.
    const s2 = applyCheck(s1, history, arrival + 3 * DAY, rules);
    expect(s2.due).toEqual(['arrived-at-pickup']);
    // One millisecond before 5 days after the carrier's arrival time: nothing (counting from seenAt would also say nothing).
    const before1 = applyCheck(s2.shipment, history, arrival + 5 * DAY - 1, rules);
    expect(before1.due).toEqual([]);
    // Exactly 5 days after the carrier time (only 2 days after it was seen): reminder 1.
    const r1 = applyCheck(before1.shipment, history, arrival + 5 * DAY, rules);
    expect(r1.due).toEqual(['not-picked-up-1']);
    expect(r1.skipped).toEqual([]);
    // Not again.
    const again = applyCheck(r1.shipment, history, arrival + 7 * DAY, rules);
    expect(again.due).toEqual([]);
    const before2 = applyCheck(again.shipment, history, arrival + 10 * DAY - 1, rules);
    expect(before2.due).toEqual([]);
    const r2 = applyCheck(before2.shipment, history, arrival + 10 * DAY, rules);
    expect(r2.due).toEqual(['not-picked-up-2']);
    expect(r2.shipment.reached).toEqual(['accepted', 'arrived-at-pickup', 'not-picked-up-1', 'not-picked-up-2']);
    expect(applyCheck(r2.shipment, history, arrival + 11 * DAY, rules).due).toEqual([]);
    // The tenant's days count.
    const custom = applyCheck(s2.shipment, history, arrival + 3 * DAY, { ...rules, notPickedUpDays: [3, 4] });
    expect(custom.due).toEqual(['not-picked-up-1']);
  });

  // An `unknown` event between arrivals (a failed call to the buyer) does not end the stay at the pick-up point.
  it('reminders count from the first arrival of the stay even when an unknown event precedes it', () => {
    const s0 = fresh(utc(2026, 1, 9));
    const history = [
      ev('accepted', utc(2026, 1, 1)), ev('in-transit', utc(2026, 1, 2)), ev('unknown', utc(2026, 1, 3)),
      ev('arrived-at-pickup', utc(2026, 1, 4), { pickupPoint: 'ОПС 101000' }), ev('arrived-at-pickup', utc(2026, 1, 6), { pickupPoint: 'ОПС 101000' }),
    ];
    const o = applyCheck(s0, history, utc(2026, 1, 10), rules);
    expect(o.shipment.arrivedAt).toBe(utc(2026, 1, 4));
    expect(o.due).toEqual(['not-picked-up-1']);
  });

  it('reminders count from the first arrival of the stay when the carrier repeats the arrival', () => {
    const s0 = fresh(utc(2026, 1, 9));
    const history = [ev('accepted', utc(2026, 1, 1)), ev('in-transit', utc(2026, 1, 2)), ev('arrived-at-pickup', utc(2026, 1, 4)), ev('arrived-at-pickup', utc(2026, 1, 6))];
    const o = applyCheck(s0, history, utc(2026, 1, 10), rules);
    expect(o.shipment.arrivedAt).toBe(utc(2026, 1, 4));
    expect(o.due).toEqual(['not-picked-up-1']);
  });

  it('several statuses first seen in one check: only the newest is due, the others skipped as superseded', () => {
    const history = [ev('accepted', T0 + HOUR), ev('in-transit', T0 + DAY), ev('arrived-at-pickup', T0 + 2 * DAY)];
    const o = applyCheck(fresh(), history, T0 + 2 * DAY + HOUR, rules);
    expect(o.due).toEqual(['arrived-at-pickup']);
    expect(o.skipped).toHaveLength(1);
    expect(o.skipped[0]!.status).toBe('accepted');
    expect(o.skipped[0]!.reason).toMatch(/superseded/);
    expect(o.shipment.reached).toEqual(['accepted', 'arrived-at-pickup']);
    // Imported so late that reminder 1 is due too: only the reminder goes out.
    const late = applyCheck(fresh(), history, T0 + 8 * DAY, rules);
    expect(late.due).toEqual(['not-picked-up-1']);
    expect(late.skipped.map((x) => x.status)).toEqual(['accepted', 'arrived-at-pickup']);
    expect(late.skipped.every((x) => /superseded/.test(x.reason))).toBe(true);
  });

  it('"accepted" is skipped when the code came in more than acceptedNoticeMaxDelayDays after the acceptance, due within', () => {
    const acceptedAt = utc(2026, 4, 1, 12, 0);
    const history = [ev('accepted', acceptedAt)];
    const tooLate = applyCheck(fresh(acceptedAt + 5 * DAY), history, acceptedAt + 5 * DAY + HOUR, rules);
    expect(tooLate.due).toEqual([]);
    expect(tooLate.skipped).toHaveLength(1);
    expect(tooLate.skipped[0]!.status).toBe('accepted');
    expect(tooLate.skipped[0]!.reason).toMatch(/5 days/);
    expect(tooLate.shipment.acceptedAt).toBe(acceptedAt);
    expect(tooLate.shipment.reached).toEqual(['accepted']); // never notified later either
    expect(applyCheck(tooLate.shipment, history, acceptedAt + 6 * DAY, rules).due).toEqual([]);

    const within = applyCheck(fresh(acceptedAt + 3 * DAY), history, acceptedAt + 3 * DAY + HOUR, rules);
    expect(within.due).toEqual(['accepted']);
    expect(within.skipped).toEqual([]);
    const exactly = applyCheck(fresh(acceptedAt + 4 * DAY), history, acceptedAt + 4 * DAY + HOUR, rules);
    expect(exactly.due).toEqual(['accepted']); // "more than" 4 days
    // Uses the shipment's createdAt, not the time of the check.
    const checkedLate = applyCheck(fresh(acceptedAt + HOUR), history, acceptedAt + 20 * DAY, { ...rules, maxAgeMs: 90 * DAY });
    expect(checkedLate.due).toEqual(['accepted']);
  });

  it('delivered is final: polling stops, no blacklist', () => {
    const history = [ev('accepted', T0 + HOUR), ev('arrived-at-pickup', T0 + DAY), ev('delivered', T0 + 2 * DAY)];
    const s1 = applyCheck(fresh(), history.slice(0, 2), T0 + DAY + HOUR, rules).shipment;
    expect(s1.active).toBe(true);
    const o = applyCheck(s1, history, T0 + 2 * DAY + HOUR, rules);
    expect(o.due).toEqual(['delivered']);
    expect(o.shipment.active).toBe(false);
    expect(o.shipment.stoppedReason).toMatch(/delivered/);
    expect(o.blacklist).toBe(false);
  });

  it.each(['returned', 'storage-expired'] as const)('%s is final and puts the buyer on the blacklist, once', (status) => {
    const history = [ev('accepted', T0 + HOUR), ev('arrived-at-pickup', T0 + DAY), ev(status, T0 + 20 * DAY)];
    const s1 = applyCheck(fresh(), history.slice(0, 2), T0 + DAY + HOUR, rules).shipment;
    const o = applyCheck(s1, history, T0 + 20 * DAY + HOUR, { ...rules, notPickedUpDays: [30, 40] });
    expect(o.due).toEqual([status]);
    expect(o.blacklist).toBe(true);
    expect(o.shipment.active).toBe(false);
    expect(o.shipment.stoppedReason).toContain(status);
    const again = applyCheck(o.shipment, history, T0 + 21 * DAY, rules);
    expect(again.blacklist).toBe(false);
    expect(again.due).toEqual([]);
  });

  it('maxAge stops polling a parcel without a final status', () => {
    const history = [ev('accepted', T0 + HOUR), ev('in-transit', T0 + DAY)];
    const young = applyCheck(fresh(), history, T0 + 60 * DAY - 1, rules);
    expect(young.shipment.active).toBe(true);
    const old = applyCheck(fresh(), history, T0 + 60 * DAY, rules);
    expect(old.shipment.active).toBe(false);
    expect(old.shipment.stoppedReason).toMatch(/60 days/);
    expect(old.shipment.status).toBe('in-transit');
  });

  it('applyFailure keeps the status and counts failures; a later good check resets them', () => {
    const s1 = applyCheck(fresh(), [ev('accepted', T0 + HOUR)], T0 + 2 * HOUR, rules).shipment;
    const f1 = applyFailure(s1, 'Почта России: HTTP 503', T0 + 3 * HOUR);
    const f2 = applyFailure(f1, 'Почта России: timeout', T0 + 4 * HOUR);
    expect(f2).toMatchObject({ status: 'accepted', failures: 2, lastError: 'Почта России: timeout', lastCheckAt: T0 + 4 * HOUR, reached: ['accepted'], active: true });
    expect(f2.events).toEqual(s1.events);
    expect(s1.failures).toBe(0); // the input is not mutated
    const ok = applyCheck(f2, [ev('accepted', T0 + HOUR)], T0 + 5 * HOUR, rules);
    expect(ok.shipment.failures).toBe(0);
    expect(ok.shipment.lastError).toBeUndefined();
    expect(ok.due).toEqual([]);
  });

  it('retryDelay grows 1m, 5m, 15m, 60m, is capped by the interval and respects a larger hint', () => {
    const interval = 6 * HOUR;
    expect([1, 2, 3, 4].map((n) => retryDelay(n, interval))).toEqual([MINUTE, 5 * MINUTE, 15 * MINUTE, 60 * MINUTE]);
    for (const n of [5, 10]) {
      expect(retryDelay(n, interval)).toBeGreaterThanOrEqual(60 * MINUTE);
      expect(retryDelay(n, interval)).toBeLessThanOrEqual(interval);
    }
    // Capped by a short interval.
    expect(retryDelay(3, 10 * MINUTE)).toBe(10 * MINUTE);
    expect(retryDelay(4, 30 * MINUTE)).toBe(30 * MINUTE);
    expect(retryDelay(1, 30 * MINUTE)).toBe(MINUTE);
    // A larger hint (Retry-After) wins; a smaller one does not shorten the backoff.
    expect(retryDelay(1, interval, 2 * HOUR)).toBe(2 * HOUR);
    expect(retryDelay(3, interval, 10_000)).toBe(15 * MINUTE);
  });

  it('nextCheck stays within ±10 % of 24h / checksPerDay', () => {
    const now = T0;
    expect(nextCheck(now, 4, () => 0)).toBe(now + 0.9 * 6 * HOUR);
    expect(nextCheck(now, 4, () => 1)).toBe(now + 1.1 * 6 * HOUR);
    expect(nextCheck(now, 4, () => 0.5)).toBe(now + 6 * HOUR);
    expect(nextCheck(now, 1, () => 0)).toBe(now + 0.9 * DAY);
    expect(nextCheck(now, 1, () => 1)).toBe(now + 1.1 * DAY);
    for (let i = 0; i < 200; i++) {
      const t = nextCheck(now, 3);
      expect(t).toBeGreaterThanOrEqual(now + 0.9 * 8 * HOUR);
      expect(t).toBeLessThanOrEqual(now + 1.1 * 8 * HOUR);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
describe('notice templates', () => {
  const all = MACROS.map((m) => `{${m}}`).join('|');

  it('fills every macro', () => {
    const values: MacroValues = { name: 'Иван', trackingCode: 'RA123456789RU', orderSum: '1 250 ₽', orderReference: 'A-1001', carrier: 'Почта России', pickupPoint: 'ОПС 101000', shop: 'Demo Shop' };
    expect(renderTemplate(all, values, { language: 'ru' })).toBe('Иван|RA123456789RU|1 250 ₽|A-1001|Почта России|ОПС 101000|Demo Shop');
    expect(renderTemplate('{name}, {name}!', { name: 'Ann' }, { language: 'en' })).toBe('Ann, Ann!');
  });

  it('a missing value becomes the language\'s fallback, never "undefined" or the macro', () => {
    const ru = renderTemplate('Здравствуйте, {name}! {carrier}, {pickupPoint}, {shop}', { name: undefined }, { language: 'ru' });
    expect(ru).toBe('Здравствуйте, покупатель! служба доставки, пункт выдачи, магазин');
    const en = renderTemplate('Hello {name}, {carrier}, {pickupPoint}, {shop}', {}, { language: 'en' });
    expect(en).toBe('Hello customer, the carrier, the pick-up point, the shop');
    // Empty or blank values count as missing; an unknown language falls back to English.
    expect(renderTemplate('{name}', { name: '  \n ' }, { language: 'ru' })).toBe('покупатель');
    expect(renderTemplate('{name}', { name: '' }, { language: 'de' })).toBe('customer');
    const r = renderTemplate(all, {}, { language: 'ru' });
    expect(r).not.toMatch(/undefined|null|\{/);
  });

  it('escapes HTML in values only with html: true, and never the template\'s own markup', () => {
    const values = { name: '<script>alert("x")</script> & \'co\'' };
    expect(renderTemplate('<p>{name}</p>', values, { language: 'en', html: true })).toBe('<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;</p>');
    expect(renderTemplate('<p>{name}</p>', values, { language: 'en' })).toBe('<p><script>alert("x")</script> & \'co\'</p>');
    expect(renderTemplate('<b>{shop}</b>', { shop: 'A&B' }, { language: 'en', html: true })).toBe('<b>A&amp;B</b>');
  });

  it('collapses newlines and tabs in values to a space', () => {
    expect(renderTemplate('[{pickupPoint}]', { pickupPoint: 'ОПС 101000\r\nМосква\tул. Мясницкая, 26\n' }, { language: 'ru' })).toBe('[ОПС 101000 Москва ул. Мясницкая, 26]');
    expect(renderTemplate('Subject: {name}', { name: 'Eve\r\nBcc: victim@example.test' }, { language: 'en' })).not.toMatch(/[\r\n]/);
  });

  it('leaves unknown {macros} as they are and does not expand macros inside values', () => {
    expect(renderTemplate('{foo} {Name} {trackingcode} {name}', { name: 'Иван' }, { language: 'ru' })).toBe('{foo} {Name} {trackingcode} Иван');
    expect(renderTemplate('{name}', { name: '{shop} {trackingCode}' }, { language: 'ru' })).toBe('{shop} {trackingCode}');
  });

  it('unknownMacros lists the macros that are not known', () => {
    expect(unknownMacros('Трек-номер {trackingcode}, {name}, {foo}')).toEqual(['trackingcode', 'foo']);
    expect(unknownMacros(all)).toEqual([]);
    expect(unknownMacros('no macros { here }')).toEqual([]);
  });

  const builtIns = Object.entries(BUILT_IN_TEMPLATES).flatMap(([lang, byStatus]) =>
    Object.entries(byStatus).flatMap(([status, t]) => Object.entries(t).map(([field, text]) => ({ lang, status, field, text: text as string }))));

  it('has ru and en texts with subject, text, sms and call for every notice status', () => {
    expect(Object.keys(BUILT_IN_TEMPLATES).sort()).toEqual(['en', 'ru']);
    for (const lang of ['ru', 'en']) {
      expect(Object.keys(BUILT_IN_TEMPLATES[lang]!).sort()).toEqual([...NOTICE_STATUSES].sort());
      for (const status of NOTICE_STATUSES) {
        const t = BUILT_IN_TEMPLATES[lang]![status];
        for (const field of ['subject', 'text', 'sms', 'call'] as const) expect(t[field], `${lang}/${status}/${field}`).toMatch(/\S/);
      }
    }
    expect(builtIns.length).toBeGreaterThanOrEqual(2 * 7 * 4);
  });

  it('every built-in template renders with no values without "undefined" or any {…} left', () => {
    for (const { lang, status, field, text } of builtIns) {
      const where = `${lang}/${status}/${field}`;
      expect(unknownMacros(text), where).toEqual([]);
      for (const html of [false, true]) {
        const r = renderTemplate(text, {}, { language: lang, html });
        expect(r, where).not.toMatch(/undefined|null|NaN/);
        expect(r, where).not.toMatch(/\{[^}]*\}/);
        expect(r.trim(), where).not.toBe('');
      }
    }
  });

  // Missing optional values (order reference, order sum) must not leave trailing spaces or gaps.
  it('every built-in template renders with no values without leading or trailing whitespace', () => {
    for (const { lang, status, field, text } of builtIns) {
      const r = renderTemplate(text, {}, { language: lang });
      expect(r, `${lang}/${status}/${field}`).toBe(r.trim());
      for (const line of r.split('\n')) expect(line, `${lang}/${status}/${field}`).toBe(line.trimEnd());
    }
  });

  // Same for gaps mid-sentence: no double spaces, no space before punctuation, no "Amount due: .".
  it('every built-in template renders with no values without empty gaps (double spaces, space before punctuation)', () => {
    for (const { lang, status, field, text } of builtIns) {
      const r = renderTemplate(text, {}, { language: lang });
      expect(r, `${lang}/${status}/${field}`).not.toMatch(/ {2}| [.,:;!?]|: ?\./);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
describe('tracking settings', () => {
  it('refuses an admin address the queue would refuse (so the daily report can always be queued)', () => {
    const r = parseTrackingSettings({ adminAddresses: ['boss@shop.c', 'ok@shop.test'] });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues).toEqual(['adminAddresses.0: must be an e-mail address']);
  });

  const issuesOf = (input: unknown, base?: TrackingSettings): string[] => {
    const r = parseTrackingSettings(input, base);
    if (r.ok) throw new Error(`expected issues, got ${JSON.stringify(r.value)}`);
    return r.issues;
  };

  it('fills the defaults', () => {
    const r = parseTrackingSettings({});
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toEqual(DEFAULT_SETTINGS);
    expect(r.value).toMatchObject({
      enabled: false, timeZone: 'Europe/Moscow', window: { from: '10:00', to: '12:00' }, language: 'ru', defaultCountry: 'RU',
      acceptedNoticeMaxDelayDays: 4, notPickedUpDays: [5, 10], monthlyQuota: null, templates: {}, sms: null, call: null,
      adminAddresses: [], copyCategories: [], reportTime: '09:00',
    });
    expect(r.value.notices.accepted).toEqual(['email']);
    expect(r.value.notices['arrived-at-pickup']).toEqual(['email', 'sms']);
  });

  it('accepts a full valid setup', () => {
    const r = parseTrackingSettings({
      enabled: true, timeZone: 'Asia/Kolkata', window: { from: '22:00', to: '02:00' }, notPickedUpDays: [3, 7],
      sms: { gateway: 'twilio', sender: 'DemoShop' }, call: { gateway: 'twilio', callerId: '+79161234567' },
      templates: { ru: { accepted: { subject: 'Заказ {orderReference}: {trackingCode}' } } }, adminAddresses: ['admin@shop.test'],
    });
    expect(r.ok).toBe(true);
    expect(parseTrackingSettings({ sms: { gateway: 'g', sender: '123456789012345' } }).ok).toBe(true); // 15 digits
    expect(parseTrackingSettings({ sms: { gateway: 'g', sender: 'ABCDEFGHIJK' } }).ok).toBe(true); // 11 letters
  });

  it('names the field of each issue', () => {
    expect(issuesOf({ timeZone: 'Europe/Mordor' })).toEqual([expect.stringMatching(/^timeZone: .*IANA/)]);
    expect(issuesOf({ window: { from: '25:00', to: '12:00' } })).toEqual([expect.stringMatching(/^window\.from: .*HH:MM/)]);
    expect(issuesOf({ window: { from: '10:00', to: '9:00' } })).toEqual([expect.stringMatching(/^window\.to: /)]);
    expect(issuesOf({ reportTime: '24:00' })).toEqual([expect.stringMatching(/^reportTime: /)]);
    expect(issuesOf({ sms: { gateway: 'g', sender: 'My Shop' } })).toEqual([expect.stringMatching(/^sms\.sender: .*11 latin letters/)]);
    expect(issuesOf({ sms: { gateway: 'g', sender: 'ABCDEFGHIJKL' } })).toEqual([expect.stringMatching(/^sms\.sender: .*11 latin letters/)]);
    expect(issuesOf({ sms: { gateway: 'g', sender: '1234567890123456' } })).toEqual([expect.stringMatching(/^sms\.sender: .*15 digits/)]);
    expect(issuesOf({ notPickedUpDays: [10, 5] })).toEqual([expect.stringMatching(/^notPickedUpDays: .*second reminder must come after the first/)]);
    expect(issuesOf({ templates: { ru: { accepted: { subject: 'Трек-номер {trackingcode}' } } } }))
      .toEqual([expect.stringMatching(/^templates\.ru\.accepted\.subject: unknown macro \{trackingcode\}/)]);
    expect(issuesOf({ templates: { en: { delivered: { sms: '{name} {foo}' } } } })).toEqual([expect.stringMatching(/^templates\.en\.delivered\.sms: unknown macro \{foo\}/)]);
  });

  it('reports several issues at once, each with its field', () => {
    const issues = issuesOf({ timeZone: 'Nowhere/Land', window: { from: '25:00', to: '12:00' }, sms: { gateway: 'g', sender: 'My Shop' }, notPickedUpDays: [10, 5] });
    expect(issues.map((i) => i.split(':')[0]).sort()).toEqual(['notPickedUpDays', 'sms.sender', 'timeZone', 'window.from']);
  });

  it('refuses what is not a settings object, and unknown keys', () => {
    expect(issuesOf(null)).toEqual([expect.stringMatching(/^\(settings\): /)]);
    expect(issuesOf({ timezone: 'Europe/Moscow' })).toEqual([expect.stringMatching(/^\(settings\): .*timezone/)]);
  });

  it('merges a partial onto a base, keeping what the partial does not name', () => {
    const base = parseTrackingSettings({ enabled: true, timeZone: 'Asia/Kolkata', sms: { gateway: 'twilio', sender: 'DemoShop' }, notPickedUpDays: [3, 7] });
    expect(base.ok).toBe(true);
    if (!base.ok) return;
    const r = parseTrackingSettings({ window: { from: '09:00', to: '11:00' } }, base.value);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({ enabled: true, timeZone: 'Asia/Kolkata', sms: { gateway: 'twilio', sender: 'DemoShop' }, notPickedUpDays: [3, 7], window: { from: '09:00', to: '11:00' } });
    // Without a base the same partial gets the defaults.
    const alone = parseTrackingSettings({ window: { from: '09:00', to: '11:00' } });
    expect(alone.ok && alone.value.timeZone).toBe('Europe/Moscow');
    expect(alone.ok && alone.value.enabled).toBe(false);
    // A bad partial on a good base is refused with the field named; null switches SMS off.
    expect(issuesOf({ timeZone: 'Mars/Base' }, base.value)).toEqual([expect.stringMatching(/^timeZone: /)]);
    const off = parseTrackingSettings({ sms: null }, base.value);
    expect(off.ok && off.value.sms).toBeNull();
    expect(off.ok && off.value.timeZone).toBe('Asia/Kolkata');
  });

  it('unknownGateways names sms and call gateways the config does not declare', () => {
    const r = parseTrackingSettings({ sms: { gateway: 'smsc', sender: 'DemoShop' }, call: { gateway: 'voice', callerId: '+74950000000' } });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(unknownGateways(r.value, new Set(['smsc', 'voice']))).toEqual([]);
    expect(unknownGateways(r.value, new Set(['smsc']))).toEqual(['call.gateway: unknown phone gateway "voice"']);
    expect(unknownGateways(r.value, new Set())).toEqual(['sms.gateway: unknown phone gateway "smsc"', 'call.gateway: unknown phone gateway "voice"']);
    expect(unknownGateways(DEFAULT_SETTINGS, new Set())).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------
describe('notice e-mail', () => {
  const mail = (over: Partial<ComposedMail> = {}): ComposedMail => ({
    from: { address: 'shop@shop.test', name: 'Магазин «Ромашка»' },
    to: ['ivan@example.test'],
    subject: 'Заказ A-1001 ждёт вас в пункте выдачи',
    text: 'Здравствуйте, Иван!\n\nПосылка RA123456789RU прибыла.',
    html: '<p>Здравствуйте, Иван!</p>',
    messageId: '<notice.demo.russian-post.ra123456789ru.arrived-at-pickup@relay.test>',
    reference: 'A-1001',
    category: 'tracking',
    date: utc(2026, 4, 2, 7, 0),
    ...over,
  });

  it('composes a mail that parses back with its headers, Cyrillic subject and bodies', async () => {
    const m = mail();
    const parsed = await simpleParser(composeMail(m));
    expect(parsed.subject).toBe(m.subject);
    expect(parsed.messageId).toBe(m.messageId);
    expect(parsed.headers.get('x-mailgate-category')).toBe('tracking');
    expect(parsed.headers.get('x-order-id')).toBe('A-1001');
    expect(parsed.from?.value).toEqual([{ address: 'shop@shop.test', name: 'Магазин «Ромашка»' }]);
    expect(parsed.to && !Array.isArray(parsed.to) ? parsed.to.value.map((a) => a.address) : []).toEqual(['ivan@example.test']);
    expect(parsed.text?.trim()).toBe(m.text);
    expect(parsed.html).toContain('<p>Здравствуйте, Иван!</p>');
    expect(parsed.date?.getTime()).toBe(m.date);
  });

  it('has no X-Order-Id without a reference, no HTML part without html, and a bare address without a name', async () => {
    const parsed = await simpleParser(composeMail(mail({ reference: undefined, html: undefined, from: { address: 'shop@shop.test' } })));
    expect(parsed.headers.has('x-order-id')).toBe(false);
    expect(parsed.html).toBe(false);
    expect(parsed.from?.value).toEqual([{ address: 'shop@shop.test', name: '' }]);
    expect(parsed.headers.get('x-mailgate-category')).toBe('tracking');
  });

  // A non-ASCII order reference is MIME-encoded by MailComposer; the queue's header scan decodes it for the reference index.
  it('a non-ASCII order reference reaches the queue\'s reference index as given', async () => {
    const scan = new CanonicalStream();
    await pipeline(composeMail(mail({ reference: 'ЗАКАЗ-1' })), scan, new Writable({ write: (_c, _e, done) => done() }));
    expect(scan.headers().reference).toBe('ЗАКАЗ-1');
  });

  it('an ASCII order reference and the Message-ID reach the queue\'s header scan as given', async () => {
    const scan = new CanonicalStream();
    await pipeline(composeMail(mail()), scan, new Writable({ write: (_c, _e, done) => done() }));
    expect(scan.headers()).toMatchObject({ reference: 'A-1001', messageId: mail().messageId, category: 'tracking' });
  });

  it('noticeMessageId is stable, lowercase and made of safe characters only', () => {
    const parts = ['notice', 'Demo Shop', 'russian-post', 'RA123456789RU', 'not-picked-up-1'];
    const id = noticeMessageId(parts, 'relay.test');
    expect(id).toBe('<notice.demo-shop.russian-post.ra123456789ru.not-picked-up-1@relay.test>');
    expect(noticeMessageId([...parts], 'relay.test')).toBe(id);
    const weird = noticeMessageId(['notice', 'Shop <x>@"y"', 'Код/№ 1\r\n', 'a.b'], 'relay.test');
    expect(weird).toMatch(/^<[a-z0-9_.-]+@relay\.test>$/);
    expect(weird.slice(1, weird.indexOf('@')).split('.')).toHaveLength(4); // dots inside a part do not add parts
    expect(noticeMessageId(['notice', 'demo', 'russian-post', 'RA123456789RU', 'not-picked-up-2'], 'relay.test')).not.toBe(id);
  });

  it('the fixed Message-ID survives composing and parsing', async () => {
    const id = noticeMessageId(['notice', 'demo', 'dhl', '1234567890', 'delivered'], 'relay.test');
    const parsed = await simpleParser(composeMail(mail({ messageId: id })));
    expect(parsed.messageId).toBe(id);
  });
});

// ---------------------------------------------------------------------------------------------------

describe('re-planning notices after a window change', () => {
  const moscow = (from: string, to: string): SendingWindow => ({ from, to, timeZone: 'Europe/Moscow' });
  const now = utc(2026, 11, 4, 19); // 22:00 Moscow

  it('a first notice goes at the new window\'s next opening; a retry keeps its back-off', () => {
    expect(replannedSendAt({ state: 'scheduled', at: now, sendAt: utc(2026, 11, 5, 7) }, now, moscow('07:00', '09:00'))).toBe(utc(2026, 11, 5, 4));
    expect(replannedSendAt({ state: 'scheduled', at: now, sendAt: utc(2026, 11, 5, 7) }, now, moscow('21:00', '23:00'))).toBe(now);
    const retry = { state: 'scheduled' as const, at: now, attempts: 2, notBefore: now + 5 * HOUR, sendAt: utc(2026, 11, 5, 7) };
    expect(replannedSendAt(retry, now, moscow('00:00', '23:59'))).toBe(now + 5 * HOUR);
  });

  it('only the window and the time zone move notices', () => {
    expect(windowMoved(DEFAULT_SETTINGS, { ...DEFAULT_SETTINGS, reportTime: '08:00' })).toBe(false);
    expect(windowMoved(DEFAULT_SETTINGS, { ...DEFAULT_SETTINGS, window: { from: '10:00', to: '13:00' } })).toBe(true);
    expect(windowMoved(DEFAULT_SETTINGS, { ...DEFAULT_SETTINGS, timeZone: 'Asia/Yekaterinburg' })).toBe(true);
  });
});

describe('the daily report\'s CSV', () => {
  it('quotes separators and quotes, flattens line breaks, and makes formulas inert', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('Иванова, Анна')).toBe('"Иванова, Анна"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('a\r\nb')).toBe('a b');
    expect(csvCell('=HYPERLINK("http://x")')).toBe('"\'=HYPERLINK(""http://x"")"');
    expect(csvCell('-2+3+cmd|\' /C calc\'!A0')).toBe("'-2+3+cmd|' /C calc'!A0");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('+7 916 123-45-67')).toBe('+7 916 123-45-67'); // a phone number stays as it is
    expect(csvCell(undefined)).toBe('');
  });

  it('starts with a BOM and the header, one CRLF line per parcel', () => {
    const s = { ...newShipment('shop', { code: 'RA123456789RU', carrier: 'russian-post', name: 'Анна', email: 'a@b.test' }, utc(2026, 1, 1)), notices: { 'accepted:email': { state: 'sent' as const, at: 0 } } };
    const csv = shipmentsCsv([s]);
    expect(csv.startsWith('\uFEFFTracking code,Carrier,')).toBe(true);
    const lines = csv.slice(1).split('\r\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toBe('RA123456789RU,Russian Post,unknown,,Анна,a@b.test,,,,,2026-01-01T00:00:00Z,,,yes,accepted:email sent');
    expect(lines[2]).toBe('');
  });
});
