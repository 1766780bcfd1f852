// The cluster on PostgreSQL: every node writes a heartbeat, leases are rows that their holder renews
// before they run out (times are the database's clock, so nodes' clocks may differ), and a change to
// what nodes cache bumps a version (triggers, schema 2) that every node polls once a second.
import os from 'node:os';
import type pg from 'pg';
import type { ChangeTopic, ClusterNode, ClusterPort } from '../ports.js';
import { PgSlots } from './slots.js';

const HEARTBEAT_MS = 5000;
const POLL_MS = 1000;
const NOW = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;

export class PgCluster implements ClusterPort {
  private readonly listeners = new Map<ChangeTopic, Array<() => void>>();
  private versions = new Map<string, number>();
  private heartbeat: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  private polling = false;
  private answeredAt = Date.now();

  constructor(private readonly pool: pg.Pool, readonly node: string) {
    this.slots = new PgSlots(pool);
  }

  private readonly slots: PgSlots;

  /** One of `limit` slots named `key` across the cluster (see slots.ts). */
  readonly slot = (key: string, limit: number) => this.slots.take(key, limit);

  /** Registers the node, claims messages of a database written before nodes existed, starts the loops. */
  async start(): Promise<void> {
    await this.pool.query(
      `insert into nodes (id, name, started_at, heartbeat_at) values ($1, $2, ${NOW}, ${NOW})
       on conflict (id) do update set name = excluded.name, started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at`,
      [this.node, os.hostname()],
    );
    // Schema 1 had no owners and one node: its messages are the first node's to open the database.
    await this.pool.query('update messages set node = $1 where node is null', [this.node]);
    this.versions = await this.readVersions();
    this.heartbeat = setInterval(() => void this.pool.query(`update nodes set heartbeat_at = ${NOW} where id = $1`, [this.node]).catch(() => undefined), HEARTBEAT_MS);
    this.heartbeat.unref();
    this.poll = setInterval(() => void this.pollVersions(), POLL_MS);
    this.poll.unref();
  }

  /** The database answered the once-a-second poll within `ms` (for /healthz). */
  answeredWithin(ms: number): boolean {
    return Date.now() - this.answeredAt <= ms;
  }

  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    clearInterval(this.poll);
    await this.slots.close();
    await this.pool.query('delete from leases where holder = $1', [this.node]).catch(() => undefined);
  }

  async nodes(): Promise<ClusterNode[]> {
    const r = await this.pool.query('select id, name, started_at, heartbeat_at from nodes order by id');
    return r.rows.map((x) => ({ id: x.id as string, name: x.name as string, startedAt: Number(x.started_at), heartbeatAt: Number(x.heartbeat_at) }));
  }

  async leave(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.pool.query('delete from leases where holder = $1', [this.node]);
    await this.pool.query('delete from nodes where id = $1', [this.node]);
  }

  async lease(name: string, ttlMs: number): Promise<boolean> {
    const r = await this.pool.query(
      `insert into leases (name, holder, expires_at, acquired_at) values ($1, $2, ${NOW} + $3, ${NOW})
       on conflict (name) do update set holder = excluded.holder, expires_at = excluded.expires_at,
         acquired_at = case when leases.holder = excluded.holder then leases.acquired_at else excluded.acquired_at end
       where leases.holder = excluded.holder or leases.expires_at < ${NOW}
       returning holder`,
      [name, this.node, ttlMs],
    );
    return r.rows.length > 0;
  }

  async release(name: string): Promise<void> {
    await this.pool.query('delete from leases where name = $1 and holder = $2', [name, this.node]);
  }

  async sharedSecret(name: string, make: () => string): Promise<string> {
    await this.pool.query('insert into cluster_secrets (name, value) values ($1, $2) on conflict (name) do nothing', [name, make()]);
    return (await this.pool.query('select value from cluster_secrets where name = $1', [name])).rows[0].value as string;
  }

  onChange(topic: ChangeTopic, fn: () => void): void {
    this.listeners.set(topic, [...(this.listeners.get(topic) ?? []), fn]);
  }

  private async readVersions(): Promise<Map<string, number>> {
    const r = await this.pool.query('select topic, version from cluster_versions');
    return new Map(r.rows.map((x) => [x.topic as string, Number(x.version)]));
  }

  private async pollVersions(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const next = await this.readVersions();
      for (const [topic, version] of next) {
        if (this.versions.get(topic) !== version) for (const fn of this.listeners.get(topic as ChangeTopic) ?? []) fn();
      }
      this.versions = next;
      this.answeredAt = Date.now();
    } catch {
      // the database is away for a moment: the next poll sees what changed meanwhile
    } finally {
      this.polling = false;
    }
  }
}
