// Tracking set up so that it cannot work, made visible: a shop with tracking switched on and active
// codes of a carrier this mailgate has no account for. The console's tracking page shows these as a
// banner, `mailgate check-config` and the start-up log as warnings; the poller writes one error-log
// entry per failed cycle.
import { carrierLabel, missingCarrierReason } from './carriers/index.js';
import { DEFAULT_SETTINGS, type TrackingSettings } from './settings.js';
import type { Shipments } from './shipments.js';
import { CARRIERS, type CarrierName } from './types.js';

export interface TrackingProblem {
  code: 'TRACKING_CARRIER_MISSING';
  carrier: CarrierName;
  /** Active codes of this carrier that are not checked (counted up to COUNT_LIMIT). */
  waiting: number;
  message: string;
}

/** Codes are counted up to here ("1000+"): the point is that there are some. */
export const COUNT_LIMIT = 1000;

/** The sentence for `waiting` codes of `carrier` that no one checks. Pure. */
export function missingCarrierMessage(carrier: CarrierName, waiting: number): string {
  const n = waiting >= COUNT_LIMIT ? `${COUNT_LIMIT}+` : String(waiting);
  return `${missingCarrierReason(carrier)}; ${n} ${carrierLabel(carrier)} tracking code${waiting === 1 ? ' is' : 's are'} not checked until then`;
}

async function activeCount(store: Shipments, tenant: string, carrier: CarrierName): Promise<number> {
  let n = 0;
  let cursor: string | undefined;
  do {
    const page = await store.list(tenant, { carrier, limit: 500, ...(cursor ? { cursor } : {}) });
    n += page.shipments.filter((s) => s.active).length;
    cursor = page.cursor;
  } while (cursor && n < COUNT_LIMIT);
  return n;
}

/** The tenant's tracking problems (none while tracking is switched off). */
export async function trackingProblems(store: Shipments, tenant: string, settings: TrackingSettings, configured: ReadonlySet<string>): Promise<TrackingProblem[]> {
  if (!settings.enabled) return [];
  const out: TrackingProblem[] = [];
  for (const carrier of CARRIERS.filter((c) => !configured.has(c))) {
    const waiting = await activeCount(store, tenant, carrier);
    if (waiting > 0) out.push({ code: 'TRACKING_CARRIER_MISSING', carrier, waiting, message: missingCarrierMessage(carrier, waiting) });
  }
  return out;
}

/** Every tenant's tracking problems as "tenant <id>: <message>" lines (check-config, start-up log). */
export async function trackingSetupWarnings(shipments: Shipments, configured: ReadonlySet<string>): Promise<string[]> {
  const out: string[] = [];
  for (const tenant of await shipments.tenantsWithSettings()) {
    const settings = (await shipments.settings(tenant)) ?? DEFAULT_SETTINGS;
    for (const p of await trackingProblems(shipments, tenant, settings, configured)) out.push(`tenant ${tenant}: ${p.message}`);
  }
  return out;
}
