// Admin API: delivery statistics for charts — accepted, delivered, deferred, bounced (hard, soft),
// complained, suppressed, failed — over time (hour or day buckets, the browser's zone is the
// console's business) or per recipient domain / upstream with rates. A shop admin sees its own
// shop; an admin token without ?tenant= sees every shop together.
import { timeMs } from './api-schemas.js';
import type { FastifyInstance } from 'fastify';
import type { StatsStore } from '../store/ports.js';
import { addCounts, DAY_MS, HOUR_MS, zeroCounts, type StatCounts } from '../store/stats.js';
import { ApiError } from './errors.js';
import { principalOf, tenantIdSchema } from './principal.js';

export interface StatsRouteDeps {
  stats: StatsStore;
}

/** Longest range one request may ask for: a year of hours is 8,760 rows. */
const MAX_RANGE_MS = 366 * DAY_MS;

/** Hourly rows into `bucket`-sized ones from `from` to `to`, every bucket present (zeros where no mail went). */
export function bucketed(rows: Array<{ time: number; counts: StatCounts }>, from: number, to: number, size: number): Array<{ time: number } & StatCounts> {
  const start = Math.floor(from / size) * size;
  const out: Array<{ time: number } & StatCounts> = [];
  for (let t = start; t < to; t += size) out.push({ time: t, ...zeroCounts() });
  for (const r of rows) {
    const i = Math.floor((r.time - start) / size);
    if (i >= 0 && i < out.length) addCounts(out[i]!, r.counts);
  }
  return out;
}

/** Bounce and complaint rates of delivered-or-bounced mail, as fractions (0 when nothing was sent). */
export function rates(c: StatCounts): { bounceRate: number; complaintRate: number } {
  const sent = c.delivered + c.failed;
  const round = (x: number) => Math.round(x * 10_000) / 10_000;
  return { bounceRate: sent > 0 ? round((c.bouncedHard + c.bouncedSoft + c.failed) / sent) : 0, complaintRate: c.delivered > 0 ? round(c.complained / c.delivered) : 0 };
}

export function registerStatsRoutes(api: FastifyInstance, deps: StatsRouteDeps): void {
  api.get('/stats', {
    config: { scope: 'tenant' },
    schema: {
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          tenant: tenantIdSchema,
          from: timeMs({ description: 'start (ms); default 24 hours before `to`' }),
          to: timeMs({ description: 'end, exclusive (ms); default now' }),
          bucket: { type: 'string', enum: ['hour', 'day'], default: 'hour' },
          by: { type: 'string', enum: ['domain', 'upstream'] },
          limit: { type: 'integer', minimum: 1, maximum: 500, default: 50, description: 'with `by`: how many domains or upstreams' },
        },
      },
    },
  }, async (req) => {
    const q = req.query as { tenant?: string; from?: number; to?: number; bucket: 'hour' | 'day'; by?: 'domain' | 'upstream'; limit: number };
    const p = principalOf(req);
    const tenant = p.role === 'tenant' ? p.tenant : q.tenant;
    const to = q.to ?? Date.now();
    const from = q.from ?? to - DAY_MS;
    if (from >= to) throw new ApiError('INVALID', '`from` must be before `to`');
    if (to - from > MAX_RANGE_MS) throw new ApiError('INVALID', 'the range may be at most 366 days');
    const range = { ...(tenant !== undefined ? { tenant } : {}), from, to };
    if (q.by) {
      const rows = (await deps.stats.breakdown({ ...range, by: q.by }))
        .sort((a, b) => b.counts.accepted + b.counts.delivered - (a.counts.accepted + a.counts.delivered) || a.key.localeCompare(b.key))
        .slice(0, q.limit)
        .map((r) => ({ key: r.key, ...r.counts, ...rates(r.counts) }));
      return { tenant: tenant ?? null, from, to, bucket: 'day', by: q.by, rows };
    }
    const series = bucketed(await deps.stats.hourly(range), from, to, q.bucket === 'day' ? DAY_MS : HOUR_MS);
    const totals = series.reduce((sum, b) => addCounts(sum, b), zeroCounts());
    return { tenant: tenant ?? null, from, to, bucket: q.bucket, totals: { ...totals, ...rates(totals) }, series };
  });
}
