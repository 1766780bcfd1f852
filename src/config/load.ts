// Config loading: YAML text → validated, resolved `Config` (defaults, secrets from inline/…File/…Env,
// hashed tenant passwords, cross-references), or a ConfigError listing every issue as `path: message`.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import {
  type Cidr,
  type Parsed,
  isEmailAddress,
  isHostname,
  parseCidr,
  parseDnsServer,
  parseDuration,
  parseListenAddress,
  parseSize,
} from './formats.js';
import { hashPassword } from './password.js';
import type { AdminToken, Config, ListenAddress, NetworkSender, SenderOverride, Tenant, TenantDomain, TrackingConfig, Upstream } from './types.js';
import type { PhoneGatewayConfig } from './types.js';

/** A login as written in the config, before its password is hashed. */
type TenantPassword = { user: string; password: string } & SenderOverride;

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly issues: string[];

  constructor(issues: string[]) {
    super(issues.join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export interface ParseOptions {
  /** Directory that relative paths (dataDir, …File) resolve against. */
  baseDir: string;
  /** Where …Env secrets are looked up. */
  env: NodeJS.ProcessEnv;
}

/** Reads and parses a config file; relative paths in it resolve against the current directory. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const baseDir = process.cwd();
  const abs = path.resolve(baseDir, file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (err) {
    throw new ConfigError([`config: cannot read ${abs} (${errorCode(err)})`]);
  }
  return parseConfig(text, { baseDir, env });
}

export function parseConfig(yamlText: string, opts: ParseOptions): Config {
  const root = parseYaml(yamlText);
  return new Resolver(opts).resolve(root);
}

/** Secrets given through the admin API are inline only: …File and …Env would let an API client read the server's files and environment. */
const API_OPTIONS: ParseOptions = { baseDir: '/nonexistent', env: {} };

/**
 * One tenant as the admin API gives it (the config file's shape, inline secrets only), validated by the
 * same rules as the file; issues name the field relative to the tenant. Throws ConfigError.
 */
export function resolveTenantEntry(raw: unknown, knownUpstreams: Set<string>): Tenant {
  return new Resolver(API_OPTIONS).oneTenant(raw, knownUpstreams);
}

/** One upstream as the admin API gives it, validated like the config file's. Throws ConfigError. */
export function resolveUpstreamEntry(raw: unknown): Upstream {
  return new Resolver(API_OPTIONS).oneUpstream(raw);
}

// ---------------------------------------------------------------------------------------------
// YAML

function parseYaml(text: string): unknown {
  const lineCounter = new LineCounter();
  // prettyErrors is off on purpose: it quotes the offending source line, which may hold a secret.
  const doc = parseDocument(text, { prettyErrors: false, lineCounter, merge: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((err) => {
        const { line, col } = lineCounter.linePos(err.pos[0]);
        const message =
          err.code === 'MULTIPLE_DOCS' ? 'the config must be a single YAML document' : err.message.split('\n')[0];
        return `config: YAML syntax error at line ${line}, column ${col}: ${message}`;
      }),
    );
  }
  try {
    return doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    throw new ConfigError([`config: ${err instanceof Error ? err.message : String(err)}`]);
  }
}

// ---------------------------------------------------------------------------------------------
// Paths and issue messages

type Path = readonly (string | number)[];

export function formatPath(p: Path): string {
  let out = '';
  for (const seg of p) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out === '' ? 'config' : out;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'object':
      return 'a mapping';
    case 'string':
      return 'text';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'true/false';
    default:
      return typeof value;
  }
}

const EXPECTED: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
};

/** Zod messages in operator terms. Never quotes the input: it may be a secret. */
const errorMap: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'is required';
      return `expected ${EXPECTED[iss.expected] ?? iss.expected}, got ${describeType(iss.input)}`;
    case 'invalid_value':
      return `must be one of: ${iss.values.map(String).join(', ')}`;
    case 'too_small': {
      const min = Number(iss.minimum);
      if (iss.origin === 'string') return min <= 1 ? 'must not be empty' : `must be at least ${min} characters`;
      if (iss.origin === 'array') return `must have at least ${min} ${min === 1 ? 'entry' : 'entries'}`;
      return `must be at least ${min}`;
    }
    case 'too_big': {
      const max = Number(iss.maximum);
      if (iss.origin === 'string') return `must be at most ${max} characters`;
      if (iss.origin === 'array') return `must have at most ${max} entries`;
      return `must be at most ${max}`;
    }
    default:
      return undefined;
  }
};

function errorCode(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return err instanceof Error ? err.message : String(err);
}

/** A non-empty name as written, trimmed; undefined for anything else (the schema reports those). */
function rawName(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// Schemas (structure and value formats; secrets and cross-references are checked afterwards)

/** A field whose value is parsed by one of the format parsers. */
function formatted<T>(parse: (value: unknown) => Parsed<T>) {
  return z.unknown().transform((value, ctx): T => {
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message: 'is required' });
      return z.NEVER;
    }
    const result = parse(value);
    if (result.ok) return result.value;
    ctx.addIssue({ code: 'custom', message: result.error });
    return z.NEVER;
  });
}

function stringFormat<T>(parse: (value: string) => Parsed<T>) {
  return z
    .string()
    .trim()
    .transform((value, ctx): T => {
      const result = parse(value);
      if (result.ok) return result.value;
      ctx.addIssue({ code: 'custom', message: result.error });
      return z.NEVER;
    });
}

const nonEmpty = z.string().trim().min(1);
const positiveInt = z.int().min(1);
const port = z.int().min(1).max(65535);
const duration = formatted(parseDuration);
const hostname = stringFormat((v) =>
  isHostname(v) ? { ok: true, value: v } : { ok: false, error: `"${v}" is not a valid hostname` },
);
const domain = stringFormat((v) =>
  isHostname(v) ? { ok: true, value: v.toLowerCase() } : { ok: false, error: `"${v}" is not a valid domain name` },
);
/** A DNS name that may contain "_" labels, as SPF include targets do (_spf.example.net). */
const dnsName = stringFormat((v) =>
  /^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/i.test(v)
    ? { ok: true, value: v.toLowerCase() }
    : { ok: false, error: `"${v}" is not a valid DNS name` },
);
const host = stringFormat((v) =>
  isHostname(v) || net.isIP(v) !== 0
    ? { ok: true, value: v }
    : { ok: false, error: `"${v}" is neither a hostname nor an IP address` },
);
const selector = stringFormat((v) =>
  isHostname(v) ? { ok: true, value: v } : { ok: false, error: `"${v}" is not a valid DKIM selector` },
);
const emailAddress = stringFormat((v) =>
  isEmailAddress(v) ? { ok: true, value: v } : { ok: false, error: `invalid e-mail address "${v}"` },
);
const mailbox = z.strictObject({ address: emailAddress, name: nonEmpty.optional() });

type SecretShape<K extends string> = { [P in K]: z.ZodOptional<z.ZodString> } & {
  [P in `${K}File` | `${K}Env`]: z.ZodOptional<z.ZodString>;
};

/** The three forms of a secret field: inline `k`, `kFile` (path) and `kEnv` (variable name). */
function secret<K extends string>(key: K): SecretShape<K> {
  return {
    [key]: z.string().optional(),
    [`${key}File`]: nonEmpty.optional(),
    [`${key}Env`]: nonEmpty.optional(),
  } as SecretShape<K>;
}

const ROOT_KEYS = [
  'dataDir',
  'logLevel',
  'listen',
  'tls',
  'limits',
  'queue',
  'dns',
  'system',
  'admin',
  'upstreams',
  'tenants',
  'webhooks',
  'tracking',
  'shutdownGrace',
] as const;

const rootSchema = z.strictObject(Object.fromEntries(ROOT_KEYS.map((k) => [k, z.unknown().optional()])));

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const listenSchema = z.strictObject({
  submission: formatted(parseListenAddress).prefault('127.0.0.1:2525'),
  inbound: formatted(parseListenAddress).prefault('127.0.0.1:2526'),
  admin: formatted(parseListenAddress).prefault('127.0.0.1:8025'),
  /** Submission over implicit TLS (SMTPS, port 465 in production); only with `tls`. */
  submissions: formatted(parseListenAddress).optional(),
});

const tlsSchema = z.strictObject({ ...secret('key'), ...secret('cert') });

const limitsSchema = z.strictObject({
  maxMessageSize: formatted(parseSize).prefault(26214400),
  maxRecipients: positiveInt.default(100),
  idleTimeout: duration.prefault('5m'),
  maxConnections: positiveInt.default(500),
  /** Free space the data directory must keep; below it mail is refused with 452 4.3.1 (default 1.5 × maxMessageSize + 64 MB). */
  minFreeSpace: formatted(parseSize).optional(),
  /** Longest the bounce parser may spend on one inbound message before it is stopped (and, on the second try, quarantined). */
  bounceParseTimeout: duration.prefault('5s'),
});

const queueSchema = z.strictObject({
  retrySchedule: z.array(duration).min(1).prefault(['1m', '5m', '15m', '1h', '4h']),
  maxAge: duration.prefault('3d'),
  concurrency: positiveInt.default(100),
  deliveryThread: z.boolean().default(true),
});

const webhooksSchema = z.strictObject({
  retrySchedule: z.array(duration).min(1).prefault(['10s', '1m', '5m', '30m', '2h', '6h', '12h']),
  timeout: duration.prefault('10s'),
  allowPrivateTargets: z.boolean().default(false),
});

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });
const trackingSchema = z.strictObject({
  checksPerDay: z.int().min(1).max(48).default(4),
  maxAge: duration.prefault('60d'),
  firstCheckDelay: duration.prefault('1m'),
  batchSize: positiveInt.max(1000).default(100),
  carriers: z.strictObject({
    'russian-post': z.strictObject({ url: httpUrl.default('https://tracking.russianpost.ru/rtm34'), login: nonEmpty, ...secret('password'), timeout: duration.prefault('10s'), concurrency: positiveInt.max(64).default(4) }).optional(),
    dhl: z.strictObject({ url: httpUrl.default('https://api-eu.dhl.com'), ...secret('apiKey'), timeout: duration.prefault('10s'), concurrency: positiveInt.max(64).default(4) }).optional(),
  }).default({}),
  phoneGateways: z.array(z.unknown()).default([]),
});
const phoneGatewaySchemas = {
  twilio: z.strictObject({
    name: nonEmpty, type: z.literal('twilio'), baseUrl: httpUrl.optional(), accountSid: nonEmpty, ...secret('authToken'),
    voiceLanguage: z.string().regex(/^[a-z]{2}(-[A-Z]{2})?$/, 'must be a language tag such as ru-RU').optional(), timeout: duration.prefault('10s'),
  }),
  webhook: z.strictObject({ name: nonEmpty, type: z.literal('webhook'), url: httpUrl, ...secret('token'), ...secret('secret'), timeout: duration.prefault('10s') }),
};

const dnsSchema = z.strictObject({ servers: z.array(stringFormat(parseDnsServer)).default([]) });

const systemSchema = z.strictObject({
  hostname: hostname.optional(),
  sender: mailbox,
  bounceDomain: domain,
  dkim: z.strictObject({ domain, selector, ...secret('privateKey') }).optional(),
  upstream: nonEmpty.default('direct'),
  unsubscribeUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  ...secret('verpSecret'),
  spf: z.strictObject({
    include: dnsName.optional(),
    ip4: z.array(stringFormat(parseCidr).transform((c) => c.text)).optional(),
    ip6: z.array(stringFormat(parseCidr).transform((c) => c.text)).optional(),
  }).optional(),
});

const adminSchema = z.strictObject({
  tokens: z.array(z.strictObject({ name: nonEmpty, ...secret('token') })).default([]),
  /** Shop admins (tenant tokens) may make upstreams on loopback/private addresses (off: no probing of the LAN). */
  allowPrivateTenantUpstreams: z.boolean().default(false),
});

const upstreamName = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 characters of letters, digits, ".", "-" and "_"');

const mxUpstreamSchema = z.strictObject({
  name: upstreamName,
  type: z.literal('mx'),
  port: port.default(25),
  maxConnections: positiveInt.default(10),
  requireTls: z.boolean().default(false),
  allowPrivateAddresses: z.boolean().default(false),
});

const smtpUpstreamSchema = z.strictObject({
  name: upstreamName,
  type: z.literal('smtp').default('smtp'),
  host,
  port: port.optional(),
  tls: z.enum(['none', 'starttls', 'implicit']).default('starttls'),
  tlsVerify: z.boolean().default(true),
  auth: z.strictObject({ user: nonEmpty, ...secret('password') }).optional(),
  maxConnections: positiveInt.default(10),
});

const cidrSchema = stringFormat(parseCidr);
const networkSenderSchema = z.strictObject({ cidr: cidrSchema, upstream: nonEmpty.optional(), from: mailbox.optional() });

const DEFAULT_SMTP_PORT = { none: 25, starttls: 587, implicit: 465 } as const;

const tenantSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9_-]{1,64}$/, 'must be 1-64 characters of a-z, 0-9, "-" and "_"'),
  name: nonEmpty,
  // Each login and each network may send through its own upstream and under its own default sender (seed 000).
  auth: z.array(z.strictObject({ user: nonEmpty, ...secret('password'), upstream: nonEmpty.optional(), from: mailbox.optional() })).default([]),
  // A CIDR, or { cidr, upstream, from }; each entry is checked by its own schema below (a union would hide the reason).
  networks: z.array(z.unknown()).default([]),
  from: mailbox.optional(),
  domains: z
    .array(
      z.strictObject({
        domain,
        // One key, or several: rsa + ed25519 side by side, or old + new selector during rotation.
        dkim: z.union([
          z.strictObject({ selector, ...secret('privateKey') }),
          z.array(z.strictObject({ selector, ...secret('privateKey') })).min(1).max(4),
        ]).optional(),
      }),
    )
    .default([]),
  upstream: nonEmpty.optional(),
  categories: z.record(z.string().regex(/^[a-z0-9._-]{1,64}$/, 'category names are 1-64 characters of a-z, 0-9, ".", "-" and "_"'), z.enum(['optional', 'mandatory'])).optional(),
  categoryRules: z.array(z.strictObject({
    subject: z.string().min(1).max(500).refine((v) => {
      try {
        new RegExp(v, 'iu');
        return true;
      } catch {
        return false;
      }
    }, 'is not a valid regular expression'),
    category: z.string().regex(/^[a-z0-9._-]{1,64}$/, 'must be 1-64 characters of a-z, 0-9, ".", "-" and "_"'),
  })).max(100).optional(),
});

// ---------------------------------------------------------------------------------------------
// Resolution

interface ResolvedSecret {
  value: string;
  /** Path of the form that supplied it (…, …File or …Env), where follow-up issues belong. */
  at: Path;
}

class Resolver {
  private readonly issues: string[] = [];

  constructor(private readonly opts: ParseOptions) {}

  private issue(at: Path, message: string): void {
    this.issues.push(`${formatPath(at)}: ${message}`);
  }

  /** Validates one value against a schema; issues are recorded under `at`. */
  private check<S extends z.ZodType>(schema: S, value: unknown, at: Path): z.output<S> | undefined {
    const result = schema.safeParse(value, { error: errorMap });
    if (result.success) return result.data;
    for (const iss of result.error.issues) {
      const where = [...at, ...(iss.path as (string | number)[])];
      if (iss.code === 'unrecognized_keys') {
        for (const key of iss.keys) this.issue([...where, key], 'unknown key');
      } else {
        this.issue(where, iss.message);
      }
    }
    return undefined;
  }

  /** A section that may be omitted: absent or empty (`listen:` with every line commented out) means all defaults. */
  private section<S extends z.ZodType>(schema: S, value: unknown, at: Path): z.output<S> | undefined {
    return this.check(schema, value === undefined || value === null ? {} : value, at);
  }

  private resolveTracking(raw: unknown): TrackingConfig | undefined {
    const t = this.section(trackingSchema, raw, ['tracking']);
    // Gateways are checked one by one even when the rest of the section has issues.
    const phoneGateways = this.resolvePhoneGateways(isRecord(raw) ? raw.phoneGateways : undefined);
    if (!t) return undefined;
    const carriers: TrackingConfig['carriers'] = {};
    const rp = t.carriers['russian-post'];
    if (rp) {
      const password = this.secret(rp, 'password', ['tracking', 'carriers', 'russian-post']);
      if (password) carriers['russian-post'] = { url: rp.url, login: rp.login, password: password.value, timeoutMs: rp.timeout, concurrency: rp.concurrency };
    }
    const dhl = t.carriers.dhl;
    if (dhl) {
      const apiKey = this.secret(dhl, 'apiKey', ['tracking', 'carriers', 'dhl']);
      if (apiKey) carriers.dhl = { url: dhl.url, apiKey: apiKey.value, timeoutMs: dhl.timeout, concurrency: dhl.concurrency };
    }
    return { checksPerDay: t.checksPerDay, maxAgeMs: t.maxAge, firstCheckDelayMs: t.firstCheckDelay, batchSize: t.batchSize, carriers, phoneGateways };
  }

  private resolvePhoneGateways(raw: unknown): PhoneGatewayConfig[] {
    const phoneGateways: PhoneGatewayConfig[] = [];
    const names = new Map<string, string>();
    this.list(raw, ['tracking', 'phoneGateways']).forEach((g, i) => {
      const at: Path = ['tracking', 'phoneGateways', i];
      const type = isRecord(g) ? g.type : undefined;
      if (type !== 'twilio' && type !== 'webhook') {
        this.issue([...at, 'type'], 'must be twilio or webhook');
        return;
      }
      const optional = (obj: Record<string, unknown>, key: string) =>
        [key, `${key}File`, `${key}Env`].some((k) => obj[k] !== undefined) ? this.secret(obj, key, at)?.value : undefined;
      if (type === 'twilio') {
        const c = this.check(phoneGatewaySchemas.twilio, g, at);
        if (!c) return;
        const authToken = this.secret(c, 'authToken', at);
        if (!authToken) return;
        phoneGateways.push({ type, name: c.name, accountSid: c.accountSid, authToken: authToken.value, timeoutMs: c.timeout, ...(c.baseUrl ? { baseUrl: c.baseUrl } : {}), ...(c.voiceLanguage ? { voiceLanguage: c.voiceLanguage } : {}) });
      } else {
        const c = this.check(phoneGatewaySchemas.webhook, g, at);
        if (!c) return;
        const token = optional(c, 'token');
        const secretValue = optional(c, 'secret');
        phoneGateways.push({ type, name: c.name, url: c.url, timeoutMs: c.timeout, ...(token ? { token } : {}), ...(secretValue ? { secret: secretValue } : {}) });
      }
      const name = phoneGateways.at(-1)!.name;
      const seen = names.get(name);
      if (seen) this.issue([...at, 'name'], `phone gateway "${name}" is already defined at ${seen}`);
      else names.set(name, formatPath(at));
    });
    return phoneGateways;
  }

  private list(value: unknown, at: Path): unknown[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      this.issue(at, `expected a list, got ${describeType(value)}`);
      return [];
    }
    return value;
  }

  private secret(obj: Record<string, unknown>, key: string, at: Path): ResolvedSecret | undefined {
    const forms = [key, `${key}File`, `${key}Env`];
    const given = forms.filter((f) => obj[f] !== undefined);
    if (given.length !== 1) {
      this.issue(
        [...at, key],
        given.length === 0
          ? `is required (give one of ${forms.join(', ')})`
          : `give only one of ${given.join(', ')}`,
      );
      return undefined;
    }
    const form = given[0]!;
    const formAt = [...at, form];
    const fail = (message: string): undefined => {
      this.issue(formAt, message);
    };
    const raw = obj[form] as string;
    let value: string;
    if (form === key) {
      value = raw;
      if (value === '') return fail('must not be empty');
    } else if (form.endsWith('File')) {
      const file = path.resolve(this.opts.baseDir, raw);
      try {
        value = fs.readFileSync(file, 'utf8').replace(/[\r\n]+$/, '');
      } catch (err) {
        return fail(`cannot read ${file} (${errorCode(err)})`);
      }
      if (value === '') return fail(`${file} is empty`);
    } else {
      const env = this.opts.env[raw];
      if (env === undefined) return fail(`environment variable ${raw} is not set`);
      if (env === '') return fail(`environment variable ${raw} is empty`);
      value = env;
    }
    return { value, at: formAt };
  }

  private privateKey(obj: Record<string, unknown>, at: Path): string | undefined {
    const s = this.secret(obj, 'privateKey', at);
    if (!s) return undefined;
    let key;
    try {
      key = createPrivateKey(s.value);
    } catch {
      this.issue(s.at, 'is not a PEM private key');
      return undefined;
    }
    const type = key.asymmetricKeyType;
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (type === 'rsa' && bits < 2048) {
      this.issue(s.at, `is a ${bits}-bit RSA key; DKIM keys must have at least 2048 bits (mailgate dkim generate makes one)`);
      return undefined;
    }
    if (type !== 'rsa' && type !== 'ed25519') {
      this.issue(s.at, `is a ${type ?? 'unknown'} key; DKIM keys must be rsa or ed25519`);
      return undefined;
    }
    return s.value;
  }

  resolve(input: unknown): Config {
    const rootValue = input === null || input === undefined ? {} : input;
    if (!isRecord(rootValue)) throw new ConfigError([`config: expected a mapping at the top level, got ${describeType(rootValue)}`]);
    this.check(rootSchema, rootValue, []);
    const root = rootValue;

    const dataDir = this.check(nonEmpty.default('./data'), root.dataDir, ['dataDir']);
    const logLevel = this.check(z.enum(LOG_LEVELS).default('info'), root.logLevel, ['logLevel']);
    const shutdownGrace = this.check(duration.prefault('10s'), root.shutdownGrace, ['shutdownGrace']);
    const listen = this.section(listenSchema, root.listen, ['listen']);
    const limits = this.section(limitsSchema, root.limits, ['limits']);
    const queue = this.section(queueSchema, root.queue, ['queue']);
    const dns = this.section(dnsSchema, root.dns, ['dns']);
    const webhooks = this.section(webhooksSchema, root.webhooks, ['webhooks']);
    const tracking = this.resolveTracking(root.tracking);
    const system = this.check(systemSchema, root.system, ['system']);
    const admin = this.section(adminSchema, root.admin, ['admin']);

    if (listen) this.checkListen(listen);

    const tls = root.tls === undefined || root.tls === null ? undefined : this.resolveTls(root.tls);
    if (listen?.submissions && (root.tls === undefined || root.tls === null)) this.issue(['listen', 'submissions'], 'needs tls (a key and certificate) for implicit TLS');

    let verpSecret: string | undefined;
    if (system && ['verpSecret', 'verpSecretFile', 'verpSecretEnv'].some((k) => (system as Record<string, unknown>)[k] !== undefined)) {
      verpSecret = this.secret(system as Record<string, unknown>, 'verpSecret', ['system'])?.value;
      if (verpSecret !== undefined && verpSecret.length < 16) {
        this.issue(['system', 'verpSecret'], 'must be at least 16 characters');
        verpSecret = undefined;
      }
    }
    let systemDkim: Config['system']['dkim'];
    if (system?.dkim) {
      const privateKey = this.privateKey(system.dkim, ['system', 'dkim']);
      if (privateKey) systemDkim = { domain: system.dkim.domain, selector: system.dkim.selector, privateKey };
    }

    const tokens: AdminToken[] = [];
    const tokenNames = new Map<string, string>();
    admin?.tokens.forEach((t, i) => {
      const at: Path = ['admin', 'tokens', i];
      const seen = tokenNames.get(t.name);
      if (seen) this.issue([...at, 'name'], `token name "${t.name}" is already used at ${seen}`);
      else tokenNames.set(t.name, formatPath(at));
      const s = this.secret(t, 'token', at);
      if (!s) return;
      if (s.value.length < 16) this.issue(s.at, 'must be at least 16 characters');
      else tokens.push({ name: t.name, token: s.value });
    });

    const upstreams = this.resolveUpstreams(root.upstreams);
    const knownUpstreams = new Set(upstreams.names);
    knownUpstreams.add('direct');

    // References are checked on the raw values too, so they are reported even when the rest of
    // their section has issues of its own.
    const systemUpstream = system?.upstream ?? rawName(isRecord(root.system) ? root.system.upstream : undefined);
    if (systemUpstream !== undefined && !knownUpstreams.has(systemUpstream)) {
      this.issue(['system', 'upstream'], `unknown upstream "${systemUpstream}"`);
    }

    const tenants = this.resolveTenants(root.tenants, knownUpstreams);

    if (this.issues.length > 0) throw new ConfigError(this.issues);

    // Every section above parsed without issues, so none of these is undefined.
    const list = upstreams.list;
    if (!list.some((u) => u.name === 'direct')) {
      list.push({ name: 'direct', type: 'mx', port: 25, maxConnections: 10, requireTls: false, allowPrivateAddresses: false, source: 'config' });
    }

    return {
      dataDir: path.resolve(this.opts.baseDir, dataDir!),
      logLevel: logLevel!,
      listen: listen!,
      ...(tls ? { tls } : {}),
      limits: limits!,
      queue: queue!,
      dns: dns!,
      system: {
        hostname: system!.hostname ?? os.hostname(),
        sender: system!.sender,
        bounceDomain: system!.bounceDomain,
        ...(systemDkim ? { dkim: systemDkim } : {}),
        upstream: system!.upstream,
        spf: system!.spf ?? { include: `_spf.${system!.hostname ?? os.hostname()}` },
        unsubscribeUrl: system!.unsubscribeUrl ?? `https://${system!.hostname ?? os.hostname()}/unsubscribe`,
        ...(verpSecret ? { verpSecret } : {}),
      },
      admin: { tokens, allowPrivateTenantUpstreams: admin!.allowPrivateTenantUpstreams },
      upstreams: list,
      tenants: tenants.map((t) => ({
        ...t.tenant,
        auth: t.passwords.map(({ password, ...rest }) => ({ ...rest, ...hashPassword(password) })),
      })),
      webhooks: webhooks!,
      tracking: tracking!,
      shutdownGrace: shutdownGrace!,
    };
  }

  oneTenant(raw: unknown, knownUpstreams: Set<string>): Tenant {
    // A tenant made through the API may start without credentials: they are added later.
    const [t] = this.resolveTenants([raw], knownUpstreams, false);
    this.throwRelative('tenants[0]');
    return { ...t!.tenant, auth: t!.passwords.map(({ password, ...rest }) => ({ ...rest, ...hashPassword(password) })), source: 'store' };
  }

  oneUpstream(raw: unknown): Upstream {
    const { list } = this.resolveUpstreams([raw]);
    this.throwRelative('upstreams[0]');
    return { ...list[0]!, source: 'store' };
  }

  /** Throws the issues found so far, with `prefix` (the list entry) taken off their paths. */
  private throwRelative(prefix: string): void {
    if (this.issues.length === 0) return;
    throw new ConfigError(this.issues.map((i) => (i.startsWith(`${prefix}.`) ? i.slice(prefix.length + 1) : i.startsWith(`${prefix}:`) ? `body${i.slice(prefix.length)}` : i)));
  }

  private checkListen(listen: Record<'submission' | 'inbound' | 'admin', ListenAddress> & { submissions?: ListenAddress }): void {
    const seen = new Map<string, string>();
    for (const name of ['submission', 'inbound', 'admin', 'submissions'] as const) {
      const at = listen[name];
      if (!at) continue;
      const { host, port: p } = at;
      if (p === 0) continue;
      const key = `${host}|${p}`;
      const other = seen.get(key);
      if (other) this.issue(['listen', name], `same address as listen.${other}`);
      else seen.set(key, name);
    }
  }

  private resolveTls(value: unknown): Config['tls'] {
    const tls = this.check(tlsSchema, value, ['tls']);
    if (!tls) return undefined;
    const key = this.secret(tls, 'key', ['tls']);
    const cert = this.secret(tls, 'cert', ['tls']);
    if (key) {
      try {
        createPrivateKey(key.value);
      } catch {
        this.issue(key.at, 'is not a PEM private key');
      }
    }
    if (cert) {
      try {
        new X509Certificate(cert.value);
      } catch {
        this.issue(cert.at, 'is not a PEM certificate');
      }
    }
    return key && cert ? { key: Buffer.from(key.value), cert: Buffer.from(cert.value) } : undefined;
  }

  private resolveUpstreams(value: unknown): { list: Upstream[]; names: string[] } {
    const list: Upstream[] = [];
    const names: string[] = [];
    const firstAt = new Map<string, string>();
    this.list(value, ['upstreams']).forEach((raw, i) => {
      const at: Path = ['upstreams', i];
      // Names count even when the rest of the entry is broken, so references to it don't pile up issues.
      if (isRecord(raw) && typeof raw.name === 'string') {
        const name = raw.name.trim();
        names.push(name);
        const seen = firstAt.get(name);
        if (seen) this.issue([...at, 'name'], `upstream "${name}" is already declared at ${seen}`);
        else firstAt.set(name, formatPath(at));
      }
      if (isRecord(raw) && raw.type === 'mx') {
        const u = this.check(mxUpstreamSchema, raw, at);
        if (u) list.push({ ...u, source: 'config' });
        return;
      }
      if (isRecord(raw) && raw.type !== undefined && raw.type !== 'smtp') {
        this.issue([...at, 'type'], 'must be one of: smtp, mx');
        return;
      }
      const u = this.check(smtpUpstreamSchema, raw, at);
      if (!u) return;
      let auth: { user: string; password: string } | undefined;
      if (u.auth) {
        const password = this.secret(u.auth, 'password', [...at, 'auth']);
        if (password) auth = { user: u.auth.user, password: password.value };
      }
      list.push({
        name: u.name,
        type: 'smtp',
        host: u.host,
        port: u.port ?? DEFAULT_SMTP_PORT[u.tls],
        tls: u.tls,
        tlsVerify: u.tlsVerify,
        ...(auth ? { auth } : {}),
        maxConnections: u.maxConnections,
        source: 'config',
      });
    });
    return { list, names };
  }

  private resolveTenants(
    value: unknown,
    knownUpstreams: Set<string>,
    requireAccess = true,
  ): { tenant: Omit<Tenant, 'auth'>; passwords: TenantPassword[] }[] {
    const out: { tenant: Omit<Tenant, 'auth'>; passwords: TenantPassword[] }[] = [];
    const ids = new Map<string, string>();
    const users = new Map<string, string>();
    const networks = new Map<string, string>();
    const domains = new Map<string, string>();

    this.list(value, ['tenants']).forEach((raw, i) => {
      const at: Path = ['tenants', i];
      if (isRecord(raw)) {
        if (typeof raw.id === 'string') {
          const seen = ids.get(raw.id);
          if (seen) this.issue([...at, 'id'], `tenant id "${raw.id}" is already used at ${seen}`);
          else ids.set(raw.id, formatPath(at));
        }
        const empty = (v: unknown) => v === undefined || v === null || (Array.isArray(v) && v.length === 0);
        if (requireAccess && empty(raw.auth) && empty(raw.networks)) this.issue(at, 'needs auth or networks');
        const upstream = rawName(raw.upstream);
        if (upstream !== undefined && !knownUpstreams.has(upstream)) {
          this.issue([...at, 'upstream'], `unknown upstream "${upstream}"`);
        }
      }
      const t = this.check(tenantSchema, raw, at);
      // Network entries are checked even when the rest of the tenant has issues.
      const networkEntries = (isRecord(raw) && Array.isArray(raw.networks) ? raw.networks : []).map((n: unknown, j: number) =>
        typeof n === 'string' ? this.check(cidrSchema, n, [...at, 'networks', j]) : this.check(networkSenderSchema, n, [...at, 'networks', j]));
      if (!t) return;

      const passwords: TenantPassword[] = [];
      t.auth.forEach((cred, j) => {
        const credAt: Path = [...at, 'auth', j];
        const seen = users.get(cred.user);
        if (seen) this.issue([...credAt, 'user'], `SMTP user "${cred.user}" is already defined at ${seen}`);
        else users.set(cred.user, formatPath(credAt));
        if (cred.upstream !== undefined && !knownUpstreams.has(cred.upstream)) this.issue([...credAt, 'upstream'], `unknown upstream "${cred.upstream}"`);
        const password = this.secret(cred, 'password', credAt);
        if (password) {
          passwords.push({ user: cred.user, password: password.value, ...(cred.upstream ? { upstream: cred.upstream } : {}), ...(cred.from ? { from: cred.from } : {}) });
        }
      });

      const networkSenders: NetworkSender[] = [];
      const cidrs: string[] = [];
      networkEntries.forEach((entry, j) => {
        if (!entry) return;
        const cidr: Cidr = 'cidr' in entry ? entry.cidr : entry;
        const seen = networks.get(cidr.networkKey);
        if (seen) this.issue([...at, 'networks', j], `network ${cidr.text} is already assigned at ${seen}`);
        else networks.set(cidr.networkKey, formatPath([...at, 'networks', j]));
        cidrs.push(cidr.text);
        if (!('cidr' in entry)) return;
        if (entry.upstream !== undefined && !knownUpstreams.has(entry.upstream)) this.issue([...at, 'networks', j, 'upstream'], `unknown upstream "${entry.upstream}"`);
        if (entry.upstream || entry.from) networkSenders.push({ cidr: cidr.text, ...(entry.upstream ? { upstream: entry.upstream } : {}), ...(entry.from ? { from: entry.from } : {}) });
      });

      const tenantDomains: TenantDomain[] = [];
      t.domains.forEach((d, j) => {
        const domainAt: Path = [...at, 'domains', j];
        const seen = domains.get(d.domain);
        if (seen) this.issue([...domainAt, 'domain'], `domain "${d.domain}" is already claimed at ${seen}`);
        else domains.set(d.domain, formatPath(domainAt));
        if (!d.dkim) {
          tenantDomains.push({ domain: d.domain, dkim: [] });
          return;
        }
        const keys = Array.isArray(d.dkim) ? d.dkim : [d.dkim];
        const dkim: Array<{ selector: string; privateKey: string }> = [];
        keys.forEach((k, n) => {
          const keyAt: Path = Array.isArray(d.dkim) ? [...domainAt, 'dkim', n] : [...domainAt, 'dkim'];
          if (dkim.some((x) => x.selector === k.selector)) this.issue([...keyAt, 'selector'], `selector "${k.selector}" is listed twice`);
          const privateKey = this.privateKey(k, keyAt);
          if (privateKey) dkim.push({ selector: k.selector, privateKey });
        });
        tenantDomains.push({ domain: d.domain, dkim });
      });

      out.push({
        tenant: {
          id: t.id,
          name: t.name,
          networks: cidrs,
          ...(networkSenders.length > 0 ? { networkSenders } : {}),
          ...(t.from ? { from: t.from } : {}),
          domains: tenantDomains,
          ...(t.upstream !== undefined ? { upstream: t.upstream } : {}),
          ...(t.categories ? { categories: t.categories } : {}),
          ...(t.categoryRules ? { categoryRules: t.categoryRules } : {}),
          source: 'config',
        },
        passwords,
      });
    });
    return out;
  }
}
