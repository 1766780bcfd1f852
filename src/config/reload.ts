// What a re-read config (SIGHUP) can change at once and what needs a restart (pure).
import type { Config } from './types.js';

/** Applied without a restart. */
export const RELOADED = ['tenants', 'upstreams', 'system.upstream', 'admin.tokens', 'logLevel'];

/** Sections that are read once at start. */
const RESTART_ONLY = ['dataDir', 'store', 'logFormat', 'listen', 'tls', 'limits', 'queue', 'retention', 'dns', 'system', 'webhooks', 'tracking', 'shutdownGrace'] as const;

/** The read-once sections that differ between the running and the re-read config. */
export function needsRestart(running: Config, next: Config): string[] {
  const same = (k: (typeof RESTART_ONLY)[number]) =>
    k === 'system' ? JSON.stringify({ ...next.system, upstream: '' }) === JSON.stringify({ ...running.system, upstream: '' }) : JSON.stringify(next[k]) === JSON.stringify(running[k]);
  const admin = (['trustProxy', 'secureCookie'] as const).filter((k) => JSON.stringify(next.admin[k]) !== JSON.stringify(running.admin[k])).map((k) => `admin.${k}`);
  return [...RESTART_ONLY.filter((k) => !same(k)), ...admin];
}
