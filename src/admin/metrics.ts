// Prometheus metrics: per-tenant counters of what happened to mail (fed by the event log),
// a delivery latency histogram, and queue gauges read at scrape time.
import type { QueueEvent } from '../store/records.js';

const COUNTED: Record<string, string> = {
  accepted: 'mailgate_messages_accepted_total',
  delivered: 'mailgate_messages_delivered_total',
  deferred: 'mailgate_messages_deferred_total',
  failed: 'mailgate_messages_failed_total',
  expired: 'mailgate_messages_expired_total',
  bounced: 'mailgate_messages_bounced_total',
  complained: 'mailgate_complaints_total',
  'app-error': 'mailgate_app_errors_total',
};
const HELP: Record<string, string> = {
  mailgate_messages_accepted_total: 'Recipients accepted for delivery.',
  mailgate_messages_delivered_total: 'Recipients delivered (upstream answered 2xx).',
  mailgate_messages_deferred_total: 'Delivery attempts deferred (4xx or network), per recipient.',
  mailgate_messages_failed_total: 'Recipients failed (5xx, suppressed, invalid).',
  mailgate_messages_expired_total: 'Recipients that expired in the queue.',
  mailgate_messages_bounced_total: 'Bounces received after delivery.',
  mailgate_complaints_total: 'Complaints (ARF reports) received.',
  mailgate_app_errors_total: 'Application errors recorded by tenants\' apps (POST /api/v1/errors).',
};
/** Seconds. */
const BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400];

function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export class Metrics {
  private readonly counters = new Map<string, Map<string, number>>();
  private readonly buckets = new Array<number>(BUCKETS.length).fill(0);
  private latencySum = 0;
  private latencyCount = 0;

  /** Called for every event written to the event log. */
  observe(event: QueueEvent): void {
    const name = COUNTED[event.type];
    if (name) {
      const byTenant = this.counters.get(name) ?? new Map<string, number>();
      byTenant.set(event.tenant, (byTenant.get(event.tenant) ?? 0) + 1);
      this.counters.set(name, byTenant);
    }
    if (event.type === 'delivered' && event.latencyMs !== undefined) {
      const s = event.latencyMs / 1000;
      this.latencySum += s;
      this.latencyCount++;
      BUCKETS.forEach((b, i) => { if (s <= b) this.buckets[i]!++; });
    }
  }

  render(gauges: { queueDepth: number; nextDueSeconds: number | null }): string {
    const out: string[] = [];
    for (const name of Object.values(COUNTED)) {
      out.push(`# HELP ${name} ${HELP[name]}`, `# TYPE ${name} counter`);
      for (const [tenant, n] of this.counters.get(name) ?? []) out.push(`${name}{tenant="${label(tenant)}"} ${n}`);
    }
    out.push('# HELP mailgate_delivery_latency_seconds Time from acceptance to delivery.', '# TYPE mailgate_delivery_latency_seconds histogram');
    BUCKETS.forEach((b, i) => out.push(`mailgate_delivery_latency_seconds_bucket{le="${b}"} ${this.buckets[i]}`));
    out.push(`mailgate_delivery_latency_seconds_bucket{le="+Inf"} ${this.latencyCount}`, `mailgate_delivery_latency_seconds_sum ${this.latencySum}`, `mailgate_delivery_latency_seconds_count ${this.latencyCount}`);
    out.push('# HELP mailgate_queue_depth Messages waiting for delivery or retry.', '# TYPE mailgate_queue_depth gauge', `mailgate_queue_depth ${gauges.queueDepth}`);
    if (gauges.nextDueSeconds !== null) {
      out.push('# HELP mailgate_queue_oldest_due_age_seconds How long the earliest scheduled message has been due (0 if none is late).', '# TYPE mailgate_queue_oldest_due_age_seconds gauge', `mailgate_queue_oldest_due_age_seconds ${Math.max(0, gauges.nextDueSeconds)}`);
    }
    return `${out.join('\n')}\n`;
  }
}
