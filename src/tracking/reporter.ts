// The shop admin's daily report (seed 004): at the tenant's local report time, once a day across
// restarts, counts per status and the parcels that need attention, with every tracked code as a CSV
// attachment, to the admin addresses.
import { noticeMessageId, composeMail } from './compose.js';
import type { TrackingContext } from './context.js';
import { buildReport } from './report.js';
import { nextLocalTime, wallClock } from './window.js';

export class ReportSender {
  constructor(private readonly ctx: TrackingContext) {}

  /** Sends each shop's daily report when its time has come. */
  async sendDueReports(): Promise<void> {
    for (const tenantId of await this.ctx.deps.shipments.tenantsWithSettings()) {
      try {
        await this.sendDueReport(tenantId);
      } catch (err) {
        // One tenant's problem (e.g. an address the queue refuses) neither stops the others' reports nor the cycle.
        this.ctx.deps.log.error({ tenant: tenantId, err: (err as Error).message }, 'daily tracking report failed; trying again in an hour');
        await this.ctx.deps.shipments.write([this.ctx.deps.shipments.reportOp(tenantId, this.ctx.now() + 60 * 60_000)], true).catch(() => undefined);
      }
    }
  }

  private async sendDueReport(tenantId: string): Promise<void> {
    const now = this.ctx.now();
    const settings = await this.ctx.settings(tenantId);
    const tenant = this.ctx.deps.tenant(tenantId);
    if (!tenant || !settings.enabled || !settings.reportTime || settings.adminAddresses.length === 0) return;
    const next = await this.ctx.deps.shipments.nextReport(tenantId);
    if (next === undefined) {
      await this.ctx.deps.shipments.write([this.ctx.deps.shipments.reportOp(tenantId, nextLocalTime(now, settings.reportTime, settings.timeZone))], true);
      return;
    }
    if (now < next) return;
    const day = wallClock(now, settings.timeZone);
    const date = `${day.year}-${String(day.month).padStart(2, '0')}-${String(day.day).padStart(2, '0')}`;
    const messageId = noticeMessageId(['report', tenantId, date], this.ctx.deps.hostname);
    if (!(await this.ctx.deps.queuedByMessageId(messageId))) {
      const report = await buildReport(this.ctx.deps.shipments, tenantId, tenant.name, settings, now, date);
      const body = composeMail({
        from: { address: tenant.from.address, name: `${tenant.name} (mailgate)` },
        to: settings.adminAddresses, subject: report.subject, text: report.text, html: report.html, messageId, category: 'tracking-report', date: now,
        attachments: [{ filename: report.csv.filename, content: report.csv.content, contentType: 'text/csv; charset=utf-8' }],
      });
      await this.ctx.deps.submit(tenantId, { from: tenant.from.address, to: settings.adminAddresses }, body);
      this.ctx.stats.reports++;
      this.ctx.deps.log.info({ tenant: tenantId, to: settings.adminAddresses.length }, 'daily tracking report sent');
    }
    await this.ctx.deps.shipments.write([this.ctx.deps.shipments.reportOp(tenantId, nextLocalTime(now + 60_000, settings.reportTime, settings.timeZone))], true);
  }
}
