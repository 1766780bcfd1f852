// DHL tracking adapter: Shipment Tracking – Unified API (GET {url}/track/shipments?trackingNumber=…,
// header DHL-API-Key), one tracking number per request. Owns reading the JSON answer and the problem+json
// errors, the statusCode + description → NormalisedStatus rules, and turning failures into CarrierError.
// Format: developer.dhl.com/api-reference/shipment-tracking.
import { CarrierError, type CarrierAdapter, type CarrierEvent, type NormalisedStatus, type TrackResult } from '../types.js';
import { checkCommonOptions, exchange, snippet, trackDistinct, unreadableAnswer, type HttpAnswer } from './transport.js';
import { retryAfterMs } from '../http-text.js';
export interface DhlOptions {
  /** Base address without /track/shipments; DHL_URL in production. */
  url: string;
  apiKey: string;
  /** Per request, body included; default 10 000. */
  timeoutMs?: number;
  /** Requests in flight at once inside one track() call; default 4. */
  concurrency?: number;
  fetch?: typeof fetch;
}

export const DHL_URL = 'https://api-eu.dhl.com';

const CARRIER = 'DHL';


export const DHL_STATUS_CODES = ['pre-transit', 'transit', 'delivered', 'failure', 'unknown'] as const;
export type DhlStatusCode = (typeof DHL_STATUS_CODES)[number];

/** A status or event of the Unified API, the parts mailgate uses. */
export interface DhlEvent {
  timestamp: string;
  statusCode: DhlStatusCode;
  status?: string;
  description?: string;
  location?: { address?: { addressLocality?: string; countryCode?: string; postalCode?: string } };
}

export interface DhlShipment {
  id: string;
  service?: string;
  status?: DhlEvent;
  events: DhlEvent[];
}

// ---------------------------------------------------------------------------------------------------
// statusCode + wording → NormalisedStatus
// ---------------------------------------------------------------------------------------------------

/** Not collected in time (checked first: such events also say the parcel goes back). Conditionals ("if not picked up") do not count. */
const STORAGE_EXPIRED = /(storage|retention|holding) (period|time)( has)? (expired|elapsed|ended|been exceeded)|\b(was|were) not (collected|picked up)|\b(has|had) not been (collected|picked up)|\buncollected\b|lagerfrist (ist )?abgelaufen|nicht abgeholt/i;
/** On its way back, or back: "will be returned … if" is a warning, not a return. */
const RETURNED = /(?<!\bbe )\breturn(ed|ing)? to (the )?(sender|shipper|origin)|\bbeing returned\b|\bdelivered back to\b|rücksendung an|zurück an (den )?absender|\bretoure\b/i;
const AT_PICKUP = /\b(ready|available) for (pick[- ]?up|collection)|\bawaiting collection\b|zur abholung bereit|abholbereit|\b(delivered|brought|taken) to (the )?(packstation|parcel ?shop|parcel locker|locker|retail outlet|post office|postfiliale|service ?point|pick[- ]?up (point|location))/i;
/** First-scan wording: the parcel is in DHL's hands (not just announced electronically). */
const TAKEN_OVER = /\bpicked up\b(?! by the recipient)(?! from (the )?(packstation|parcel ?shop|parcel locker|locker|retail outlet|post office|postfiliale|service ?point))|\bdropped off\b|\bposted\b|\bhanded (over )?to dhl\b|(?<!\bnot )\baccepted\b|eingeliefert|übernommen/i;

/**
 * The normalised status of one DHL event. Wording decides first (DHL puts returns and pick-up readiness
 * under 'transit' or 'failure'); then the statusCode: pre-transit is 'accepted' only once DHL has the
 * parcel (an electronic announcement is 'unknown'), transit is 'in-transit' except for the first scan.
 */
export function dhlStatus(statusCode: string, text: string): NormalisedStatus {
  if (STORAGE_EXPIRED.test(text)) return 'storage-expired';
  if (RETURNED.test(text)) return 'returned';
  if (AT_PICKUP.test(text)) return 'arrived-at-pickup';
  switch (statusCode) {
    case 'delivered': return 'delivered';
    case 'pre-transit': return TAKEN_OVER.test(text) ? 'accepted' : 'unknown';
    case 'transit': return TAKEN_OVER.test(text) ? 'accepted' : 'in-transit';
    default: return 'unknown';
  }
}

// ---------------------------------------------------------------------------------------------------
// Answer
// ---------------------------------------------------------------------------------------------------

/** Thrown by the pure readers when a 200 answer is not the Unified API's shape. */
export class UnreadableDhlAnswer extends Error {}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim() === '' ? undefined : value.trim();
  if (typeof value === 'number') return String(value);
  return undefined;
}

function readEvent(value: unknown, where: string): DhlEvent {
  if (!isObject(value)) throw new UnreadableDhlAnswer(`${where} is not an object`);
  const timestamp = optionalString(value.timestamp);
  if (timestamp === undefined || Number.isNaN(dhlTime(timestamp))) throw new UnreadableDhlAnswer(`${where} has no readable timestamp`);
  const code = optionalString(value.statusCode);
  const statusCode: DhlStatusCode = (DHL_STATUS_CODES as readonly string[]).includes(code ?? '') ? (code as DhlStatusCode) : 'unknown';
  const event: DhlEvent = { timestamp, statusCode };
  const status = optionalString(value.status);
  const description = optionalString(value.description);
  if (status !== undefined) event.status = status;
  if (description !== undefined) event.description = description;
  const address = isObject(value.location) && isObject(value.location.address) ? value.location.address : undefined;
  if (address) {
    const a: NonNullable<NonNullable<DhlEvent['location']>['address']> = {};
    const locality = optionalString(address.addressLocality);
    const countryCode = optionalString(address.countryCode);
    const postalCode = optionalString(address.postalCode);
    if (locality !== undefined) a.addressLocality = locality;
    if (countryCode !== undefined) a.countryCode = countryCode;
    if (postalCode !== undefined) a.postalCode = postalCode;
    event.location = { address: a };
  }
  return event;
}

/** Reads a 200 answer's shipments. Throws UnreadableDhlAnswer when it is not JSON of that shape. */
export function readDhlShipments(body: string): DhlShipment[] {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new UnreadableDhlAnswer('not JSON');
  }
  if (!isObject(json) || !Array.isArray(json.shipments)) throw new UnreadableDhlAnswer('no shipments list');
  return json.shipments.map((s: unknown, i: number) => {
    if (!isObject(s)) throw new UnreadableDhlAnswer(`shipment ${i + 1} is not an object`);
    const shipment: DhlShipment = { id: optionalString(s.id) ?? '', events: [] };
    const service = optionalString(s.service);
    if (service !== undefined) shipment.service = service;
    if (s.status !== undefined && s.status !== null) shipment.status = readEvent(s.status, `shipment ${i + 1} status`);
    if (s.events !== undefined && s.events !== null) {
      if (!Array.isArray(s.events)) throw new UnreadableDhlAnswer(`shipment ${i + 1} events is not a list`);
      shipment.events = s.events.map((e: unknown, j: number) => readEvent(e, `shipment ${i + 1} event ${j + 1}`));
    }
    return shipment;
  });
}

/** A problem+json body's detail (or title), when the body is one. */
export function problemDetail(body: string): string | undefined {
  try {
    const json: unknown = JSON.parse(body);
    if (!isObject(json)) return undefined;
    return optionalString(json.detail) ?? optionalString(json.title);
  } catch {
    return undefined;
  }
}

/** Timestamp → epoch ms. DHL sometimes omits the offset (local time at the event); such a time is read as UTC. */
export function dhlTime(timestamp: string): number {
  const text = timestamp.trim();
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) return Number.NaN;
  if (!text.includes('T')) return Date.parse(`${text}T00:00:00Z`);
  return Date.parse(/(Z|[+-]\d{2}:?\d{2})$/.test(text) ? text : `${text}Z`);
}

/** "53113 Bonn, DE": postal code and locality, then the country. */
export function dhlPlace(event: DhlEvent): string | undefined {
  const a = event.location?.address;
  if (!a) return undefined;
  const local = [a.postalCode, a.addressLocality].filter((p): p is string => p !== undefined).join(' ');
  const parts = [local, a.countryCode].filter((p): p is string => p !== undefined && p !== '');
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/** One DHL event as a CarrierEvent: "transit: The shipment has been processed in the parcel center". */
export function dhlEvent(event: DhlEvent): CarrierEvent {
  const words = event.description ?? event.status ?? '';
  const status = dhlStatus(event.statusCode, [event.status, event.description].filter(Boolean).join(' — '));
  const out: CarrierEvent = { carrierStatus: words ? `${event.statusCode}: ${words}` : event.statusCode, status, time: dhlTime(event.timestamp) };
  const place = dhlPlace(event);
  if (place !== undefined) {
    out.place = place;
    if (status === 'arrived-at-pickup') out.pickupPoint = place;
  }
  return out;
}

/** The shipment for `code` (DHL may list several services for one number): the one with that id, else the first. */
export function pickShipment(code: string, shipments: readonly DhlShipment[]): DhlShipment | undefined {
  const wanted = code.trim().toUpperCase();
  return shipments.find((s) => s.id.toUpperCase() === wanted) ?? shipments[0];
}

/** A shipment's history oldest first; a shipment without events contributes its current status. */
export function dhlEvents(shipment: DhlShipment): CarrierEvent[] {
  const source = shipment.events.length > 0 ? shipment.events : shipment.status ? [shipment.status] : [];
  return source.map(dhlEvent).sort((a, b) => a.time - b.time);
}

/**
 * What one HTTP answer means for one tracking number: a result, or a CarrierError for the whole call.
 * Per-code errors do not name the carrier (the worker prefixes them); CarrierError messages do.
 */
export function interpretDhlAnswer(code: string, answer: HttpAnswer, secrets: readonly string[]): TrackResult {
  const { status, body } = answer;
  if (status === 200) {
    let shipments: DhlShipment[];
    try {
      shipments = readDhlShipments(body);
    } catch (err) {
      if (err instanceof UnreadableDhlAnswer) throw unreadableAnswer(CARRIER, body, secrets);
      throw err;
    }
    const shipment = pickShipment(code, shipments);
    if (!shipment) return { code, error: 'no shipment for this code' };
    return { code, events: dhlEvents(shipment) };
  }
  const detail = problemDetail(body);
  const because = detail !== undefined ? `: ${snippet(detail, secrets, 200)}` : '';
  if (status === 401 || status === 403) throw new CarrierError(`${CARRIER} API key refused (HTTP ${status}${because})`, false);
  if (status === 429) {
    const wait = retryAfterMs(answer.headers.get('retry-after'));
    throw new CarrierError(`${CARRIER} is limiting requests (HTTP 429)${wait !== undefined ? `, retry after ${Math.ceil(wait / 1000)} s` : ''}`, true, wait);
  }
  // The request carries nothing but the number: a problem+json 404/400 is about the code.
  if ((status === 404 || status === 400) && detail !== undefined) return { code, error: `unknown code (${snippet(detail, secrets, 200)})` };
  if (status >= 500) throw new CarrierError(`${CARRIER} answered HTTP ${status}`, true);
  if (status >= 200 && status < 300) throw unreadableAnswer(CARRIER, body, secrets);
  throw new CarrierError(`${CARRIER} answered HTTP ${status}${because}`, false);
}

/** The DHL adapter: one GET per tracking number, up to `concurrency` at once. */
export function createDhlAdapter(options: DhlOptions): CarrierAdapter {
  checkCommonOptions(CARRIER, options);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const concurrency = options.concurrency ?? 4;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const secrets = [options.apiKey];
  const base = options.url.replace(/\/+$/, '');

  const trackOne = async (code: string, signal: AbortSignal): Promise<TrackResult> => {
    const answer = await exchange(`${base}/track/shipments?trackingNumber=${encodeURIComponent(code.trim())}`, {
      method: 'GET',
      headers: { 'DHL-API-Key': options.apiKey, accept: 'application/json' },
    }, { carrier: CARRIER, timeoutMs, fetch: fetchImpl, secrets, signal });
    return interpretDhlAnswer(code, answer, secrets);
  };

  return {
    name: 'dhl',
    maxBatch: 1,
    track: (codes, signal) => trackDistinct(codes, concurrency, trackOne, signal),
  };
}
