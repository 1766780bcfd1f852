// Phone gateways against loopback servers speaking Twilio's REST API and the signed JSON webhook,
// plus buyers' phone-number normalisation and the SMS sender-name rule.
import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createPhoneGateway, type PhoneGatewayConfig } from '../src/tracking/gateways/index.js';
import { retryAfterMs } from '../src/tracking/http-text.js';
import { TwilioGateway } from '../src/tracking/gateways/twilio.js';
import { WebhookGateway } from '../src/tracking/gateways/webhook.js';
import { normalisePhone, senderNameProblem } from '../src/tracking/phone.js';
import { GatewayError, type PhoneMessage } from '../src/tracking/types.js';
import { startTwilioServer, startWebhookGatewayServer, type TwilioServer, type WebhookGatewayServer } from './helpers/phone-gateway-servers.js';

const ACCOUNT_SID = 'AC0123456789abcdef0123456789abcdef';
const AUTH_TOKEN = 'twilio-auth-token-do-not-leak';
const WEBHOOK_TOKEN = 'bridge-bearer-do-not-leak';
const WEBHOOK_SECRET = 'bridge-hmac-secret-do-not-leak';

const SMS: PhoneMessage = { to: '+79161234567', from: 'MyShop', text: 'Посылка RA123456789RU прибыла в отделение 101000. Код: 4711' };

const servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function twilioServer(): Promise<TwilioServer> {
  const server = await startTwilioServer({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
  servers.push(server);
  return server;
}

async function webhookServer(options: { token?: string; secret?: string } = { token: WEBHOOK_TOKEN, secret: WEBHOOK_SECRET }): Promise<WebhookGatewayServer> {
  const server = await startWebhookGatewayServer(options);
  servers.push(server);
  return server;
}

function twilio(server: TwilioServer, extra: { authToken?: string; voiceLanguage?: string; timeoutMs?: number } = {}): TwilioGateway {
  return new TwilioGateway({ name: 'twilio-main', baseUrl: server.url, accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, ...extra });
}

function webhook(server: WebhookGatewayServer, extra: { token?: string; secret?: string; timeoutMs?: number } = {}): WebhookGateway {
  return new WebhookGateway({ name: 'bridge', url: `${server.url}/sms`, token: WEBHOOK_TOKEN, secret: WEBHOOK_SECRET, ...extra });
}

/** The GatewayError a promise rejects with (fails the test when it resolves or rejects with something else). */
async function gatewayError(promise: Promise<unknown>): Promise<GatewayError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected a GatewayError, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(GatewayError);
  return outcome.error as GatewayError;
}

/** A port that nothing listens on: a server is started and closed again. */
async function closedPortUrl(): Promise<string> {
  const server = await startWebhookGatewayServer();
  await server.close();
  return server.url;
}

describe('Twilio gateway', () => {
  it('sends an SMS as form fields To, From, Body with the Cyrillic text intact and returns Twilio\'s sid', async () => {
    const server = await twilioServer();
    const { providerId } = await twilio(server).sendSms(SMS);
    const [sms] = await server.waitFor(1);
    expect(sms).toMatchObject({ kind: 'sms', to: '+79161234567', from: 'MyShop', body: SMS.text });
    expect(providerId).toBe(sms!.sid);
    expect(providerId).toMatch(/^SM[0-9a-f]{32}$/);
  });

  it('places a call whose TwiML says the text in ru-RU, escaped so markup in the text cannot break the XML', async () => {
    const server = await twilioServer();
    const text = 'Заказ №42 <script>alert("x")</script> & Co\'s </Say><Hangup/> готов';
    const { providerId } = await twilio(server).call({ to: '+79161234567', from: '+74951112233', text });
    const [call] = await server.waitFor(1);
    expect(call).toMatchObject({ kind: 'call', to: '+79161234567', from: '+74951112233' });
    expect(providerId).toBe(call!.sid);
    expect(providerId).toMatch(/^CA/);
    expect(call!.twiml).not.toContain('<script>');
    expect(call!.twiml).not.toContain('<Hangup/>');
    expect(call!.say).toEqual({ language: 'ru-RU', text });
  });

  it('says the text in the configured voice language', async () => {
    const server = await twilioServer();
    await twilio(server, { voiceLanguage: 'en-GB' }).call({ ...SMS, text: 'Your parcel has arrived' });
    const [call] = await server.waitFor(1);
    expect(call!.say).toEqual({ language: 'en-GB', text: 'Your parcel has arrived' });
  });

  it('refuses a call text whose TwiML would exceed Twilio\'s 4000 characters without sending it', async () => {
    const server = await twilioServer();
    const err = await gatewayError(twilio(server).call({ ...SMS, text: '&'.repeat(900) }));
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/too long for Twilio: \d+ characters of TwiML, at most 4000 \(32018\)/);
    expect(server.attempts).toBe(0);
  });

  it('treats wrong credentials as a refusal (not retryable) and never repeats the token', async () => {
    const server = await twilioServer();
    const err = await gatewayError(twilio(server, { authToken: 'wrong-token-also-secret' }).sendSms(SMS));
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/Twilio refused the account credentials \(HTTP 401\).*\(20003\)/);
    expect(err.message).not.toContain('wrong-token-also-secret');
    expect(err.message).not.toContain(AUTH_TOKEN);
    expect(server.received).toHaveLength(0);
  });

  it('explains a landline refusal (21614) readably, not retryable', async () => {
    const server = await twilioServer();
    server.refuse('+74951234567', 21614);
    const err = await gatewayError(twilio(server).sendSms({ ...SMS, to: '+74951234567' }));
    expect(err.retryable).toBe(false);
    expect(err.message).toBe('Twilio refused the number +74951234567: not a mobile number (21614)');
  });

  it('explains an invalid number (21211) readably, not retryable, for calls too', async () => {
    const server = await twilioServer();
    server.refuse('+7916123', 21211);
    const err = await gatewayError(twilio(server).call({ ...SMS, to: '+7916123' }));
    expect(err.retryable).toBe(false);
    expect(err.message).toBe('Twilio refused the number +7916123: not a valid phone number (21211)');
  });

  it('quotes Twilio\'s own message for a refusal code it has no wording for', async () => {
    const server = await twilioServer();
    server.refuse('+79161234567', 21999);
    const err = await gatewayError(twilio(server).sendSms(SMS));
    expect(err.retryable).toBe(false);
    expect(err.message).toBe('Twilio refused the SMS to +79161234567 (HTTP 400): Refused (21999) (21999)');
  });

  it('treats a 500 as retryable, and the next attempt goes through', async () => {
    const server = await twilioServer();
    server.fail(500, 1);
    const err = await gatewayError(twilio(server).sendSms(SMS));
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('HTTP 500');
    expect(err.message).not.toContain(AUTH_TOKEN);
    await twilio(server).sendSms(SMS);
    expect(server.received).toHaveLength(1);
    expect(server.attempts).toBe(2);
  });

  it('treats 429 as retryable and honours Retry-After in seconds', async () => {
    const server = await twilioServer();
    server.fail(429, 1, '7');
    const err = await gatewayError(twilio(server).sendSms(SMS));
    expect(err.retryable).toBe(true);
    expect(err.retryAfterMs).toBe(7000);
    expect(err.message).toMatch(/rate-limiting/);
  });

  it('honours Retry-After as an HTTP date on a 503', async () => {
    const server = await twilioServer();
    server.fail(503, 1, new Date(Date.now() + 60_000).toUTCString());
    const err = await gatewayError(twilio(server).call(SMS));
    expect(err.retryable).toBe(true);
    expect(err.retryAfterMs).toBeGreaterThan(55_000);
    expect(err.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('gives up on a Twilio that does not answer within timeoutMs, retryable', async () => {
    const server = await twilioServer();
    server.fail('hang', 1);
    const started = Date.now();
    const err = await gatewayError(twilio(server, { timeoutMs: 300 }).sendSms(SMS));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/^Twilio did not answer within 300 ms/);
    // Twilio may have taken it: the worker must not send it again.
    expect(err.maybeSent).toBe(true);
  });

  it('treats an unreachable Twilio as retryable', async () => {
    const url = await closedPortUrl();
    const gateway = new TwilioGateway({ name: 't', baseUrl: url, accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    const err = await gatewayError(gateway.sendSms(SMS));
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/could not reach Twilio at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    // Refused: nothing was sent, so a retry cannot duplicate it.
    expect(err.maybeSent).toBe(false);
  });

  it('stops when the caller cancels', async () => {
    const server = await twilioServer();
    server.fail('hang', 1);
    const controller = new AbortController();
    const pending = twilio(server).sendSms(SMS, controller.signal);
    setTimeout(() => controller.abort(), 100);
    const err = await gatewayError(pending);
    expect(err.message).toMatch(/cancelled/);
  });
});

describe('webhook gateway', () => {
  it('POSTs the SMS as JSON with a bearer token and a signature the receiver can verify', async () => {
    const server = await webhookServer();
    const { providerId } = await webhook(server).sendSms(SMS);
    const [req] = await server.waitFor(1);
    expect(req!.json).toEqual({ type: 'sms', to: SMS.to, from: SMS.from, text: SMS.text, id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(req!.authorization).toBe(`Bearer ${WEBHOOK_TOKEN}`);
    expect(req!.signatureValid).toBe(true);
    // Verified here too, from the documented recipe: hex HMAC-SHA256(secret, t + "." + body).
    const [, t, mac] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(req!.signature ?? '') ?? [];
    expect(Math.abs(Number(t) - Date.now() / 1000)).toBeLessThan(60);
    expect(mac).toBe(createHmac('sha256', WEBHOOK_SECRET).update(`${t}.${req!.raw}`).digest('hex'));
    expect(providerId).toBe('bridge-1');
  });

  it('POSTs a call as type "call"', async () => {
    const server = await webhookServer();
    await webhook(server).call(SMS);
    const [req] = await server.waitFor(1);
    expect(req!.json).toMatchObject({ type: 'call', to: SMS.to, text: SMS.text });
  });

  it('sends a fresh id per request and uses it as the provider id when the receiver names none', async () => {
    const server = await webhookServer();
    server.answerWith(202, '', 2);
    const first = await webhook(server).sendSms(SMS);
    const second = await webhook(server).sendSms(SMS);
    const [a, b] = await server.waitFor(2);
    expect(first.providerId).toBe(a!.json.id);
    expect(second.providerId).toBe(b!.json.id);
    expect(a!.json.id).not.toBe(b!.json.id);
  });

  it('sends neither Authorization nor signature when no token or secret is configured', async () => {
    const server = await webhookServer({});
    await new WebhookGateway({ name: 'plain', url: server.url }).sendSms(SMS);
    const [req] = await server.waitFor(1);
    expect(req!.authorization).toBeUndefined();
    expect(req!.signature).toBeUndefined();
  });

  it('a signature made with another secret is rejected by the receiver: not retryable, secret not quoted', async () => {
    const server = await webhookServer();
    const err = await gatewayError(webhook(server, { secret: 'some-other-secret' }).sendSms(SMS));
    expect(err.retryable).toBe(false);
    expect(err.message).toBe('SMS gateway "bridge" refused mailgate\'s credentials (HTTP 401): bad signature');
    expect(server.received).toHaveLength(0);
  });

  it('a wrong bearer token is rejected by the receiver, not retryable', async () => {
    const server = await webhookServer();
    const err = await gatewayError(webhook(server, { token: 'not-the-token' }).sendSms(SMS));
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('bad bearer token');
    expect(err.message).not.toContain('not-the-token');
  });

  it('a 4xx refusal is not retryable and quotes the first 200 characters of the receiver\'s text', async () => {
    const server = await webhookServer();
    const said = `number blocked by operator ${'x'.repeat(300)}`;
    server.answerWith(422, said);
    const err = await gatewayError(webhook(server).sendSms(SMS));
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(`SMS gateway "bridge" refused the SMS to +79161234567 (HTTP 422): ${said.slice(0, 200)}…`);
    expect(err.message).not.toContain(said.slice(0, 201));
  });

  it('a receiver echoing the token back does not get it into the error', async () => {
    const server = await webhookServer();
    server.answerWith(400, `rejected request with Authorization: Bearer ${WEBHOOK_TOKEN}`);
    const err = await gatewayError(webhook(server).sendSms(SMS));
    expect(err.message).not.toContain(WEBHOOK_TOKEN);
    expect(err.message).toContain('Bearer ***');
  });

  it.each([
    [500, undefined, undefined],
    [503, '12', 12_000],
    [429, '3', 3000],
    [408, undefined, undefined],
  ])('HTTP %i is retryable (Retry-After %s)', async (status, retryAfter, retryAfterMs) => {
    const server = await webhookServer();
    if (status === 500 || status === 503 || status === 429) server.fail(status, 1, retryAfter);
    else server.answerWith(status, 'request timeout');
    const err = await gatewayError(webhook(server).sendSms(SMS));
    expect(err.retryable).toBe(true);
    expect(err.retryAfterMs).toBe(retryAfterMs);
    expect(err.message).toContain(`(HTTP ${status})`);
  });

  it('a receiver that does not answer in time is retryable, with a readable message', async () => {
    const server = await webhookServer();
    server.fail('hang', 1);
    const err = await gatewayError(webhook(server, { timeoutMs: 1000 }).call(SMS));
    expect(err.retryable).toBe(true);
    expect(err.message).toBe(`call gateway "bridge" did not answer within 1 s (${server.url})`);
  });

  it('an unreachable receiver is retryable; the message shows only the origin of the URL', async () => {
    const url = await closedPortUrl();
    const gateway = new WebhookGateway({ name: 'bridge', url: `${url}/hook?key=secret-in-query` });
    const err = await gatewayError(gateway.sendSms(SMS));
    expect(err.retryable).toBe(true);
    expect(err.message).toBe(`could not reach SMS gateway "bridge" at ${url}: ECONNREFUSED`);
  });

  it('refuses URLs it cannot use without quoting them', () => {
    expect(() => new WebhookGateway({ name: 'b', url: 'ftp://127.0.0.1/x' })).toThrow(/http:\/\/ or https:\/\//);
    expect(() => new WebhookGateway({ name: 'b', url: 'http://user:pw-secret@127.0.0.1/x' })).toThrow(/^(?!.*pw-secret).*credentials in token/);
  });
});

describe('createPhoneGateway', () => {
  it('builds a Twilio and a webhook gateway from their config entries', async () => {
    const twilioSrv = await twilioServer();
    const hookSrv = await webhookServer({});
    const configs: PhoneGatewayConfig[] = [
      { type: 'twilio', name: 'tw', baseUrl: twilioSrv.url, accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN },
      { type: 'webhook', name: 'hook', url: hookSrv.url },
    ];
    const [tw, hook] = configs.map(createPhoneGateway);
    expect(tw!.name).toBe('tw');
    expect(hook!.name).toBe('hook');
    await tw!.sendSms(SMS);
    await hook!.sendSms(SMS);
    expect(twilioSrv.received).toHaveLength(1);
    expect(hookSrv.received).toHaveLength(1);
  });

  it('names an unknown type', () => {
    const bad = { type: 'smpp', name: 'old' } as unknown as PhoneGatewayConfig;
    expect(() => createPhoneGateway(bad)).toThrow('phone gateway "old": unknown type "smpp"');
  });
});

describe('Retry-After parsing', () => {
  it('reads delta-seconds and HTTP dates, ignores garbage', () => {
    const now = Date.parse('Wed, 21 Oct 2026 07:28:00 GMT');
    expect(retryAfterMs('120', now)).toBe(120_000);
    expect(retryAfterMs('Wed, 21 Oct 2026 07:28:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Wed, 21 Oct 2026 07:27:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });
});

describe('normalisePhone', () => {
  it.each(['8 (916) 123-45-67', '+7 916 123-45-67', '89161234567', '9161234567', '+7(916)1234567', '8-916-123-45-67', ' +79161234567 '])(
    'reads the RU mobile %j as +79161234567',
    (raw) => {
      expect(normalisePhone(raw)).toEqual({ ok: true, e164: '+79161234567', mobile: true });
    },
  );

  it.each(['+7 495 123-45-67', '8 (495) 123-45-67'])('refuses the Moscow landline %j', (raw) => {
    const check = normalisePhone(raw);
    expect(check.ok).toBe(false);
    expect(!check.ok && check.reason).toBe('+74951234567 is a landline: no SMS or calls');
  });

  it.each(['abc', '12', '+7 916 123', 'call me maybe'])('refuses the garbage %j as not a phone number', (raw) => {
    const check = normalisePhone(raw);
    expect(check.ok).toBe(false);
    expect(!check.ok && check.reason).toMatch(/is not a valid phone number$/);
  });

  it('refuses an empty number', () => {
    expect(normalisePhone('  ')).toEqual({ ok: false, reason: 'no phone number' });
  });

  it('refuses a toll-free number as not mobile', () => {
    const check = normalisePhone('8 800 555-35-35');
    expect(!check.ok && check.reason).toMatch(/not a mobile number \(toll free\)/);
  });

  it.each([
    ['+44 7911 123456', '+447911123456'],
    ['+49 151 23456789', '+4915123456789'],
    ['+1 201 555 0123', '+12015550123'],
  ])('reads the foreign number %j written with + as %s', (raw, e164) => {
    expect(normalisePhone(raw)).toMatchObject({ ok: true, e164 });
  });

  it('reads a number without + in the given default country', () => {
    expect(normalisePhone('07911 123456', 'GB')).toMatchObject({ ok: true, e164: '+447911123456' });
  });
});

describe('senderNameProblem', () => {
  it.each(['MyShop', 'SHOP24', 'ABCDEFGHIJK', '123456789012345', '7'])('accepts %j', (name) => {
    expect(senderNameProblem(name)).toBeUndefined();
  });

  it.each([
    ['My Shop', /at most 11 latin letters/],
    ['ABCDEFGHIJKL', /at most 11 latin letters/],
    ['Магазин', /at most 11 latin letters/],
    ['', /at most 11 latin letters/],
    ['1234567890123456', /numeric sender is at most 15 digits/],
  ])('refuses %j', (name, problem) => {
    expect(senderNameProblem(name)).toMatch(problem);
  });
});
