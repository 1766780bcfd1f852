// Opens the store the config names. LevelDB under <dataDir>/db is the embedded default.
import type { RestoreTarget, Store } from './ports.js';
import { levelRestoreTarget, openLevelStore } from './level/index.js';

export type { Store } from './ports.js';

export async function openStore(dataDir: string): Promise<Store> {
  return openLevelStore(dataDir);
}

/** An empty store in `dataDir` for a restore from backup. */
export function openRestoreTarget(dataDir: string): Promise<RestoreTarget> {
  return levelRestoreTarget(dataDir);
}
