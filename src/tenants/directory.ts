// The tenants and upstreams the running server works with: the config file's (read-only) merged with
// those created through the admin API (kept in the TenantStore). Every change is validated by the
// config file's rules, checked against the rest (unique ids, SMTP users, networks, domains, names)
// and takes effect for the next message and the next SMTP login, without a restart.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { ConfigError, resolveTenantEntry, resolveUpstreamEntry } from '../config/load.js';
import { hashPassword } from '../config/password.js';
import { isEmailAddress, parseTenantNetwork } from '../config/formats.js';
import type { Config, SenderOverride, SendLimits, Tenant, Upstream } from '../config/types.js';
import type { MessageSource } from '../store/records.js';
import { TenantAccess } from '../smtp/tenant-access.js';
import type { TenantStore } from '../store/ports.js';
import { TenantClaims } from '../config/tenant-claims.js';

export type DirectoryErrorCode = 'NOT_FOUND' | 'READ_ONLY' | 'CONFLICT' | 'INVALID';

export class DirectoryError extends Error {
  constructor(readonly code: DirectoryErrorCode, message: string, readonly issues: string[] = [message]) {
    super(message);
    this.name = 'DirectoryError';
  }
}

/** Tenant fields the API may set (credentials have their own calls). */
export interface TenantInput {
  id?: string;
  name?: string;
  networks?: Array<string | ({ cidr: string } & SenderOverride)>;
  from?: { address: string; name?: string } | null;
  domains?: Array<{ domain: string; dkim?: DkimInput | DkimInput[] }>;
  upstream?: string | null;
  categories?: Record<string, 'optional' | 'mandatory'>;
  categoryRules?: Array<{ subject: string; category: string }>;
  limits?: SendLimits | null;
  hold?: boolean;
  auth?: Array<{ user: string; password: string }>;
}
/** A key given as PEM, or `generate` to have mailgate make one. */
type DkimInput = { selector: string; privateKey?: string; generate?: 'rsa' | 'ed25519' };

export type UpstreamInput = Record<string, unknown>;

/** A password for a new or rotated credential when the caller gives none: 24 random characters. */
function newPassword(): string {
  return randomBytes(18).toString('base64url');
}

function invalid(err: unknown): never {
  if (err instanceof ConfigError) throw new DirectoryError('INVALID', err.issues.join('; '), err.issues);
  throw err;
}

export class Directory {
  private stored: { tenants: Tenant[]; upstreams: Upstream[] } = { tenants: [], upstreams: [] };
  private accessCache: TenantAccess | undefined;
  private readonly listeners: Array<() => void> = [];
  /** Mutations run one at a time, so two concurrent calls cannot both claim the same name. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private config: Config, private readonly store: TenantStore) {}

  /**
   * Takes the tenants, upstreams and system upstream of a re-read config file (SIGHUP). Refused, with the
   * old ones kept, when they clash with API-made ones (same id, user, network, domain or upstream name) or
   * an API-made tenant or login names an upstream the new file no longer has.
   */
  replaceConfig(next: Config): Promise<void> {
    return this.serial(async () => {
      const issues: string[] = [];
      for (const u of this.stored.upstreams) if (next.upstreams.some((c) => c.name === u.name)) issues.push(`upstream ${u.name} is in the config file and was made through the API`);
      const names = new Set([...next.upstreams, ...this.stored.upstreams].map((u) => u.name));
      if (!names.has(next.system.upstream)) issues.push(`system.upstream: unknown upstream "${next.system.upstream}"`);
      const apiMade = TenantClaims.ofTenants(this.stored.tenants);
      for (const c of next.tenants) {
        const owners = new Set(TenantClaims.of(c).map(([kind, value]) => apiMade.owner(kind, value)).filter((o): o is string => o !== undefined));
        for (const owner of owners) issues.push(`config tenant ${c.id} clashes with API-made tenant ${owner} (id, SMTP user, network or domain)`);
      }
      for (const t of this.stored.tenants) {
        const used = [t.upstream, ...t.auth.map((c) => c.upstream), ...(t.networkSenders ?? []).map((n) => n.upstream)].filter((u): u is string => Boolean(u));
        for (const u of used) if (!names.has(u)) issues.push(`API-made tenant ${t.id} uses upstream ${u}, which the config file no longer has`);
      }
      if (issues.length > 0) throw new DirectoryError('CONFLICT', issues.join('; '), issues);
      this.config = next;
      this.changed();
    });
  }

  /**
   * Reads the API-made tenants and upstreams. A network stored before the width limit that is too wide
   * (0.0.0.0/0 made an open relay) is not used: said in the returned lines, one per network.
   */
  async load(): Promise<string[]> {
    const refused: string[] = [];
    const tenants = (await this.store.tenants()).map((t) => {
      const bad: string[] = [];
      for (const n of t.networks) {
        const parsed = parseTenantNetwork(n);
        if (parsed.ok) continue;
        bad.push(n);
        refused.push(`tenant ${t.id}: network ${n} is not used: ${parsed.error}`);
      }
      if (bad.length === 0) return t;
      const { networkSenders, ...rest } = t;
      const kept = (networkSenders ?? []).filter((s) => !bad.includes(s.cidr));
      return { ...rest, networks: t.networks.filter((n) => !bad.includes(n)), ...(kept.length > 0 ? { networkSenders: kept } : {}) };
    });
    this.stored = { tenants, upstreams: await this.store.upstreams() };
    this.changed();
    return refused;
  }

  systemUpstream(): string {
    return this.config.system.upstream;
  }

  /** Called after every change (new domains to check, caches to drop). */
  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  tenants(): Tenant[] {
    return [...this.config.tenants, ...this.stored.tenants];
  }

  tenant(id: string): Tenant | undefined {
    return this.config.tenants.find((t) => t.id === id) ?? this.stored.tenants.find((t) => t.id === id);
  }

  upstreams(): Upstream[] {
    return [...this.config.upstreams, ...this.stored.upstreams];
  }

  upstream(name: string): Upstream | undefined {
    return this.config.upstreams.find((u) => u.name === name) ?? this.stored.upstreams.find((u) => u.name === name);
  }

  /** The upstream a message of this tenant leaves through (the system upstream unless the tenant names one). */
  upstreamFor(tenantId: string): Upstream {
    return this.senderFor(tenantId, { kind: 'api' }).upstream;
  }

  /**
   * Where a message goes and its default sender: the login's or network's own settings (seed 000: each
   * organiser's user sends through their own server), else the tenant's, else the system upstream.
   * Read at delivery time, so a changed setting applies to the next message.
   */
  senderFor(tenantId: string, source: MessageSource): { upstream: Upstream; from?: { address: string; name?: string } } {
    const tenant = this.tenant(tenantId);
    const own: SenderOverride | undefined = source.user
      ? tenant?.auth.find((c) => c.user === source.user)
      : source.network ? tenant?.networkSenders?.find((n) => n.cidr === source.network) : undefined;
    const name = own?.upstream ?? tenant?.upstream ?? this.config.system.upstream;
    const upstream = this.upstream(name);
    if (!upstream) throw new Error(`upstream "${name}" is not configured`);
    const from = own?.from ?? tenant?.from;
    return { upstream: this.forDelivery(upstream), ...(from ? { from } : {}) };
  }

  /**
   * The upstream as delivery (and its test mail) use it: a shop's own SMTP server is connected to only
   * on public addresses, checked at each connection (its name may resolve elsewhere since it was saved),
   * and a shop's own MX upstream never delivers to private addresses.
   */
  forDelivery(upstream: Upstream): Upstream {
    if (upstream.owner === undefined || this.config.admin.allowPrivateTenantUpstreams) return upstream;
    // A shop's copy of an operator's MX upstream must not keep its allowPrivateAddresses either.
    return upstream.type === 'smtp' ? { ...upstream, publicOnly: true } : { ...upstream, allowPrivateAddresses: false };
  }

  /** SMTP login and network lookup over the current tenants. */
  access(): TenantAccess {
    return (this.accessCache ??= new TenantAccess(this.tenants()));
  }

  // -------------------------------------------------------------------------------------------
  // Tenants

  createTenant(input: TenantInput): Promise<Tenant> {
    return this.serial(async () => {
      if (input.id && this.tenant(input.id)) throw new DirectoryError('CONFLICT', `tenant ${input.id} exists already`);
      const tenant = this.resolveTenant(input);
      await this.store.putTenant(tenant);
      this.stored.tenants.push(tenant);
      this.changed();
      return tenant;
    });
  }

  /** Changes the given fields; `null` removes `from` or `upstream`. */
  updateTenant(id: string, input: TenantInput): Promise<Tenant> {
    return this.serial(async () => {
      const current = this.writableTenant(id);
      const merged: TenantInput = {
        id, name: input.name ?? current.name,
        networks: input.networks ?? current.networks.map((cidr) => current.networkSenders?.find((n) => n.cidr === cidr) ?? cidr),
        // A domain given again without `dkim` keeps its keys.
        domains: (input.domains ?? current.domains).map((d) => {
          const keys = d.dkim ?? current.domains.find((c) => c.domain === d.domain.toLowerCase())?.dkim;
          return { domain: d.domain, ...(keys ? { dkim: keys } : {}) };
        }),
      };
      const categories = input.categories ?? current.categories;
      const categoryRules = input.categoryRules ?? current.categoryRules;
      if (categories) merged.categories = categories;
      if (categoryRules) merged.categoryRules = categoryRules;
      const from = input.from === undefined ? current.from : input.from;
      const upstream = input.upstream === undefined ? current.upstream : input.upstream;
      const limits = input.limits === undefined ? current.limits : input.limits;
      if (limits) merged.limits = limits;
      if (input.hold ?? current.hold) merged.hold = true;
      if (from) merged.from = from;
      if (upstream) merged.upstream = upstream;
      const tenant = { ...this.resolveTenant(merged, id), auth: current.auth };
      await this.replaceTenant(tenant);
      return tenant;
    });
  }

  deleteTenant(id: string): Promise<void> {
    return this.serial(async () => {
      this.writableTenant(id);
      await this.store.deleteTenant(id);
      this.stored.tenants = this.stored.tenants.filter((t) => t.id !== id);
      this.changed();
    });
  }

  /** Adds an SMTP credential (with its own upstream or sender, if given); without a password one is generated (and returned, once). */
  addCredential(id: string, user: string, password?: string, own: SenderOverride = {}): Promise<{ user: string; password: string }> {
    return this.serial(async () => {
      const current = this.writableTenant(id);
      if (this.tenants().some((t) => t.auth.some((c) => c.user === user))) throw new DirectoryError('CONFLICT', `SMTP user ${user} exists already`);
      this.checkOverride(own);
      const clear = password ?? newPassword();
      await this.replaceTenant({ ...current, auth: [...current.auth, { user, ...hashPassword(clear), ...own }] });
      return { user, password: clear };
    });
  }

  /** Sets or clears (null) a credential's own upstream and default sender. */
  updateCredential(id: string, user: string, change: { upstream?: string | null; from?: SenderOverride['from'] | null }): Promise<void> {
    return this.serial(async () => {
      const current = this.writableTenant(id);
      const cred = current.auth.find((c) => c.user === user);
      if (!cred) throw new DirectoryError('NOT_FOUND', `tenant ${id} has no SMTP user ${user}`);
      const next = { ...cred };
      if (change.upstream === null) delete next.upstream;
      else if (change.upstream !== undefined) next.upstream = change.upstream;
      if (change.from === null) delete next.from;
      else if (change.from !== undefined) next.from = change.from;
      this.checkOverride(next);
      await this.replaceTenant({ ...current, auth: current.auth.map((c) => (c.user === user ? next : c)) });
    });
  }

  private checkOverride(own: SenderOverride): void {
    const issues: string[] = [];
    if (own.upstream !== undefined && !this.upstream(own.upstream)) issues.push(`upstream: unknown upstream "${own.upstream}"`);
    if (own.from && !isEmailAddress(own.from.address)) issues.push(`from.address: invalid e-mail address "${own.from.address}"`);
    if (issues.length > 0) throw new DirectoryError('INVALID', issues.join('; '), issues);
  }

  /** Gives a credential a new password (generated when none is given); the old one stops working at once. */
  rotateCredential(id: string, user: string, password?: string): Promise<{ user: string; password: string }> {
    return this.serial(async () => {
      const current = this.writableTenant(id);
      if (!current.auth.some((c) => c.user === user)) throw new DirectoryError('NOT_FOUND', `tenant ${id} has no SMTP user ${user}`);
      const clear = password ?? newPassword();
      await this.replaceTenant({ ...current, auth: current.auth.map((c) => (c.user === user ? { ...c, ...hashPassword(clear) } : c)) });
      return { user, password: clear };
    });
  }

  removeCredential(id: string, user: string): Promise<void> {
    return this.serial(async () => {
      const current = this.writableTenant(id);
      if (!current.auth.some((c) => c.user === user)) throw new DirectoryError('NOT_FOUND', `tenant ${id} has no SMTP user ${user}`);
      await this.replaceTenant({ ...current, auth: current.auth.filter((c) => c.user !== user) });
    });
  }

  private writableTenant(id: string): Tenant {
    const t = this.tenant(id);
    if (!t) throw new DirectoryError('NOT_FOUND', `no tenant ${id}`);
    if (t.source === 'config') throw new DirectoryError('READ_ONLY', `tenant ${id} is declared in the config file; change it there, then reload (systemctl reload mailgate, or SIGHUP)`);
    return t;
  }

  private async replaceTenant(tenant: Tenant): Promise<void> {
    await this.store.putTenant(tenant);
    this.stored.tenants = this.stored.tenants.map((t) => (t.id === tenant.id ? tenant : t));
    this.changed();
  }

  /** Validates by the config file's rules, then against every other tenant. */
  private resolveTenant(input: TenantInput, replacing?: string): Tenant {
    const raw = { ...input, domains: input.domains?.map((d) => ({ ...d, ...(d.dkim ? { dkim: ([] as DkimInput[]).concat(d.dkim).map(materialiseKey) } : {}) })) };
    const known = new Set(this.upstreams().map((u) => u.name));
    let tenant: Tenant;
    try {
      tenant = resolveTenantEntry(raw, known);
    } catch (err) {
      invalid(err);
    }
    const others = TenantClaims.ofTenants(this.tenants().filter((t) => t.id !== replacing));
    const issues: string[] = [];
    for (const c of tenant.auth) if (others.owner('user', c.user)) issues.push(`auth: SMTP user ${c.user} exists already`);
    for (const n of tenant.networks) {
      const owner = others.owner('network', n);
      if (owner) issues.push(`networks: ${n} is already assigned to tenant ${owner}`);
    }
    for (const d of tenant.domains) {
      const owner = others.owner('domain', d.domain);
      if (owner) issues.push(`domains: ${d.domain} is already claimed by tenant ${owner}`);
    }
    if (issues.length > 0) throw new DirectoryError('CONFLICT', issues.join('; '), issues);
    return tenant;
  }

  // -------------------------------------------------------------------------------------------
  // Upstreams

  /** A stored upstream; `owner` marks one a shop admin made (and may edit) with a tenant token. */
  createUpstream(input: UpstreamInput, owner?: string): Promise<Upstream> {
    return this.serial(async () => {
      if (typeof input.name === 'string' && this.upstream(input.name)) throw new DirectoryError('CONFLICT', `upstream ${input.name} exists already`);
      const upstream: Upstream = { ...this.resolveUpstream(input), ...(owner ? { owner } : {}) };
      await this.store.putUpstream(upstream);
      this.stored.upstreams.push(upstream);
      this.changed();
      return upstream;
    });
  }

  /** Changes the given fields; an `auth` without password for the same user keeps the stored password. */
  updateUpstream(name: string, input: UpstreamInput): Promise<Upstream> {
    return this.serial(async () => {
      const current = this.writableUpstream(name);
      const merged: Record<string, unknown> = { ...keptOnUpdate(current, input), ...input, name };
      if (current.type === 'smtp' && input.auth && typeof input.auth === 'object') {
        const auth = input.auth as { user?: string; password?: string };
        if (auth.password === undefined && current.auth && auth.user === current.auth.user) merged.auth = { ...auth, password: current.auth.password };
      }
      if (input.auth === null) delete merged.auth;
      const upstream: Upstream = { ...this.resolveUpstream(merged), ...(current.owner ? { owner: current.owner } : {}) };
      await this.store.putUpstream(upstream);
      this.stored.upstreams = this.stored.upstreams.map((u) => (u.name === name ? upstream : u));
      this.changed();
      return upstream;
    });
  }

  /** A new stored upstream with the settings (credentials included) of an existing one (seed 000: copy, then edit). */
  copyUpstream(name: string, newName: string, owner?: string, withoutLogin = false): Promise<Upstream> {
    const source = this.upstream(name);
    if (!source) return Promise.reject(new DirectoryError('NOT_FOUND', `no upstream ${name}`));
    const input: Record<string, unknown> = { ...withoutSource(source), name: newName };
    if (withoutLogin) delete input.auth;
    return this.createUpstream(input, owner);
  }

  deleteUpstream(name: string): Promise<void> {
    return this.serial(async () => {
      this.writableUpstream(name);
      const users = this.tenants()
        .filter((t) => t.upstream === name || t.auth.some((c) => c.upstream === name) || t.networkSenders?.some((n) => n.upstream === name))
        .map((t) => t.id);
      if (users.length > 0) throw new DirectoryError('CONFLICT', `upstream ${name} is used by tenant ${users.join(', ')}; point them elsewhere first`);
      await this.store.deleteUpstream(name);
      this.stored.upstreams = this.stored.upstreams.filter((u) => u.name !== name);
      this.changed();
    });
  }

  private writableUpstream(name: string): Upstream {
    const u = this.upstream(name);
    if (!u) throw new DirectoryError('NOT_FOUND', `no upstream ${name}`);
    if (name === this.config.system.upstream) throw new DirectoryError('READ_ONLY', `${name} is the system upstream; it is set in the config file`);
    if (u.source === 'config') throw new DirectoryError('READ_ONLY', `upstream ${name} is declared in the config file; copy it to make an editable one`);
    return u;
  }

  private resolveUpstream(input: UpstreamInput): Upstream {
    try {
      return resolveUpstreamEntry(input);
    } catch (err) {
      invalid(err);
    }
  }

  private changed(): void {
    this.accessCache = undefined;
    for (const fn of this.listeners) fn();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }
}

/** An upstream as config-file input again (without where it came from and who owns it). */
/**
 * What of an upstream an update keeps before applying the input: everything, or — when the input
 * changes its type (a copy of the MX upstream made a smarthost) — only what both types have.
 */
function keptOnUpdate(current: Upstream, input: UpstreamInput): Record<string, unknown> {
  const type = (input as { type?: unknown }).type;
  if (type === undefined || type === current.type) return withoutSource(current);
  return { name: current.name, maxConnections: current.maxConnections };
}

function withoutSource(u: Upstream): Record<string, unknown> {
  const { source: _source, owner: _owner, ...rest } = u;
  return rest;
}

/** `generate` becomes a fresh PKCS#8 key (rsa-2048 or ed25519). */
function materialiseKey(k: DkimInput): { selector: string; privateKey?: string } {
  if (!k.generate) return { selector: k.selector, ...(k.privateKey !== undefined ? { privateKey: k.privateKey } : {}) };
  const { privateKey } = k.generate === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { selector: k.selector, privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}
