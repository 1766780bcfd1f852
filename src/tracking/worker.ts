// The tracking worker: checks due shipments with their carrier (bounded per carrier, backoff on
// carrier trouble), plans buyer notices into the sending window, sends them exactly once (e-mail via
// submit(), SMS and calls via phone gateways), and sends each shop admin's daily report.
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { QueueEvent } from '../store/records.js';
import type { WriteOp } from '../store/level.js';
import { shipmentKey } from '../store/shipments.js';
import type { PendingNotice, Shipments } from './shipments.js';
import { sortableTime } from '../store/level.js';
import { composeMail, noticeMessageId } from './compose.js';
import { applyCheck, applyFailure, DAY, nextCheck, retryDelay, type Shipment } from './lifecycle.js';
import { buildReport } from './report.js';
import { DEFAULT_SETTINGS, type Channel, type TrackingSettings } from './settings.js';
import { BUILT_IN_TEMPLATES, renderTemplate, type MacroValues } from './templates.js';
import { CarrierError, GatewayError, type CarrierAdapter, type CarrierEvent, type CarrierName, type NoticeStatus, type PhoneGateway, type TrackResult } from './types.js';
import { inWindow, nextLocalTime, nextWindowStart, wallClock, type SendingWindow } from './window.js';

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

const CARRIER_LABEL: Record<CarrierName, string> = { 'russian-post': 'Russian Post', dhl: 'DHL' };
const MAX_SEND_ATTEMPTS = 5;

export class TrackingWorker {
  private readonly now: () => number;
  private readonly random: () => number;
  /** A carrier that rate-limited us is left alone until then. */
  private readonly pausedUntil = new Map<CarrierName, number>();
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  stats = { checks: 0, carrierFailures: 0, noticesSent: 0, noticesFailed: 0, reports: 0 };

  /** Prometheus text of the counters above. */
  metrics(): string {
    const lines: string[] = [];
    const counter = (name: string, help: string, value: number) => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`, `${name} ${value}`);
    counter('mailgate_tracking_checks_total', 'Shipments checked with their carrier.', this.stats.checks);
    counter('mailgate_tracking_carrier_failures_total', 'Carrier calls that failed (retried later, no notices).', this.stats.carrierFailures);
    counter('mailgate_tracking_notices_sent_total', 'Buyer notices handed to the queue or a phone gateway.', this.stats.noticesSent);
    counter('mailgate_tracking_notices_failed_total', 'Buyer notices that failed for good.', this.stats.noticesFailed);
    counter('mailgate_tracking_reports_total', 'Daily shop admin reports sent.', this.stats.reports);
    return `${lines.join('\n')}\n`;
  }

  constructor(private readonly deps: TrackingWorkerDeps) {
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
  }

  async settings(tenant: string): Promise<TrackingSettings> {
    return (await this.deps.shipments.settings(tenant)) ?? DEFAULT_SETTINGS;
  }

  start(intervalMs = 1000): void {
    this.running = true;
    const loop = () => {
      if (!this.running) return;
      this.runOnce().catch((err: Error) => this.deps.log.error({ err: err.message }, 'tracking cycle failed; retrying'))
        .finally(() => {
          if (this.running) this.timer = setTimeout(loop, intervalMs);
        });
    };
    this.timer = setTimeout(loop, intervalMs);
  }

  /** Stops the loop and waits for the cycle in progress (sends are never cut in half). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.chain.catch(() => undefined);
  }

  /** One cycle: checks due shipments, sends due notices, sends due reports. Cycles never overlap. */
  runOnce(): Promise<{ checked: number; sent: number }> {
    const run = this.chain.then(async () => {
      let checked = 0;
      for (;;) {
        const n = await this.pollDue();
        checked += n;
        if (n < 1000) break;
      }
      const sent = await this.sendDueNotices();
      await this.sendDueReports();
      return { checked, sent };
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  // --- polling ---------------------------------------------------------------------------------

  private async pollDue(): Promise<number> {
    const now = this.now();
    const entries = await this.deps.shipments.dueEntries(now, 1000);
    if (entries.length === 0) return 0;
    const byCarrier = new Map<CarrierName, Array<{ key: string; entry: string }>>();
    for (const e of entries) {
      const carrier = e.key.split('!')[1] as CarrierName;
      const list = byCarrier.get(carrier);
      if (list) list.push(e);
      else byCarrier.set(carrier, [e]);
    }
    const settingsCache = new Map<string, Promise<TrackingSettings>>();
    const settingsOf = (t: string) => {
      let s = settingsCache.get(t);
      if (!s) settingsCache.set(t, (s = this.settings(t)));
      return s;
    };
    await Promise.all([...byCarrier].map(([carrier, es]) => this.pollCarrier(carrier, es, now, settingsOf)));
    return entries.length;
  }

  private async pollCarrier(carrier: CarrierName, entries: Array<{ key: string; entry: string }>, now: number, settingsOf: (t: string) => Promise<TrackingSettings>): Promise<void> {
    const store = this.deps.shipments;
    const interval = DAY / this.deps.options.checksPerDay;
    const adapter = this.deps.carriers[carrier];
    const paused = this.pausedUntil.get(carrier) ?? 0;
    // Every write re-reads the shipment under the store's lock, so an import or delete in between is never overwritten.
    const active = await store.exclusive(async () => {
      const found = await store.getMany(entries.map((e) => e.key));
      const ops: WriteOp[] = [];
      const toCheck: Shipment[] = [];
      for (const [i, s] of found.entries()) {
        // A schedule entry that is not the shipment's current one (or has no shipment) is dropped, so it cannot stay due forever.
        if (!s || !s.active || s.nextCheckAt === undefined || entries[i]!.entry !== `${sortableTime(s.nextCheckAt)}!${entries[i]!.key}`) {
          ops.push(store.dropDueOp(entries[i]!.entry));
          continue;
        }
        const settings = await settingsOf(s.tenant);
        if (!settings.enabled || !this.deps.tenant(s.tenant)) {
          // Switched off: no checks, no notices; the schedule keeps turning so switching on resumes (until maxAge).
          ops.push(...this.stopIfTooOld(s, { ...s, nextCheckAt: now + interval }, now));
        } else if (!adapter || paused > now) {
          const reason = adapter ? `${CARRIER_LABEL[carrier]} asked us to slow down; next check after ${new Date(paused).toISOString()}` : `carrier ${carrier} is not configured on this mailgate`;
          ops.push(...this.stopIfTooOld(s, { ...applyFailure(s, reason, now), nextCheckAt: adapter ? paused : now + interval }, now));
        } else toCheck.push(s);
      }
      await store.write(ops);
      return toCheck;
    });
    if (!adapter) return;
    const size = Math.max(1, this.deps.options.batchSize);
    for (let i = 0; i < active.length; i += size) {
      const chunk = active.slice(i, i + size);
      let results: Map<string, TrackResult> | CarrierError;
      const pausedNow = this.pausedUntil.get(carrier) ?? 0;
      if (pausedNow > now) {
        // The carrier rate-limited an earlier batch of this cycle: the rest waits for its Retry-After too.
        results = new CarrierError(`${CARRIER_LABEL[carrier]} asked us to slow down; next check after ${new Date(pausedNow).toISOString()}`, true, pausedNow - now);
      } else try {
        results = new Map((await adapter.track(chunk.map((s) => s.code))).map((r) => [r.code, r]));
        this.stats.checks += chunk.length;
      } catch (err) {
        results = err instanceof CarrierError ? err : new CarrierError(`${CARRIER_LABEL[carrier]}: ${(err as Error).message}`, true);
        this.stats.carrierFailures++;
        if (results.retryAfterMs) this.pausedUntil.set(carrier, now + results.retryAfterMs);
        this.deps.log.warn({ carrier, codes: chunk.length, retryable: results.retryable, err: results.message }, 'carrier check failed; no notices, retrying later');
      }
      const outcome = results;
      await store.exclusive(async () => {
        const ops: WriteOp[] = [];
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
            const reason = `${CARRIER_LABEL[carrier]}: ${r && 'error' in r ? r.error : 'no answer for this code'}`;
            const next = { ...applyFailure(s, reason, now), failures: 0, checks: s.checks + 1, nextCheckAt: nextCheck(now, this.deps.options.checksPerDay, this.random) };
            ops.push(...this.stopIfTooOld(s, next, now));
          }
        }
        await store.write(ops);
      });
    }
  }

  private stopIfTooOld(before: Shipment, next: Shipment, now: number): WriteOp[] {
    if (now - next.createdAt < this.deps.options.maxAgeMs) return this.deps.shipments.ops(before, next);
    const stopped: Shipment = { ...next, active: false, stoppedReason: `no final status after ${Math.round(this.deps.options.maxAgeMs / DAY)} days` };
    if (next.events.length === 0 && next.checks > 0) {
      void this.deps.recordEvents([{
        time: now, type: 'warning', msgId: next.code, tenant: next.tenant, recipient: next.email ?? next.phoneE164 ?? '', code: 'TRACKING_CODE_UNKNOWN',
        detail: `${CARRIER_LABEL[next.carrier]} never knew tracking code ${next.code} (${next.checks} checks); it is no longer checked — is the code or the carrier wrong?`,
        ...(next.orderReference ? { reference: next.orderReference } : {}),
      }]).catch(() => undefined);
    }
    return this.deps.shipments.ops(before, stopped);
  }

  /** A successful check: new state, planned notices, blacklist entries. */
  private async checked(before: Shipment, history: CarrierEvent[], now: number, settings: TrackingSettings): Promise<WriteOp[]> {
    const outcome = applyCheck(before, history, now, { acceptedNoticeMaxDelayDays: settings.acceptedNoticeMaxDelayDays, notPickedUpDays: settings.notPickedUpDays, maxAgeMs: this.deps.options.maxAgeMs });
    const s = outcome.shipment;
    s.notices = { ...s.notices };
    if (s.active) s.nextCheckAt = nextCheck(now, this.deps.options.checksPerDay, this.random);
    else delete s.nextCheckAt;
    const ops: WriteOp[] = [];
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
        const sendAt = nextWindowStart(now, this.window(settings));
        s.notices[`${status}:${channel}`] = { state: 'scheduled', at: now, sendAt, attempts: 0 };
        ops.push(this.deps.shipments.noticeOp({ sendAt, tenant: s.tenant, carrier: s.carrier, code: s.code, status, channel }));
      }
    }
    if (outcome.blacklist) {
      const reason = `parcel ${s.code} (${CARRIER_LABEL[s.carrier]}) ${s.status === 'returned' ? 'was returned' : 'was not picked up: storage period expired'}`;
      const entry = { tenant: s.tenant, reason, carrier: s.carrier, code: s.code, time: now };
      if (s.email) ops.push(this.deps.shipments.blacklistOp({ ...entry, kind: 'email', value: s.email.toLowerCase() }));
      if (s.phoneE164) ops.push(this.deps.shipments.blacklistOp({ ...entry, kind: 'phone', value: s.phoneE164 }));
    }
    if (before.status !== s.status) this.deps.log.info({ tenant: s.tenant, carrier: s.carrier, code: s.code, from: before.status, to: s.status, due: outcome.due }, 'shipment status changed');
    return [...ops, ...this.deps.shipments.ops(before, s)];
  }

  private cannotSend(s: Shipment, channel: Channel, settings: TrackingSettings): string | undefined {
    if (channel === 'email') return s.email ? undefined : 'no e-mail address';
    const setup = channel === 'sms' ? settings.sms : settings.call;
    if (!setup) return channel === 'sms' ? 'no SMS gateway set up for this shop' : 'no voice-call gateway set up for this shop';
    if (!this.deps.gateways.has(setup.gateway)) return `phone gateway "${setup.gateway}" is not configured on this mailgate`;
    if (!s.phoneE164) return s.phoneProblem ?? 'no mobile phone number';
    return undefined;
  }

  private window(settings: TrackingSettings): SendingWindow {
    return { ...settings.window, timeZone: settings.timeZone };
  }

  // --- notices -------------------------------------------------------------------------------

  private async sendDueNotices(): Promise<number> {
    let sent = 0;
    for (;;) {
      const now = this.now();
      const due = await this.deps.shipments.dueNotices(now, 200);
      if (due.length === 0) return sent;
      for (const n of due) if (await this.sendNotice(n, now)) sent++;
      if (due.length < 200) return sent;
    }
  }

  /** Sends one due notice; true when it went out. */
  private async sendNotice(n: PendingNotice, now: number): Promise<boolean> {
    const store = this.deps.shipments;
    const dropKey: WriteOp = store.noticeOp(n, 'del');
    const s = await store.get(n.tenant, n.carrier, n.code);
    const slot = `${n.status}:${n.channel}`;
    const rec = s?.notices[slot];
    if (!s || !rec || (rec.state !== 'scheduled' && rec.state !== 'sending')) {
      await store.write([dropKey]); // deleted shipment, or already handled
      return false;
    }
    const settings = await this.settings(n.tenant);
    const tenant = this.deps.tenant(n.tenant);
    // Only this notice's slot changes; the rest is re-read under the lock, so a concurrent import or check is kept.
    const update = (next: Shipment['notices'][string], extra: WriteOp[] = [], sync = false) => store.exclusive(async () => {
      const current = await store.get(n.tenant, n.carrier, n.code);
      if (!current) return store.write(extra, sync);
      const after = { ...current, notices: { ...current.notices, [slot]: next }, updatedAt: now };
      await store.write([...extra, ...store.ops(current, after)], sync);
    });
    if (!settings.enabled || !tenant) {
      await update({ state: 'skipped', at: now, detail: tenant ? 'tracking was switched off before the notice was due' : 'the tenant no longer exists' }, [dropKey]);
      return false;
    }
    const messageId = noticeMessageId(['notice', s.tenant, s.carrier, s.code, n.status], this.deps.hostname);
    if (rec.state === 'sending') {
      // Interrupted by a crash or kill between "sending" and "sent".
      if (n.channel === 'email') {
        const queued = await this.deps.queuedByMessageId(messageId);
        if (queued) {
          await update({ state: 'sent', at: now, detail: `queued as ${queued}` }, [dropKey], true);
          return false;
        }
      } else {
        const detail = `interrupted by a restart while handing it to the gateway; not repeated, so the buyer gets no duplicate`;
        await update({ state: 'failed', at: now, detail }, [dropKey], true);
        await this.recordFailure(s, n, detail);
        return false;
      }
    }
    const window = this.window(settings);
    if (!inWindow(now, window)) {
      const sendAt = nextWindowStart(now, window);
      await update({ ...rec, state: 'scheduled', sendAt }, [dropKey, store.noticeOp({ ...n, sendAt })]);
      return false;
    }
    const attempts = (rec.attempts ?? 0) + 1;
    await update({ state: 'sending', at: now, attempts }, [], true);
    try {
      const detail = await this.deliverNotice(s, n, settings, tenant, messageId);
      await update({ state: 'sent', at: this.now(), attempts, detail }, [dropKey], true);
      this.stats.noticesSent++;
      this.deps.log.info({ tenant: s.tenant, code: s.code, status: n.status, channel: n.channel, detail }, 'buyer notice sent');
      return true;
    } catch (err) {
      const e = err as Error & { retryable?: boolean; retryAfterMs?: number; maybeSent?: boolean };
      // An SMS or call the gateway may have taken is not repeated: at most once for a buyer's phone.
      if (e.maybeSent) e.message = `${e.message}; the gateway may have sent it, so it is not repeated (no duplicate for the buyer)`;
      const retryable = e.retryable === true && !e.maybeSent && attempts < MAX_SEND_ATTEMPTS;
      if (retryable) {
        const sendAt = nextWindowStart(this.now() + Math.max(e.retryAfterMs ?? 0, 60_000 * 5 ** (attempts - 1)), window);
        await update({ state: 'scheduled', at: now, sendAt, attempts, detail: e.message }, [dropKey, store.noticeOp({ ...n, sendAt })], true);
        this.deps.log.warn({ tenant: s.tenant, code: s.code, channel: n.channel, err: e.message, retryAt: new Date(sendAt).toISOString() }, 'buyer notice failed; retrying');
      } else {
        await update({ state: 'failed', at: now, attempts, detail: e.message }, [dropKey], true);
        await this.recordFailure(s, n, e.message);
        this.stats.noticesFailed++;
      }
      return false;
    }
  }

  private macros(s: Shipment, shop: string): MacroValues {
    return {
      name: s.name, trackingCode: s.code, orderSum: s.orderSum, orderReference: s.orderReference,
      carrier: CARRIER_LABEL[s.carrier], pickupPoint: s.pickupPoint, shop,
    };
  }

  /** Hands one notice to its channel; resolves with what to record (queue id, provider id). */
  private async deliverNotice(s: Shipment, n: PendingNotice, settings: TrackingSettings, tenant: { name: string; from: { address: string; name?: string } }, messageId: string): Promise<string> {
    const language = s.language ?? settings.language;
    const own = settings.templates[language]?.[n.status] ?? {};
    const builtIn = BUILT_IN_TEMPLATES[language]?.[n.status] ?? BUILT_IN_TEMPLATES.en![n.status];
    const values = this.macros(s, tenant.name);
    if (n.channel === 'email') {
      const body = composeMail({
        from: { address: tenant.from.address, name: tenant.from.name ?? tenant.name },
        to: [s.email!],
        subject: renderTemplate(own.subject ?? builtIn.subject, values, { language }),
        text: renderTemplate(own.text ?? builtIn.text, values, { language }),
        ...(own.html ? { html: renderTemplate(own.html, values, { language, html: true }) } : {}),
        messageId, category: 'tracking', date: this.now(),
        ...(s.orderReference ? { reference: s.orderReference } : {}),
      });
      const { id } = await this.deps.submit(s.tenant, { from: tenant.from.address, to: [s.email!] }, body);
      return `queued as ${id}`;
    }
    const setup = n.channel === 'sms' ? settings.sms! : settings.call!;
    const gateway = this.deps.gateways.get(setup.gateway);
    if (!gateway) throw new GatewayError(`phone gateway "${setup.gateway}" is not configured on this mailgate`, false);
    const text = renderTemplate((n.channel === 'sms' ? own.sms : own.call) ?? (n.channel === 'sms' ? builtIn.sms : builtIn.call), values, { language });
    const from = n.channel === 'sms' ? settings.sms!.sender : settings.call!.callerId;
    const msg = { to: s.phoneE164!, from, text, id: `${s.tenant}.${s.carrier}.${s.code}.${n.status}.${n.channel}` };
    const { providerId } = n.channel === 'sms' ? await gateway.sendSms(msg) : await gateway.call(msg);
    return `${gateway.name} id ${providerId}`;
  }

  private async recordFailure(s: Shipment, n: PendingNotice, detail: string): Promise<void> {
    const code = n.channel === 'email' ? 'EMAIL_NOTICE_FAILED' : n.channel === 'sms' ? 'SMS_FAILED' : 'CALL_FAILED';
    await this.deps.recordEvents([{
      time: this.now(), type: 'notice-failed', msgId: s.code, tenant: s.tenant,
      recipient: n.channel === 'email' ? (s.email ?? '') : (s.phoneE164 ?? ''), code,
      detail: `${n.status} ${n.channel} notice for parcel ${s.code} failed: ${detail}`,
      ...(s.orderReference ? { reference: s.orderReference } : {}),
      ...(s.phoneE164 ? { phone: s.phoneE164 } : {}),
    }]);
  }

  // --- daily reports -------------------------------------------------------------------------

  private async sendDueReports(): Promise<void> {
    for (const tenantId of await this.deps.shipments.tenantsWithSettings()) {
      try {
        await this.sendDueReport(tenantId);
      } catch (err) {
        // One tenant's problem (e.g. an address the queue refuses) neither stops the others' reports nor the cycle.
        this.deps.log.error({ tenant: tenantId, err: (err as Error).message }, 'daily tracking report failed; trying again in an hour');
        await this.deps.shipments.write([this.deps.shipments.reportOp(tenantId, this.now() + 60 * 60_000)], true).catch(() => undefined);
      }
    }
  }

  private async sendDueReport(tenantId: string): Promise<void> {
    const now = this.now();
    const settings = await this.settings(tenantId);
    const tenant = this.deps.tenant(tenantId);
    if (!tenant || !settings.enabled || !settings.reportTime || settings.adminAddresses.length === 0) return;
    const next = await this.deps.shipments.nextReport(tenantId);
    if (next === undefined) {
      await this.deps.shipments.write([this.deps.shipments.reportOp(tenantId, nextLocalTime(now, settings.reportTime, settings.timeZone))], true);
      return;
    }
    if (now < next) return;
    const day = wallClock(now, settings.timeZone);
    const date = `${day.year}-${String(day.month).padStart(2, '0')}-${String(day.day).padStart(2, '0')}`;
    const messageId = noticeMessageId(['report', tenantId, date], this.deps.hostname);
    if (!(await this.deps.queuedByMessageId(messageId))) {
      const report = await buildReport(this.deps.shipments, tenantId, tenant.name, settings, now, date);
      const body = composeMail({
        from: { address: tenant.from.address, name: `${tenant.name} (mailgate)` },
        to: settings.adminAddresses, subject: report.subject, text: report.text, html: report.html, messageId, category: 'tracking-report', date: now,
      });
      await this.deps.submit(tenantId, { from: tenant.from.address, to: settings.adminAddresses }, body);
      this.stats.reports++;
      this.deps.log.info({ tenant: tenantId, to: settings.adminAddresses.length }, 'daily tracking report sent');
    }
    await this.deps.shipments.write([this.deps.shipments.reportOp(tenantId, nextLocalTime(now + 60_000, settings.reportTime, settings.timeZone))], true);
  }
}
