// The address lists on LevelDB: suppression and soft-bounce counters ("<tenant>!<address>") and
// opt-outs ("<tenant>!<category>!<address>"). Suppression and opt-outs keep every key in memory, so
// the common question at submit time ("is this address on it?" — no) costs no read; one process
// owns a LevelDB, so nothing else can change them behind its back.
import type { OptOut, OptOutStore, SoftBounceStore, SoftCount, StoreOp, SuppressionEntry, SuppressionStore } from '../ports.js';
import type { Sublevel } from './db.js';
import { addressKey } from './keys.js';

export class LevelSuppression implements SuppressionStore {
  private readonly keys = new Set<string>();
  private loaded: Promise<void> | undefined;

  constructor(private readonly level: Sublevel) {}

  private load(): Promise<void> {
    this.loaded ??= (async () => {
      for await (const k of this.level.keys()) this.keys.add(k);
    })();
    return this.loaded;
  }

  /** Called by the engine after a commit that added entries. */
  applied(op: Extract<StoreOp, { kind: 'suppression.add' }>): void {
    this.keys.add(addressKey(op.entry.tenant, op.entry.address));
  }

  async get(tenant: string, address: string): Promise<SuppressionEntry | undefined> {
    await this.load();
    const key = addressKey(tenant, address);
    if (!this.keys.has(key)) return undefined;
    return (await this.level.get(key)) as SuppressionEntry | undefined;
  }

  async remove(tenant: string, address: string): Promise<void> {
    await this.load();
    const key = addressKey(tenant, address);
    await this.level.del(key);
    this.keys.delete(key);
  }

  list(tenant: string, q: { address?: string; reason?: string; limit?: number }): Promise<SuppressionEntry[]> {
    return this.scan({ gte: `${tenant}!`, lt: `${tenant}!\xff` }, q);
  }

  /** Entries in key order within `range` (one tenant's, or all), filtered as list() says. */
  async scan(range: { gte?: string; lt?: string }, q: { address?: string; reason?: string; limit?: number }): Promise<SuppressionEntry[]> {
    const out: SuppressionEntry[] = [];
    const address = q.address?.toLowerCase();
    const reason = q.reason?.toLowerCase();
    for await (const v of this.level.values(range)) {
      const e = v as SuppressionEntry;
      if (address && !e.address.includes(address)) continue;
      if (reason && e.class !== reason && !e.reason.toLowerCase().includes(reason)) continue;
      out.push(e);
      if (out.length >= (q.limit ?? 1000)) break;
    }
    return out;
  }
}

export class LevelSoftBounces implements SoftBounceStore {
  constructor(private readonly level: Sublevel) {}

  async get(tenant: string, address: string): Promise<SoftCount | undefined> {
    return (await this.level.get(addressKey(tenant, address))) as SoftCount | undefined;
  }
}

export class LevelOptOuts implements OptOutStore {
  private readonly keys = new Set<string>();
  private loaded: Promise<void> | undefined;

  constructor(private readonly level: Sublevel) {}

  private key(tenant: string, category: string, address: string): string {
    return `${tenant}!${category}!${address.toLowerCase()}`;
  }

  private load(): Promise<void> {
    this.loaded ??= (async () => {
      for await (const k of this.level.keys()) this.keys.add(k);
    })();
    return this.loaded;
  }

  async has(tenant: string, category: string, address: string): Promise<boolean> {
    await this.load();
    return this.keys.has(this.key(tenant, category, address));
  }

  async add(entry: OptOut): Promise<void> {
    await this.load();
    const key = this.key(entry.tenant, entry.category, entry.address);
    await this.level.put(key, { ...entry, address: entry.address.toLowerCase() });
    this.keys.add(key);
  }

  async remove(tenant: string, category: string, address: string): Promise<boolean> {
    await this.load();
    const key = this.key(tenant, category, address);
    if (!this.keys.has(key)) return false;
    await this.level.del(key);
    this.keys.delete(key);
    return true;
  }

  async list(tenant: string, q: { address?: string; category?: string; limit?: number } = {}): Promise<OptOut[]> {
    const prefix = q.category ? `${tenant}!${q.category}!` : `${tenant}!`;
    const out: OptOut[] = [];
    for await (const v of this.level.values({ gte: prefix, lt: `${prefix}\xff` })) {
      const e = v as OptOut;
      if (q.address && e.address !== q.address.toLowerCase()) continue;
      out.push(e);
      if (out.length >= (q.limit ?? 1000)) break;
    }
    return out;
  }
}
