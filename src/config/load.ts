// Config loading: YAML text (yaml.ts) → checked by each section's schema (schema/) → resolved `Config`:
// defaults, secrets from inline/…File/…Env, PEM checks, hashed tenant passwords, cross-references and
// uniqueness — or a ConfigError listing every issue as `path: message` (errors.ts).

import { createPrivateKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { Cidr } from './formats.js';
import { ConfigError, describeType, errorCode, errorMap, formatPath, isRecord, rawName, type Path } from './errors.js';
import { hashPassword } from './password.js';
import { readPrivateKey, readSecret, type ResolvedSecret } from './secrets.js';
import { TenantClaims } from './tenant-claims.js';
import { parseYaml } from './yaml.js';
import { adminSchema } from './schema/admin.js';
import { dnsSchema } from './schema/dns.js';
import { limitsSchema } from './schema/limits.js';
import { listenSchema } from './schema/listen.js';
import { duration, nonEmpty } from './schema/primitives.js';
import { queueSchema } from './schema/queue.js';
import { retentionSchema } from './schema/retention.js';
import { LOG_LEVELS, rootSchema } from './schema/root.js';
import { systemSchema } from './schema/system.js';
import { cidrSchema, networkSenderSchema, tenantSchema } from './schema/tenants.js';
import { tlsSchema } from './schema/tls.js';
import { trackingSchema } from './schema/tracking.js';
import { checkPostgresUrl, storeSchema } from './schema/store.js';
import type { PluggedSchema, PluggedSchemas } from './plugged.js';
import { DEFAULT_SMTP_PORT, mxUpstreamSchema, smtpUpstreamSchema } from './schema/upstreams.js';
import { webhooksSchema } from './schema/webhooks.js';
import { secureDeliverySchema } from './schema/secure-delivery.js';

export { ConfigError, formatPath };
import type { AdminToken, Config, ListenAddress, NetworkSender, SenderOverride, SendLimits, Tenant, StoreConfig, TenantDomain, TrackingConfig, Upstream } from './types.js';
import type { PhoneGatewayEntry } from './types.js';

/** A login as written in the config, before its password is hashed. */
type TenantPassword = { user: string; password: string; limits?: SendLimits } & SenderOverride;

export interface ParseOptions {
  /** Directory that relative paths (dataDir, …File) resolve against. */
  baseDir: string;
  /** Where …Env secrets are looked up. */
  env: NodeJS.ProcessEnv;
  /** The carriers and phone gateway types that may be configured, with their schemas (tracking hands them over). */
  plugged?: PluggedSchemas;
}

/** Reads and parses a config file; relative paths in it resolve against the current directory. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env, plugged?: PluggedSchemas): Config {
  const baseDir = process.cwd();
  const abs = path.resolve(baseDir, file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (err) {
    throw new ConfigError([`config: cannot read ${abs} (${errorCode(err)})`]);
  }
  return parseConfig(text, { baseDir, env, ...(plugged ? { plugged } : {}) });
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
// Resolution


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

  private resolveStore(raw: unknown): StoreConfig | undefined {
    const s = this.section(storeSchema, raw, ['store']);
    if (!s) return undefined;
    const given = ['url', 'urlFile', 'urlEnv'].some((k) => (s as Record<string, unknown>)[k] !== undefined);
    if (s.engine === 'level') {
      if (given) this.issue(['store', 'url'], 'is for engine: postgres (LevelDB lives in dataDir)');
      return { engine: 'level' };
    }
    const url = this.secret(s, 'url', ['store']);
    if (!url) return undefined;
    const problem = checkPostgresUrl(url.value);
    if (problem) {
      this.issue(url.at, problem);
      return undefined;
    }
    return { engine: 'postgres', url: url.value, poolSize: s.poolSize };
  }

  private resolveTracking(raw: unknown): TrackingConfig | undefined {
    const t = this.section(trackingSchema, raw, ['tracking']);
    // Carriers and gateways are checked one by one even when the rest of the section has issues.
    const carriers = this.resolveCarriers(isRecord(raw) && isRecord(raw.carriers) ? raw.carriers : {});
    const phoneGateways = this.resolvePhoneGateways(isRecord(raw) ? raw.phoneGateways : undefined);
    if (!t) return undefined;
    return { checksPerDay: t.checksPerDay, maxAgeMs: t.maxAge, firstCheckDelayMs: t.firstCheckDelay, batchSize: t.batchSize, carriers, phoneGateways };
  }

  private resolveCarriers(raw: Record<string, unknown>): Record<string, unknown> {
    const carriers: Record<string, unknown> = {};
    const known = this.opts.plugged?.carriers ?? {};
    for (const [name, entry] of Object.entries(raw)) {
      const at: Path = ['tracking', 'carriers', name];
      const plugged = Object.hasOwn(known, name) ? known[name] : undefined;
      if (!plugged) {
        this.issue(at, `unknown carrier (known: ${Object.keys(known).join(', ') || 'none'})`);
        continue;
      }
      const options = this.pluggedEntry(plugged, entry, at);
      if (options !== undefined) carriers[name] = options;
    }
    return carriers;
  }

  /** One plugged-in entry: its secrets read (each in one of its three forms), then its own schema. */
  private pluggedEntry(plugged: PluggedSchema, raw: unknown, at: Path): unknown {
    if (!isRecord(raw)) return this.check(plugged.schema, raw ?? {}, at);
    const entry: Record<string, unknown> = { ...raw };
    let complete = true;
    for (const [key, need] of Object.entries(plugged.secrets)) {
      const forms = [key, `${key}File`, `${key}Env`];
      if (need === 'optional' && forms.every((f) => entry[f] === undefined)) continue;
      const wrongType = forms.find((f) => entry[f] !== undefined && typeof entry[f] !== 'string');
      if (wrongType) this.issue([...at, wrongType], `expected a string, got ${describeType(entry[wrongType])}`);
      const s = wrongType ? undefined : this.secret(entry, key, at);
      for (const f of forms) delete entry[f];
      // An unread secret was reported by readSecret; a stand-in keeps the schema from reporting it again.
      entry[key] = s ? s.value : 'unread';
      if (!s) complete = false;
    }
    const options = this.check(plugged.schema, entry, at);
    return complete ? options : undefined;
  }

  private resolvePhoneGateways(raw: unknown): PhoneGatewayEntry[] {
    const phoneGateways: PhoneGatewayEntry[] = [];
    const names = new Map<string, string>();
    const known = this.opts.plugged?.phoneGateways ?? {};
    this.list(raw, ['tracking', 'phoneGateways']).forEach((g, i) => {
      const at: Path = ['tracking', 'phoneGateways', i];
      const type = isRecord(g) ? g.type : undefined;
      const plugged = typeof type === 'string' && Object.hasOwn(known, type) ? known[type] : undefined;
      if (!plugged) {
        this.issue([...at, 'type'], `must be ${Object.keys(known).join(' or ') || 'a known gateway type (none is)'}`);
        return;
      }
      const entry = this.pluggedEntry(plugged, g, at) as PhoneGatewayEntry | undefined;
      if (!entry) return;
      phoneGateways.push(entry);
      const seen = names.get(entry.name);
      if (seen) this.issue([...at, 'name'], `phone gateway "${entry.name}" is already defined at ${seen}`);
      else names.set(entry.name, formatPath(at));
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
    return readSecret(obj, key, at, this.opts, (where, message) => this.issue(where, message));
  }

  /** A PEM file of one or more CA certificates (relative to the config's directory). */
  private caFile(file: string, at: Path): string | undefined {
    let pem: string;
    try {
      pem = fs.readFileSync(path.resolve(this.opts.baseDir, file), 'utf8');
    } catch (err) {
      this.issue(at, `cannot read ${file} (${errorCode(err)})`);
      return undefined;
    }
    const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    try {
      if (blocks.length === 0) throw new Error('none');
      for (const b of blocks) new X509Certificate(b);
    } catch {
      this.issue(at, `${file} holds no PEM certificate`);
      return undefined;
    }
    return blocks.join('\n');
  }

  private privateKey(obj: Record<string, unknown>, at: Path): string | undefined {
    return readPrivateKey(obj, at, this.opts, (where, message) => this.issue(where, message));
  }

  resolve(input: unknown): Config {
    const rootValue = input === null || input === undefined ? {} : input;
    if (!isRecord(rootValue)) throw new ConfigError([`config: expected a mapping at the top level, got ${describeType(rootValue)}`]);
    this.check(rootSchema, rootValue, []);
    const root = rootValue;

    const dataDir = this.check(nonEmpty.default('./data'), root.dataDir, ['dataDir']);
    const store = this.resolveStore(root.store);
    const logLevel = this.check(z.enum(LOG_LEVELS).default('info'), root.logLevel, ['logLevel']);
    const logFormat = this.check(z.enum(['json', 'text']).default('json'), root.logFormat, ['logFormat']);
    const shutdownGrace = this.check(duration.prefault('10s'), root.shutdownGrace, ['shutdownGrace']);
    const listen = this.section(listenSchema, root.listen, ['listen']);
    const limits = this.section(limitsSchema, root.limits, ['limits']);
    const queue = this.section(queueSchema, root.queue, ['queue']);
    const retention = this.section(retentionSchema, root.retention, ['retention']);
    const dns = this.section(dnsSchema, root.dns, ['dns']);
    const webhooks = this.section(webhooksSchema, root.webhooks, ['webhooks']);
    const secureDelivery = this.section(secureDeliverySchema, root.secureDelivery, ['secureDelivery']);
    const extraCa = secureDelivery?.caFile !== undefined ? this.caFile(secureDelivery.caFile, ['secureDelivery', 'caFile']) : undefined;
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
    if (!list.some((u) => u.name === 'direct')) list.push({ ...mxUpstreamSchema.parse({ name: 'direct', type: 'mx' }), source: 'config' });
    const hostname = system!.hostname ?? os.hostname();

    return {
      dataDir: path.resolve(this.opts.baseDir, dataDir!),
      store: store!,
      logLevel: logLevel!,
      logFormat: logFormat!,
      listen: listen!,
      ...(tls ? { tls } : {}),
      limits: limits!,
      queue: queue!,
      retention: retention!,
      dns: dns!,
      system: {
        hostname,
        sender: system!.sender,
        bounceDomain: system!.bounceDomain,
        ...(systemDkim ? { dkim: systemDkim } : {}),
        upstream: system!.upstream,
        spf: system!.spf ?? { include: `_spf.${hostname}` },
        unsubscribeUrl: system!.unsubscribeUrl ?? `https://${hostname}/unsubscribe`,
        ...(verpSecret ? { verpSecret } : {}),
      },
      admin: { tokens, allowPrivateTenantUpstreams: admin!.allowPrivateTenantUpstreams, trustProxy: admin!.trustProxy, secureCookie: admin!.secureCookie },
      upstreams: list,
      tenants: tenants.map((t) => ({
        ...t.tenant,
        auth: t.passwords.map(({ password, ...rest }) => ({ ...rest, ...hashPassword(password) })),
      })),
      webhooks: webhooks!,
      tracking: tracking!,
      secureDelivery: {
        ...(extraCa ? { ca: extraCa } : {}),
        mtaStsPort: secureDelivery!.mtaStsPort,
        tlsReports: { ...secureDelivery!.tlsReports, organization: secureDelivery!.tlsReports.organization ?? hostname, contact: secureDelivery!.tlsReports.contact ?? system!.sender.address },
      },
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
    const claims = new TenantClaims();

    this.list(value, ['tenants']).forEach((raw, i) => {
      const at: Path = ['tenants', i];
      if (isRecord(raw)) {
        if (typeof raw.id === 'string') {
          const seen = claims.claim('id', raw.id, formatPath(at));
          if (seen) this.issue([...at, 'id'], `tenant id "${raw.id}" is already used at ${seen}`);
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
        const seen = claims.claim('user', cred.user, formatPath(credAt));
        if (seen) this.issue([...credAt, 'user'], `SMTP user "${cred.user}" is already defined at ${seen}`);
        if (cred.upstream !== undefined && !knownUpstreams.has(cred.upstream)) this.issue([...credAt, 'upstream'], `unknown upstream "${cred.upstream}"`);
        const password = this.secret(cred, 'password', credAt);
        if (password) {
          passwords.push({ user: cred.user, password: password.value, ...(cred.upstream ? { upstream: cred.upstream } : {}), ...(cred.from ? { from: cred.from } : {}), ...(cred.limits ? { limits: cred.limits } : {}) });
        }
      });

      const networkSenders: NetworkSender[] = [];
      const cidrs: string[] = [];
      networkEntries.forEach((entry, j) => {
        if (!entry) return;
        const cidr: Cidr = 'cidr' in entry ? entry.cidr : entry;
        const seen = claims.claim('network', cidr.text, formatPath([...at, 'networks', j]));
        if (seen) this.issue([...at, 'networks', j], `network ${cidr.text} is already assigned at ${seen}`);
        cidrs.push(cidr.text);
        if (!('cidr' in entry)) return;
        if (entry.upstream !== undefined && !knownUpstreams.has(entry.upstream)) this.issue([...at, 'networks', j, 'upstream'], `unknown upstream "${entry.upstream}"`);
        if (entry.upstream || entry.from) networkSenders.push({ cidr: cidr.text, ...(entry.upstream ? { upstream: entry.upstream } : {}), ...(entry.from ? { from: entry.from } : {}) });
      });

      const tenantDomains: TenantDomain[] = [];
      t.domains.forEach((d, j) => {
        const domainAt: Path = [...at, 'domains', j];
        const seen = claims.claim('domain', d.domain, formatPath(domainAt));
        if (seen) this.issue([...domainAt, 'domain'], `domain "${d.domain}" is already claimed at ${seen}`);
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
          ...(t.limits ? { limits: t.limits } : {}),
          ...(t.hold ? { hold: true } : {}),
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
