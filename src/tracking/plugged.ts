// What tracking plugs into the config loader: the schema of each carrier's account and of each phone
// gateway type. The commands that load the config hand this over; config/ imports nothing of tracking.
import type { PluggedSchemas } from '../config/plugged.js';
import { CARRIER_CONFIG } from './carriers/index.js';
import { GATEWAY_CONFIG } from './gateways/index.js';

export const TRACKING_SCHEMAS: PluggedSchemas = { carriers: CARRIER_CONFIG, phoneGateways: GATEWAY_CONFIG };
