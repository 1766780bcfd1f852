// Messages between the main thread and the delivery thread.
import type { Upstream } from '../config/types.js';
import type { RecipientResult } from '../queue/delivery-result.js';
import type { IdentityInput, IdentityPlan } from '../identity/sender-policy.js';
import type { BodySource, TraceInfo } from '../identity/prepare.js';
import type { TlsSession } from '../store/records.js';

export interface WorkerSetup {
  hostname: string;
  dnsServers: string[];
  logLevel: string;
  logFormat: 'json' | 'text';
  /** MTA-STS policy host port and extra CAs (config.secureDelivery). */
  secure: { mtaStsPort: number; ca?: string };
}

/** Where the worker finds the body: in the job, or a byte range of a spool file. */
export type JobBody = BodySource;

export interface DeliveryJob {
  id: number;
  upstream: Upstream;
  envelope: { from: string; to: string[] };
  body: JobBody;
  /**
   * When present, the message is prepared (identity, headers, DKIM) and each recipient gets its own
   * transaction with `verp[i]` as MAIL FROM — or, `together`, the recipients that share a server one
   * transaction with the message's return path (all `verp[i]` are the same then).
   */
  prepare?: { identity: IdentityInput; trace: TraceInfo; verp: string[]; together?: boolean; listUnsubscribe?: string[] };
}

/** What prepare decided, reported back for the message record. */
export interface IdentitySummary {
  mode: IdentityPlan['mode'];
  reason?: string;
  warning?: string;
  dkimDomains: string[];
  /** The Message-ID prepare added (the message had none). */
  messageId?: string;
}

/** What a job reports: per recipient, what prepare decided, and the TLS policy sessions since the last job (for TLS reports). */
export interface JobOutcome {
  results: RecipientResult[];
  identity?: IdentitySummary;
  tlsSessions?: TlsSession[];
}

export type WorkerReply = ({ id: number } & JobOutcome) | { id: number; error: string };
