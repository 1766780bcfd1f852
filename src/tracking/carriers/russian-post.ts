// Russian Post tracking adapter: the "Единичный доступ" SOAP 1.2 API (getOperationHistory at
// https://tracking.russianpost.ru/rtm34), one barcode per call. Owns the request envelope, reading the
// answer (history or SOAP fault), the operation type/attribute → NormalisedStatus table, and turning
// HTTP/SOAP failures into CarrierError.
//
// Element names and codes: the service's specification (tracking.pochta.ru/specification, "Единичный
// доступ") and its dictionary of operation codes (tracking.pochta.ru/support/dictionaries/operation_codes).
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { CarrierError, type CarrierAdapter, type CarrierEvent, type NormalisedStatus, type TrackResult } from '../types.js';
import { checkCommonOptions, exchange, snippet, trackDistinct, unreadableAnswer, type HttpAnswer } from './transport.js';
import { retryAfterMs } from '../http-text.js';
export interface RussianPostOptions {
  /** The service address; RUSSIAN_POST_URL in production. */
  url: string;
  login: string;
  password: string;
  /** Per request, body included; default 10 000. */
  timeoutMs?: number;
  /** Requests in flight at once inside one track() call; default 4. */
  concurrency?: number;
  fetch?: typeof fetch;
}

export const RUSSIAN_POST_URL = 'https://tracking.russianpost.ru/rtm34';
export const SOAP12_ENVELOPE_NS = 'http://www.w3.org/2003/05/soap-envelope';
export const OPERATION_HISTORY_NS = 'http://russianpost.org/operationhistory';
export const OPERATION_HISTORY_DATA_NS = 'http://russianpost.org/operationhistory/data';

const CARRIER = 'Russian Post';


// ---------------------------------------------------------------------------------------------------
// Operation codes → NormalisedStatus
// ---------------------------------------------------------------------------------------------------

/** How one operation type (OperType/Id) maps: a default, and overrides per attribute (OperAttr/Id). */
export interface OperationRule {
  /** The dictionary's name of the operation type (for reading; the answer carries its own names). */
  name: string;
  status: NormalisedStatus;
  attributes?: Readonly<Record<number, NormalisedStatus>>;
}

/**
 * Operation types of the tracking dictionary. Anything not listed is 'unknown' (no status change).
 * 'unknown' is also used on purpose for events that happen while the parcel waits at the pick-up point
 * (notices sent, storage extended, a failed courier attempt) so they neither end nor restart its stay.
 */
export const RUSSIAN_POST_OPERATIONS: Readonly<Record<number, OperationRule>> = {
  1: { name: 'Приём', status: 'accepted' },
  2: {
    name: 'Вручение', status: 'delivered',
    // 2 вручение отправителю, 4 выдано отправителю через почтомат, 7 отправителю почтальоном, 9 отправителю курьером
    attributes: { 2: 'returned', 4: 'returned', 7: 'returned', 9: 'returned' },
  },
  // 1 истек срок хранения; every other reason (заявление отправителя, отказ адресата, …) is a plain return
  3: { name: 'Возврат', status: 'returned', attributes: { 1: 'storage-expired' } },
  // 5 передача на временное хранение, 6 передача в невостребованные
  4: { name: 'Досылка почты', status: 'in-transit', attributes: { 5: 'storage-expired', 6: 'storage-expired' } },
  // 1 утрачено, 2 изъято, 8 решение таможни: nothing to tell the buyer; 3 засылка: it travels on
  5: { name: 'Невручение', status: 'unknown', attributes: { 3: 'in-transit' } },
  // 1 до востребования, 2 на абонементный ящик, 3 установленный срок хранения, 4/5 продление срока хранения
  6: { name: 'Хранение', status: 'arrived-at-pickup' },
  // 1 нероздано, 2 невостребовано; 3 запрещено к пересылке, 4 ожидает экспертизы
  7: { name: 'Временное хранение', status: 'storage-expired', attributes: { 3: 'unknown', 4: 'unknown' } },
  8: {
    name: 'Обработка', status: 'in-transit',
    attributes: {
      2: 'arrived-at-pickup', // Прибыло в место вручения
      9: 'arrived-at-pickup', // Прибыло в почтомат
      14: 'arrived-at-pickup', // Прибыло в Центр выдачи посылок
      39: 'arrived-at-pickup', // Сдано в ПВЗ
      40: 'storage-expired', // Истек срок хранения
      // While it waits at the pick-up point: no change
      10: 'unknown', // Истекает срок хранения в почтомате
      12: 'unknown', // Изъято из почтомата
      19: 'unknown', // Передача в кладовую хранения
      21: 'unknown', // Уточнение адреса
      22: 'unknown', // Ожидает курьерской доставки
      23: 'unknown', // Продление срока хранения
      24: 'unknown', // Направлено извещение
      25: 'unknown', // Доставлено извещение
      26: 'unknown', // Зарегистрировано с новым номером
      27: 'unknown', 28: 'unknown', 33: 'unknown', 35: 'unknown', 42: 'unknown', 43: 'unknown', // Истекает срок хранения (осталось N дней)
      29: 'unknown', // Находится на техническом исследовании
      34: 'unknown', // До ввод данных
      36: 'unknown', // Зарегистрировано заявление на возврат
      37: 'unknown', 38: 'unknown', // Зарегистрировано заявление на продление срока хранения
      41: 'unknown', // Возврат скомплектован
      45: 'unknown', 46: 'unknown', // Резерв
      47: 'unknown', // Приостановлена обработка
      48: 'unknown', // Присвоено место адресного хранения
    },
  },
  9: { name: 'Импорт международной почты', status: 'in-transit' },
  10: { name: 'Экспорт международной почты', status: 'in-transit' },
  11: { name: 'Прием на таможню', status: 'in-transit' },
  12: { name: 'Неудачная попытка вручения', status: 'unknown' },
  13: { name: 'Регистрация отправки', status: 'in-transit' },
  14: { name: 'Таможенное оформление', status: 'in-transit' },
  15: { name: 'Передача на временное хранение', status: 'storage-expired' },
  19: { name: 'Таможенные платежи поступили', status: 'in-transit' },
  20: { name: 'Регистрация', status: 'accepted' },
  21: { name: 'Доставка', status: 'delivered' },
  23: { name: 'Поступление на временное хранение', status: 'storage-expired' },
  24: { name: 'Продление срока выпуска таможней', status: 'in-transit' },
  29: { name: 'Регистрация прохождения в ММПО', status: 'in-transit' },
  30: { name: 'Отправка SRM', status: 'in-transit' },
  31: { name: 'Обработка перевозчиком', status: 'in-transit' },
  32: { name: 'Поступление АПО', status: 'in-transit' },
  33: { name: 'Международная обработка', status: 'in-transit' },
  39: { name: 'Таможенное декларирование', status: 'in-transit' },
  40: { name: 'Таможенный контроль', status: 'in-transit' },
  41: { name: 'Обработка таможенных платежей', status: 'in-transit' },
  42: { name: 'Вторая неудачная попытка вручения', status: 'unknown' },
  48: { name: 'Частичное вручение', status: 'delivered' },
};

/** The status of one operation, from its type and attribute codes alone (names depend on Language). */
export function russianPostStatus(operType: number, operAttr?: number): NormalisedStatus {
  const rule = RUSSIAN_POST_OPERATIONS[operType];
  if (!rule) return 'unknown';
  if (operAttr !== undefined) {
    const byAttribute = rule.attributes?.[operAttr];
    if (byAttribute !== undefined) return byAttribute;
  }
  return rule.status;
}

// ---------------------------------------------------------------------------------------------------
// Request
// ---------------------------------------------------------------------------------------------------

/** Escapes text for an XML element. */
export function xmlText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** The SOAP 1.2 envelope of getOperationHistory for one barcode, with the AuthorizationHeader in the body as specified. */
export function operationHistoryRequest(barcode: string, login: string, password: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<soap:Envelope xmlns:soap="${SOAP12_ENVELOPE_NS}" xmlns:oper="${OPERATION_HISTORY_NS}" xmlns:data="${OPERATION_HISTORY_DATA_NS}" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">` +
    '<soap:Header/>' +
    '<soap:Body>' +
    '<oper:getOperationHistory>' +
    '<data:OperationHistoryRequest>' +
    `<data:Barcode>${xmlText(barcode)}</data:Barcode>` +
    '<data:MessageType>0</data:MessageType>' +
    '<data:Language>RUS</data:Language>' +
    '</data:OperationHistoryRequest>' +
    '<data:AuthorizationHeader soapenv:mustUnderstand="1">' +
    `<data:login>${xmlText(login)}</data:login>` +
    `<data:password>${xmlText(password)}</data:password>` +
    '</data:AuthorizationHeader>' +
    '</oper:getOperationHistory>' +
    '</soap:Body>' +
    '</soap:Envelope>'
  );
}

// ---------------------------------------------------------------------------------------------------
// Answer
// ---------------------------------------------------------------------------------------------------

/** One historyRecord, the parts mailgate uses. */
export interface OperationRecord {
  operType: number;
  operTypeName?: string;
  operAttr?: number;
  operAttrName?: string;
  /** OperDate as sent, e.g. 2015-07-09T18:08:00.000+03:00 */
  operDate: string;
  index?: string;
  description?: string;
}

/** Which fault the service raised (the element in S:Detail), 'server' for any other SOAP fault. */
export type RussianPostFaultKind = 'operation-history' | 'authorization' | 'language' | 'server';

/** A readable answer: the operation history (possibly empty), or a SOAP fault. */
export type OperationHistoryAnswer =
  | { kind: 'history'; records: OperationRecord[] }
  | { kind: 'fault'; fault: RussianPostFaultKind; reason: string };

// Entities are decoded by xmlEntities() on the few texts read (the parser's own decoding leaves character
// references undecoded unless its deprecated htmlEntities option is on, and costs a third of the parse).
const xmlReader = new XMLParser({
  removeNSPrefix: true,
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  processEntities: false,
  jPath: false,
  isArray: (tagName) => tagName === 'historyRecord',
});

const PREDEFINED_ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes XML's predefined entities and character references (&#1052; &#x41C;); anything else is left as written. */
export function xmlEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, ref: string) => {
    if (ref[0] === '#') {
      const point = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return point > 0 && point <= 0x10ffff ? String.fromCodePoint(point) : whole;
    }
    return PREDEFINED_ENTITIES[ref] ?? whole;
  });
}

type XmlNode = Record<string, unknown>;

function child(node: unknown, name: string): unknown {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined;
  return (node as XmlNode)[name];
}

/** The text of an element: a string, or #text when it also had (ignored) structure; the first of repeats. */
function textOf(node: unknown): string | undefined {
  if (Array.isArray(node)) return textOf(node[0]);
  if (typeof node === 'string') {
    const text = xmlEntities(node).trim();
    return text === '' ? undefined : text;
  }
  if (typeof node === 'number') return String(node);
  const inner = child(node, '#text');
  return inner === undefined ? undefined : textOf(inner);
}

function intOf(node: unknown): number | undefined {
  const text = textOf(node);
  return text !== undefined && /^-?\d+$/.test(text) ? Number(text) : undefined;
}

/** Thrown by the pure readers when an answer is not what the service sends; the adapter reports it as unreadable. */
export class UnreadableAnswer extends Error {}

/** Reads a getOperationHistory answer (history or fault). Throws UnreadableAnswer for anything else. */
export function readOperationHistoryAnswer(xml: string): OperationHistoryAnswer {
  if (XMLValidator.validate(xml) !== true) throw new UnreadableAnswer('not XML');
  const doc: unknown = xmlReader.parse(xml);
  const body = child(child(doc, 'Envelope'), 'Body');
  if (body === undefined) throw new UnreadableAnswer('no SOAP envelope');

  const fault = child(body, 'Fault');
  if (fault !== undefined) return readFault(fault);

  const response = child(body, 'getOperationHistoryResponse');
  if (response === undefined) throw new UnreadableAnswer('neither getOperationHistoryResponse nor Fault');
  const data = child(response, 'OperationHistoryData');
  const records = child(data, 'historyRecord');
  if (records === undefined) return { kind: 'history', records: [] };
  if (!Array.isArray(records)) throw new UnreadableAnswer('historyRecord is not a list');
  return { kind: 'history', records: records.map(readRecord) };
}

function readRecord(record: unknown, i: number): OperationRecord {
  const operation = child(record, 'OperationParameters');
  const operType = intOf(child(child(operation, 'OperType'), 'Id'));
  const operDate = textOf(child(operation, 'OperDate'));
  if (operType === undefined) throw new UnreadableAnswer(`historyRecord ${i + 1} has no OperType/Id`);
  if (operDate === undefined || Number.isNaN(operationTime(operDate))) throw new UnreadableAnswer(`historyRecord ${i + 1} has no readable OperDate`);
  const address = child(child(record, 'AddressParameters'), 'OperationAddress');
  const out: OperationRecord = { operType, operDate };
  const operTypeName = textOf(child(child(operation, 'OperType'), 'Name'));
  const operAttr = intOf(child(child(operation, 'OperAttr'), 'Id'));
  const operAttrName = textOf(child(child(operation, 'OperAttr'), 'Name'));
  const index = textOf(child(address, 'Index'));
  const description = textOf(child(address, 'Description'));
  if (operTypeName !== undefined) out.operTypeName = operTypeName;
  if (operAttr !== undefined) out.operAttr = operAttr;
  if (operAttrName !== undefined) out.operAttrName = operAttrName;
  if (index !== undefined) out.index = index;
  if (description !== undefined) out.description = description;
  return out;
}

function readFault(fault: unknown): OperationHistoryAnswer {
  const detail = child(fault, 'Detail') ?? child(fault, 'detail');
  // SOAP 1.2 Reason/Text; SOAP 1.1 faultstring for robustness.
  const reason = textOf(child(child(fault, 'Reason'), 'Text')) ?? textOf(child(fault, 'faultstring'));
  const detailText = (...names: string[]) => {
    for (const name of names) {
      const node = child(detail, name);
      if (node !== undefined) return textOf(node) ?? reason ?? '';
    }
    return undefined;
  };
  const history = detailText('OperationHistoryFaultReason', 'OperationHistoryFault');
  if (history !== undefined) return { kind: 'fault', fault: 'operation-history', reason: history };
  const auth = detailText('AuthorizationFaultReason', 'AuthorizationFault');
  if (auth !== undefined) return { kind: 'fault', fault: 'authorization', reason: auth };
  const language = detailText('LanguageFaultReason', 'LanguageFault');
  if (language !== undefined) return { kind: 'fault', fault: 'language', reason: language };
  return { kind: 'fault', fault: 'server', reason: reason ?? 'no reason given' };
}

/** OperDate → epoch ms. The service sends an offset; a time without one is taken as Moscow time (+03:00). */
export function operationTime(operDate: string): number {
  const text = operDate.trim();
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(text)) return Number.NaN;
  return Date.parse(/(Z|[+-]\d{2}:?\d{2})$/.test(text) ? text : `${text}+03:00`);
}

/** "8/2 Обработка: Прибыло в место вручения", "1 Приём" when there is no attribute. */
export function russianPostCarrierStatus(record: OperationRecord): string {
  const codes = record.operAttr !== undefined ? `${record.operType}/${record.operAttr}` : `${record.operType}`;
  const typeName = record.operTypeName ?? RUSSIAN_POST_OPERATIONS[record.operType]?.name;
  const names = [typeName, record.operAttrName].filter((n): n is string => n !== undefined && n !== '');
  if (names.length === 0) return codes;
  return `${codes} ${names.join(': ')}`;
}

/** "101000 Москва": the operation's postal index and place, whichever are given. */
export function russianPostPlace(record: OperationRecord): string | undefined {
  const parts: string[] = [];
  if (record.index !== undefined) parts.push(record.index);
  if (record.description !== undefined && record.description !== record.index) parts.push(record.description);
  return parts.length > 0 ? parts.join(' ') : undefined;
}

/** One history record as a CarrierEvent (status from the codes alone). */
export function russianPostEvent(record: OperationRecord): CarrierEvent {
  const status = russianPostStatus(record.operType, record.operAttr);
  const event: CarrierEvent = { carrierStatus: russianPostCarrierStatus(record), status, time: operationTime(record.operDate) };
  const place = russianPostPlace(record);
  if (place !== undefined) {
    event.place = place;
    if (status === 'arrived-at-pickup') event.pickupPoint = place;
  }
  return event;
}

/**
 * The whole history as events, oldest first. Once the parcel is on its way back (returned, storage
 * expired), a later "arrived at the place of delivery" or "delivered" is the sender's: returned.
 */
export function russianPostEvents(records: readonly OperationRecord[]): CarrierEvent[] {
  const events = records.map(russianPostEvent).sort((a, b) => a.time - b.time);
  let goingBack = false;
  for (const event of events) {
    if (goingBack && (event.status === 'arrived-at-pickup' || event.status === 'delivered')) {
      event.status = 'returned';
      delete event.pickupPoint;
    }
    if (event.status === 'returned' || event.status === 'storage-expired') goingBack = true;
  }
  return events;
}

/** A rate-limit fault is the service's, not the barcode's: retry later instead of giving up on the code. */
const LIMIT_WORDING = /лимит|превышен|limit|exceeded|too many/i;

/**
 * What one HTTP answer means for one barcode: a result, or a CarrierError for the whole call. Per-code
 * errors do not name the carrier (the worker prefixes them); CarrierError messages do.
 */
export function interpretRussianPostAnswer(code: string, answer: HttpAnswer, secrets: readonly string[]): TrackResult {
  if (answer.status === 429) {
    const wait = retryAfterMs(answer.headers.get('retry-after'));
    throw new CarrierError(`${CARRIER} is limiting requests (HTTP 429)${wait !== undefined ? `, retry after ${Math.ceil(wait / 1000)} s` : ''}`, true, wait);
  }
  let read: OperationHistoryAnswer | undefined;
  try {
    read = readOperationHistoryAnswer(answer.body);
  } catch (err) {
    if (!(err instanceof UnreadableAnswer)) throw err;
  }
  if (read === undefined) {
    if (answer.status >= 500) throw new CarrierError(`${CARRIER} answered HTTP ${answer.status}`, true);
    if (answer.status === 401 || answer.status === 403) throw new CarrierError(`${CARRIER} refused the login/password (HTTP ${answer.status})`, false);
    if (answer.status >= 400) throw new CarrierError(`${CARRIER} answered HTTP ${answer.status} (${snippet(answer.body, secrets)})`, false);
    throw unreadableAnswer(CARRIER, answer.body, secrets);
  }
  if (read.kind === 'history') {
    if (answer.status >= 300) throw new CarrierError(`${CARRIER} answered HTTP ${answer.status}`, answer.status >= 500);
    if (read.records.length === 0) return { code, error: 'no operations registered for this code (yet)' };
    return { code, events: russianPostEvents(read.records) };
  }
  const reason = snippet(read.reason, secrets, 200);
  switch (read.fault) {
    case 'authorization':
      throw new CarrierError(`${CARRIER} refused the login/password: ${reason}`, false);
    case 'language':
      throw new CarrierError(`${CARRIER} refused the request: ${reason}`, false);
    case 'operation-history':
      if (LIMIT_WORDING.test(read.reason)) throw new CarrierError(`${CARRIER} is limiting requests: ${reason}`, true);
      return { code, error: `the code was refused: ${reason}` };
    case 'server':
      throw new CarrierError(`${CARRIER} reported a fault: ${reason}`, true);
  }
}

/** The Russian Post adapter: one SOAP call per code, up to `concurrency` at once. */
export function createRussianPostAdapter(options: RussianPostOptions): CarrierAdapter {
  checkCommonOptions(CARRIER, options);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const concurrency = options.concurrency ?? 4;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  // The login is not secret (and may be a common word); the password never appears in a message.
  const secrets = [options.password];

  const trackOne = async (code: string, signal: AbortSignal): Promise<TrackResult> => {
    const answer = await exchange(options.url, {
      method: 'POST',
      headers: { 'content-type': 'application/soap+xml; charset=utf-8', accept: 'application/soap+xml, text/xml' },
      body: operationHistoryRequest(code.trim(), options.login, options.password),
    }, { carrier: CARRIER, timeoutMs, fetch: fetchImpl, secrets, signal });
    return interpretRussianPostAnswer(code, answer, secrets);
  };

  return {
    name: 'russian-post',
    maxBatch: 1,
    track: (codes, signal) => trackDistinct(codes, concurrency, trackOne, signal),
  };
}
