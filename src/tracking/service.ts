// Parcel tracking as the relay runs it: the shipment store with tracking's records, the carrier
// adapters and phone gateways from the config, the worker (polls, notices, reports), the intake
// for the API, what keeps a tenant's tracking from working, saving a tenant's settings (a moved window re-plans waiting notices), and the hook
// that copies a tenant's mail of chosen categories to its admins.
import type { TrackingConfig } from '../config/types.js';
import type { Store } from '../store/ports.js';
import { ShipmentStore } from '../store/shipments.js';
import { createCarrierRegistry } from './carriers/index.js';
import { createPhoneGateway } from './gateways/index.js';
import { ShipmentIntake } from './intake.js';
import { replanNotices, windowMoved } from './replan.js';
import { trackingProblems, trackingSetupWarnings, type TrackingProblem } from './problems.js';
import { DEFAULT_SETTINGS, type TrackingSettings } from './settings.js';
import type { Shipments } from './shipments.js';
import { CARRIERS, type PhoneGateway } from './types.js';
import { TrackingWorker, type TrackingWorkerDeps } from './worker.js';

/** What the worker needs from the relay, and the store to keep shipments in. */
export interface TrackingServiceDeps extends Pick<TrackingWorkerDeps, 'submit' | 'queuedByMessageId' | 'recordEvents' | 'hostname' | 'log' | 'now'> {
  store: Store;
  /** The tenant directory: a shop's name, and the From its tracking notices go out with. */
  tenants: {
    tenant(id: string): { name: string } | undefined;
    senderFor(id: string, source: { kind: 'tracking' }): { from?: { address: string; name?: string } };
  };
  /** The From of notices for a shop without its own sender. */
  systemSender: { address: string; name?: string };
}

export interface TrackingService {
  shipments: Shipments;
  worker: TrackingWorker;
  intake: ShipmentIntake;
  gateways: ReadonlyMap<string, PhoneGateway>;
  /** Seed 003: the admin addresses that get a copy of the tenant's mail of this category. */
  adminCopies(tenant: string, category: string): Promise<string[]>;
  /** What keeps the tenant's tracking from working (a banner on the console's tracking page). */
  problems(tenant: string): Promise<TrackingProblem[]>;
  /** Every tenant's problems as lines for the start-up log. */
  setupWarnings(): Promise<string[]>;
  /** Saves a tenant's settings; a moved sending window re-plans the notices waiting for the old one. */
  saveSettings(tenant: string, settings: TrackingSettings): Promise<{ noticesReplanned: number }>;
}

export function createTrackingService(config: TrackingConfig, deps: TrackingServiceDeps): TrackingService {
  const shipments: Shipments = new ShipmentStore(deps.store, CARRIERS);
  const gateways = new Map(config.phoneGateways.map((g) => [g.name, createPhoneGateway(g)]));
  const carriers = createCarrierRegistry(config.carriers);
  const configured = new Set(Object.keys(carriers));
  const worker = new TrackingWorker({
    shipments,
    carriers,
    gateways,
    options: config,
    tenant: (id) => {
      const t = deps.tenants.tenant(id);
      return t ? { name: t.name, from: deps.tenants.senderFor(id, { kind: 'tracking' }).from ?? deps.systemSender } : undefined;
    },
    submit: deps.submit,
    queuedByMessageId: deps.queuedByMessageId,
    recordEvents: deps.recordEvents,
    hostname: deps.hostname,
    log: deps.log.child({ component: 'tracking' }),
    ...(deps.now ? { now: deps.now } : {}),
  });
  return {
    shipments,
    worker,
    intake: new ShipmentIntake(shipments, { firstCheckDelayMs: config.firstCheckDelayMs, ...(deps.now ? { now: deps.now } : {}) }),
    gateways,
    async adminCopies(tenant, category) {
      const s = await shipments.settings(tenant);
      return s?.copyCategories.includes(category) ? s.adminAddresses : [];
    },
    async problems(tenant) {
      return trackingProblems(shipments, tenant, (await shipments.settings(tenant)) ?? DEFAULT_SETTINGS, configured);
    },
    setupWarnings: () => trackingSetupWarnings(shipments, configured),
    async saveSettings(tenant, settings) {
      const before = (await shipments.settings(tenant)) ?? DEFAULT_SETTINGS;
      await shipments.saveSettings(tenant, settings);
      if (!windowMoved(before, settings)) return { noticesReplanned: 0 };
      return { noticesReplanned: await replanNotices(shipments, tenant, settings, (deps.now ?? Date.now)()) };
    },
  };
}
