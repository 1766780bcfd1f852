// The top level: which sections there are, and the log levels.
import { z } from 'zod';

export const ROOT_KEYS = [
  'dataDir',
  'store',
  'logLevel',
  'logFormat',
  'listen',
  'tls',
  'limits',
  'queue',
  'retention',
  'dns',
  'system',
  'admin',
  'upstreams',
  'tenants',
  'webhooks',
  'tracking',
  'secureDelivery',
  'shutdownGrace',
] as const;

export const rootSchema = z.strictObject(Object.fromEntries(ROOT_KEYS.map((k) => [k, z.unknown().optional()])));

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

