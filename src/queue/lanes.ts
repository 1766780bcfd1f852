// Lanes (pure): which messages share a concurrency limit. Per smarthost, or per recipient domain
// for direct MX delivery; each lane has at most its upstream's maxConnections in delivery.
import type { Upstream } from '../config/types.js';
import type { MessageRecord } from '../store/records.js';

export interface Lane {
  key: string;
  limit: number;
}

export function laneFor(record: MessageRecord, upstream: Upstream): Lane {
  if (upstream.type === 'smtp') return { key: `up:${upstream.name}`, limit: upstream.maxConnections };
  const rcpt = record.recipients.find((r) => r.status === 'queued' || r.status === 'deferred')?.address ?? '';
  return { key: `mx:${upstream.name}:${rcpt.slice(rcpt.lastIndexOf('@') + 1).toLowerCase()}`, limit: upstream.maxConnections };
}
