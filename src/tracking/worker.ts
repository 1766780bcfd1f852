// The tracking worker: one cycle at a time, on a timer — check due shipments (poller.ts), send due
// buyer notices (notifier.ts), send due daily reports (reporter.ts) — and its counters (shown by /metrics).
import type { TrackingContext, TrackingStats, TrackingWorkerDeps } from './context.js';
import { NoticeSender } from './notifier.js';
import { ShipmentPoller } from './poller.js';
import { ReportSender } from './reporter.js';
import { DEFAULT_SETTINGS, type TrackingSettings } from './settings.js';

export type { TrackingOptions, TrackingWorkerDeps } from './context.js';

export class TrackingWorker {
  private readonly ctx: TrackingContext;
  private readonly poller: ShipmentPoller;
  private readonly notices: NoticeSender;
  private readonly reports: ReportSender;
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  readonly stats: TrackingStats = { checks: 0, carrierFailures: 0, noticesSent: 0, noticesFailed: 0, reports: 0 };

  constructor(private readonly deps: TrackingWorkerDeps) {
    this.ctx = { deps, now: deps.now ?? Date.now, random: deps.random ?? Math.random, stats: this.stats, settings: (t) => this.settings(t) };
    this.poller = new ShipmentPoller(this.ctx);
    this.notices = new NoticeSender(this.ctx);
    this.reports = new ReportSender(this.ctx);
  }

  async settings(tenant: string): Promise<TrackingSettings> {
    return (await this.deps.shipments.settings(tenant)) ?? DEFAULT_SETTINGS;
  }

  /** Runs a cycle every `intervalMs` while `mayRun` says this node is the one to (several nodes: a lease). */
  start(intervalMs = 1000, mayRun: () => Promise<boolean> = async () => true): void {
    this.running = true;
    const loop = () => {
      if (!this.running) return;
      mayRun().then((ok) => (ok ? this.runOnce() : undefined))
        .catch((err: Error) => this.deps.log.error({ err: err.message }, 'tracking cycle failed; retrying'))
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
        const n = await this.poller.pollDue();
        checked += n;
        if (n < 1000) break;
      }
      await this.poller.reportMissingCarriers().catch((err: Error) => this.ctx.deps.log.error({ err: err.message }, 'could not write the tracking error-log entry'));
      const sent = await this.notices.sendDueNotices();
      await this.reports.sendDueReports();
      return { checked, sent };
    });
    this.chain = run.catch(() => undefined);
    return run;
  }
}
