// The LevelDB engine's database: opens it under dataDir and hands out the sublevels each port's
// records live in. The key layout of every sublevel is written beside it; data directories written
// by earlier releases use the same layout.
import { Level } from 'level';
import type { AbstractSublevel } from 'abstract-level';
import path from 'node:path';
import fs from 'node:fs/promises';

export type Db = Level<string, unknown>;
export type Sublevel = AbstractSublevel<Db, string | Buffer | Uint8Array, string, unknown>;
/** One write in an atomic batch; `sublevel` names where it goes. */
export type LevelWrite =
  | { type: 'put'; sublevel: Sublevel; key: string; value: unknown }
  | { type: 'del'; sublevel: Sublevel; key: string };

export interface Sublevels {
  /** msgId → MessageRecord */
  messages: Sublevel;
  /** "<dueAt, 15 digits>!<msgId>" → '' : the schedule, one entry per message not yet done */
  due: Sublevel;
  /** "<time>!<seq>" → QueueEvent */
  events: Sublevel;
  /** "<recipient>!<time>!<seq>" → QueueEvent */
  eventsByRecipient: Sublevel;
  /** "<msgId>!<time>!<seq>" → QueueEvent */
  eventsByMessage: Sublevel;
  /** sender domain → its last DNS check (DomainCheck) */
  domains: Sublevel;
  /** "<tenant>!<address>" → SuppressionEntry */
  suppression: Sublevel;
  /** "<Message-ID>" → msgId, to attribute bounces that come back without a VERP token */
  messageIds: Sublevel;
  /** "<tenant>!<address>" → { first, last, count } of soft bounces, for suppression after repeated failures */
  softBounces: Sublevel;
  /** "<tenant>!<reference or Message-ID, lower case>!<msgId>" → '': find a shop's messages by its own reference */
  references: Sublevel;
  /** "hash!<sha256>" → TenantToken, "name!<tenant>!<name>" → sha256: tenant API tokens */
  apiTokens: Sublevel;
  /** "<tenant>!<createdAt>!<msgId>" → '': a tenant's messages, newest first by reverse range */
  messagesByTenant: Sublevel;
  /** "<releaseAt>!<msgId>" → '': bodies of failed messages kept for a re-send until releaseAt */
  retained: Sublevel;
  /** The error log: "<tenant>!<time>!<seq>" → QueueEvent, for failures, deferrals, bounces, complaints, warnings */
  errors: Sublevel;
  /** tenant id → tenant created through the admin API */
  tenants: Sublevel;
  /** upstream name → upstream created through the admin API */
  upstreams: Sublevel;
  /** "<tenant>!<id>" → Webhook */
  webhooks: Sublevel;
  /** "<dueAt>!<deliveryId>" → pending webhook delivery (the outbox) */
  webhookOutbox: Sublevel;
  /** "<webhookId>!<time>!<deliveryId>!<attempt>" → one delivery attempt (the delivery log) */
  webhookLog: Sublevel;
  /** "<tenant>!<category>!<address>" → OptOut */
  optOuts: Sublevel;
  /** "<tenant>!<carrier>!<code>" → Shipment */
  shipments: Sublevel;
  /** "<nextCheckAt>!<tenant>!<carrier>!<code>" → '': the poll schedule */
  shipmentsDue: Sublevel;
  /** "<tenant>!<status>!<carrier>!<code>" → '': shipments by current status */
  shipmentsByStatus: Sublevel;
  /** "<tenant>!<e|p|r>!<e-mail, E.164 phone or order reference>!<carrier>!<code>" → '': find by buyer or order */
  shipmentsByContact: Sublevel;
  /** "<sendAt>!<tenant>!<carrier>!<code>!<status>!<channel>" → '': buyer notices waiting for their time */
  notices: Sublevel;
  /** "<tenant>!<e|p>!<e-mail or E.164 phone>" → BlacklistEntry */
  blacklist: Sublevel;
  /** tenant → TrackingSettings; "report!<tenant>" → next report time; "quota!<tenant>!<YYYY-MM>" → codes taken */
  tracking: Sublevel;
  /** sha256(API token) → time of its last sign-in to the web console */
  consoleSignIns: Sublevel;
  /**
   * Delivery statistics (stats.ts), tenant "*" being every tenant: "a!<tenant>!<hour>" → counts;
   * "d!<tenant>!<day>!<domain>" and "u!<tenant>!<day>!<upstream>" → counts.
   */
  stats: Sublevel;
  /** "<day YYYY-MM-DD>!<policy domain>!<count key>" → TlsSessionCount: TLS sessions until reported (tls-reports.ts) */
  tlsReports: Sublevel;
}

/** Opens (creating if needed) the LevelDB under `<dataDir>/db`. Fails with a clear error if another process holds it. */
export async function openLevel(dataDir: string): Promise<{ db: Db; sub: Sublevels }> {
  const location = path.join(dataDir, 'db');
  await fs.mkdir(location, { recursive: true });
  const db: Db = new Level<string, unknown>(location, { valueEncoding: 'json' });
  try {
    await db.open();
  } catch (err) {
    const cause = (err as { cause?: Error & { code?: string } }).cause;
    const locked = cause?.code === 'LEVEL_LOCKED';
    const detail = cause?.message ?? (err as Error).message;
    const e = new Error(`cannot open store at ${location}: ${detail}` +
      (locked ? ' (is another mailgate running with this dataDir?)' : ''));
    (e as Error & { code: string }).code = locked ? 'STORE_LOCKED' : 'STORE_UNAVAILABLE';
    throw e;
  }
  return { db, sub: sublevelsOf(db) };
}

export function sublevelsOf(db: Db): Sublevels {
  const json = { valueEncoding: 'json' } as const;
  return {
    messages: db.sublevel<string, unknown>('msg', json),
    due: db.sublevel<string, unknown>('due', json),
    events: db.sublevel<string, unknown>('ev', json),
    eventsByRecipient: db.sublevel<string, unknown>('evr', json),
    eventsByMessage: db.sublevel<string, unknown>('evm', json),
    domains: db.sublevel<string, unknown>('dom', json),
    suppression: db.sublevel<string, unknown>('sup', json),
    errors: db.sublevel<string, unknown>('err', json),
    messageIds: db.sublevel<string, unknown>('mid', json),
    retained: db.sublevel<string, unknown>('ret', json),
    references: db.sublevel<string, unknown>('ref', json),
    messagesByTenant: db.sublevel<string, unknown>('tmsg', json),
    apiTokens: db.sublevel<string, unknown>('tok', json),
    softBounces: db.sublevel<string, unknown>('soft', json),
    tenants: db.sublevel<string, unknown>('ten', json),
    upstreams: db.sublevel<string, unknown>('ups', json),
    webhooks: db.sublevel<string, unknown>('wh', json),
    webhookOutbox: db.sublevel<string, unknown>('who', json),
    webhookLog: db.sublevel<string, unknown>('whl', json),
    optOuts: db.sublevel<string, unknown>('opt', json),
    shipments: db.sublevel<string, unknown>('shp', json),
    shipmentsDue: db.sublevel<string, unknown>('shpd', json),
    shipmentsByStatus: db.sublevel<string, unknown>('shps', json),
    shipmentsByContact: db.sublevel<string, unknown>('shpc', json),
    notices: db.sublevel<string, unknown>('ntc', json),
    blacklist: db.sublevel<string, unknown>('blk', json),
    tracking: db.sublevel<string, unknown>('trk', json),
    consoleSignIns: db.sublevel<string, unknown>('con', json),
    stats: db.sublevel<string, unknown>('st', json),
    tlsReports: db.sublevel<string, unknown>('tlsr', json),
  };
}

/** Zero-padded decimal so that lexicographic order is numeric order. */
export function sortableTime(ms: number): string {
  return Math.max(0, Math.floor(ms)).toString().padStart(15, '0');
}
