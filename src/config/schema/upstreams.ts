// upstreams: direct MX delivery or a smarthost, with TLS, login and connection limits.
import { z } from 'zod';
import { host, nonEmpty, port, positiveInt, secret } from './primitives.js';

export const upstreamName = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 characters of letters, digits, ".", "-" and "_"');

export const mxUpstreamSchema = z.strictObject({
  name: upstreamName,
  type: z.literal('mx'),
  port: port.default(25),
  maxConnections: positiveInt.default(10),
  requireTls: z.boolean().default(false),
  allowPrivateAddresses: z.boolean().default(false),
  // Recipient domains' published TLS requirements: MTA-STS (RFC 8461) on, as KumoMTA ships it; DANE
  // (RFC 7672) only trusts the AD bit of a validating resolver, so it is off until the operator has one.
  mtaSts: z.boolean().default(true),
  dane: z.boolean().default(false),
});

export const smtpUpstreamSchema = z.strictObject({
  name: upstreamName,
  type: z.literal('smtp').default('smtp'),
  host,
  port: port.optional(),
  tls: z.enum(['none', 'starttls', 'implicit']).default('starttls'),
  tlsVerify: z.boolean().default(true),
  auth: z.strictObject({ user: nonEmpty, ...secret('password') }).optional(),
  maxConnections: positiveInt.default(10),
});

/** The port of a smarthost when the entry names none, by its TLS mode. */
export const DEFAULT_SMTP_PORT = { none: 25, starttls: 587, implicit: 465 } as const;
