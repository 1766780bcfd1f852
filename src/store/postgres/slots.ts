// Slots shared by every node (an upstream's maxConnections across the cluster), as session advisory
// locks on (hashtext(key), n) for n < limit. A node takes the first free n in one query, on one of a
// few connections in turn. A released slot stays with the node for a moment: the next delivery in
// the same lane reuses it without a query. It goes back when idle for IDLE_MS, or at the latest
// HOLD_MS after it was taken, so a busy node cannot keep a lane from the other nodes for good.
// If a connection breaks, the server frees its locks; the next slot opens a new connection.
import type pg from 'pg';

const IDLE_MS = 500;
const HOLD_MS = 2000;
const CONNECTIONS = 3;

interface LockConnection {
  conn?: Promise<pg.PoolClient>;
  /** Slot numbers this connection holds, by key (a session may take its own lock again, so they are skipped). */
  held: Map<string, Set<number>>;
}

interface Slot {
  lc: LockConnection;
  conn: pg.PoolClient;
  key: string;
  n: number;
  takenAt: number;
  idleSince?: number;
}

export class PgSlots {
  private readonly connections: LockConnection[] = Array.from({ length: CONNECTIONS }, () => ({ held: new Map() }));
  private next = 0;
  private readonly idle = new Map<string, Slot[]>();
  private readonly sweeper: NodeJS.Timeout;
  /** Slot queries made (for the cost of the cluster's limits in benchmarks). */
  queries = 0;

  constructor(private readonly pool: pg.Pool, private readonly now: () => number = Date.now) {
    this.sweeper = setInterval(() => void this.sweep(), IDLE_MS / 2);
    this.sweeper.unref();
  }

  async take(key: string, limit: number): Promise<(() => Promise<void>) | undefined> {
    const kept = this.idle.get(key);
    while (kept && kept.length > 0) {
      const s = kept.pop()!;
      if (s.n < limit && this.now() - s.takenAt < HOLD_MS) return this.releaser(s);
      await this.unlock(s);
    }
    const lc = this.connections[this.next++ % this.connections.length]!;
    const conn = await this.connection(lc);
    const mine = lc.held.get(key) ?? new Set<number>();
    lc.held.set(key, mine);
    this.queries++;
    const r = await conn.query({
      name: 'mg-slot',
      text: 'select n from generate_series(0, $2::integer - 1) as n where n <> all($3::integer[]) and pg_try_advisory_lock(hashtext($1), n) limit 1',
      values: [key, limit, [...mine]],
    });
    if (r.rows.length === 0) return undefined;
    const s: Slot = { lc, conn, key, n: r.rows[0].n as number, takenAt: this.now() };
    mine.add(s.n);
    return this.releaser(s);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.idle.clear();
    for (const lc of this.connections) {
      const conn = lc.conn;
      lc.conn = undefined;
      lc.held.clear();
      if (conn) (await conn.catch(() => undefined))?.release(true);
    }
  }

  private releaser(s: Slot): () => Promise<void> {
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      s.idleSince = this.now();
      this.idle.set(s.key, [...(this.idle.get(s.key) ?? []), s]);
    };
  }

  private async sweep(): Promise<void> {
    const now = this.now();
    for (const [key, slots] of this.idle) {
      const keep = slots.filter((s) => now - s.idleSince! < IDLE_MS && now - s.takenAt < HOLD_MS);
      if (keep.length > 0) this.idle.set(key, keep);
      else this.idle.delete(key);
      for (const s of slots) if (!keep.includes(s)) await this.unlock(s).catch(() => undefined);
    }
  }

  private async unlock(s: Slot): Promise<void> {
    if (s.lc.held.get(s.key)?.delete(s.n) === false) return; // its connection broke: the server freed it
    this.queries++;
    await s.conn.query({ name: 'mg-unslot', text: 'select pg_advisory_unlock(hashtext($1), $2)', values: [s.key, s.n] });
  }

  private connection(lc: LockConnection): Promise<pg.PoolClient> {
    lc.conn ??= this.pool.connect().then((c) => {
      c.on('error', () => {
        lc.conn = undefined;
        lc.held.clear();
        c.release(true);
      });
      return c;
    }, (err: Error) => {
      lc.conn = undefined;
      throw err;
    });
    return lc.conn;
  }
}
