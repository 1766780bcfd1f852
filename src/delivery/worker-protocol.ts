// Messages between the main thread and the delivery thread.
import type { Upstream } from '../config/types.js';
import type { RecipientResult } from './types.js';

export interface WorkerSetup {
  hostname: string;
  dnsServers: string[];
  logLevel: string;
}

export type JobBody =
  | { kind: 'buffer'; data: Uint8Array }
  | { kind: 'file'; path: string; start: number; length: number };

export interface DeliveryJob {
  id: number;
  upstream: Upstream;
  envelope: { from: string; to: string[] };
  body: JobBody;
}

export type WorkerReply = { id: number; results: RecipientResult[] } | { id: number; error: string };
