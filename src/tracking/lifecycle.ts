// What one successful carrier check means for a shipment (pure): which events are new, the current
// status, which notices become due (each status at most once; derived "not picked up" reminders; no
// late "accepted"), whether polling stops, and whether the buyer goes on the blacklist.
import { FINAL_STATUSES, type CarrierEvent, type CarrierName, type NoticeStatus, type NormalisedStatus, type ShipmentInput } from './types.js';

export const DAY = 24 * 60 * 60 * 1000;

export interface SeenEvent extends CarrierEvent {
  /** When mailgate first saw this event (differs from the carrier's time: seed 004). */
  seenAt: number;
}

export interface NoticeRecord {
  state: 'scheduled' | 'sending' | 'sent' | 'failed' | 'skipped';
  /** When the state was set. */
  at: number;
  /** For scheduled: when it goes out (inside the sending window). */
  sendAt?: number;
  /** Why it was skipped or failed, or the gateway's id / queue id when sent. */
  detail?: string;
  attempts?: number;
  /** For a scheduled retry: not before this time (its back-off), whatever the window. */
  notBefore?: number;
}

export interface Shipment extends ShipmentInput {
  tenant: string;
  carrier: CarrierName;
  phoneE164?: string;
  /** Why this buyer gets no SMS or call (invalid or landline number). */
  phoneProblem?: string;
  language?: string;
  createdAt: number;
  updatedAt: number;
  status: NormalisedStatus;
  /** Carrier time of the current status. */
  statusTime?: number;
  /** When mailgate first saw the current status. */
  statusSeenAt?: number;
  pickupPoint?: string;
  /** Carrier time of the acceptance, and of the arrival at the pick-up point (reminders count from it). */
  acceptedAt?: number;
  arrivedAt?: number;
  events: SeenEvent[];
  /** Notice statuses reached so far: each notifies at most once. */
  reached: NoticeStatus[];
  checks: number;
  lastCheckAt?: number;
  nextCheckAt?: number;
  /** The last carrier problem, readable. */
  lastError?: string;
  /** Failed checks in a row. */
  failures: number;
  active: boolean;
  stoppedReason?: string;
  /** "<status>:<channel>" → what happened to that notice. */
  notices: Record<string, NoticeRecord>;
}

export interface LifecycleRules {
  acceptedNoticeMaxDelayDays: number;
  notPickedUpDays: readonly [number, number];
  /** Polling stops this long after the shipment came in. */
  maxAgeMs: number;
}

export interface CheckOutcome {
  shipment: Shipment;
  /** Notices to plan now. */
  due: NoticeStatus[];
  /** Reached but not notified, with the reason. */
  skipped: Array<{ status: NoticeStatus; reason: string }>;
  /** The parcel went back: buyer's phone and e-mail go on the tenant's blacklist. */
  blacklist: boolean;
}

const NOTICE_OF: Partial<Record<NormalisedStatus, NoticeStatus>> = {
  accepted: 'accepted', 'arrived-at-pickup': 'arrived-at-pickup', delivered: 'delivered', returned: 'returned', 'storage-expired': 'storage-expired',
};

const eventKey = (e: CarrierEvent) => `${e.time}|${e.carrierStatus}`;

/** Applies a carrier's history (oldest first) to a shipment at `now`. */
export function applyCheck(before: Shipment, history: CarrierEvent[], now: number, rules: LifecycleRules): CheckOutcome {
  const known = new Set(before.events.map(eventKey));
  const fresh = history.filter((e) => !known.has(eventKey(e))).map((e) => ({ ...e, seenAt: now }));
  const events = [...before.events, ...fresh].sort((a, b) => a.time - b.time).slice(-100);
  const s: Shipment = { ...before, events, reached: [...before.reached], checks: before.checks + 1, lastCheckAt: now, failures: 0, updatedAt: now };
  delete s.lastError;

  const latest = [...events].reverse().find((e) => e.status !== 'unknown');
  if (latest && (latest.status !== before.status || latest.time !== before.statusTime)) {
    if (latest.status !== before.status) s.statusSeenAt = now;
    s.status = latest.status;
    s.statusTime = latest.time;
  }
  const accepted = events.find((e) => e.status === 'accepted');
  if (accepted) s.acceptedAt = accepted.time;
  if (s.status === 'arrived-at-pickup' && latest) {
    // Reminders count from the first arrival in the current stay at the pick-up point ("unknown"
    // events in between, such as a failed call to the buyer, do not end the stay).
    let arrival = latest;
    for (let i = events.length - 1; i >= 0 && (events[i]!.status === 'arrived-at-pickup' || events[i]!.status === 'unknown'); i--) {
      if (events[i]!.status === 'arrived-at-pickup') arrival = events[i]!;
    }
    s.arrivedAt = arrival.time;
    s.pickupPoint = latest.pickupPoint ?? latest.place ?? arrival.pickupPoint ?? arrival.place ?? s.pickupPoint;
  }

  // Candidates in the order they happened: statuses of new events, then reminders that are now due.
  const candidates: NoticeStatus[] = [];
  for (const e of fresh.sort((a, b) => a.time - b.time)) {
    const n = NOTICE_OF[e.status];
    if (n && !candidates.includes(n)) candidates.push(n);
  }
  if (s.status === 'arrived-at-pickup' && s.arrivedAt !== undefined) {
    if (now >= s.arrivedAt + rules.notPickedUpDays[0] * DAY) candidates.push('not-picked-up-1');
    if (now >= s.arrivedAt + rules.notPickedUpDays[1] * DAY) candidates.push('not-picked-up-2');
  }
  const open = candidates.filter((c) => !s.reached.includes(c));
  s.reached.push(...open);

  const skipped: CheckOutcome['skipped'] = [];
  const due: NoticeStatus[] = [];
  // Several statuses first seen in one check: only the newest is worth telling the buyer (seed 004:
  // a code imported late must not produce a burst of stale notices).
  open.forEach((status, i) => {
    if (i < open.length - 1) skipped.push({ status, reason: `superseded by ${open[open.length - 1]} seen in the same check` });
    else due.push(status);
  });
  if (due[0] === 'accepted' && s.acceptedAt !== undefined && before.createdAt - s.acceptedAt > rules.acceptedNoticeMaxDelayDays * DAY) {
    skipped.push({ status: 'accepted', reason: `the code came in ${Math.floor((before.createdAt - s.acceptedAt) / DAY)} days after the carrier accepted the parcel (limit ${rules.acceptedNoticeMaxDelayDays})` });
    due.pop();
  }

  if (FINAL_STATUSES.has(s.status)) {
    s.active = false;
    s.stoppedReason = `final status ${s.status}`;
  } else if (now - s.createdAt >= rules.maxAgeMs) {
    s.active = false;
    s.stoppedReason = `no final status after ${Math.round(rules.maxAgeMs / DAY)} days`;
  }
  const blacklist = open.includes('returned') || open.includes('storage-expired');
  return { shipment: s, due, skipped, blacklist };
}

/** A failed check (carrier down, garbage, rate limit): the shipment keeps its state and retries with backoff. */
export function applyFailure(before: Shipment, reason: string, now: number): Shipment {
  return { ...before, lastError: reason, failures: before.failures + 1, lastCheckAt: now, updatedAt: now };
}

/** Backoff after failed checks in a row: 1, 5, 15, 60 minutes, then the normal interval. */
export function retryDelay(failures: number, interval: number, hintMs?: number): number {
  const steps = [60_000, 5 * 60_000, 15 * 60_000, 60 * 60_000];
  const base = Math.min(steps[Math.min(failures, steps.length) - 1] ?? interval, interval);
  return Math.max(base, hintMs ?? 0);
}

/** The next regular check: every 24h / checksPerDay, ±10 % so a whole import does not hit the carrier at once. */
export function nextCheck(now: number, checksPerDay: number, random: () => number = Math.random): number {
  const interval = DAY / checksPerDay;
  return Math.round(now + interval * (0.9 + 0.2 * random()));
}

/** A new shipment record from validated input. */
export function newShipment(tenant: string, input: ShipmentInput & { phoneE164?: string; phoneProblem?: string; language?: string }, now: number): Shipment {
  return {
    ...input, tenant, createdAt: now, updatedAt: now, status: 'unknown', events: [], reached: [], checks: 0, failures: 0, active: true, notices: {},
  };
}
