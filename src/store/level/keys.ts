// The LevelDB engine's key layout: sortable times, then ids, joined by "!" so that a range read
// by prefix is one query. Only the engine's files use these.
import type { MessageRecord } from '../records.js';
import type { NoticeEntry } from '../ports.js';
import { sortableTime } from './db.js';

/** "<dueAt>!<id>": the delivery schedule, the keep list and the webhook outbox. */
export const dueKey = (dueAt: number, id: string) => `${sortableTime(dueAt)}!${id}`;

/** "<time>!<id>": an event under every index it is in. */
export const eventSuffix = (time: number, id: string) => `${sortableTime(time)}!${id}`;

/** "<tenant>!<address, lower case>": suppression and soft-bounce counters. */
export const addressKey = (tenant: string, address: string) => `${tenant}!${address.toLowerCase()}`;

export const blacklistKey = (tenant: string, kind: 'email' | 'phone', value: string) => `${tenant}!${kind === 'email' ? 'e' : 'p'}!${value}`;

/** "<nextCheckAt>!<shipment key>": the poll schedule. */
export const shipmentDueKey = (at: number, key: string) => `${sortableTime(at)}!${key}`;

/** "<sendAt>!<tenant>!<carrier>!<code>!<status>!<channel>": notices by sending time. */
export const noticeKey = (n: NoticeEntry) => `${sortableTime(n.sendAt)}!${n.tenant}!${n.carrier}!${n.code}!${n.status}!${n.channel}`;

export function parseNoticeKey(key: string): NoticeEntry {
  const [time, tenant, carrier, code, status, channel] = key.split('!');
  return { sendAt: Number(time), tenant: tenant!, carrier: carrier!, code: code!, status: status!, channel: channel! };
}

/** A message's entries in the tenant list and the reference index. */
export function messageIndexKeys(r: MessageRecord): { byTenant: string; references: string[] } {
  return {
    byTenant: `${r.tenant}!${sortableTime(r.createdAt)}!${r.id}`,
    references: [r.reference, r.messageId].filter((x): x is string => Boolean(x)).map((x) => `${r.tenant}!${x.toLowerCase()}!${r.id}`),
  };
}
