// The PostgreSQL engine: a store shared by every node of a cluster. A connection pool answers the
// ports; a transaction is one BEGIN … COMMIT with synchronous_commit on (a 250 only after the
// database has it on disk), written by group commit like the LevelDB batch. The schema is migrated
// at open; a database of a newer schema is refused.
import pg from 'pg';
import { GroupCommit } from '../group-commit.js';
import type { Store, StoreOp } from '../ports.js';
import { PgCluster } from './cluster.js';
import { PgEvents } from './events.js';
import { PgOptOuts, PgSoftBounces, PgSuppression } from './lists.js';
import { PgMessages } from './messages.js';
import { migrate } from './migrate.js';

export { migrate } from './migrate.js';
import { PgShipments } from './shipments.js';
import { PgStats } from './stats.js';
import { PgTlsReports } from './tls-reports.js';
import { PgAcrossTenants } from './across-tenants.js';
import { PgApiTokens, PgDomainChecks, PgSignIns, PgTenants } from './tenants.js';
import { PgWebhooks } from './webhooks.js';
import { inTransaction } from './transaction.js';
import { writeOps } from './write.js';

export interface PostgresOptions {
  /** postgres://user:password@host:port/database (the password never reaches a log line). */
  url: string;
  /** Connections at most (default 10). */
  poolSize?: number;
  /** Apply missing migrations at open (default true); `mailgate store migrate` does it by hand. */
  migrate?: boolean;
  /** This node's id: messages it accepts are its own to deliver. */
  node: string;
}

/** bigint columns as JS numbers: every bigint here is a time in ms or a counter, far below 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: string) => (oid === 20 ? Number : pg.types.getTypeParser(oid, format as never))) as typeof pg.types.getTypeParser,
};

export function postgresPool(opts: Pick<PostgresOptions, 'url' | 'poolSize'>): pg.Pool {
  const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 10, types, application_name: 'mailgate' });
  // An idle connection that the server drops must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}

export async function openPostgresStore(opts: PostgresOptions): Promise<Store> {
  const pool = postgresPool(opts);
  try {
    if (opts.migrate !== false) await migrate(pool);
  } catch (err) {
    await pool.end().catch(() => undefined);
    const e = new Error(`cannot open the PostgreSQL store: ${(err as Error).message}`);
    (e as Error & { code: string }).code = (err as { code?: string }).code === 'STORE_SCHEMA_TOO_NEW' ? 'STORE_SCHEMA_TOO_NEW' : 'STORE_UNAVAILABLE';
    throw e;
  }
  let open = true;
  const cluster = new PgCluster(pool, opts.node);
  const suppression = new PgSuppression(pool);
  await cluster.start();
  const write = (ops: StoreOp[], sync: boolean) => inTransaction(pool, (client) => writeOps(client, ops, opts.node), { sync });
  const group = new GroupCommit(write);
  return {
    engine: 'postgres',
    messages: new PgMessages(pool, opts.node),
    events: new PgEvents(pool),
    suppression,
    softBounces: new PgSoftBounces(pool),
    optOuts: new PgOptOuts(pool),
    tenants: new PgTenants(pool),
    apiTokens: new PgApiTokens(pool),
    webhooks: new PgWebhooks(pool),
    domains: new PgDomainChecks(pool),
    shipments: new PgShipments(pool),
    acrossTenants: new PgAcrossTenants(pool, suppression),
    signIns: new PgSignIns(pool),
    stats: new PgStats(pool),
    tlsReports: new PgTlsReports(pool),
    cluster,
    commit: (ops, o) => group.commit(ops, o),
    idle: () => group.idle(),
    commitStats: group.stats,
    // Open, and the database answered within the last 5 s (the version poll asks every second).
    isOpen: () => open && cluster.answeredWithin(5000),
    snapshot: undefined,
    close: async () => {
      await group.idle();
      open = false;
      await cluster.stop();
      await pool.end();
    },
  };
}
