// admin: API tokens, and whether shop admins may use private upstream addresses.
import { z } from 'zod';
import { nonEmpty, secret } from './primitives.js';

export const adminSchema = z.strictObject({
  tokens: z.array(z.strictObject({ name: nonEmpty, ...secret('token') })).default([]),
  /** Shop admins (tenant tokens) may make upstreams on loopback/private addresses (off: no probing of the LAN). */
  allowPrivateTenantUpstreams: z.boolean().default(false),
});

