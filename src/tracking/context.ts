// What the poller, the notice sender and the report sender share: the worker's dependencies, its
// clock and randomness, its counters and the tenant's tracking settings.
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { QueueEvent } from '../store/records.js';
import type { TrackingSettings } from './settings.js';
import type { Shipments } from './shipments.js';
import type { CarrierAdapter, CarrierName, PhoneGateway } from './types.js';

export interface TrackingOptions {
  checksPerDay: number;
  maxAgeMs: number;
  firstCheckDelayMs: number;
  /** Codes per carrier call. */
  batchSize: number;
}

export interface TrackingWorkerDeps {
  shipments: Shipments;
  carriers: Partial<Record<CarrierName, CarrierAdapter>>;
  gateways: ReadonlyMap<string, PhoneGateway>;
  options: TrackingOptions;
  /** The tenant's display name and default sender; undefined when the tenant no longer exists. */
  tenant: (id: string) => { name: string; from: { address: string; name?: string } } | undefined;
  /** Queues an e-mail of the tenant (submit()); resolves with the queue id once it is on disk. */
  submit: (tenant: string, envelope: { from: string; to: string[] }, body: Readable) => Promise<{ id: string }>;
  /** The queue id of an already queued message with this Message-ID. */
  queuedByMessageId: (messageId: string) => Promise<string | undefined>;
  /** Writes error-log events. */
  recordEvents: (events: QueueEvent[]) => Promise<void>;
  hostname: string;
  log: Logger;
  now?: () => number;
  random?: () => number;
}



export interface TrackingStats {
  checks: number;
  carrierFailures: number;
  noticesSent: number;
  noticesFailed: number;
  reports: number;
}

export interface TrackingContext {
  deps: TrackingWorkerDeps;
  now(): number;
  random(): number;
  stats: TrackingStats;
  settings(tenant: string): Promise<TrackingSettings>;
}
