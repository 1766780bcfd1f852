// store: where mailgate keeps its records. LevelDB in the data directory (the default, one node) or a
// PostgreSQL database shared by several nodes; its URL is a secret (url, urlFile or urlEnv).
import { z } from 'zod';
import { positiveInt, secret } from './primitives.js';

export const STORE_ENGINES = ['level', 'postgres'] as const;

export const storeSchema = z.strictObject({
  engine: z.enum(STORE_ENGINES).default('level'),
  ...secret('url'),
  poolSize: positiveInt.max(200).default(10),
});

/** A PostgreSQL connection URL as node-postgres takes it. */
export function checkPostgresUrl(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'is not a URL (postgres://user:password@host:5432/database)';
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') return 'must be a postgres:// URL';
  if (u.pathname.length <= 1) return 'must name the database (postgres://…/mailgate)';
  return undefined;
}
