// Carrier adapters against loopback servers that speak Russian Post's SOAP getOperationHistory and DHL's
// Unified Tracking API: histories become normalised events (times, places, Cyrillic), unknown codes are
// per-code errors, outages and refusals are CarrierErrors an admin can read, concurrency is bounded,
// credentials travel in the request and never in a message. Plus the pure mapping tables.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarrierError, type CarrierAdapter, type TrackResult } from '../src/tracking/types.js';
import {
  createRussianPostAdapter,
  operationHistoryRequest,
  operationTime,
  readOperationHistoryAnswer,
  russianPostEvents,
  russianPostStatus,
  type RussianPostOptions,
} from '../src/tracking/carriers/russian-post.js';
import { createDhlAdapter, dhlStatus, dhlTime, interpretDhlAnswer, type DhlOptions } from '../src/tracking/carriers/dhl.js';
import { createCarrier, createCarrierRegistry } from '../src/tracking/carriers/index.js';
import { formatSeconds, snippet } from '../src/tracking/carriers/transport.js';
import { retryAfterMs } from '../src/tracking/http-text.js';
import { startDhlServer, startRussianPostServer, type DhlServer, type RussianPostServer } from './helpers/carrier-servers.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2025, 2, 3, 7, 15); // 2025-03-03 10:15 Moscow

/** The rejection of `promise`, which must be a CarrierError. */
async function carrierError(promise: Promise<unknown>): Promise<CarrierError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(CarrierError);
  return err as CarrierError;
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<string> {
  const server = await startDhlServer({ apiKey: 'x' });
  const url = server.url;
  await server.close();
  return url;
}

describe('Russian Post adapter (SOAP getOperationHistory)', () => {
  const LOGIN = 'shop-login';
  const PASSWORD = 'S3cret-Pa$$';
  let rp: RussianPostServer;
  const adapter = (extra: Partial<RussianPostOptions> = {}): CarrierAdapter =>
    createRussianPostAdapter({ url: rp.url, login: LOGIN, password: PASSWORD, ...extra });

  beforeAll(async () => {
    rp = await startRussianPostServer({ login: LOGIN, password: PASSWORD });
  });
  afterAll(async () => {
    await rp.close();
  });

  it('maps a history to accepted, in-transit and arrived-at-pickup with Moscow times, places and the pick-up point', async () => {
    rp.setHistory('RA644000001RU', [
      { status: 'arrived-at-pickup', time: T0 + 50 * HOUR, place: '101000 Москва' },
      { status: 'accepted', time: T0, place: '125009 Москва' },
      { status: 'in-transit', time: T0 + 20 * HOUR, place: '140961 Подольск' },
    ]);
    const [result] = await adapter().track(['RA644000001RU']);
    expect(result).toEqual({
      code: 'RA644000001RU',
      events: [
        { carrierStatus: '1/1 Прием: Единичный', status: 'accepted', time: T0, place: '125009 Москва' },
        { carrierStatus: '8/0 Обработка: Сортировка', status: 'in-transit', time: T0 + 20 * HOUR, place: '140961 Подольск' },
        { carrierStatus: '8/2 Обработка: Прибыло в место вручения', status: 'arrived-at-pickup', time: T0 + 50 * HOUR, place: '101000 Москва', pickupPoint: '101000 Москва' },
      ],
    });
  });

  it('maps delivery, parcel lockers, storage expiry and the way back by operation codes', async () => {
    rp.setHistory('80081234567890', [
      { status: 'accepted', time: T0 },
      { status: { type: 8, attr: 9, typeName: 'Обработка', attrName: 'Прибыло в почтомат' }, time: T0 + 1 * HOUR, place: '630099 Новосибирск' },
      { status: { type: 8, attr: 24, typeName: 'Обработка', attrName: 'Направлено извещение' }, time: T0 + 2 * HOUR, place: '630099 Новосибирск' },
    ]);
    rp.setHistory('80081234567891', [
      { status: 'accepted', time: T0 },
      { status: 'delivered', time: T0 + 3 * HOUR, place: '630099 Новосибирск' },
    ]);
    rp.setHistory('80081234567892', [
      { status: 'accepted', time: T0 },
      { status: 'arrived-at-pickup', time: T0 + 1 * HOUR, place: '101000 Москва' },
      { status: 'storage-expired', time: T0 + 30 * 24 * HOUR, place: '101000 Москва' },
      { status: 'in-transit', time: T0 + 31 * 24 * HOUR },
      { status: 'arrived-at-pickup', time: T0 + 33 * 24 * HOUR, place: '125009 Москва' },
      { status: { type: 2, attr: 1, typeName: 'Вручение', attrName: 'Вручение адресату' }, time: T0 + 34 * 24 * HOUR, place: '125009 Москва' },
    ]);
    const results = await adapter().track(['80081234567890', '80081234567891', '80081234567892']);
    const statuses = results.map((r) => ('events' in r ? r.events.map((e) => e.status) : r.error));
    expect(statuses).toEqual([
      ['accepted', 'arrived-at-pickup', 'unknown'],
      ['accepted', 'delivered'],
      ['accepted', 'arrived-at-pickup', 'storage-expired', 'in-transit', 'returned', 'returned'],
    ]);
    const locker = results[0]!;
    expect('events' in locker && locker.events[1]).toMatchObject({ carrierStatus: '8/9 Обработка: Прибыло в почтомат', pickupPoint: '630099 Новосибирск' });
    const back = results[2]!;
    expect('events' in back && back.events[2]!.carrierStatus).toBe('3/1 Возврат: Истек срок хранения');
  });

  it('answers a code the service does not know, and a malformed one, per code — not as a failed call', async () => {
    rp.setHistory('RA644000002RU', [{ status: 'accepted', time: T0 }]);
    const results = await adapter().track(['RA000000000RU', 'RA644000002RU', 'not-a-code']);
    expect(results[0]).toEqual({ code: 'RA000000000RU', error: 'no operations registered for this code (yet)' });
    expect(results[1]).toMatchObject({ code: 'RA644000002RU', events: [{ status: 'accepted' }] });
    expect(results[2]).toEqual({ code: 'not-a-code', error: 'the code was refused: Формат данных запроса не соответствует установленному в регламенте обмена' });
  });

  it('sends a SOAP 1.2 envelope with the barcode and the AuthorizationHeader login/password', async () => {
    await adapter().track(['RA644000001RU']);
    const req = rp.lastRequest!;
    expect(req.headers['content-type']).toMatch(/^application\/soap\+xml/);
    expect(req.body).toContain('<data:Barcode>RA644000001RU</data:Barcode>');
    expect(req.body).toContain('<data:MessageType>0</data:MessageType>');
    expect(req.body).toContain('<data:AuthorizationHeader soapenv:mustUnderstand="1">');
    expect(req.body).toContain(`<data:login>${LOGIN}</data:login>`);
    expect(req.body).toContain('<data:password>S3cret-Pa$$</data:password>');
  });

  it('the test server refuses a request without the AuthorizationHeader (so the tests above need the credentials)', async () => {
    const withoutAuth = operationHistoryRequest('RA644000001RU', LOGIN, PASSWORD).replace(/<data:AuthorizationHeader[\s\S]*<\/data:AuthorizationHeader>/, '');
    const res = await fetch(rp.url, { method: 'POST', headers: { 'content-type': 'application/soap+xml; charset=utf-8' }, body: withoutAuth });
    const answer = readOperationHistoryAnswer(await res.text());
    expect(answer).toMatchObject({ kind: 'fault', fault: 'authorization' });
  });

  it('a refused login/password rejects the whole call, not retryable, without the password in the message', async () => {
    const err = await carrierError(adapter({ password: 'wrong-password' }).track(['RA644000001RU']));
    expect(err.retryable).toBe(false);
    expect(err.message).toBe('Russian Post refused the login/password: Ошибка авторизации: неверный логин или пароль');
    expect(err.message).not.toContain('wrong-password');
  });

  it('HTTP 500 is a retryable CarrierError', async () => {
    rp.fail('http500', 1);
    const err = await carrierError(adapter().track(['RA644000001RU']));
    expect(err).toMatchObject({ message: 'Russian Post answered HTTP 500', retryable: true });
    await expect(adapter().track(['RA644000001RU'])).resolves.toMatchObject([{ code: 'RA644000001RU' }]);
  });

  it('a SOAP server fault is a retryable CarrierError with the service\'s reason', async () => {
    rp.fail('soap-fault', 1);
    const err = await carrierError(adapter().track(['RA644000001RU']));
    expect(err).toMatchObject({ message: 'Russian Post reported a fault: Внутренняя ошибка сервиса отслеживания', retryable: true });
  });

  it('garbage is a retryable "unreadable answer" quoting the start of it', async () => {
    rp.fail('garbage', 1);
    const err = await carrierError(adapter().track(['RA644000001RU']));
    expect(err.retryable).toBe(true);
    expect(err.message).toBe('Russian Post sent an unreadable answer (<html><body><h1>Технические работы</h1><p>Сервис отслеживания временно недоступе…)');
  });

  it('no answer within timeoutMs is a retryable CarrierError naming the limit', async () => {
    rp.fail('timeout', 1);
    const started = Date.now();
    const err = await carrierError(adapter({ timeoutMs: 300 }).track(['RA644000001RU']));
    expect(err).toMatchObject({ message: 'Russian Post did not answer within 0.3 s', retryable: true });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('HTTP 429 is retryable and carries Retry-After', async () => {
    rp.fail('ratelimit', 1);
    const err = await carrierError(adapter().track(['RA644000001RU']));
    expect(err).toMatchObject({ retryable: true, retryAfterMs: 7_000 });
    expect(err.message).toBe('Russian Post is limiting requests (HTTP 429), retry after 7 s');
  });

  it('a refused connection is a retryable CarrierError', async () => {
    const err = await carrierError(createRussianPostAdapter({ url: `${await closedPort()}/rtm34`, login: LOGIN, password: PASSWORD }).track(['RA644000001RU']));
    expect(err).toMatchObject({ message: 'Russian Post could not be reached (connection refused)', retryable: true });
  });

  it('runs at most `concurrency` SOAP calls at once (default 4), one per distinct code', async () => {
    const slow = await startRussianPostServer({ login: LOGIN, password: PASSWORD, latencyMs: 40 });
    try {
      const codes = Array.from({ length: 12 }, (_, i) => `RA${String(100000000 + i).padStart(9, '0')}RU`);
      const three = await createRussianPostAdapter({ url: slow.url, login: LOGIN, password: PASSWORD, concurrency: 3 }).track(codes);
      expect(three.map((r) => r.code)).toEqual(codes);
      expect(slow.requests).toBe(12);
      expect(slow.maxParallel).toBe(3);

      const slow2 = await startRussianPostServer({ login: LOGIN, password: PASSWORD, latencyMs: 40 });
      try {
        await createRussianPostAdapter({ url: slow2.url, login: LOGIN, password: PASSWORD }).track([...codes, codes[0]!, codes[1]!]);
        expect(slow2.requests).toBe(12);
        expect(slow2.maxParallel).toBe(4);
      } finally {
        await slow2.close();
      }
    } finally {
      await slow.close();
    }
  });

  it('one code whose request fails gets that error; the other codes still get their answers', async () => {
    const before = rp.requests;
    rp.fail('http500', 1);
    const codes = Array.from({ length: 6 }, (_, i) => `RA${String(200000000 + i).padStart(9, '0')}RU`);
    for (const code of codes) rp.setHistory(code, [{ status: 'accepted', time: Date.parse('2026-11-20T09:00:00Z') }]);
    const results = await adapter({ concurrency: 1 }).track(codes);
    expect(rp.requests - before).toBe(6);
    expect(results.map((r) => r.code)).toEqual(codes);
    expect(results.filter((r) => 'error' in r && r.error === 'Russian Post answered HTTP 500')).toHaveLength(1);
    expect(results.filter((r) => 'events' in r)).toHaveLength(5);
  });

  it('every code failing means the carrier is down: the whole call rejects', async () => {
    rp.fail('http500', 3);
    const codes = Array.from({ length: 3 }, (_, i) => `RA${String(300000000 + i).padStart(9, '0')}RU`);
    const err = await carrierError(adapter({ concurrency: 1 }).track(codes));
    expect(err.message).toBe('Russian Post answered HTTP 500');
    expect(err.retryable).toBe(true);
  });

  it('an aborted track() rejects with the abort reason, not a CarrierError', async () => {
    rp.fail('timeout', 1);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('shutting down')), 100);
    await expect(adapter().track(['RA644000001RU'], controller.signal)).rejects.toThrow('shutting down');
  });
});

describe('Russian Post mapping (pure)', () => {
  it('maps operation type/attribute codes of the dictionary', () => {
    const cases: Array<[number, number | undefined, string]> = [
      [1, 1, 'accepted'], [1, 2, 'accepted'],
      [8, 0, 'in-transit'], [8, 3, 'in-transit'], [8, 4, 'in-transit'], [9, undefined, 'in-transit'], [14, 1, 'in-transit'],
      [8, 2, 'arrived-at-pickup'], [8, 9, 'arrived-at-pickup'], [8, 14, 'arrived-at-pickup'], [8, 39, 'arrived-at-pickup'], [6, 1, 'arrived-at-pickup'],
      [2, 1, 'delivered'], [2, 3, 'delivered'], [2, 6, 'delivered'], [2, 8, 'delivered'],
      [2, 2, 'returned'], [2, 4, 'returned'], [3, 2, 'returned'], [3, 4, 'returned'],
      [3, 1, 'storage-expired'], [8, 40, 'storage-expired'], [15, undefined, 'storage-expired'], [7, 2, 'storage-expired'], [23, undefined, 'storage-expired'],
      [8, 24, 'unknown'], [8, 27, 'unknown'], [12, 1, 'unknown'], [5, 1, 'unknown'], [999, 1, 'unknown'],
    ];
    for (const [type, attr, status] of cases) expect(`${type}/${attr}: ${russianPostStatus(type, attr)}`).toBe(`${type}/${attr}: ${status}`);
  });

  it('reads OperDate with its offset (and Moscow time without one)', () => {
    expect(operationTime('2015-07-09T18:08:00.000+03:00')).toBe(Date.UTC(2015, 6, 9, 15, 8));
    expect(operationTime('2015-07-09T18:08:00')).toBe(Date.UTC(2015, 6, 9, 15, 8));
    expect(operationTime('09.07.2015 18:08')).toBeNaN();
  });

  it('reads any namespace prefixes, character references and SOAP faults', () => {
    const history = `<?xml version="1.0"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>
      <a:getOperationHistoryResponse xmlns:a="http://russianpost.org/operationhistory" xmlns:d="http://russianpost.org/operationhistory/data">
      <d:OperationHistoryData><d:historyRecord><d:AddressParameters><d:OperationAddress><d:Index>101000</d:Index><d:Description>&#1052;&#x43E;сква &amp; Ко</d:Description></d:OperationAddress></d:AddressParameters>
      <d:OperationParameters><d:OperType><d:Id>8</d:Id><d:Name>Обработка</d:Name></d:OperType><d:OperAttr><d:Id>2</d:Id><d:Name>Прибыло в место вручения</d:Name></d:OperAttr><d:OperDate>2025-03-05T09:15:00.000+03:00</d:OperDate></d:OperationParameters>
      </d:historyRecord></d:OperationHistoryData></a:getOperationHistoryResponse></env:Body></env:Envelope>`;
    const answer = readOperationHistoryAnswer(history);
    expect(answer.kind).toBe('history');
    expect(answer.kind === 'history' && russianPostEvents(answer.records)).toEqual([
      { carrierStatus: '8/2 Обработка: Прибыло в место вручения', status: 'arrived-at-pickup', time: Date.UTC(2025, 2, 5, 6, 15), place: '101000 Москва & Ко', pickupPoint: '101000 Москва & Ко' },
    ]);
    const fault = (detail: string) => `<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Body><S:Fault><S:Code><S:Value>S:Receiver</S:Value></S:Code><S:Reason><S:Text xml:lang="ru">причина</S:Text></S:Reason>${detail}</S:Fault></S:Body></S:Envelope>`;
    expect(readOperationHistoryAnswer(fault('<S:Detail><ns3:AuthorizationFaultReason xmlns:ns3="http://russianpost.org/operationhistory/data">нет доступа</ns3:AuthorizationFaultReason></S:Detail>')))
      .toEqual({ kind: 'fault', fault: 'authorization', reason: 'нет доступа' });
    expect(readOperationHistoryAnswer(fault('<S:Detail><x:LanguageFaultReason xmlns:x="http://russianpost.org/operationhistory/data">язык</x:LanguageFaultReason></S:Detail>')))
      .toEqual({ kind: 'fault', fault: 'language', reason: 'язык' });
    expect(readOperationHistoryAnswer(fault(''))).toEqual({ kind: 'fault', fault: 'server', reason: 'причина' });
    expect(() => readOperationHistoryAnswer('{"shipments": []}')).toThrow();
    expect(() => readOperationHistoryAnswer('<html><body>ok</body></html>')).toThrow();
  });

  it('escapes the barcode and credentials in the envelope', () => {
    const xml = operationHistoryRequest('RA1<2', 'a&b', 'p"<>');
    expect(xml).toContain('<data:Barcode>RA1&lt;2</data:Barcode>');
    expect(xml).toContain('<data:login>a&amp;b</data:login>');
    expect(xml).toContain('<data:password>p&quot;&lt;&gt;</data:password>');
  });
});

describe('DHL adapter (Shipment Tracking – Unified)', () => {
  const API_KEY = 'dhl-key-0123456789';
  let dhl: DhlServer;
  const adapter = (extra: Partial<DhlOptions> = {}): CarrierAdapter => createDhlAdapter({ url: dhl.url, apiKey: API_KEY, ...extra });

  beforeAll(async () => {
    dhl = await startDhlServer({ apiKey: API_KEY });
  });
  afterAll(async () => {
    await dhl.close();
  });

  it('maps a history (sent newest first) to events oldest first with times, places and the pick-up point', async () => {
    dhl.setHistory('00340434292135100124', [
      { status: 'accepted', time: T0, place: '53113 Bonn, DE' },
      { status: { statusCode: 'transit', description: 'Отправление прибыло в сортировочный центр' }, time: T0 + 5 * HOUR, place: '101000 Москва, RU' },
      { status: 'in-transit', time: T0 + 20 * HOUR, place: '04103 Leipzig, DE' },
      { status: 'arrived-at-pickup', time: T0 + 30 * HOUR, place: '10115 Berlin, DE' },
    ]);
    const results = await adapter().track(['00340434292135100124']);
    expect(results).toEqual<TrackResult[]>([{
      code: '00340434292135100124',
      events: [
        { carrierStatus: 'pre-transit: The shipment has been picked up by DHL', status: 'accepted', time: T0, place: '53113 Bonn, DE' },
        { carrierStatus: 'transit: Отправление прибыло в сортировочный центр', status: 'in-transit', time: T0 + 5 * HOUR, place: '101000 Москва, RU' },
        { carrierStatus: 'transit: The shipment has been processed in the parcel center', status: 'in-transit', time: T0 + 20 * HOUR, place: '04103 Leipzig, DE' },
        { carrierStatus: 'transit: The shipment is ready for pick-up at the PACKSTATION', status: 'arrived-at-pickup', time: T0 + 30 * HOUR, place: '10115 Berlin, DE', pickupPoint: '10115 Berlin, DE' },
      ],
    }]);
    expect(dhl.lastRequest!.url).toBe('/track/shipments?trackingNumber=00340434292135100124');
    expect(dhl.lastRequest!.headers['dhl-api-key']).toBe(API_KEY);
  });

  it('maps delivered, returned, storage expired and unknown', async () => {
    dhl.setHistory('JJD0001', [{ status: 'accepted', time: T0 }, { status: 'delivered', time: T0 + HOUR }]);
    dhl.setHistory('JJD0002', [{ status: 'accepted', time: T0 }, { status: 'returned', time: T0 + HOUR }]);
    dhl.setHistory('JJD0003', [{ status: 'arrived-at-pickup', time: T0 }, { status: 'storage-expired', time: T0 + HOUR }]);
    dhl.setHistory('JJD0004', [{ status: 'unknown', time: T0 }]);
    const results = await adapter().track(['JJD0001', 'JJD0002', 'JJD0003', 'JJD0004']);
    expect(results.map((r) => ('events' in r ? r.events.map((e) => e.status) : r.error))).toEqual([
      ['accepted', 'delivered'], ['accepted', 'returned'], ['arrived-at-pickup', 'storage-expired'], ['unknown'],
    ]);
  });

  it('a number DHL does not know is a per-code error (404 problem+json)', async () => {
    dhl.setHistory('JJD0005', [{ status: 'accepted', time: T0 }]);
    const results = await adapter().track(['JJD-NOPE', 'JJD0005']);
    expect(results[0]).toEqual({ code: 'JJD-NOPE', error: 'unknown code (No shipment with given tracking number found.)' });
    expect(results[1]).toMatchObject({ code: 'JJD0005', events: [{ status: 'accepted' }] });
  });

  it('a refused API key rejects the whole call, not retryable, without the key in the message', async () => {
    const err = await carrierError(adapter({ apiKey: 'wrong-key-987654' }).track(['JJD0001']));
    expect(err).toMatchObject({ message: 'DHL API key refused (HTTP 401: Unauthorized for given resource.)', retryable: false });
    expect(err.message).not.toContain('wrong-key-987654');
  });

  it('an API key echoed in an answer is masked', () => {
    const answer = { status: 403, headers: new Headers(), body: JSON.stringify({ status: 403, title: 'Forbidden', detail: `Key ${API_KEY} is not subscribed` }) };
    expect(() => interpretDhlAnswer('JJD0001', answer, [API_KEY])).toThrow('DHL API key refused (HTTP 403: Key *** is not subscribed)');
  });

  it('HTTP 500, garbage, a timeout and a refused connection are retryable CarrierErrors', async () => {
    dhl.fail('http500', 1);
    expect(await carrierError(adapter().track(['JJD0001']))).toMatchObject({ message: 'DHL answered HTTP 500', retryable: true });
    dhl.fail('garbage', 1);
    expect(await carrierError(adapter().track(['JJD0001']))).toMatchObject({
      message: 'DHL sent an unreadable answer (<!DOCTYPE html><html><head><title>Maintenance</title></head><body>DHL API is dow…)', retryable: true,
    });
    dhl.fail('timeout', 1);
    expect(await carrierError(adapter({ timeoutMs: 300 }).track(['JJD0001']))).toMatchObject({ message: 'DHL did not answer within 0.3 s', retryable: true });
    expect(await carrierError(createDhlAdapter({ url: await closedPort(), apiKey: API_KEY }).track(['JJD0001'])))
      .toMatchObject({ message: 'DHL could not be reached (connection refused)', retryable: true });
    await expect(adapter().track(['JJD0001'])).resolves.toMatchObject([{ code: 'JJD0001', events: [{}, {}] }]);
  });

  it('HTTP 429 is retryable and carries Retry-After', async () => {
    dhl.fail('ratelimit', 1);
    const err = await carrierError(adapter().track(['JJD0001']));
    expect(err).toMatchObject({ message: 'DHL is limiting requests (HTTP 429), retry after 7 s', retryable: true, retryAfterMs: 7_000 });
  });

  it('a wrong base URL (plain 404) is a non-retryable CarrierError, not "unknown code"', async () => {
    const err = await carrierError(adapter({ url: `${dhl.url}/v2` }).track(['JJD0001']));
    expect(err).toMatchObject({ message: 'DHL answered HTTP 404', retryable: false });
  });

  it('runs at most `concurrency` requests at once', async () => {
    const slow = await startDhlServer({ apiKey: API_KEY, latencyMs: 40 });
    try {
      const codes = Array.from({ length: 10 }, (_, i) => `JJD1${i}`);
      const results = await createDhlAdapter({ url: slow.url, apiKey: API_KEY, concurrency: 2 }).track(codes);
      expect(results.map((r) => r.code)).toEqual(codes);
      expect(slow.requests).toBe(10);
      expect(slow.maxParallel).toBe(2);
    } finally {
      await slow.close();
    }
  });
});

describe('DHL mapping (pure)', () => {
  it('maps statusCode and wording', () => {
    const cases: Array<[string, string, string]> = [
      ['pre-transit', 'The shipment has been picked up by DHL', 'accepted'],
      ['pre-transit', 'The instruction data for this shipment have been provided by the sender to DHL electronically', 'unknown'],
      ['transit', 'The shipment has been posted by the sender at the retail outlet', 'accepted'],
      ['transit', 'Arrived at DHL Sort Facility LEIPZIG - GERMANY', 'in-transit'],
      ['transit', 'The shipment is ready for pick-up at the PACKSTATION. It will be returned to the sender if not picked up within 7 days', 'arrived-at-pickup'],
      ['transit', 'The shipment is available for pick up at the parcel shop', 'arrived-at-pickup'],
      ['delivered', 'The shipment has been delivered to the retail outlet', 'arrived-at-pickup'],
      ['delivered', 'The recipient has picked up the shipment from the PACKSTATION', 'delivered'],
      ['delivered', 'Delivered - Signed for by: MUELLER', 'delivered'],
      ['transit', 'The shipment is being returned to the sender', 'returned'],
      ['delivered', 'The shipment has been delivered back to the sender', 'returned'],
      ['failure', 'The shipment was not picked up within the storage period', 'storage-expired'],
      ['failure', 'The storage period has expired', 'storage-expired'],
      ['failure', 'Delivery attempt failed: recipient not at home', 'unknown'],
      ['unknown', 'Shipment information received', 'unknown'],
    ];
    for (const [code, text, status] of cases) expect(`${code} ${text}: ${dhlStatus(code, text)}`).toBe(`${code} ${text}: ${status}`);
  });

  it('reads timestamps with and without an offset', () => {
    expect(dhlTime('2024-05-02T12:15:00+02:00')).toBe(Date.UTC(2024, 4, 2, 10, 15));
    expect(dhlTime('2024-05-02T10:15:00Z')).toBe(Date.UTC(2024, 4, 2, 10, 15));
    expect(dhlTime('2024-05-02T10:15:00')).toBe(Date.UTC(2024, 4, 2, 10, 15));
    expect(dhlTime('yesterday')).toBeNaN();
  });
});

describe('carrier factory and transport helpers', () => {
  it('creates adapters by name and refuses options that cannot work', () => {
    expect(createCarrier('russian-post', { url: 'https://tracking.russianpost.ru/rtm34', login: 'l', password: 'p' })).toMatchObject({ name: 'russian-post', maxBatch: 1 });
    expect(createCarrier('dhl', { url: 'https://api-eu.dhl.com', apiKey: 'k' })).toMatchObject({ name: 'dhl', maxBatch: 1 });
    expect(() => createCarrier('dhl', { url: 'api-eu.dhl.com', apiKey: 'k' })).toThrow(TypeError);
    expect(() => createCarrier('dhl', { url: 'https://api-eu.dhl.com', apiKey: 'k', concurrency: 0 })).toThrow(TypeError);
    const registry = createCarrierRegistry({ dhl: { url: 'https://api-eu.dhl.com', apiKey: 'k' } });
    expect(Object.keys(registry)).toEqual(['dhl']);
  });

  it('formats durations, Retry-After and snippets', () => {
    expect(formatSeconds(10_000)).toBe('10 s');
    expect(formatSeconds(250)).toBe('0.25 s');
    expect(retryAfterMs('120')).toBe(120_000);
    expect(retryAfterMs('Wed, 21 Oct 2015 07:28:30 GMT', Date.UTC(2015, 9, 21, 7, 28))).toBe(30_000);
    expect(retryAfterMs(null)).toBeUndefined();
    expect(snippet(`a\n\n b ${'x'.repeat(100)}`, [])).toBe(`a b ${'x'.repeat(76)}…`);
    expect(snippet('password=hunter22', ['hunter22'])).toBe('password=***');
  });
});
