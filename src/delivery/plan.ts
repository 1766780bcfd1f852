// Plans one delivery attempt (pure): from a message record, the recipients due and what the
// tenant directory and the domain checks say now, the upstream and the prepare step's input —
// the sender identity, our trace header, a VERP return path per recipient and, for optional
// categories, the List-Unsubscribe value.
import type { DkimKeyRef, IdentityInput } from '../identity/sender-policy.js';
import type { TraceInfo } from '../identity/prepare.js';
import { messageIdTag, verpAddress } from '../identity/verp.js';
import type { Tenant, Upstream } from '../config/types.js';
import type { MessageRecord } from '../store/records.js';
import { listUnsubscribe } from '../unsubscribe/token.js';
import type { DeliveryJob } from './worker-protocol.js';

export interface PlanContext {
  /** The message's upstream and default sender (Directory.senderFor at delivery time). */
  sender: { upstream: Upstream; from?: { address: string; name?: string } };
  tenant: Tenant | undefined;
  /** Every tenant's verified DKIM selectors and unverified domains' reasons (the domain checks). */
  verifiedSigners: Record<string, DkimKeyRef[]>;
  unverifiedReasons: Record<string, string[]>;
  system: { sender: { address: string; name?: string }; hostname: string; dkim?: DkimKeyRef; bounceDomain: string; unsubscribeUrl: string };
  verpSecret: Buffer;
  /** queue.returnPath: several recipients in one transaction per server (`message`), or one each. */
  returnPath?: 'message' | 'recipient';
}

export interface DeliveryPlan {
  upstream: Upstream;
  envelope: { from: string; to: string[] };
  prepare: NonNullable<DeliveryJob['prepare']>;
}

export function planDelivery(record: MessageRecord, recipients: string[], ctx: PlanContext): DeliveryPlan {
  const { tenant, sender, system, verpSecret } = ctx;
  const own = new Set(tenant?.domains.map((d) => d.domain) ?? []);
  // Only this tenant's keys and reasons travel to the delivery thread.
  // Looked up by the tenant's own domains: the maps hold every tenant's, so walking them would cost
  // each delivery time in proportion to the number of tenants.
  const pick = <T>(all: Record<string, T>) => {
    const out: Record<string, T> = {};
    for (const d of own) if (Object.hasOwn(all, d)) out[d] = all[d]!;
    return out;
  };
  const identity: IdentityInput = {
    tenant: {
      id: record.tenant,
      name: tenant?.name ?? record.tenant,
      ...(sender.from?.name ? { fromName: sender.from.name } : {}),
      ...(sender.from?.address ? { fromAddress: sender.from.address } : {}),
      domains: [...own],
    },
    verified: pick(ctx.verifiedSigners),
    unverifiedReasons: pick(ctx.unverifiedReasons),
    system: { sender: system.sender, hostname: system.hostname, ...(system.dkim ? { dkim: system.dkim } : {}) },
  };
  const trace: TraceInfo = {
    queueId: record.id,
    messageIdTag: messageIdTag(verpSecret, record.id),
    hostname: system.hostname,
    ...(record.source.helo ? { helo: record.source.helo } : {}),
    ...(record.source.remoteAddress ? { ip: record.source.remoteAddress } : {}),
    authenticated: Boolean(record.source.user),
    secure: Boolean(record.source.secure),
    date: record.createdAt,
  };
  const category = record.category;
  const unsubscribe = category?.optional
    ? recipients.map((address) => listUnsubscribe(verpSecret, { tenant: record.tenant, category: category.name, address }, system.unsubscribeUrl, system.bounceDomain))
    : undefined;
  // Several recipients and one copy for all (no per-recipient unsubscribe link): one transaction per
  // server, its return path naming the message; else each recipient's own.
  const together = recipients.length > 1 && !unsubscribe && ctx.returnPath === 'message';
  const verp = together
    ? Array<string>(recipients.length).fill(verpAddress(verpSecret, record.id, 'm', system.bounceDomain))
    : recipients.map((r) => verpAddress(verpSecret, record.id, record.envelope.to.indexOf(r), system.bounceDomain));
  return {
    upstream: sender.upstream,
    envelope: { from: record.envelope.from, to: recipients },
    prepare: { identity, trace, verp, ...(together ? { together: true } : {}), ...(unsubscribe ? { listUnsubscribe: unsubscribe } : {}) },
  };
}
