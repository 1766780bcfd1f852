// Brings a database to the schema this release knows: applies the missing migrations in order, each
// in its own transaction, under an advisory lock so that nodes starting together take turns.
// A database migrated by a newer release is refused: this code would not know its tables.
import type pg from 'pg';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.js';

/** pg_advisory_lock key: "mailgate" in ASCII, as a bigint. */
const MIGRATION_LOCK = '7883072389133870439';

export class SchemaTooNewError extends Error {
  readonly code = 'STORE_SCHEMA_TOO_NEW';
  constructor(found: number) {
    super(`the database has schema version ${found}, newer than this mailgate knows (${SCHEMA_VERSION}); upgrade mailgate on this node`);
  }
}

export async function schemaVersion(db: pg.Pool | pg.PoolClient): Promise<number> {
  const exists = await db.query(`select to_regclass('mailgate_schema') is not null as present`);
  if (!exists.rows[0].present) return 0;
  return Number((await db.query('select coalesce(max(version), 0) as v from mailgate_schema')).rows[0].v);
}

/** Applies what is missing; resolves with the versions before and after. */
export async function migrate(pool: pg.Pool): Promise<{ from: number; to: number; applied: string[] }> {
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query('create table if not exists mailgate_schema (version integer primary key, name text not null, applied_at timestamptz not null default now())');
      const from = await schemaVersion(client);
      if (from > SCHEMA_VERSION) throw new SchemaTooNewError(from);
      const applied: string[] = [];
      for (const m of MIGRATIONS.filter((x) => x.version > from)) {
        await client.query('begin');
        try {
          await client.query(m.sql);
          await client.query('insert into mailgate_schema (version, name) values ($1, $2)', [m.version, m.name]);
          await client.query('commit');
        } catch (err) {
          await client.query('rollback');
          throw new Error(`migration ${m.version} (${m.name}) failed: ${(err as Error).message}`);
        }
        applied.push(`${m.version} ${m.name}`);
      }
      return { from, to: Math.max(from, SCHEMA_VERSION), applied };
    } finally {
      await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}
