// Soft bounces that keep coming for one address: a mailbox that stays full, disabled or filtering
// for days is suppressed like a hard bounce. Counted per tenant and address, whether the soft
// bounce came back as a message (a DSN) or was the receiving server's 4xx/5xx during delivery.
// Another message delivered to the address since the last soft bounce starts the count again.
import type { EventLog } from '../store/event-log.js';
import type { SoftCount, Store, StoreOp } from '../store/ports.js';

/** This many soft bounces, over at least this long, suppress the address. */
export const SOFT_LIMIT = { count: 3, spanMs: 3 * 24 * 60 * 60 * 1000 };

export interface SoftBounceOutcome {
  ops: StoreOp[];
  /** The limit is reached: suppress the address now. */
  suppress: boolean;
  /** The count including this bounce, and since when. */
  count: number;
  since: number;
}

export class SoftBounceCounter {
  constructor(private readonly store: Store, private readonly events: EventLog) {}

  /** Counts one soft bounce of `msgId` for the address; the caller commits the writes with its event. */
  async count(tenant: string, address: string, time: number, msgId: string): Promise<SoftBounceOutcome> {
    const prev = await this.store.softBounces.get(tenant, address);
    // Mail that got through since the last soft bounce means the mailbox works again. Checked here, not
    // reset at delivery time, because a bouncing message was itself "delivered" (a DSN follows the next
    // hop's 250): its own delivery must not count.
    const recovered = prev !== undefined && (await this.events.deliveredSince(tenant, address, prev.last, msgId));
    const next: SoftCount = prev && !recovered ? { first: prev.first, last: Math.max(prev.last, time), count: prev.count + 1 } : { first: time, last: time, count: 1 };
    const suppress = next.count >= SOFT_LIMIT.count && next.last - next.first >= SOFT_LIMIT.spanMs;
    return {
      ops: [suppress ? { kind: 'soft-bounces.clear', tenant, address } : { kind: 'soft-bounces.set', tenant, address, count: next }],
      suppress,
      count: next.count,
      since: next.first,
    };
  }
}

/** In a shop admin's words: which rule put the address on the list. */
export function softRule(reason: string, count: number, since: number, time: number): string {
  const days = Math.max(1, Math.round((time - since) / 86_400_000));
  return `${count} soft bounces (${reason}) over ${days} days with no delivery in between`;
}
