// The world of the in-process tracking suites: a real mailgate (the built server, in this process so
// its clock can be injected) with a loopback Russian Post, a loopback Twilio and an SMTP sink; DHL has
// no account. Helpers to call the admin API, switch tracking on and run a cycle at a given time.
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import pino from 'pino';
import libmime from 'libmime';
import { expect } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { TRACKING_SCHEMAS } from '../../src/tracking/plugged.js';
import type { RunningMailgate } from '../../src/main.js';
import { ADMIN_TOKEN, sinkUpstream, testConfig } from './config.js';
import { repoRoot } from './mailgate-process.js';
import { getHeader, startSink, type Sink } from './smtp-sink.js';
import { startRussianPostServer, type RussianPostServer } from './carrier-servers.js';
import { startTwilioServer, type TwilioServer } from './phone-gateway-servers.js';
import { makeTempDir, removeDir } from './tmp.js';

export type StartMailgate = typeof import('../../src/main.js').startMailgate;
// The built server: its delivery worker thread is a compiled file.
export const { startMailgate } = (await import(pathToFileURL(path.join(repoRoot, 'dist', 'main.js')).href)) as { startMailgate: StartMailgate };

export const HOUR = 3600_000;
export const DAY = 24 * HOUR;
/** 2026-11-02 10:30 Moscow time (UTC+3, no DST): inside the 10:00–12:00 window. */
export const START = Date.parse('2026-11-02T07:30:00Z');
export const msk = (iso: string) => Date.parse(`${iso}+03:00`);

export interface World {
  dir: string;
  sink: Sink;
  post: RussianPostServer;
  twilio: TwilioServer;
  clock: { now: number };
  mg: RunningMailgate;
  yaml: string;
}

export const log = pino({ level: 'silent' });

export async function boot(w: Omit<World, 'mg'>): Promise<RunningMailgate> {
  const config = parseConfig(w.yaml, { baseDir: w.dir, env: {}, plugged: TRACKING_SCHEMAS });
  return startMailgate(config, log, { now: () => w.clock.now, trackingLoop: false });
}

export async function makeWorld(): Promise<World> {
  const dir = await makeTempDir('mg-tracking-');
  const [sink, post, twilio] = await Promise.all([
    startSink(),
    startRussianPostServer({ login: 'shop-login', password: 'shop-password' }),
    startTwilioServer({ accountSid: 'AC0123456789abcdef0123456789abcdef', authToken: 'twilio-token' }),
  ]);
  const yaml = testConfig({
    dataDir: `${dir}/data`,
    upstreams: [sinkUpstream('shop-smtp', sink.port)],
    tenants: [
      '{ id: shop, name: Demo Shop, upstream: shop-smtp, from: { address: orders@shop.test, name: Demo Shop }, auth: [ { user: shop, password: shop-password } ] }',
      '{ id: other, name: Other Shop, upstream: shop-smtp, from: { address: orders@other.test }, auth: [ { user: other, password: other-password } ] }',
    ],
    extra: [
      'tracking:',
      '  checksPerDay: 4',
      '  firstCheckDelay: 1m',
      '  carriers:',
      `    russian-post: { url: "${post.url}", login: shop-login, password: shop-password, timeout: 1s }`,
      '  phoneGateways:',
      `    - { name: sms, type: twilio, baseUrl: "${twilio.url}", accountSid: AC0123456789abcdef0123456789abcdef, authToken: twilio-token, timeout: 1s }`,
      `    - { name: voice, type: twilio, baseUrl: "${twilio.url}", accountSid: AC0123456789abcdef0123456789abcdef, authToken: twilio-token, voiceLanguage: ru-RU }`,
    ].join('\n'),
  });
  const clock = { now: START };
  const partial = { dir, sink, post, twilio, clock, yaml };
  return { ...partial, mg: await boot(partial) };
}

export async function closeWorld(w: World | undefined): Promise<void> {
  if (!w) return;
  await w.mg.stop();
  await Promise.all([w.sink.close(), w.post.close(), w.twilio.close()]);
  await removeDir(w.dir);
}

export function api(w: World, p: string, init: { method?: string; body?: unknown; raw?: string; type?: string } = {}) {
  const headers: Record<string, string> = { authorization: `Bearer ${ADMIN_TOKEN}` };
  let body: string | undefined;
  if (init.raw !== undefined) {
    headers['content-type'] = init.type ?? 'text/csv';
    body = init.raw;
  } else if (init.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.body);
  }
  return fetch(`http://${w.mg.addresses.admin}/api/v1${p}`, { method: init.method ?? 'GET', headers, ...(body !== undefined ? { body } : {}) });
}

export const SETTINGS = {
  tenant: 'shop',
  enabled: true,
  timeZone: 'Europe/Moscow',
  window: { from: '10:00', to: '12:00' },
  sms: { gateway: 'sms', sender: 'DemoShop' },
  adminAddresses: ['admin@shop.test'],
  reportTime: null,
  templates: {
    ru: {
      'arrived-at-pickup': {
        subject: 'Заказ {orderReference} ждёт вас',
        text: 'Здравствуйте, {name}! Посылка {trackingCode} в {pickupPoint}. К оплате {orderSum}.',
        html: '<p>Здравствуйте, {name}! Посылка <b>{trackingCode}</b> ждёт вас.</p>',
        sms: '{name}, посылка {trackingCode} ждёт вас: {pickupPoint}. Сумма {orderSum}',
      },
    },
  },
};

export async function enable(w: World, extra: Record<string, unknown> = {}): Promise<void> {
  const r = await api(w, '/tracking/settings', { method: 'PUT', body: { ...SETTINGS, ...extra } });
  expect(r.status, await r.clone().text()).toBe(200);
}

/** Moves the clock and runs one tracking cycle. */
export async function at(w: World, time: number) {
  w.clock.now = time;
  return w.mg.tracking.runOnce();
}

export async function shipment(w: World, code: string) {
  const r = await api(w, `/shipments/russian-post/${code}?tenant=shop`);
  return (await r.json()) as { status: string; lastError?: string; notices: Record<string, { state: string; detail?: string; sendAt?: number }>; pickupPoint?: string; checks: number; nextCheckAt?: number };
}

export const subjects = (sink: Sink) => sink.messages.map((m) => libmime.decodeWords(getHeader(m.headers, 'Subject') ?? ''));

