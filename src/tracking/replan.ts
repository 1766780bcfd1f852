// Re-planning a shop's waiting buyer notices when its sending window or time zone changes: each
// notice still scheduled moves to the new window's next opening (a retry keeps its back-off), so
// none waits for the old window's time. Notices being sent, sent or skipped are left alone.
import type { StoreOp } from '../store/ports.js';
import type { NoticeRecord, Shipment } from './lifecycle.js';
import { sendingWindowOf, type TrackingSettings } from './settings.js';
import type { PendingNotice, Shipments } from './shipments.js';
import { nextWindowStart, type SendingWindow } from './window.js';

/** True when the change of settings moves the times notices may go out. */
export function windowMoved(before: TrackingSettings, after: TrackingSettings): boolean {
  return before.window.from !== after.window.from || before.window.to !== after.window.to || before.timeZone !== after.timeZone;
}

/** When a scheduled notice goes out in `window`, planned at `now`. Pure. */
export function replannedSendAt(rec: NoticeRecord, now: number, window: SendingWindow): number {
  return nextWindowStart(Math.max(now, rec.notBefore ?? now), window);
}

/** Moves the tenant's scheduled notices into `settings`' window; resolves with how many moved. */
export async function replanNotices(store: Shipments, tenant: string, settings: TrackingSettings, now: number): Promise<number> {
  const window = sendingWindowOf(settings);
  return store.exclusive(async () => {
    const pending = await store.pendingNotices(tenant);
    const byShipment = new Map<string, PendingNotice[]>();
    for (const n of pending) {
      const key = `${n.carrier}!${n.code}`;
      byShipment.set(key, [...(byShipment.get(key) ?? []), n]);
    }
    const ops: StoreOp[] = [];
    let moved = 0;
    for (const notices of byShipment.values()) {
      const before = await store.get(tenant, notices[0]!.carrier, notices[0]!.code);
      if (!before) continue; // the notifier drops a deleted shipment's entries
      const after: Shipment = { ...before, notices: { ...before.notices }, updatedAt: now };
      let changed = false;
      for (const n of notices) {
        const slot = `${n.status}:${n.channel}`;
        const rec = after.notices[slot];
        if (rec?.state !== 'scheduled') continue;
        const sendAt = replannedSendAt(rec, now, window);
        if (sendAt === n.sendAt) continue;
        after.notices[slot] = { ...rec, sendAt };
        ops.push(store.noticeOp(n, 'del'), store.noticeOp({ ...n, sendAt }));
        moved++;
        changed = true;
      }
      if (changed) ops.push(...store.ops(before, after));
    }
    await store.write(ops, true);
    return moved;
  });
}
