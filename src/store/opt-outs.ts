// Opt-outs (seed 001): addresses that unsubscribed from one optional category of one tenant, with when
// and how. Keyed "<tenant>!<category>!<address>"; an in-memory key set keeps the send-time check cheap.
import type { Sublevel } from './level.js';

export interface OptOut {
  tenant: string;
  category: string;
  address: string;
  time: number;
  via: 'one-click' | 'page' | 'mailto' | 'admin';
}

export class OptOutList {
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
