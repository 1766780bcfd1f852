// Checking shipments with their carrier: the due ones by range scan, batched per carrier with the
// adapter's bounded concurrency, backoff (or the carrier's Retry-After) on carrier trouble and never a
// notice from a failed check; a successful check updates the status, plans buyer notices into the
// sending window and blacklists returned parcels' buyers.
import type { StoreOp } from '../store/ports.js';
import { shipmentKey } from '../store/shipments.js';
import { carrierLabel, missingCarrierReason } from './carriers/index.js';
import type { TrackingContext } from './context.js';
import { applyCheck, applyFailure, DAY, nextCheck, retryDelay, type Shipment } from './lifecycle.js';
import { sendingWindowOf, type Channel, type TrackingSettings } from './settings.js';
import { CarrierError, type CarrierEvent, type CarrierName, type TrackResult } from './types.js';
import { nextWindowStart } from './window.js';
import { missingCarrierMessage } from './problems.js';

export class ShipmentPoller {
  /** A carrier that rate-limited us is left alone until then. */
  private readonly pausedUntil = new Map<CarrierName, number>();
  /** This cycle's codes of carriers with no account, per tenant and carrier (reported once per cycle). */
  private missing = new Map<string, { tenant: string; carrier: CarrierName; codes: number; sample: string }>();

  constructor(private readonly ctx: TrackingContext) {}

  private noteMissing(s: Shipment): void {
    const key = `${s.tenant}!${s.carrier}`;
    const m = this.missing.get(key);
    if (m) m.codes++;
    else this.missing.set(key, { tenant: s.tenant, carrier: s.carrier, codes: 1, sample: s.code });
  }

  /**
   * Ends a cycle: one error-log entry (and one log line) per tenant and carrier whose codes could not
   * be checked because the carrier has no account here — not one per code.
   */
  async reportMissingCarriers(): Promise<void> {
    const missing = [...this.missing.values()];
    this.missing = new Map();
    if (missing.length === 0) return;
    const now = this.ctx.now();
    for (const m of missing) this.ctx.deps.log.error({ tenant: m.tenant, carrier: m.carrier, codes: m.codes }, missingCarrierMessage(m.carrier, m.codes));
    await this.ctx.deps.recordEvents(missing.map((m) => ({
      time: now, type: 'tracking-failed', msgId: m.sample, tenant: m.tenant, recipient: '', code: 'TRACKING_CARRIER_MISSING',
      detail: `${missingCarrierMessage(m.carrier, m.codes)} (for example ${m.sample})`,
    })));
  }

  /** Checks the shipments that are due (at most 1,000); resolves with how many. */
  async pollDue(): Promise<number> {
    const now = this.ctx.now();
    const entries = await this.ctx.deps.shipments.dueEntries(now, 1000);
    if (entries.length === 0) return 0;
    const byCarrier = new Map<CarrierName, Array<{ key: string; at: number; entry: string }>>();
    for (const e of entries) {
      const carrier = e.key.split('!')[1] as CarrierName;
      const list = byCarrier.get(carrier);
      if (list) list.push(e);
      else byCarrier.set(carrier, [e]);
    }
    const settingsCache = new Map<string, Promise<TrackingSettings>>();
    const settingsOf = (t: string) => {
      let s = settingsCache.get(t);
      if (!s) settingsCache.set(t, (s = this.ctx.settings(t)));
      return s;
    };
    await Promise.all([...byCarrier].map(([carrier, es]) => this.pollCarrier(carrier, es, now, settingsOf)));
    return entries.length;
  }

  private async pollCarrier(carrier: CarrierName, entries: Array<{ key: string; at: number; entry: string }>, now: number, settingsOf: (t: string) => Promise<TrackingSettings>): Promise<void> {
    const store = this.ctx.deps.shipments;
    const interval = DAY / this.ctx.deps.options.checksPerDay;
    const adapter = this.ctx.deps.carriers[carrier];
    const paused = this.pausedUntil.get(carrier) ?? 0;
    // Every write re-reads the shipment under the store's lock, so an import or delete in between is never overwritten.
    const active = await store.exclusive(async () => {
      const found = await store.getMany(entries.map((e) => e.key));
      const ops: StoreOp[] = [];
      const toCheck: Shipment[] = [];
      for (const [i, s] of found.entries()) {
        // A schedule entry that is not the shipment's current one (or has no shipment) is dropped, so it cannot stay due forever.
        if (!s || !s.active || s.nextCheckAt === undefined || entries[i]!.at !== s.nextCheckAt) {
          ops.push(store.dropDueOp(entries[i]!.entry));
          continue;
        }
        const settings = await settingsOf(s.tenant);
        if (!settings.enabled || !this.ctx.deps.tenant(s.tenant)) {
          // Switched off: no checks, no notices; the schedule keeps turning so switching on resumes (until maxAge).
          ops.push(...this.stopIfTooOld(s, { ...s, nextCheckAt: now + interval }, now));
        } else if (!adapter || paused > now) {
          if (!adapter) this.noteMissing(s);
          const reason = adapter ? `${carrierLabel(carrier)} asked us to slow down; next check after ${new Date(paused).toISOString()}` : missingCarrierReason(carrier);
          ops.push(...this.stopIfTooOld(s, { ...applyFailure(s, reason, now), nextCheckAt: adapter ? paused : now + interval }, now));
        } else toCheck.push(s);
      }
      await store.write(ops);
      return toCheck;
    });
    if (!adapter) return;
    const size = Math.max(1, this.ctx.deps.options.batchSize);
    for (let i = 0; i < active.length; i += size) {
      const chunk = active.slice(i, i + size);
      let results: Map<string, TrackResult> | CarrierError;
      const pausedNow = this.pausedUntil.get(carrier) ?? 0;
      if (pausedNow > now) {
        // The carrier rate-limited an earlier batch of this cycle: the rest waits for its Retry-After too.
        results = new CarrierError(`${carrierLabel(carrier)} asked us to slow down; next check after ${new Date(pausedNow).toISOString()}`, true, pausedNow - now);
      } else try {
        results = new Map((await adapter.track(chunk.map((s) => s.code))).map((r) => [r.code, r]));
        this.ctx.stats.checks += chunk.length;
      } catch (err) {
        results = err instanceof CarrierError ? err : new CarrierError(`${carrierLabel(carrier)}: ${(err as Error).message}`, true);
        this.ctx.stats.carrierFailures++;
        if (results.retryAfterMs) this.pausedUntil.set(carrier, now + results.retryAfterMs);
        this.ctx.deps.log.warn({ carrier, codes: chunk.length, retryable: results.retryable, err: results.message }, 'carrier check failed; no notices, retrying later');
      }
      const outcome = results;
      await store.exclusive(async () => {
        const ops: StoreOp[] = [];
        for (const s of await store.getMany(chunk.map((c) => shipmentKey(c.tenant, c.carrier, c.code)))) {
          if (!s || !s.active) continue; // deleted (or stopped) while the carrier was asked
          if (outcome instanceof CarrierError) {
            const failed = applyFailure(s, outcome.message, now);
            ops.push(...store.ops(s, { ...failed, nextCheckAt: now + retryDelay(failed.failures, interval, outcome.retryAfterMs) }));
            continue;
          }
          const r = outcome.get(s.code);
          if (r && 'events' in r) ops.push(...(await this.checked(s, r.events, now, await settingsOf(s.tenant))));
          else {
            // Not (yet) known to the carrier: normal for a label printed today; checked again on schedule.
            const reason = `${carrierLabel(carrier)}: ${r && 'error' in r ? r.error : 'no answer for this code'}`;
            const next = { ...applyFailure(s, reason, now), failures: 0, checks: s.checks + 1, nextCheckAt: nextCheck(now, this.ctx.deps.options.checksPerDay, this.ctx.random) };
            ops.push(...this.stopIfTooOld(s, next, now));
          }
        }
        await store.write(ops);
      });
    }
  }

  private stopIfTooOld(before: Shipment, next: Shipment, now: number): StoreOp[] {
    if (now - next.createdAt < this.ctx.deps.options.maxAgeMs) return this.ctx.deps.shipments.ops(before, next);
    const stopped: Shipment = { ...next, active: false, stoppedReason: `no final status after ${Math.round(this.ctx.deps.options.maxAgeMs / DAY)} days` };
    if (next.events.length === 0 && next.checks > 0) {
      void this.ctx.deps.recordEvents([{
        time: now, type: 'warning', msgId: next.code, tenant: next.tenant, recipient: next.email ?? next.phoneE164 ?? '', code: 'TRACKING_CODE_UNKNOWN',
        detail: `${carrierLabel(next.carrier)} never knew tracking code ${next.code} (${next.checks} checks); it is no longer checked — is the code or the carrier wrong?`,
        ...(next.orderReference ? { reference: next.orderReference } : {}),
      }]).catch(() => undefined);
    }
    return this.ctx.deps.shipments.ops(before, stopped);
  }

  /** A successful check: new state, planned notices, blacklist entries. */
  private async checked(before: Shipment, history: CarrierEvent[], now: number, settings: TrackingSettings): Promise<StoreOp[]> {
    const outcome = applyCheck(before, history, now, { acceptedNoticeMaxDelayDays: settings.acceptedNoticeMaxDelayDays, notPickedUpDays: settings.notPickedUpDays, maxAgeMs: this.ctx.deps.options.maxAgeMs });
    const s = outcome.shipment;
    s.notices = { ...s.notices };
    if (s.active) s.nextCheckAt = nextCheck(now, this.ctx.deps.options.checksPerDay, this.ctx.random);
    else delete s.nextCheckAt;
    const ops: StoreOp[] = [];
    for (const { status, reason } of outcome.skipped) s.notices[status] = { state: 'skipped', at: now, detail: reason };
    for (const status of outcome.due) {
      const channels = settings.notices[status] ?? [];
      if (channels.length === 0) s.notices[status] = { state: 'skipped', at: now, detail: 'no notice is set up for this status' };
      for (const channel of channels) {
        const why = this.cannotSend(s, channel, settings);
        if (why) {
          s.notices[`${status}:${channel}`] = { state: 'skipped', at: now, detail: why };
          continue;
        }
        const sendAt = nextWindowStart(now, sendingWindowOf(settings));
        s.notices[`${status}:${channel}`] = { state: 'scheduled', at: now, sendAt, attempts: 0 };
        ops.push(this.ctx.deps.shipments.noticeOp({ sendAt, tenant: s.tenant, carrier: s.carrier, code: s.code, status, channel }));
      }
    }
    if (outcome.blacklist) {
      const reason = `parcel ${s.code} (${carrierLabel(s.carrier)}) ${s.status === 'returned' ? 'was returned' : 'was not picked up: storage period expired'}`;
      const entry = { tenant: s.tenant, reason, carrier: s.carrier, code: s.code, time: now };
      if (s.email) ops.push(this.ctx.deps.shipments.blacklistOp({ ...entry, kind: 'email', value: s.email.toLowerCase() }));
      if (s.phoneE164) ops.push(this.ctx.deps.shipments.blacklistOp({ ...entry, kind: 'phone', value: s.phoneE164 }));
    }
    if (before.status !== s.status) this.ctx.deps.log.info({ tenant: s.tenant, carrier: s.carrier, code: s.code, from: before.status, to: s.status, due: outcome.due }, 'shipment status changed');
    return [...ops, ...this.ctx.deps.shipments.ops(before, s)];
  }

  private cannotSend(s: Shipment, channel: Channel, settings: TrackingSettings): string | undefined {
    if (channel === 'email') return s.email ? undefined : 'no e-mail address';
    const setup = channel === 'sms' ? settings.sms : settings.call;
    if (!setup) return channel === 'sms' ? 'no SMS gateway set up for this shop' : 'no voice-call gateway set up for this shop';
    if (!this.ctx.deps.gateways.has(setup.gateway)) return `phone gateway "${setup.gateway}" is not configured on this mailgate`;
    if (!s.phoneE164) return s.phoneProblem ?? 'no mobile phone number';
    return undefined;
  }
}
