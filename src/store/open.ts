// Opens the store the config names: LevelDB under <dataDir>/db (the embedded default, one node), or
// a PostgreSQL database shared by several nodes.
import type { StoreConfig } from '../config/types.js';
import type { RestoreTarget, Store } from './ports.js';
import { levelRestoreTarget, openLevelStore } from './level/index.js';
import { nodeId } from './node-id.js';

export type { Store } from './ports.js';

export async function openStore(dataDir: string, config: StoreConfig = { engine: 'level' }): Promise<Store> {
  const node = await nodeId(dataDir);
  if (config.engine === 'postgres') {
    // Loaded only when used: a LevelDB node never carries the PostgreSQL client.
    const { openPostgresStore } = await import('./postgres/index.js');
    return openPostgresStore({ url: config.url, poolSize: config.poolSize, node });
  }
  return openLevelStore(dataDir, node);
}

/** An empty store in `dataDir` for a restore from backup (LevelDB; PostgreSQL is restored with pg_restore). */
export function openRestoreTarget(dataDir: string): Promise<RestoreTarget> {
  return levelRestoreTarget(dataDir);
}

/** `mailgate store migrate`: brings a PostgreSQL database to this release's schema; what it did, in words. */
export async function migrateStore(config: StoreConfig): Promise<string> {
  if (config.engine !== 'postgres') return 'the LevelDB store needs no migration';
  const { migrate, postgresPool } = await import('./postgres/index.js');
  const pool = postgresPool({ url: config.url, poolSize: 1 });
  try {
    const r = await migrate(pool);
    return r.applied.length === 0
      ? `the database is at schema version ${r.to}, nothing to do`
      : `schema version ${r.from} → ${r.to}: applied ${r.applied.join(', ')}`;
  } finally {
    await pool.end();
  }
}
