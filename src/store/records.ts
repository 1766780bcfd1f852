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

export interface RecipientState {
  address: string;
  status: RecipientStatus;
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
  source: MessageSource;
  /** 'done' once every recipient is delivered or failed. */
  state: 'queued' | 'done';
  /** The sender identity of the last attempt. */
  identity?: IdentityDecision;
  /** Failed messages keep their body until then, for a re-send to a corrected address. */
  keptUntil?: number;
  /** The message this one re-sends. */
  resendOf?: string;
  /** The message's category (X-Mailgate-Category or a tenant rule) and whether buyers may unsubscribe from it. */
  category?: { name: string; optional: boolean };
}

export type EventType = 'accepted' | 'deferred' | 'delivered' | 'failed' | 'expired' | 'sender-rewritten' | 'bounced' | 'complained' | 'auto-replied' | 'warning' | 'resent' | 'app-error' | 'notice-failed' | 'tracking-failed' | 'refused';

/** Event types that belong in a tenant's error log. */
export const ERROR_TYPES: ReadonlySet<string> = new Set(['failed', 'deferred', 'expired', 'bounced', 'complained', 'warning', 'sender-rewritten', 'app-error', 'notice-failed', 'tracking-failed', 'refused']);

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
