// The resolved configuration: what the rest of mailgate reads after config/load.ts has
// parsed the YAML, read every secret (inline, …File, …Env) and checked cross-references.

export interface ListenAddress {
  host: string;
  port: number;
}

export interface TlsConfig {
  key: Buffer;
  cert: Buffer;
}

export type UpstreamTls = 'none' | 'starttls' | 'implicit';

export interface SmtpUpstream {
  name: string;
  type: 'smtp';
  host: string;
  port: number;
  tls: UpstreamTls;
  /** Verify the upstream's certificate (default true; false for self-signed test hosts). */
  tlsVerify: boolean;
  auth?: { user: string; password: string };
  /** Parallel connections to this upstream. */
  maxConnections: number;
  /** Where the upstream came from: config-declared upstreams are read-only through the API. */
  source: 'config' | 'store';
  /** The tenant whose shop admin made it through the API (and may edit it); none for operators' upstreams. */
  owner?: string;
  /**
   * Connect only to public addresses, checked on the address connected to at each delivery: set on a
   * shop's own upstream when it is handed to delivery (unless admin.allowPrivateTenantUpstreams).
   */
  publicOnly?: boolean;
}

export interface MxUpstream {
  name: string;
  type: 'mx';
  /** Port of the recipients' MX hosts: 25 in production; tests point it at a loopback sink. */
  port: number;
  /** Parallel connections per MX host. */
  maxConnections: number;
  /** Require verified TLS; default is opportunistic STARTTLS without verification (RFC 7435). */
  requireTls: boolean;
  /**
   * Deliver to MX hosts that resolve to loopback, private or link-local addresses (tests, lab setups).
   * Off: such recipients fail, so a domain whose MX points into the LAN cannot aim mailgate at it.
   */
  allowPrivateAddresses: boolean;
  /** Follow the recipient domain's MTA-STS policy (RFC 8461): in enforce mode only its MX hosts, over TLS with a valid certificate. */
  mtaSts: boolean;
  /** Require TLS matching the MX host's DNSSEC-validated TLSA records (RFC 7672), when the resolver vouches for them (AD bit). */
  dane: boolean;
  source: 'config' | 'store';
  owner?: string;
}

export type Upstream = SmtpUpstream | MxUpstream;

/** Where one login's or network's mail goes and under which default sender, instead of the tenant's. */
export interface SenderOverride {
  upstream?: string;
  from?: { address: string; name?: string };
}

export interface NetworkSender extends SenderOverride {
  cidr: string;
}

/** How much a shop or one of its logins may send (absent fields: no limit). */
export interface SendLimits {
  messagesPerMinute?: number;
  messagesPerHour?: number;
  messagesPerDay?: number;
  recipientsPerMessage?: number;
  recipientsPerMonth?: number;
}

export interface TenantCredential extends SenderOverride {
  user: string;
  /** This login's own limits, on top of the shop's. */
  limits?: SendLimits;
  /** scrypt hash of the password, computed at load time; the clear text is not kept. */
  passwordHash: Buffer;
  passwordSalt: Buffer;
}

export interface TenantDomain {
  domain: string;
  /** Signing keys (rsa and/or ed25519; two selectors during rotation). Each signs once its DNS record is verified. */
  dkim: Array<{ selector: string; privateKey: string }>;
}

export interface Tenant {
  id: string;
  name: string;
  auth: TenantCredential[];
  /** CIDRs whose clients are this tenant without AUTH. */
  networks: string[];
  /** Networks (of `networks`) with their own upstream or sender. */
  networkSenders?: NetworkSender[];
  from?: { address: string; name?: string };
  domains: TenantDomain[];
  /** Upstream name; undefined means the system upstream. */
  upstream?: string;
  /** How much the shop may send (all its logins and networks together). */
  limits?: SendLimits;
  /** New mail is held (accepted, kept, not delivered) until released: a shop under review. */
  hold?: boolean;
  /** Message categories and whether buyers may unsubscribe from them; unlisted ones are mandatory. */
  categories?: Record<string, 'optional' | 'mandatory'>;
  /** Categories found by subject (a case-insensitive regular expression) when the app sets no X-Mailgate-Category. */
  categoryRules?: Array<{ subject: string; category: string }>;
  source: 'config' | 'store';
}

export interface AdminToken {
  name: string;
  token: string;
}

/** Where records are kept: LevelDB under dataDir (one node), or a PostgreSQL database (several nodes). */
export type StoreConfig =
  | { engine: 'level' }
  | { engine: 'postgres'; url: string; poolSize: number };

export interface Config {
  /** Absolute path of the data directory (LevelDB and spool segments). */
  dataDir: string;
  store: StoreConfig;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** json: pino's JSON lines (default); text: local-time lines with level names, for people. */
  logFormat: 'json' | 'text';
  listen: { submission: ListenAddress; inbound: ListenAddress; admin: ListenAddress; submissions?: ListenAddress };
  tls?: TlsConfig;
  limits: {
    maxMessageSize: number;
    maxRecipients: number;
    /** Idle SMTP connection timeout, ms. */
    idleTimeout: number;
    maxConnections: number;
    submissionConnectionsPerClient: number;
    inboundConnectionsPerClient: number;
    /** ms from a command's first byte to its end of line. */
    commandTimeout: number;
    /** Bytes a second DATA must average after commandTimeout. */
    minDataRate: number;
    maxRefusedRecipients: number;
    maxCommandsPerConnection: number;
    authFailuresPerUser: number;
    authFailuresPerClient: number;
    /** Failed logins in 10 minutes, over all users and addresses, that raise the login alarm (0: off). */
    authFailureAlarm: number;
    /** Bytes the data directory must keep free; absent means 1.5 × maxMessageSize + 64 MiB. */
    minFreeSpace?: number;
    /** Longest one inbound message may take to parse, ms. */
    bounceParseTimeout: number;
  };
  queue: {
    /** Delays in ms before attempt 2, 3, …; the last one repeats. */
    retrySchedule: number[];
    /** Age in ms after which an undelivered message expires as failed. */
    maxAge: number;
    /** Messages in delivery at once, over all upstreams. */
    concurrency: number;
    /** Outbound SMTP in its own thread (second core; ~26 MB more memory) or on the main event loop. */
    deliveryThread: boolean;
    /** One transaction per server with a return path naming the message, or one per recipient with its own. */
    returnPath: 'message' | 'recipient';
  };
  retention: {
    /** How long a final message's content stays on disk (re-send, raw source), ms; 0 = deleted at once. */
    bodies: number;
    /** Most bytes of kept content per tenant and node; 0 = no limit. */
    bodiesPerTenant: number;
    /** How long events and finished messages' records are kept, ms; 0 = for ever. */
    events: number;
  };
  /** DNS servers for MX lookups ("127.0.0.1:5353"); empty means the system's resolv.conf. */
  dns: { servers: string[] };
  system: {
    hostname: string;
    sender: { address: string; name?: string };
    bounceDomain: string;
    dkim?: { domain: string; selector: string; privateKey: string };
    upstream: string;
    /** What a tenant's SPF record must contain to authorise this relay (default include:_spf.<hostname>). */
    spf: { include?: string; ip4?: string[]; ip6?: string[] };
    /** Base of the public one-click unsubscribe links (default https://<hostname>/unsubscribe). */
    unsubscribeUrl: string;
    /** Key of the VERP MACs; when absent, <dataDir>/verp.secret is created and used. */
    verpSecret?: string;
  };
  admin: {
    tokens: AdminToken[];
    allowPrivateTenantUpstreams: boolean;
    /** Reverse proxies (addresses, CIDRs) whose X-Forwarded-For/-Proto are believed; empty: none. */
    trustProxy: string[];
    /** Secure flag of the console cookie; 'auto': when the request came over HTTPS. */
    secureCookie: boolean | 'auto';
  };
  upstreams: Upstream[];
  tenants: Tenant[];
  tracking: TrackingConfig;
  webhooks: {
    /** Delays in ms before attempt 2, 3, …; after the last one the delivery is given up. */
    retrySchedule: number[];
    /** Per request, ms. */
    timeout: number;
    /** Allow webhook URLs that resolve to loopback, private or link-local addresses (off: no SSRF into the LAN). */
    allowPrivateTargets: boolean;
  };
  secureDelivery: SecureDeliveryConfig;
  /** Grace period in ms for in-flight deliveries on SIGTERM. */
  shutdownGrace: number;
}

/** MTA-STS, DANE and TLS reports for direct delivery: what is not per upstream. */
export interface SecureDeliveryConfig {
  /** PEM CA certificates trusted besides the system's (caFile's content). */
  ca?: string;
  /** Port of the MTA-STS policy host (443). */
  mtaStsPort: number;
  tlsReports: TlsReportsConfig;
}

/** TLS reporting (RFC 8460): session counts per recipient domain and day, reported daily to the domain's rua. */
export interface TlsReportsConfig {
  enabled: boolean;
  /** "organization-name" in the reports. */
  organization: string;
  /** "contact-info", and the sender of mailto: reports. */
  contact: string;
  /** Per https: upload, ms. */
  timeout: number;
  allowPrivateTargets: boolean;
}

/** Parcel tracking: how often shipments are checked, the carrier accounts and the SMS/voice gateways. */
export interface TrackingConfig {
  checksPerDay: number;
  /** Polling of a shipment stops this long after it came in (ms). */
  maxAgeMs: number;
  /** The first check of a new shipment (ms after intake). */
  firstCheckDelayMs: number;
  /** Codes per carrier call. */
  batchSize: number;
  /** Each configured carrier's options, as its own schema (tracking/carriers) made them. */
  carriers: Readonly<Record<string, unknown>>;
  phoneGateways: PhoneGatewayEntry[];
}

/** One configured SMS / voice-call gateway, as its type's schema (tracking/gateways) made it; `name` is how notices and logs refer to it. */
export interface PhoneGatewayEntry {
  type: string;
  name: string;
  [option: string]: unknown;
}

