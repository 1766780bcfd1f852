// Shapes of what is stored about mail: message records, per-recipient state, upstream replies,
// events. Pure data, the store ports' record types; every stage reads and writes them.

/** An SMTP reply as the remote side gave it (or as we synthesised it for network errors). */
export interface SmtpReply {
  code: number;
  /** RFC 3463 enhanced status code, e.g. "5.1.1", when the reply carried one. */
  enhanced?: string;
  text: string;
  /** The command the reply answered (RCPT, DATA, …), when known: "user unknown" at RCPT is proof, after DATA it is not. */
  command?: 'CONN' | 'HELO' | 'AUTH' | 'MAIL' | 'RCPT' | 'DATA';
}

export type RecipientStatus = 'queued' | 'deferred' | 'delivered' | 'failed';

/**
 * What became of a recipient after (or instead of) delivery: a bounce or complaint that came back
 * later, or why it was never sent (suppressed, unsubscribed). Delivery's own `status` stays as it
 * was (the scheduler's business); what a shop admin sees is recipientState() of both.
 */
export interface RecipientOutcome {
  type: 'bounced' | 'complained' | 'suppressed' | 'unsubscribed';
  /** For bounced: hard, soft, … (the classifier's class); for suppressed: the entry's class. */
  class?: string;
  reason?: string;
  /** The remote server's words, as the bounce quoted them. */
  diagnostic?: string;
  time: number;
}

/** What a shop admin sees of a recipient: delivery's status, overridden by a later outcome. */
export type RecipientView = RecipientStatus | RecipientOutcome['type'];

export const RECIPIENT_VIEWS: readonly RecipientView[] = ['queued', 'deferred', 'delivered', 'failed', 'bounced', 'complained', 'suppressed', 'unsubscribed'];

export function recipientState(r: RecipientState): RecipientView {
  return r.outcome?.type ?? r.status;
}

export interface RecipientState {
  address: string;
  status: RecipientStatus;
  /** A bounce or complaint that came back after delivery, or why it was not sent. */
  outcome?: RecipientOutcome;
  attempts: number;
  lastReply?: SmtpReply;
  /** Upstream (or MX host) that gave lastReply. */
  lastUpstream?: string;
  updatedAt: number;
}

/** Where a message body lives: a slice of a shared segment file, or a file of its own (large messages). */
export type BodyRef =
  | { kind: 'segment'; segment: number; offset: number; length: number }
  | { kind: 'file'; name: string; length: number };

export interface MessageSource {
  kind: 'smtp' | 'api' | 'tracking';
  /** SMTP AUTH user, when the client authenticated. */
  user?: string;
  /** The tenant network (CIDR) a client without AUTH was recognised by. */
  network?: string;
  remoteAddress?: string;
  /** The name the client gave in EHLO/HELO. */
  helo?: string;
  /** The session was TLS-protected. */
  secure?: boolean;
}

/** How prepare sent a message: under the tenant's own domain or as the system sender, and why. */
export interface IdentityDecision {
  mode: 'own-domain' | 'system-sender';
  reason?: string;
  warning?: string;
  dkimDomains: string[];
  /** The Message-ID prepare added, on its way to MessageRecord.messageId (not kept here). */
  messageId?: string;
}

export interface MessageRecord {
  id: string;
  tenant: string;
  createdAt: number;
  /** When the scheduler should next look at it; 0 once every recipient is final. */
  dueAt: number;
  attempts: number;
  envelope: { from: string; to: string[] };
  recipients: RecipientState[];
  size: number;
  body: BodyRef;
  messageId?: string;
  subject?: string;
  /** The shop's reference (X-Order-Id / X-Reference header), for search. */
  reference?: string;
  /** The To header's display names ("Anna Schmidt"), for search by the buyer's name. */
  toNames?: string;
  source: MessageSource;
  /** 'done' once every recipient is delivered or failed. */
  state: 'queued' | 'done';
  /** The sender identity of the last attempt. */
  identity?: IdentityDecision;
  /** Failed messages keep their body until then, for a re-send to a corrected address. */
  keptUntil?: number;
  /** The message this one re-sends. */
  resendOf?: string;
  /**
   * Held: accepted and kept, not delivered until released (a shop under review, or an operator's
   * hold). A held message stays queued with dueAt HELD_DUE, so no scan ever finds it due.
   */
  held?: { since: number; by: string };
  /** The message's category (X-Mailgate-Category or a tenant rule) and whether buyers may unsubscribe from it. */
  category?: { name: string; optional: boolean };
}

/** The due time of a held message: far beyond any real one (the year 30,000). */
export const HELD_DUE = 9e14;

/**
 * `written` with each recipient's outcome the later of its own and `stored`'s. A bounce's outcome is
 * written by the bounce processor whenever the bounce comes (message.outcome), so a writer that read
 * the record before it (a delivery attempt, an operator's hold) must not drop it: the engines apply
 * this to every message.update, against the record as stored at the time of the write.
 */
export function keepLaterOutcomes(stored: MessageRecord | undefined, written: MessageRecord): MessageRecord {
  const outcomes = new Map<string, RecipientOutcome>();
  for (const r of stored?.recipients ?? []) if (r.outcome) outcomes.set(r.address, r.outcome);
  if (outcomes.size === 0) return written;
  let changed = false;
  const recipients = written.recipients.map((r) => {
    const kept = outcomes.get(r.address);
    if (!kept || (r.outcome && r.outcome.time >= kept.time)) return r;
    changed = true;
    return { ...r, outcome: kept };
  });
  return changed ? { ...written, recipients } : written;
}

/** `record` with `outcome` on its recipient `address` (spelled as the record spells it): what message.outcome does. */
export function setOutcome(record: MessageRecord, address: string, outcome: RecipientOutcome): MessageRecord {
  return { ...record, recipients: record.recipients.map((r) => (r.address === address ? { ...r, outcome } : r)) };
}

/** The error log's pseudo-tenant for entries meant for the operator (quarantined inbound mail, login alarms). */
export const OPERATOR_TENANT = '.operator';

export type EventType = 'accepted' | 'deferred' | 'delivered' | 'failed' | 'expired' | 'sender-rewritten' | 'bounced' | 'complained' | 'auto-replied' | 'warning' | 'resent' | 'app-error' | 'notice-failed' | 'tracking-failed' | 'refused';

/**
 * Event types that belong in a tenant's error log. A message sent as the system sender
 * (`sender-rewritten`) is not an error of that message: the sender domain's state is shown per
 * domain (Domains, a banner) and logged once as a warning when it changes.
 */
export const ERROR_TYPES: ReadonlySet<string> = new Set(['failed', 'deferred', 'expired', 'bounced', 'complained', 'warning', 'app-error', 'notice-failed', 'tracking-failed', 'refused']);

/** In the error log but not counted by the red counter: setup problems, not failed mail. */
export const UNCOUNTED_TYPES: readonly string[] = ['warning', 'tracking-failed'];

/** In the error log: an error type, and not a recipient's second, third … deferral (its message's history has those). */
export function isErrorEvent(e: Pick<QueueEvent, 'type' | 'repeated'>): boolean {
  return ERROR_TYPES.has(e.type) && !e.repeated;
}

/** Counted by the red counter: delivery failures, refusals, bounces, complaints, app errors — warnings are listed, not counted. */
export function countsAsError(e: Pick<QueueEvent, 'type' | 'repeated'>): boolean {
  return isErrorEvent(e) && !UNCOUNTED_TYPES.includes(e.type);
}

export interface QueueEvent {
  time: number;
  type: EventType;
  msgId: string;
  tenant: string;
  recipient: string;
  upstream?: string;
  reply?: SmtpReply;
  attempt?: number;
  /** Stable error code for failures, e.g. UPSTREAM_REJECTED, MESSAGE_EXPIRED. */
  code?: string;
  /** For deferred: the recipient was already deferred (the error log and its counter show the first deferral only). */
  repeated?: boolean;
  /** For delivered: time from acceptance to delivery (ms). */
  latencyMs?: number;
  /** For failures: the bounce classifier's verdict on the reply (hard/soft/policy…, user-unknown, mailbox-full…). */
  class?: string;
  reason?: string;
  /** For sender-rewritten: why, and which DNS records would let mail go out under the tenant's domain; for app-error: the app's message. */
  detail?: string;
  /** For app-error: how bad (info, warning, error, critical). */
  severity?: string;
  /** For app-error: the shop's order reference. */
  reference?: string;
  /** For app-error: the customer's phone number. */
  phone?: string;
}

/**
 * One SMTP session (connection) to an MX host under a TLS policy — MTA-STS or DANE — or a policy
 * that could not be fetched, as TLS reports (RFC 8460) count them per recipient domain and day.
 */
export interface TlsSession {
  time: number;
  /** The recipient domain whose policy applied (where the report goes). */
  policyDomain: string;
  policyType: 'sts' | 'tlsa' | 'no-policy-found';
  /** The policy as published: the MTA-STS policy's lines, or the TLSA records in presentation form. */
  policyStrings: string[];
  /** The MTA-STS policy's mx patterns, or the MX host the TLSA records are for. */
  mxHosts: string[];
  /** 'success', or an RFC 8460 result type (certificate-host-mismatch, starttls-not-supported, …). */
  result: string;
  receivingMx?: string;
  receivingIp?: string;
  sendingIp?: string;
  /** An implementation code for the failure (OpenSSL's verify error). */
  reasonCode?: string;
}
