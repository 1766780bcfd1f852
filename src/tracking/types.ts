// Tracking: the shared vocabulary of shipments, carrier events, statuses and notice channels.
// Carrier adapters, SMS gateways, the importer, the store and the poller all speak these types.

/** What every carrier's own status is mapped to. "Sorting"/in-transit statuses trigger no notice (seed 004). */
export const NORMALISED_STATUSES = ['accepted', 'in-transit', 'arrived-at-pickup', 'delivered', 'returned', 'storage-expired', 'unknown'] as const;
export type NormalisedStatus = (typeof NORMALISED_STATUSES)[number];

/** Statuses mailgate derives itself: not picked up N days after arriving at the pick-up point (days per tenant). */
export const DERIVED_STATUSES = ['not-picked-up-1', 'not-picked-up-2'] as const;
export type DerivedStatus = (typeof DERIVED_STATUSES)[number];

/** Everything a notice rule can be attached to. */
export type NoticeStatus = Exclude<NormalisedStatus, 'in-transit' | 'unknown'> | DerivedStatus;
export const NOTICE_STATUSES: readonly NoticeStatus[] = ['accepted', 'arrived-at-pickup', 'delivered', 'returned', 'storage-expired', 'not-picked-up-1', 'not-picked-up-2'];

/** Statuses after which a parcel is no longer polled. */
export const FINAL_STATUSES: ReadonlySet<NormalisedStatus> = new Set(['delivered', 'returned', 'storage-expired']);

export const CARRIERS = ['russian-post', 'dhl'] as const;
export type CarrierName = (typeof CARRIERS)[number];

/** One event in a carrier's tracking history. */
export interface CarrierEvent {
  /** The carrier's own status, readable (e.g. "8/2 Прибыло в место вручения", "transit: Arrived at facility"). */
  carrierStatus: string;
  status: NormalisedStatus;
  /** The carrier's event time (epoch ms). May be earlier than when the event became visible (seed 004). */
  time: number;
  /** Where it happened, as the carrier says it (post office index + name, city). */
  place?: string;
  /** For arrived-at-pickup: the pick-up point (post office, parcel locker) to show the buyer. */
  pickupPoint?: string;
}

/** A carrier's answer for one tracking code: its history oldest first, or why there is none. */
export type TrackResult =
  | { code: string; events: CarrierEvent[] }
  | { code: string; error: string };

/** A failed call to a carrier: retried with backoff, never produces a notice. */
export class CarrierError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    /** From Retry-After or the carrier's own hint, when it gave one. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'CarrierError';
  }
}

export interface CarrierAdapter {
  readonly name: CarrierName;
  /** Codes per request to the carrier (1 for both APIs); track() itself takes any number and runs the requests with the adapter's own concurrency. */
  readonly maxBatch: number;
  /** Looks up codes; resolves with one result per code, rejects with CarrierError when the whole call failed. */
  track(codes: string[], signal?: AbortSignal): Promise<TrackResult[]>;
}

/** One text message or voice call to a buyer. `to` is E.164 (+79161234567). */
export interface PhoneMessage {
  to: string;
  /** Sender name / caller id: validated by validateSenderName (sms) */
  from: string;
  text: string;
  /** The same on every attempt of one notice, so a gateway that supports it can drop duplicates. */
  id?: string;
}

/** A failed SMS/call; `retryable` false for refusals (bad number, blocked sender), true for outages. */
export class GatewayError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
    /** The request may have reached the gateway (no answer in time, connection cut): repeating it could send twice. */
    readonly maybeSent = false,
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

export interface PhoneGateway {
  readonly name: string;
  /** Sends an SMS; resolves with the provider's message id. */
  sendSms(msg: PhoneMessage, signal?: AbortSignal): Promise<{ providerId: string }>;
  /** Places a robot voice call reading `text`; resolves with the provider's call id. */
  call(msg: PhoneMessage, signal?: AbortSignal): Promise<{ providerId: string }>;
}

/** A parcel as the shop hands it over (API or import). */
export interface ShipmentInput {
  code: string;
  carrier: CarrierName;
  name?: string;
  email?: string;
  /** As typed by the buyer; normalised separately. */
  phone?: string;
  orderReference?: string;
  /** Order sum as text, shown as given ("1 250,00 ₽"). */
  orderSum?: string;
}
