// Loopback HTTP servers on 127.0.0.1 that speak like the parcel carriers mailgate polls: Russian Post's
// SOAP 1.2 getOperationHistory ("Единичный доступ": namespace-checked envelope, AuthorizationHeader,
// history records, Authorization/OperationHistory/Language faults) and DHL's Shipment Tracking – Unified
// API (GET /track/shipments, DHL-API-Key, shipments JSON newest first, problem+json errors). State lives in
// Maps and nothing sleeps, so a benchmark can push 100 000 codes through them. No mocks: real HTTP.
//
//   const rp = await startRussianPostServer({ login: 'shop', password: 'secret' });
//   rp.setHistory('RA644000001RU', [
//     { status: 'accepted', time: t1, place: '125009 Москва' },
//     { status: 'in-transit', time: t2 },
//     { status: 'arrived-at-pickup', time: t3, place: '101000 Москва' },
//     { status: { type: 8, attr: 9, typeName: 'Обработка', attrName: 'Прибыло в почтомат' }, time: t4 },
//   ]);
//   rp.fail('http500', 2);      // the next two requests answer HTTP 500
//   await rp.close();
//
// Codes never set get each carrier's "nothing known" answer (Russian Post: an empty history for a
// well-formed barcode, OperationHistoryFault for a malformed one; DHL: 404 problem+json).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { NormalisedStatus } from '../../src/tracking/types.js';

/** How the next requests fail: HTTP 500 with an HTML page, 200 with garbage, no answer at all, 429 with Retry-After: 7. */
export type CarrierFailMode = 'http500' | 'garbage' | 'timeout' | 'ratelimit';
/** Russian Post also: a SOAP 1.2 Receiver fault without detail (the service's own internal error). */
export type RussianPostFailMode = CarrierFailMode | 'soap-fault';

/** A Russian Post operation as the service codes it (OperType/Id, OperAttr/Id and their names). */
export interface RussianPostOperation {
  type: number;
  attr?: number;
  typeName?: string;
  attrName?: string;
}

/** A DHL event as the Unified API codes it. */
export interface DhlRawStatus {
  statusCode: 'pre-transit' | 'transit' | 'delivered' | 'failure' | 'unknown';
  status?: string;
  description: string;
}

/** One event of a test history: a normalised status (sent as a representative raw code) or the carrier's raw code. */
export interface HistoryEntry<Raw> {
  status: NormalisedStatus | Raw;
  /** Carrier event time, epoch ms. */
  time: number;
  /** "101000 Москва" (Russian Post: index + description), "53113 Bonn, DE" (DHL: postal code, locality, country). */
  place?: string;
}

export interface CarrierServer<Raw, Mode> {
  /** Russian Post: the SOAP endpoint; DHL: the base URL (without /track/shipments). */
  url: string;
  /** Replaces the history of `code`, in any order (each server orders it like its carrier). */
  setHistory(code: string, events: ReadonlyArray<HistoryEntry<Raw>>): void;
  /** The next `times` requests fail with `mode`. */
  fail(mode: Mode, times: number): void;
  /** Requests received so far (failed ones included). */
  readonly requests: number;
  /** The most requests that were in flight at once. */
  readonly maxParallel: number;
  /** The last request as received. */
  readonly lastRequest: { headers: http.IncomingHttpHeaders; url: string; body: string } | undefined;
  close(): Promise<void>;
}

export interface ServerTiming {
  /** Delay before each answer (a timer, not a sleep); 0 (default) answers at once. For concurrency tests. */
  latencyMs?: number;
}

// ---------------------------------------------------------------------------------------------------
// The common loop: counting, failure plans, latency, held requests
// ---------------------------------------------------------------------------------------------------

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

interface Loop<Mode> {
  server: http.Server;
  url: string;
  fail(mode: Mode, times: number): void;
  readonly requests: number;
  readonly maxParallel: number;
  readonly lastRequest: { headers: http.IncomingHttpHeaders; url: string; body: string } | undefined;
  close(): Promise<void>;
}

async function startLoop<Mode extends string>(
  timing: ServerTiming,
  failReply: (mode: Mode) => Reply | 'hang',
  answer: (req: http.IncomingMessage, body: string) => Reply,
): Promise<Loop<Mode>> {
  let requests = 0;
  let inFlight = 0;
  let maxParallel = 0;
  let plan: { mode: Mode; remaining: number } | undefined;
  let lastRequest: { headers: http.IncomingHttpHeaders; url: string; body: string } | undefined;
  const timers = new Set<NodeJS.Timeout>();
  const latency = timing.latencyMs ?? 0;

  const server = http.createServer((req, res) => {
    requests++;
    inFlight++;
    maxParallel = Math.max(maxParallel, inFlight);
    res.on('close', () => inFlight--);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      lastRequest = { headers: req.headers, url: req.url ?? '', body };
      let reply: Reply | 'hang';
      if (plan && plan.remaining > 0) {
        plan.remaining--;
        reply = failReply(plan.mode);
      } else {
        reply = answer(req, body);
      }
      if (reply === 'hang') return; // answered never; destroyed on close
      const send = (r: Reply) => {
        res.writeHead(r.status, { ...r.headers, 'content-length': Buffer.byteLength(r.body) });
        res.end(r.body);
      };
      if (latency > 0) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          send(reply);
        }, latency);
        timers.add(timer);
      } else {
        send(reply);
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    fail(mode, times) {
      plan = { mode, remaining: times };
    },
    get requests() {
      return requests;
    },
    get maxParallel() {
      return maxParallel;
    },
    get lastRequest() {
      return lastRequest;
    },
    close: () => new Promise<void>((resolve) => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** A carrier server: its own URL and history, the loop's counters and failure plans (read live). */
function carrierServer<Raw, Mode extends string>(loop: Loop<Mode>, url: string, setHistory: CarrierServer<Raw, Mode>['setHistory']): CarrierServer<Raw, Mode> {
  return {
    url,
    setHistory,
    fail: loop.fail,
    get requests() {
      return loop.requests;
    },
    get maxParallel() {
      return loop.maxParallel;
    },
    get lastRequest() {
      return loop.lastRequest;
    },
    close: loop.close,
  };
}

function xmlText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

// ---------------------------------------------------------------------------------------------------
// Russian Post
// ---------------------------------------------------------------------------------------------------

const SOAP12 = 'http://www.w3.org/2003/05/soap-envelope';
const OPER = 'http://russianpost.org/operationhistory';
const DATA = 'http://russianpost.org/operationhistory/data';

/** The raw operation sent for a normalised status (the codes of the service's dictionary). */
export const RUSSIAN_POST_REPRESENTATIVE: Readonly<Record<NormalisedStatus, Required<RussianPostOperation>>> = {
  accepted: { type: 1, attr: 1, typeName: 'Прием', attrName: 'Единичный' },
  'in-transit': { type: 8, attr: 0, typeName: 'Обработка', attrName: 'Сортировка' },
  'arrived-at-pickup': { type: 8, attr: 2, typeName: 'Обработка', attrName: 'Прибыло в место вручения' },
  delivered: { type: 2, attr: 1, typeName: 'Вручение', attrName: 'Вручение адресату' },
  returned: { type: 2, attr: 2, typeName: 'Вручение', attrName: 'Вручение отправителю' },
  'storage-expired': { type: 3, attr: 1, typeName: 'Возврат', attrName: 'Истек срок хранения' },
  unknown: { type: 12, attr: 1, typeName: 'Неудачная попытка вручения', attrName: 'Временное отсутствие адресата' },
};

/** Operation type names for raw codes given without names. */
const OPER_TYPE_NAMES: Record<number, string> = {
  1: 'Прием', 2: 'Вручение', 3: 'Возврат', 4: 'Досылка почты', 5: 'Невручение', 6: 'Хранение', 7: 'Временное хранение',
  8: 'Обработка', 9: 'Импорт международной почты', 10: 'Экспорт международной почты', 11: 'Прием на таможню',
  12: 'Неудачная попытка вручения', 14: 'Таможенное оформление', 15: 'Передача на временное хранение',
};

interface StoredOperation {
  operation: RussianPostOperation;
  time: number;
  place?: string;
}

/** "2015-07-09T18:08:00.000+03:00": the time as the service writes it, Moscow offset. */
export function moscowOperDate(time: number): string {
  return new Date(time + 3 * 3600_000).toISOString().replace('Z', '+03:00');
}

function historyRecordXml(code: string, op: StoredOperation): string {
  const o = op.operation;
  let index: string | undefined;
  let description: string | undefined;
  if (op.place !== undefined) {
    const m = /^(\d{6})\s+(.+)$/.exec(op.place.trim());
    if (m) [index, description] = [m[1], m[2]];
    else description = op.place.trim();
  }
  const typeName = o.typeName ?? OPER_TYPE_NAMES[o.type] ?? `Операция ${o.type}`;
  return (
    '<ns3:historyRecord>' +
    '<ns3:AddressParameters>' +
    (op.place !== undefined
      ? '<ns3:OperationAddress>' + (index !== undefined ? `<ns3:Index>${index}</ns3:Index>` : '') + `<ns3:Description>${xmlText(description ?? '')}</ns3:Description></ns3:OperationAddress>`
      : '') +
    '<ns3:CountryOper><ns3:Id>643</ns3:Id><ns3:Code2A>RU</ns3:Code2A><ns3:Code3A>RUS</ns3:Code3A><ns3:NameRU>Российская Федерация</ns3:NameRU><ns3:NameEN>Russian Federation</ns3:NameEN></ns3:CountryOper>' +
    '</ns3:AddressParameters>' +
    '<ns3:ItemParameters>' +
    `<ns3:Barcode>${xmlText(code)}</ns3:Barcode><ns3:ValidRuType>${/^\d{14}$/.test(code)}</ns3:ValidRuType><ns3:ValidEnType>${!/^\d{14}$/.test(code)}</ns3:ValidEnType>` +
    '<ns3:MailType><ns3:Id>4</ns3:Id><ns3:Name>Посылка</ns3:Name></ns3:MailType><ns3:Mass>1250</ns3:Mass>' +
    '</ns3:ItemParameters>' +
    '<ns3:OperationParameters>' +
    `<ns3:OperType><ns3:Id>${o.type}</ns3:Id><ns3:Name>${xmlText(typeName)}</ns3:Name></ns3:OperType>` +
    (o.attr !== undefined
      ? `<ns3:OperAttr><ns3:Id>${o.attr}</ns3:Id>${o.attrName !== undefined ? `<ns3:Name>${xmlText(o.attrName)}</ns3:Name>` : ''}</ns3:OperAttr>`
      : '') +
    `<ns3:OperDate>${moscowOperDate(op.time)}</ns3:OperDate>` +
    '</ns3:OperationParameters>' +
    '</ns3:historyRecord>'
  );
}

const RESPONSE_NAMESPACES =
  'xmlns:ns2="http://russianpost.org/sms-info/data" xmlns:ns3="http://russianpost.org/operationhistory/data" ' +
  'xmlns:ns4="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns5="http://www.russianpost.org/custom-duty-info/data" ' +
  'xmlns:ns6="http://www.russianpost.org/RTM/DataExchangeESPP/Data" xmlns:ns7="http://russianpost.org/operationhistory"';

const SOAP_HEADERS = { 'content-type': 'application/soap+xml;charset=utf-8' };

function historyReply(code: string, ops: readonly StoredOperation[]): Reply {
  return {
    status: 200,
    headers: SOAP_HEADERS,
    body:
      `<?xml version='1.0' encoding='UTF-8'?><S:Envelope xmlns:S="${SOAP12}"><S:Body>` +
      `<ns7:getOperationHistoryResponse ${RESPONSE_NAMESPACES}><ns3:OperationHistoryData>` +
      ops.map((op) => historyRecordXml(code, op)).join('') +
      '</ns3:OperationHistoryData></ns7:getOperationHistoryResponse></S:Body></S:Envelope>',
  };
}

type FaultDetail = 'AuthorizationFaultReason' | 'OperationHistoryFaultReason' | 'LanguageFaultReason';

/** A SOAP 1.2 fault as the service (JAX-WS) sends it: HTTP 500, Code/Reason, the reason again in Detail. */
function faultReply(code: 'S:Sender' | 'S:Receiver' | 'S:VersionMismatch', reason: string, detail?: FaultDetail): Reply {
  return {
    status: 500,
    headers: SOAP_HEADERS,
    body:
      `<?xml version='1.0' encoding='UTF-8'?><S:Envelope xmlns:S="${SOAP12}"><S:Body><S:Fault xmlns:ns4="http://schemas.xmlsoap.org/soap/envelope/">` +
      `<S:Code><S:Value>${code}</S:Value></S:Code><S:Reason><S:Text xml:lang="ru">${xmlText(reason)}</S:Text></S:Reason>` +
      (detail ? `<S:Detail><ns3:${detail} xmlns:ns3="${DATA}">${xmlText(reason)}</ns3:${detail}></S:Detail>` : '') +
      '</S:Fault></S:Body></S:Envelope>',
  };
}

// A namespace-aware view of fast-xml-parser's output (prefixes kept, xmlns attributes resolved).
const requestReader = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', removeNSPrefix: false, parseTagValue: false, parseAttributeValue: false, processEntities: false, jPath: false });

/** XML's predefined entities and character references, decoded (texts only; the parser is told not to). */
function decodeEntities(text: string): string {
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, ref: string) => {
    if (ref[0] !== '#') return named[ref] ?? whole;
    const point = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    return point > 0 && point <= 0x10ffff ? String.fromCodePoint(point) : whole;
  });
}

interface Element {
  node: unknown;
  scope: ReadonlyMap<string, string>;
}

function scopeOf(node: unknown, parent: ReadonlyMap<string, string>): ReadonlyMap<string, string> {
  if (typeof node !== 'object' || node === null) return parent;
  let scope: Map<string, string> | undefined;
  for (const [key, value] of Object.entries(node)) {
    if (key === '@_xmlns' || key.startsWith('@_xmlns:')) {
      scope ??= new Map(parent);
      scope.set(key === '@_xmlns' ? '' : key.slice('@_xmlns:'.length), String(value));
    }
  }
  return scope ?? parent;
}

/** Children of `parent` named `local` in namespace `ns`. */
function children(parent: Element, ns: string, local: string): Element[] {
  const out: Element[] = [];
  if (typeof parent.node !== 'object' || parent.node === null) return out;
  for (const [key, value] of Object.entries(parent.node)) {
    if (key.startsWith('@_') || key === '#text') continue;
    const colon = key.indexOf(':');
    const prefix = colon >= 0 ? key.slice(0, colon) : '';
    const name = colon >= 0 ? key.slice(colon + 1) : key;
    if (name !== local) continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      const scope = scopeOf(item, parent.scope);
      if (scope.get(prefix) === ns) out.push({ node: item, scope });
    }
  }
  return out;
}

function textOf(element: Element | undefined): string | undefined {
  if (!element) return undefined;
  const node = element.node;
  if (typeof node === 'string') return decodeEntities(node);
  if (typeof node === 'object' && node !== null && '#text' in node) return decodeEntities(String((node as Record<string, unknown>)['#text']));
  return typeof node === 'object' && node !== null ? '' : undefined;
}

export interface RussianPostServerOptions extends ServerTiming {
  login: string;
  password: string;
}

export type RussianPostServer = CarrierServer<RussianPostOperation, RussianPostFailMode>;

/** A loopback Russian Post getOperationHistory endpoint (POST to `url`). */
export async function startRussianPostServer(options: RussianPostServerOptions): Promise<RussianPostServer> {
  const histories = new Map<string, StoredOperation[]>();

  const answer = (req: http.IncomingMessage, body: string): Reply => {
    if (req.method !== 'POST') return { status: 405, headers: { 'content-type': 'text/plain' }, body: 'Method not allowed' };
    if (!/^application\/soap\+xml/i.test(req.headers['content-type'] ?? '')) {
      return { status: 415, headers: { 'content-type': 'text/plain' }, body: 'Unsupported Content-Type: SOAP 1.2 expects application/soap+xml' };
    }
    if (XMLValidator.validate(body) !== true) return faultReply('S:Sender', 'Could not parse the request');
    const root: Element = { node: requestReader.parse(body), scope: new Map() };
    const envelope = children(root, SOAP12, 'Envelope')[0];
    if (!envelope) return faultReply('S:VersionMismatch', 'Couldn\'t create SOAP message: expected a SOAP 1.2 Envelope');
    const call = children(children(envelope, SOAP12, 'Body')[0] ?? { node: undefined, scope: new Map() }, OPER, 'getOperationHistory')[0];
    if (!call) return faultReply('S:Sender', 'Cannot find dispatch method for the request');
    const auth = children(call, DATA, 'AuthorizationHeader')[0];
    const login = auth && textOf(children(auth, DATA, 'login')[0]);
    const password = auth && textOf(children(auth, DATA, 'password')[0]);
    if (login === undefined || password === undefined) return faultReply('S:Receiver', 'Ошибка авторизации: не заданы логин и пароль', 'AuthorizationFaultReason');
    if (login !== options.login || password !== options.password) return faultReply('S:Receiver', 'Ошибка авторизации: неверный логин или пароль', 'AuthorizationFaultReason');
    const request = children(call, DATA, 'OperationHistoryRequest')[0];
    const barcode = request && textOf(children(request, DATA, 'Barcode')[0])?.trim();
    const messageType = request && textOf(children(request, DATA, 'MessageType')[0])?.trim();
    const language = request && textOf(children(request, DATA, 'Language')[0])?.trim();
    if (language !== undefined && language !== 'RUS' && language !== 'ENG') return faultReply('S:Receiver', `Язык ${language} не поддерживается`, 'LanguageFaultReason');
    if (barcode === undefined || !/^(\d{14}|[A-Z]{2}\d{9}[A-Z]{2})$/.test(barcode) || (messageType !== '0' && messageType !== '1')) {
      return faultReply('S:Receiver', 'Формат данных запроса не соответствует установленному в регламенте обмена', 'OperationHistoryFaultReason');
    }
    return historyReply(barcode, messageType === '0' ? histories.get(barcode) ?? [] : []);
  };

  const failReply = (mode: RussianPostFailMode): Reply | 'hang' => {
    switch (mode) {
      case 'http500':
        return { status: 500, headers: { 'content-type': 'text/html' }, body: '<html><head><title>500 Internal Server Error</title></head><body><center><h1>500 Internal Server Error</h1></center><hr><center>nginx</center></body></html>' };
      case 'garbage':
        return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: '<html><body><h1>Технические работы</h1><p>Сервис отслеживания временно недоступен<br></body></html>' };
      case 'timeout':
        return 'hang';
      case 'ratelimit':
        return { status: 429, headers: { 'content-type': 'text/plain', 'retry-after': '7' }, body: 'Too Many Requests' };
      case 'soap-fault':
        return faultReply('S:Receiver', 'Внутренняя ошибка сервиса отслеживания');
    }
  };

  const loop = await startLoop<RussianPostFailMode>(options, failReply, answer);
  return carrierServer(loop, `${loop.url}/rtm34`, (code, events) => {
    const ops = events.map((e): StoredOperation => {
      const operation = typeof e.status === 'string' ? RUSSIAN_POST_REPRESENTATIVE[e.status] : e.status;
      return e.place !== undefined ? { operation, time: e.time, place: e.place } : { operation, time: e.time };
    });
    // The service lists operations in the order they happened.
    histories.set(code, ops.sort((a, b) => a.time - b.time));
  });
}

// ---------------------------------------------------------------------------------------------------
// DHL
// ---------------------------------------------------------------------------------------------------

/** The raw DHL event sent for a normalised status (DHL Paket wording). */
export const DHL_REPRESENTATIVE: Readonly<Record<NormalisedStatus, Required<DhlRawStatus>>> = {
  accepted: { statusCode: 'pre-transit', status: 'Picked up', description: 'The shipment has been picked up by DHL' },
  'in-transit': { statusCode: 'transit', status: 'In transit', description: 'The shipment has been processed in the parcel center' },
  'arrived-at-pickup': { statusCode: 'transit', status: 'Ready for pick-up', description: 'The shipment is ready for pick-up at the PACKSTATION' },
  delivered: { statusCode: 'delivered', status: 'Delivered', description: 'The shipment has been successfully delivered' },
  returned: { statusCode: 'delivered', status: 'Returned', description: 'The shipment has been returned to the sender' },
  'storage-expired': { statusCode: 'failure', status: 'Not collected', description: 'The shipment was not picked up within the storage period and will be returned to the sender' },
  unknown: { statusCode: 'unknown', status: 'Unknown', description: 'No further information is available' },
};

interface StoredDhlEvent {
  raw: DhlRawStatus;
  time: number;
  place?: string;
}

/** "2024-05-02T12:15:00+02:00": the time as DHL writes it, with a Central European Summer Time offset. */
export function dhlTimestamp(time: number): string {
  return new Date(time + 2 * 3600_000).toISOString().replace(/\.\d{3}Z$/, '+02:00');
}

function dhlEventJson(e: StoredDhlEvent): Record<string, unknown> {
  const out: Record<string, unknown> = { timestamp: dhlTimestamp(e.time), statusCode: e.raw.statusCode, status: e.raw.status ?? e.raw.description, description: e.raw.description };
  if (e.place !== undefined) {
    const m = /^(?:(\S*\d\S*)\s+)?([^,]+?)(?:,\s*([A-Z]{2}))?$/.exec(e.place.trim());
    const address: Record<string, string> = {};
    if (m) {
      if (m[3]) address.countryCode = m[3];
      if (m[1]) address.postalCode = m[1];
      address.addressLocality = m[2]!;
    } else {
      address.addressLocality = e.place;
    }
    out.location = { address };
  }
  return out;
}

function problem(status: number, title: string, detail: string, extra: Record<string, string> = {}): Reply {
  return { status, headers: { 'content-type': 'application/problem+json', ...extra }, body: JSON.stringify({ title, status, detail }) };
}

export interface DhlServerOptions extends ServerTiming {
  apiKey: string;
}

export type DhlServer = CarrierServer<DhlRawStatus, CarrierFailMode>;

/** A loopback DHL Shipment Tracking – Unified API (base URL; the adapter adds /track/shipments). */
export async function startDhlServer(options: DhlServerOptions): Promise<DhlServer> {
  const histories = new Map<string, StoredDhlEvent[]>();

  const answer = (req: http.IncomingMessage): Reply => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method !== 'GET' || url.pathname !== '/track/shipments') return { status: 404, headers: { 'content-type': 'text/plain' }, body: 'Not Found' };
    if (req.headers['dhl-api-key'] !== options.apiKey) return problem(401, 'Unauthorized', 'Unauthorized for given resource.');
    const code = url.searchParams.get('trackingNumber')?.trim();
    if (!code) return problem(400, 'Bad Request', 'Parameter trackingNumber is required.');
    const events = histories.get(code);
    if (!events) return problem(404, 'No result found', 'No shipment with given tracking number found.');
    const newestFirst = [...events].sort((a, b) => b.time - a.time);
    const shipment: Record<string, unknown> = { id: code, service: 'parcel-de', events: newestFirst.map(dhlEventJson) };
    if (newestFirst[0]) shipment.status = dhlEventJson(newestFirst[0]);
    return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ shipments: [shipment] }) };
  };

  const failReply = (mode: CarrierFailMode): Reply | 'hang' => {
    switch (mode) {
      case 'http500':
        return problem(500, 'Internal Server Error', 'An unexpected error occurred.');
      case 'garbage':
        return { status: 200, headers: { 'content-type': 'text/html' }, body: '<!DOCTYPE html><html><head><title>Maintenance</title></head><body>DHL API is down for maintenance</body></html>' };
      case 'timeout':
        return 'hang';
      case 'ratelimit':
        return problem(429, 'Too Many Requests', 'Too many requests within defined time period.', { 'retry-after': '7' });
    }
  };

  const loop = await startLoop<CarrierFailMode>(options, failReply, answer);
  return carrierServer(loop, loop.url, (code, events) => {
    histories.set(code, events.map((e): StoredDhlEvent => {
      const raw = typeof e.status === 'string' ? DHL_REPRESENTATIVE[e.status] : e.status;
      return e.place !== undefined ? { raw, time: e.time, place: e.place } : { raw, time: e.time };
    }));
  });
}
