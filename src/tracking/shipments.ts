// Tracking's shipment store: the engine-neutral ShipmentStore holding tracking's own record types.
import type { BlacklistEntry as StoredBlacklistEntry, PendingNotice as StoredPendingNotice, ShipmentStore } from '../store/shipments.js';
import type { Shipment } from './lifecycle.js';
import type { Channel, TrackingSettings } from './settings.js';
import type { CarrierName, NoticeStatus } from './types.js';

export interface TrackingRecords {
  shipment: Shipment;
  settings: TrackingSettings;
  carrier: CarrierName;
  status: NoticeStatus;
  channel: Channel;
}

export type Shipments = ShipmentStore<TrackingRecords>;
export type PendingNotice = StoredPendingNotice<TrackingRecords>;
export type BlacklistEntry = StoredBlacklistEntry<TrackingRecords>;
