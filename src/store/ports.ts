// The store's ports: one interface per concern, what the rest of mailgate may ask of whichever
// engine keeps the data (LevelDB embedded, PostgreSQL shared). Writes that must happen together
// (a message's record with its events, a bounce's suppression with its webhook delivery) are
// StoreOps — plain data naming what changes, never how it is keyed — committed in one transaction
// by Store.commit(). Key encoding, tables and indexes belong to the engines alone.
import type { FileHandle } from 'node:fs/promises';
import type { Tenant, Upstream } from '../config/types.js';
import type { MessageRecord, QueueEvent, RecipientOutcome, TlsSession } from './records.js';
import type { StatCounts } from './stats.js';
import type { TlsSessionCount } from './tls-reports.js';

// --- record shapes kept by the ports -----------------------------------------------------------

export interface SuppressionEntry {
  tenant: string;
  address: string;
  class: string;
  reason: string;
  time: number;
  /** Message whose bounce or complaint put the address here. */
  msgId?: string;
  source: 'bounce' | 'complaint' | 'admin';
  diagnostic?: string;
  /** Which rule put the address here, in a shop admin's words ("hard bounce: the address does not exist", "3 soft bounces …"). */
  rule?: string;
}

/** Soft bounces of one address so far: since when, the last, how many. */
export interface SoftCount {
  first: number;
  last: number;
  count: number;
}

export interface OptOut {
  tenant: string;
  category: string;
  address: string;
  time: number;
  via: 'one-click' | 'page' | 'mailto' | 'admin';
}

export interface TenantToken {
  tenant: string;
  name: string;
  createdAt: number;
}

export const WEBHOOK_EVENTS = ['failed', 'expired', 'bounced', 'complained', 'suppressed', 'deferred', 'app-error', 'test'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

export interface Webhook {
  id: string;
  tenant: string;
  url: string;
  secret: string;
  events: WebhookEventType[];
  active: boolean;
  createdAt: number;
}

/** One event on its way to one webhook (the outbox). */
export interface PendingDelivery {
  id: string;
  webhookId: string;
  tenant: string;
  type: WebhookEventType;
  payload: string;
  attempt: number;
  firstAt: number;
}

/** One try to deliver it (the delivery log). */
export interface DeliveryAttempt {
  deliveryId: string;
  webhookId: string;
  type: WebhookEventType;
  time: number;
  attempt: number;
  outcome: 'delivered' | 'retrying' | 'gave-up';
  status?: number;
  error?: string;
  durationMs: number;
  nextAttemptAt?: number;
}

/** What the store reads of a shipment to index it; tracking's Shipment has these and more. */
export interface IndexedShipment {
  tenant: string;
  carrier: string;
  code: string;
  status: string;
  active?: boolean;
  nextCheckAt?: number;
  email?: string;
  phoneE164?: string;
  reference?: string;
  orderReference?: string;
  /** The buyer's name, for support staff's search. */
  name?: string;
}

/** How a shipment is named across the store's ports (and in tracking's poll schedule). */
export const shipmentKey = (tenant: string, carrier: string, code: string) => `${tenant}!${carrier}!${code}`;

/** A buyer notice waiting for its sending time. */
export interface NoticeEntry {
  sendAt: number;
  tenant: string;
  carrier: string;
  code: string;
  status: string;
  channel: string;
}

export interface BlacklistEntry {
  tenant: string;
  kind: 'email' | 'phone';
  value: string;
  reason: string;
  carrier?: string;
  code?: string;
  time: number;
}

export interface ShipmentQuery {
  status?: string;
  /** One carrier's shipments (when no other filter is given). */
  carrier?: string;
  code?: string;
  email?: string;
  phone?: string;
  reference?: string;
  /** A part of the buyer's name (case-insensitive): each word of the name can start the match. */
  name?: string;
  limit?: number;
  /** Continue after this cursor (from the previous page). */
  cursor?: string;
}

// --- what a transaction may change ------------------------------------------------------------

/** One change in a transaction. Engines translate each into their own writes. */
export type StoreOp =
  /** A new message: its record, its place in the schedule (when queued) and its search indexes. */
  | { kind: 'message.add'; record: MessageRecord }
  /**
   * A changed message (new due time or final state); `keepUntil` keeps a failed one's body for a re-send.
   * A recipient's outcome already stored stays unless `record` has a later one (keepLaterOutcomes):
   * a bounce recorded after the writer read the record is not lost.
   */
  | { kind: 'message.update'; record: MessageRecord; previousDueAt: number; keepUntil?: number }
  /**
   * A bounce or complaint for one recipient (`address` as the record spells it), set on the record as
   * stored when the transaction runs — not on a copy read earlier, so it undoes no attempt recorded meanwhile.
   */
  | { kind: 'message.outcome'; id: string; address: string; outcome: RecipientOutcome }
  /**
   * A handed-over message's body is in this node's spool now (`record.body` says where). `record` was
   * read at the hand-over: a stored outcome later than its own stays, as with message.update.
   */
  | { kind: 'message.adopted'; record: MessageRecord }
  /** A kept body was released: the message leaves the keep list. */
  | { kind: 'message.released'; id: string; keptUntil: number }
  /** Lets a tenant find a message (or an application error) by its own reference. */
  | { kind: 'reference.add'; tenant: string; reference: string; msgId: string }
  /** One event; `id` orders events of the same millisecond and makes the write idempotent. */
  /**
   * `fresh`: the id was made for this op and the op was never committed before (EventLog.ops), so an
   * engine may skip looking the event up before counting it (an event written twice counts once).
   */
  | { kind: 'event.add'; event: QueueEvent; id: string; fresh?: boolean }
  | { kind: 'suppression.add'; entry: SuppressionEntry }
  | { kind: 'soft-bounces.set'; tenant: string; address: string; count: SoftCount }
  | { kind: 'soft-bounces.clear'; tenant: string; address: string }
  | { kind: 'webhook.enqueue'; delivery: PendingDelivery; dueAt: number }
  /** A shipment moves from `before` (absent when new) to `after` (absent when deleted), indexes included. */
  | { kind: 'shipment.change'; before?: IndexedShipment; after?: IndexedShipment }
  /** Drops one entry of the poll schedule (`entry` as dueShipments gave it). */
  | { kind: 'shipment.undue'; entry: string }
  | { kind: 'notice.add'; notice: NoticeEntry }
  | { kind: 'notice.remove'; notice: NoticeEntry }
  | { kind: 'blacklist.add'; entry: BlacklistEntry }
  /** Tracking codes a tenant took this month (YYYY-MM). */
  | { kind: 'tracking.quota'; tenant: string; month: string; used: number }
  /** When a tenant's next tracking report is due. */
  | { kind: 'tracking.report'; tenant: string; at: number };

export interface CommitOptions {
  /** Files to fdatasync before the records that point into them are written. */
  files?: FileHandle[];
  /** Directories to fsync first (new file names). */
  dirs?: string[];
  /** Wait for the engine's durable write (default true); tracking's bookkeeping may skip it. */
  sync?: boolean;
}

// --- the ports ------------------------------------------------------------------------------

/** Message records, the delivery schedule and the indexes the API searches. */
export interface MessageStore {
  get(id: string): Promise<MessageRecord | undefined>;
  /** The queue id of the message with this Message-ID (case-insensitive). */
  byMessageId(messageId: string): Promise<string | undefined>;
  /** Queue ids of a tenant's messages with this reference (case-insensitive). */
  byReference(tenant: string, reference: string, limit: number): Promise<string[]>;
  /** A tenant's messages, newest first, within [from, to) and after a cursor; `filter` is applied with bounded work per page. */
  listByTenant(tenant: string, q: MessageListQuery): Promise<{ messages: MessageRecord[]; cursor?: string }>;
  /** Messages due at or before `now`, earliest first. */
  due(now: number, limit: number): Promise<Array<{ id: string; dueAt: number }>>;
  nextDue(): Promise<number | undefined>;
  /** Every message still queued, soonest due first. */
  queued(): AsyncIterable<MessageRecord>;
  /** How many messages are queued. */
  depth(): Promise<number>;
  /** The smallest id among queued messages (queue ids sort by acceptance time: the oldest), undefined when none is. */
  oldestQueuedId(): Promise<string | undefined>;
  /** Failed messages whose kept body may be released at `now`. */
  keptUntil(now: number): AsyncIterable<{ id: string; keptUntil: number }>;
  /** Every message whose body must still be on disk: queued ones and kept ones. */
  withBodies(): AsyncIterable<MessageRecord>;
  /**
   * Deletes up to `limit` records (with their index entries) of messages created before `before`
   * that are done and whose body is not kept past `now`; how many.
   */
  prune(before: number, now: number, limit: number): Promise<number>;
  /**
   * Several nodes: gives a queued message of this node, with its body, to whichever node adopts it
   * (a node being drained). Absent on a single-node store.
   */
  readonly handOver?: (id: string, body: Buffer) => Promise<void>;
  /**
   * Several nodes: takes up to `limit` handed-over messages (and any this node took before but had
   * not finished); the caller spools each body and commits `message.adopted` with the new body ref.
   */
  readonly adopt?: (limit: number) => Promise<Array<{ record: MessageRecord; body: Buffer }>>;
  /**
   * Several nodes: which node holds a queued message or the kept content of a failed one (the body is
   * on that node's disk) — 'here', another node, or 'nobody' while it is being handed over; undefined
   * when no such message is queued or kept. Absent on a single-node store.
   */
  readonly holder?: (id: string) => Promise<MessageHolder | undefined>;
}

/** `silentMs`: how long since the holder's last heartbeat. */
export type MessageHolder = 'here' | 'nobody' | { node: string; name: string; silentMs: number };

export interface ErrorQuery {
  /** Only events at or after this time (ms). */
  since?: number;
  /** Only events before this time (ms). */
  until?: number;
  /** Only this class (hard, soft, policy, complaint, …). */
  class?: string;
  /** Continue after this cursor (from the previous page). */
  cursor?: string;
  limit?: number;
}

/** What MessageStore.listByTenant and AcrossTenants.messages take. */
export interface MessageListQuery {
  from?: number;
  to?: number;
  cursor?: string;
  limit: number;
  filter?: (r: MessageRecord) => boolean;
}

/** The event history and the error log (the events of ERROR_TYPES, per tenant). */
export interface EventStore {
  errors(tenant: string, q: ErrorQuery): Promise<{ events: QueueEvent[]; cursor?: string }>;
  countErrors(tenant: string, since: number): Promise<number>;
  /** Oldest first. */
  byRecipient(address: string, limit: number): Promise<QueueEvent[]>;
  /** Oldest first. */
  byMessage(msgId: string, limit: number): Promise<QueueEvent[]>;
  /** True when a message of `tenant` other than `except` was delivered to `address` at or after `since`. */
  deliveredSince(tenant: string, address: string, since: number, except: string): Promise<boolean>;
  /** Newest first. */
  recent(limit: number): Promise<QueueEvent[]>;
  /** Deletes up to `limit` of the oldest events from before `before` (with their index entries); how many. */
  prune(before: number, limit: number): Promise<number>;
}

export interface SuppressionStore {
  get(tenant: string, address: string): Promise<SuppressionEntry | undefined>;
  remove(tenant: string, address: string): Promise<void>;
  /** In address order; `address` matches a part of the address, `reason` the class or a part of the reason. */
  list(tenant: string, q: { address?: string; reason?: string; limit?: number }): Promise<SuppressionEntry[]>;
}

export interface SoftBounceStore {
  get(tenant: string, address: string): Promise<SoftCount | undefined>;
}

export interface OptOutStore {
  has(tenant: string, category: string, address: string): Promise<boolean>;
  add(entry: OptOut): Promise<void>;
  remove(tenant: string, category: string, address: string): Promise<boolean>;
  list(tenant: string, q?: { address?: string; category?: string; limit?: number }): Promise<OptOut[]>;
}

/** Tenants and upstreams made through the admin API (the config file's live in the config). */
export interface TenantStore {
  tenants(): Promise<Tenant[]>;
  putTenant(t: Tenant): Promise<void>;
  deleteTenant(id: string): Promise<void>;
  upstreams(): Promise<Upstream[]>;
  putUpstream(u: Upstream): Promise<void>;
  deleteUpstream(name: string): Promise<void>;
}

/** Tenant API tokens, by the SHA-256 of the token; the token itself is never stored. */
export interface ApiTokenStore {
  byHash(hash: string): Promise<TenantToken | undefined>;
  /** Saves a token under its name, replacing (and invalidating) the one the name had. */
  save(hash: string, entry: TenantToken): Promise<void>;
  /** False when the tenant has no token of that name. */
  remove(tenant: string, name: string): Promise<boolean>;
  names(tenant: string): Promise<string[]>;
}

export interface WebhookStore {
  all(): Promise<Webhook[]>;
  put(hook: Webhook): Promise<void>;
  delete(hook: Webhook): Promise<void>;
  /** Outbox entries due at or before `now`; `ref` names the entry for settle() and drop(). */
  due(now: number, limit: number): Promise<Array<{ ref: string; delivery: PendingDelivery }>>;
  /** Records an attempt and takes the entry out of the outbox, putting the next try in when given. */
  settle(ref: string, attempt: DeliveryAttempt, next?: { delivery: PendingDelivery; dueAt: number }): Promise<void>;
  drop(ref: string): Promise<void>;
  /** A webhook's attempts, newest first. */
  log(webhookId: string, limit: number): Promise<DeliveryAttempt[]>;
}

/** The last DNS check of each sender domain (the record's shape is identity's). */
export interface DomainCheckStore {
  all(): Promise<Array<[string, unknown]>>;
  put(domain: string, check: unknown): Promise<void>;
}

/** Shipments, their poll schedule, buyer notices, the blacklist and tracking's per-tenant bookkeeping. Records are tracking's; the store reads IndexedShipment of them. */
export interface ShipmentRecords {
  /** `keys` are shipmentKey()s. */
  getMany(keys: string[]): Promise<Array<IndexedShipment | undefined>>;
  /** Poll schedule entries due at or before `now`: the shipment's key, the check time, and the entry itself (to drop it). */
  dueShipments(now: number, limit: number): Promise<Array<{ key: string; at: number; entry: string }>>;
  /** A tenant's shipments by one filter; the code filter tries every carrier in `carriers`. */
  list(tenant: string, q: ShipmentQuery, carriers: readonly string[]): Promise<{ shipments: IndexedShipment[]; cursor?: string }>;
  countByStatus(tenant: string): Promise<Record<string, number>>;
  dueNotices(now: number, limit: number): Promise<NoticeEntry[]>;
  /** The pending notices of one shipment, or of every shipment of a tenant (no carrier and code), by sending time. */
  noticesOf(tenant: string, carrier?: string, code?: string): Promise<NoticeEntry[]>;
  blacklisted(tenant: string, kind: 'email' | 'phone', value: string): Promise<BlacklistEntry | undefined>;
  unblacklist(tenant: string, kind: 'email' | 'phone', value: string): Promise<boolean>;
  blacklist(tenant: string, limit: number): Promise<BlacklistEntry[]>;
  settings(tenant: string): Promise<unknown>;
  saveSettings(tenant: string, settings: unknown): Promise<void>;
  tenantsWithSettings(): Promise<string[]>;
  quotaUsed(tenant: string, month: string): Promise<number>;
  nextReport(tenant: string): Promise<number | undefined>;
}

export interface StatsQuery {
  /** Every tenant when absent. */
  tenant?: string;
  from: number;
  to: number;
}

/** Delivery statistics: counters the engines keep from the events they write (stats.ts says which). */
export interface StatsStore {
  /** Hourly totals in [from, to), oldest first; hours without mail are absent. */
  hourly(q: StatsQuery): Promise<Array<{ time: number; counts: StatCounts }>>;
  /** Totals per recipient domain or per upstream over the (UTC) days that [from, to) touches. */
  breakdown(q: StatsQuery & { by: 'domain' | 'upstream' }): Promise<Array<{ key: string; counts: StatCounts }>>;
}

/**
 * The operator's views: the per-tenant lists above, across every tenant at once, each row carrying
 * its tenant. Same filters and paging as the per-tenant questions; a cursor comes from the same view.
 */
export interface AcrossTenants {
  /** Messages of every tenant, newest first (as MessageStore.listByTenant). */
  messages(q: MessageListQuery): Promise<{ messages: MessageRecord[]; cursor?: string }>;
  /** The error log of every tenant, newest first (as EventStore.errors). */
  errors(q: ErrorQuery): Promise<{ events: QueueEvent[]; cursor?: string }>;
  countErrors(since: number): Promise<number>;
  /** Messages (and application errors) of any tenant with this reference or Message-ID (case-insensitive). */
  byReference(reference: string, limit: number): Promise<Array<{ tenant: string; id: string }>>;
  /** Suppression entries of every tenant, by tenant then address (as SuppressionStore.list). */
  suppression(q: { address?: string; reason?: string; limit?: number }): Promise<SuppressionEntry[]>;
  /** Shipments of every tenant, by tenant then carrier and code (as ShipmentRecords.list). */
  shipments(q: ShipmentQuery, carriers: readonly string[]): Promise<{ shipments: IndexedShipment[]; cursor?: string }>;
}

/** TLS sessions under MTA-STS and DANE, counted per recipient domain and UTC day until reported (RFC 8460). */
export interface TlsReportStore {
  /** Adds the sessions to their day's counters (tls-reports.ts groups them). */
  record(sessions: TlsSession[]): Promise<void>;
  /** Domains with counters of days before `beforeDay` (YYYY-MM-DD), oldest day first, each domain once a day. */
  pending(beforeDay: string, limit: number): Promise<Array<{ day: string; policyDomain: string }>>;
  /** One domain's counters of one day. */
  counts(day: string, policyDomain: string): Promise<TlsSessionCount[]>;
  /** Forgets one domain's day (reported, or given up). */
  remove(day: string, policyDomain: string): Promise<void>;
}

/** When each API token (by hash) last signed in to the web console. */
export interface SignInLog {
  get(tokenHash: string): Promise<number | undefined>;
  set(tokenHash: string, time: number): Promise<void>;
}

/** What the nodes of a cluster cache and must re-read when another node changes it. */
export type ChangeTopic = 'tenants' | 'webhooks' | 'domains';

export interface ClusterNode {
  id: string;
  name: string;
  startedAt: number;
  heartbeatAt: number;
}

/** The nodes sharing this store. On LevelDB there is one, which holds every lease. */
export interface ClusterPort {
  /** This node's id (its data directory's). */
  readonly node: string;
  /** Every node that has opened the store and not left it, with its last heartbeat. */
  nodes(): Promise<ClusterNode[]>;
  /** This node leaves the cluster for good (drained): it is no longer listed. */
  leave(): Promise<void>;
  /** Takes or renews lease `name` for `ttlMs`; true while this node holds it. A dead holder's lease runs out. */
  lease(name: string, ttlMs: number): Promise<boolean>;
  release(name: string): Promise<void>;
  /** Calls `fn` after another node changed what `topic` covers (within about a second). */
  onChange(topic: ChangeTopic, fn: () => void): void;
  /**
   * A secret every node must use alike (the VERP and unsubscribe key): the one the cluster has, else
   * `make()`'s, kept for all. Undefined on a single-node store (the node keeps it in its data directory).
   */
  sharedSecret(name: string, make: () => string): Promise<string | undefined>;
  /**
   * One of `limit` slots named `key` shared by every node (an upstream's connections): its release,
   * or undefined when all are taken. A dead node's slots are freed with its connection. Absent on a
   * single-node store, which counts its slots itself.
   */
  readonly slot?: (key: string, limit: number) => Promise<(() => Promise<void>) | undefined>;
}

/** Every record of a store as key/value text, read from one consistent snapshot (a backup's database part). */
export type StoreSnapshot = () => AsyncIterable<[string, string]>;

/** An empty store being filled from a backup. */
export interface RestoreTarget {
  write(entries: Array<[string, string]>): Promise<void>;
  close(): Promise<void>;
}

/** An open store: the ports, and the one way to change several of them at once. */
export interface Store {
  /** 'level' or 'postgres'. */
  readonly engine: string;
  readonly messages: MessageStore;
  readonly events: EventStore;
  readonly suppression: SuppressionStore;
  readonly softBounces: SoftBounceStore;
  readonly optOuts: OptOutStore;
  readonly tenants: TenantStore;
  readonly apiTokens: ApiTokenStore;
  readonly webhooks: WebhookStore;
  readonly domains: DomainCheckStore;
  readonly shipments: ShipmentRecords;
  readonly acrossTenants: AcrossTenants;
  readonly signIns: SignInLog;
  readonly stats: StatsStore;
  readonly tlsReports: TlsReportStore;
  readonly cluster: ClusterPort;
  /**
   * Applies `ops` atomically and durably, after the given files and directories are on disk. Commits
   * that arrive while one is being written are written together (group commit).
   */
  commit(ops: StoreOp[], opts?: CommitOptions): Promise<void>;
  /** Resolves when no commit is pending. */
  idle(): Promise<void>;
  /** Commits asked for (`writes`) and transactions written for them (`groups`), since opening. */
  readonly commitStats: { readonly groups: number; readonly writes: number };
  /** The engine answers (for /healthz). */
  isOpen(): boolean;
  /** The records for a backup; undefined when the engine is backed up with its own tools. */
  readonly snapshot: StoreSnapshot | undefined;
  close(): Promise<void>;
}
