// Taking parcels in (API single/batch, spreadsheet import): checked rows become new shipments or
// update existing ones (a code is unique per tenant and carrier), within the tenant's monthly quota;
// a dry run answers what would happen without writing. Buyers on the blacklist are flagged, and the
// rows whose phone cannot take SMS or calls are listed (tracked with e-mail notices only).
import type { Shipments } from './shipments.js';
import { checkShipmentFields, type ImportRow, type ShipmentField } from './import.js';
import { newShipment, type Shipment } from './lifecycle.js';
import type { TrackingSettings } from './settings.js';

export interface IntakeRow extends ImportRow {
  /** What the import does (or would do) with this row. */
  action?: 'create' | 'update';
}

export interface IntakeResult {
  dryRun: boolean;
  rows: IntakeRow[];
  created: number;
  updated: number;
  rejected: number;
  /** Rows whose phone number cannot take SMS or calls (invalid, landline): tracked with e-mail notices only. */
  phonesDropped: Array<{ line: number; phone: string; reason: string }>;
  quota: { limit: number | null; used: number; remaining: number | null };
  /** Set when nothing was (or would be) imported, and why. */
  refused?: { code: 'QUOTA_EXCEEDED' | 'TRACKING_DISABLED'; message: string };
}

/** Checks parcels given as JSON objects (the API) exactly like spreadsheet rows; `line` is the 1-based index. */
export function checkShipmentObjects(items: Array<Partial<Record<ShipmentField, unknown>>>, settings: TrackingSettings): ImportRow[] {
  const seen = new Map<string, number>();
  return items.map((item, i) => checkShipmentFields((f) => {
    const v = item[f];
    return typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : '';
  }, i + 1, { defaultCountry: settings.defaultCountry }, seen));
}

/** The good rows whose phone was kept only as a placeholder, and why. */
function phonesDropped(good: ImportRow[]): IntakeResult['phonesDropped'] {
  return good.flatMap((r) => (r.shipment?.phoneProblem ? [{ line: r.line, phone: r.shipment.phone ?? '', reason: r.shipment.phoneProblem }] : []));
}

export class ShipmentIntake {
  constructor(
    private readonly store: Shipments,
    private readonly opts: { firstCheckDelayMs: number; now?: () => number },
  ) {}

  /** Creates/updates the good rows (under the store's lock, so the quota holds under concurrent imports and the poller's writes are kept). */
  take(tenant: string, rows: ImportRow[], settings: TrackingSettings, dryRun: boolean): Promise<IntakeResult> {
    return this.store.exclusive(() => this.takeNow(tenant, rows, settings, dryRun));
  }

  private async takeNow(tenant: string, rows: ImportRow[], settings: TrackingSettings, dryRun: boolean): Promise<IntakeResult> {
    const now = (this.opts.now ?? Date.now)();
    const good = rows.filter((r) => r.shipment);
    const existing = await this.store.getMany(good.map((r) => `${tenant}!${r.shipment!.carrier}!${r.shipment!.code}`));
    const out: IntakeRow[] = [];
    let created = 0;
    let updated = 0;
    let g = 0;
    for (const row of rows) {
      if (!row.shipment) {
        out.push(row);
        continue;
      }
      const before = existing[g++];
      const warnings = [...row.warnings, ...(await this.blacklistWarnings(tenant, row))];
      out.push({ ...row, warnings, action: before ? 'update' : 'create' });
      if (before) updated++;
      else created++;
    }
    const used = await this.store.quotaUsed(tenant, now);
    const limit = settings.monthlyQuota;
    const quota = { limit, used, remaining: limit === null ? null : Math.max(0, limit - used) };
    const result: IntakeResult = { dryRun, rows: out, created, updated, rejected: rows.length - good.length, phonesDropped: phonesDropped(good), quota };
    if (!settings.enabled) {
      result.refused = { code: 'TRACKING_DISABLED', message: 'tracking is switched off for this tenant; switch it on in the tracking settings first' };
    } else if (limit !== null && used + created > limit) {
      result.refused = { code: 'QUOTA_EXCEEDED', message: `this would add ${created} new tracking codes, but only ${quota.remaining} of the monthly quota of ${limit} are left (${used} used in ${new Date(now).toISOString().slice(0, 7)}); nothing was imported` };
    }
    if (dryRun) return result;
    // Refused for real: nothing was created or updated (the rows still say what each would have done).
    if (result.refused) return { ...result, created: 0, updated: 0 };

    const ops = [];
    g = 0;
    for (const row of rows) {
      if (!row.shipment) continue;
      const before = existing[g++];
      const { phoneE164, phoneProblem, ...input } = row.shipment;
      let after: Shipment;
      if (before) {
        after = { ...before, ...input, updatedAt: now };
        delete after.phoneE164;
        delete after.phoneProblem;
        if (!input.phone) delete after.phone;
      } else {
        after = { ...newShipment(tenant, input, now), nextCheckAt: now + this.opts.firstCheckDelayMs };
      }
      if (phoneE164) after.phoneE164 = phoneE164;
      if (phoneProblem) after.phoneProblem = phoneProblem;
      ops.push(...this.store.ops(before, after));
    }
    if (created > 0) ops.push(this.store.quotaOp(tenant, now, used + created));
    await this.store.write(ops, true);
    result.quota = { limit, used: used + created, remaining: limit === null ? null : Math.max(0, limit - used - created) };
    return result;
  }

  private async blacklistWarnings(tenant: string, row: ImportRow): Promise<string[]> {
    const s = row.shipment!;
    const out: string[] = [];
    const byEmail = s.email ? await this.store.blacklisted(tenant, 'email', s.email.toLowerCase()) : undefined;
    if (byEmail) out.push(`buyer e-mail ${s.email} is on the blacklist: ${byEmail.reason}`);
    const byPhone = s.phoneE164 ? await this.store.blacklisted(tenant, 'phone', s.phoneE164) : undefined;
    if (byPhone) out.push(`buyer phone ${s.phoneE164} is on the blacklist: ${byPhone.reason}`);
    return out;
  }
}

