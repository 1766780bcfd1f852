// How much a shop, and each of its logins, may send: messages per minute, hour and day (sliding
// windows of fixed-size buckets, so memory does not grow with the rate), recipients per message,
// and recipients per calendar month (UTC) counted from the delivery statistics, which every node
// writes — the month's quota holds across restarts and nodes. The rate windows are per node: with
// several nodes behind one name, each allows the configured rate. Refusals come with SMTP codes:
// 452 4.7.1 over a rate (the app retries later), 550 5.7.1 over the month's quota, 452 4.5.3 for
// too many recipients in one message. Checked by the submission listener (a submit-time check).
import type { SendLimits } from '../config/types.js';
import type { StatsStore } from '../store/ports.js';

export interface Refusal {
  code: number;
  text: string;
}

/** Counts over a sliding window as `slots` buckets of `window / slots` ms each. */
export class WindowCounter {
  private readonly counts: number[];
  private readonly starts: number[];
  private readonly size: number;

  constructor(readonly window: number, slots: number) {
    this.size = window / slots;
    this.counts = new Array<number>(slots).fill(0);
    this.starts = new Array<number>(slots).fill(-Infinity);
  }

  add(now: number, n = 1): void {
    const start = Math.floor(now / this.size) * this.size;
    const i = Math.floor(now / this.size) % this.counts.length;
    if (this.starts[i] !== start) {
      this.starts[i] = start;
      this.counts[i] = 0;
    }
    this.counts[i]! += n;
  }

  sum(now: number): number {
    let total = 0;
    for (let i = 0; i < this.counts.length; i++) if (this.starts[i]! > now - this.window) total += this.counts[i]!;
    return total;
  }
}

const RATES = [
  ['messagesPerMinute', 60_000, 60, 'minute'],
  ['messagesPerHour', 3_600_000, 60, 'hour'],
  ['messagesPerDay', 86_400_000, 24, 'day'],
] as const;

/** The UTC start of the month `now` is in. */
export const monthStart = (now: number) => { const d = new Date(now); return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1); };

export class SendLimiter {
  private readonly windows = new Map<string, WindowCounter[]>();
  /** Recipients a tenant sent this month: the statistics' count when last read, plus what this node accepted since. */
  private readonly months = new Map<string, { month: number; used: number; readAt: number }>();

  constructor(private readonly stats: StatsStore | undefined, private readonly now: () => number = Date.now) {}

  private counters(key: string): WindowCounter[] {
    let w = this.windows.get(key);
    if (!w) this.windows.set(key, (w = RATES.map(([, window, slots]) => new WindowCounter(window, slots))));
    return w;
  }

  /** Reads the month's count from the statistics once a minute (in the background; the check never waits). */
  private month(tenant: string): number {
    const now = this.now();
    const m = monthStart(now);
    let entry = this.months.get(tenant);
    if (!entry || entry.month !== m) this.months.set(tenant, (entry = { month: m, used: 0, readAt: 0 }));
    if (this.stats && now - entry.readAt > 60_000) {
      entry.readAt = now;
      const asked = entry;
      void this.stats.hourly({ tenant, from: m, to: now + 1 }).then((rows) => {
        asked.used = Math.max(asked.used, rows.reduce((n, r) => n + r.counts.accepted, 0));
      }, () => undefined);
    }
    return entry.used;
  }

  /** Before a new message (its first recipient): refused when a rate or the month's quota is used up. */
  admit(tenant: string, tenantLimits: SendLimits | undefined, login?: { user: string; limits?: SendLimits | undefined }): Refusal | undefined {
    const now = this.now();
    for (const [who, limits, key] of [[`shop ${tenant}`, tenantLimits, `t:${tenant}`], [`login ${login?.user}`, login?.limits, `u:${tenant}:${login?.user}`]] as const) {
      if (!limits) continue;
      const counters = this.counters(key);
      for (const [i, [field, , , unit]] of RATES.entries()) {
        const max = limits[field];
        if (max !== undefined && counters[i]!.sum(now) >= max) {
          return { code: 452, text: `4.7.1 Sending limit reached for ${who}: at most ${max} messages per ${unit}; try again later` };
        }
      }
    }
    const quota = tenantLimits?.recipientsPerMonth;
    if (quota !== undefined && this.month(tenant) >= quota) {
      return { code: 550, text: `5.7.1 Monthly quota of shop ${tenant} used up: ${quota} recipients per month; ask the relay's operator to raise it` };
    }
    return undefined;
  }

  /** Before recipient number `count + 1` of a message. */
  admitRecipient(count: number, tenantLimits: SendLimits | undefined, loginLimits: SendLimits | undefined): Refusal | undefined {
    const max = Math.min(tenantLimits?.recipientsPerMessage ?? Infinity, loginLimits?.recipientsPerMessage ?? Infinity);
    return count >= max ? { code: 452, text: `4.5.3 Too many recipients: this shop may send to at most ${max} per message` } : undefined;
  }

  /** A message was accepted (250): it counts against the rates and the month. */
  sent(tenant: string, tenantLimits: SendLimits | undefined, login: { user: string; limits?: SendLimits | undefined } | undefined, recipients: number): void {
    const now = this.now();
    if (tenantLimits) for (const c of this.counters(`t:${tenant}`)) c.add(now);
    if (login?.limits) for (const c of this.counters(`u:${tenant}:${login.user}`)) c.add(now);
    if (tenantLimits?.recipientsPerMonth !== undefined) {
      this.month(tenant);
      this.months.get(tenant)!.used += recipients;
    }
  }
}
