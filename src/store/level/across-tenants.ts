// The operator's views on LevelDB: every per-tenant index is keyed "<tenant>!…", so a view across
// tenants finds the tenants (one seek each) and reads each tenant's range. Time-ordered lists
// (messages, errors) merge the tenants' newest-first ranges; their cursor is the "<time>!<id>" of
// the last row, which bounds every tenant's range alike.
import type { AcrossTenants, ErrorQuery, IndexedShipment, MessageListQuery, ShipmentQuery, SuppressionEntry } from '../ports.js';
import type { MessageRecord, QueueEvent } from '../records.js';
import { sortableTime, type Sublevel, type Sublevels } from './db.js';
import type { LevelEvents } from './events.js';
import type { LevelMessages } from './messages.js';
import type { LevelShipments } from './shipments.js';
import type { LevelSuppression } from './lists.js';

const tenantOf = (key: string) => key.slice(0, key.indexOf('!'));
const afterTenant = (key: string) => key.slice(key.indexOf('!') + 1);

/** The tenants that have keys in `sub`, in key order: one seek per tenant. */
export async function tenantsIn(sub: Sublevel): Promise<string[]> {
  const tenants: string[] = [];
  let from = '';
  for (;;) {
    let next: string | undefined;
    for await (const key of sub.keys({ gt: from, limit: 1 })) next = key;
    if (next === undefined) return tenants;
    const tenant = tenantOf(next);
    tenants.push(tenant);
    from = `${tenant}!\xff`;
  }
}

/**
 * Entries of every tenant's "<tenant>!<time>!<id>" range within [since, before), newest first:
 * one reverse iterator per tenant, the newest head taken each time.
 */
async function* newestAcross(sub: Sublevel, range: { since?: number; before: string }): AsyncGenerator<[string, unknown]> {
  const tenants = await tenantsIn(sub);
  const its = tenants.map((t) => sub.iterator({ gte: `${t}!${sortableTime(range.since ?? 0)}`, lt: `${t}!${range.before}`, reverse: true }));
  try {
    const heads = await Promise.all(its.map((it) => it.next()));
    for (;;) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const h = heads[i];
        if (h && (best < 0 || afterTenant(h[0]) > afterTenant(heads[best]![0]))) best = i;
      }
      if (best < 0) return;
      yield heads[best]! as [string, unknown];
      heads[best] = await its[best]!.next();
    }
  } finally {
    await Promise.all(its.map((it) => it.close()));
  }
}

/** The upper bound of a time range: the cursor, else `until`, else everything. */
const before = (cursor: string | undefined, until: number | undefined) => cursor ?? (until !== undefined ? sortableTime(until) : '\xff');

export class LevelAcrossTenants implements AcrossTenants {
  constructor(
    private readonly sub: Sublevels,
    private readonly parts: { messages: LevelMessages; events: LevelEvents; suppression: LevelSuppression; shipments: LevelShipments },
  ) {}

  async messages(q: MessageListQuery): Promise<{ messages: MessageRecord[]; cursor?: string }> {
    const messages: MessageRecord[] = [];
    let last: string | undefined;
    let scanned = 0;
    for await (const [key] of newestAcross(this.sub.messagesByTenant, { ...(q.from !== undefined ? { since: q.from } : {}), before: before(q.cursor, q.to) })) {
      last = afterTenant(key);
      const rec = await this.parts.messages.get(key.slice(key.lastIndexOf('!') + 1));
      if (rec && (!q.filter || q.filter(rec))) messages.push(rec);
      // Bounded work per page even when a filter matches rarely; the cursor continues from here.
      if (messages.length >= q.limit || ++scanned >= q.limit * 50) return { messages, cursor: last };
    }
    return { messages };
  }

  async errors(q: ErrorQuery): Promise<{ events: QueueEvent[]; cursor?: string }> {
    const limit = q.limit ?? 50;
    const events: QueueEvent[] = [];
    for await (const [key, value] of newestAcross(this.sub.errors, { ...(q.since !== undefined ? { since: q.since } : {}), before: before(q.cursor, q.until) })) {
      const ev = value as QueueEvent;
      if (q.class && ev.class !== q.class) continue;
      events.push(ev);
      if (events.length >= limit) return { events, cursor: afterTenant(key) };
    }
    return { events };
  }

  async countErrors(since: number): Promise<number> {
    let n = 0;
    for (const t of await tenantsIn(this.sub.errors)) n += await this.parts.events.countErrors(t, since);
    return n;
  }

  async byReference(reference: string, limit: number): Promise<Array<{ tenant: string; id: string }>> {
    const out: Array<{ tenant: string; id: string }> = [];
    for (const tenant of await tenantsIn(this.sub.references)) {
      for (const id of await this.parts.messages.byReference(tenant, reference, limit - out.length)) out.push({ tenant, id });
      if (out.length >= limit) break;
    }
    return out;
  }

  suppression(q: { address?: string; reason?: string; limit?: number }): Promise<SuppressionEntry[]> {
    return this.parts.suppression.scan({}, q);
  }

  async shipments(q: ShipmentQuery, carriers: readonly string[]): Promise<{ shipments: IndexedShipment[]; cursor?: string }> {
    const limit = q.limit ?? 100;
    // A cursor is the last key of a tenant's list, which starts with the tenant.
    const { cursor, ...rest } = q;
    const from = cursor ? tenantOf(cursor) : '';
    const shipments: IndexedShipment[] = [];
    for (const tenant of (await tenantsIn(this.sub.shipments)).filter((t) => t >= from)) {
      const page = await this.parts.shipments.list(tenant, { ...rest, limit: limit - shipments.length, ...(tenant === from && cursor ? { cursor } : {}) }, carriers);
      shipments.push(...page.shipments);
      if (page.cursor) return { shipments, cursor: page.cursor };
    }
    return { shipments };
  }
}
