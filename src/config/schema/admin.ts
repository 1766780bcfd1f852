// admin: API tokens, whether shop admins may use private upstream addresses, the reverse proxies
// whose X-Forwarded-For/-Proto are believed, and the console cookie's Secure flag.
import { z } from 'zod';
import { parseCidr } from '../formats.js';
import { nonEmpty, secret } from './primitives.js';

export const adminSchema = z.strictObject({
  tokens: z.array(z.strictObject({ name: nonEmpty, ...secret('token') })).default([]),
  /** Shop admins (tenant tokens) may make upstreams on loopback/private addresses (off: no probing of the LAN). */
  allowPrivateTenantUpstreams: z.boolean().default(false),
  /** Addresses or CIDRs of reverse proxies in front of the admin listener; only their X-Forwarded-For/-Proto count. */
  trustProxy: z.array(nonEmpty.refine((v) => parseCidr(v).ok, 'must be an IP address or a CIDR')).default([]),
  /** The console cookie's Secure flag: `auto` (default) sets it when the request came over HTTPS. */
  secureCookie: z.union([z.boolean(), z.literal('auto')]).default('auto'),
});

