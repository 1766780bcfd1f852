// tenants: logins, networks, sender, domains with DKIM keys, upstream, message categories.
import { z } from 'zod';
import { parseTenantNetwork } from '../formats.js';
import { domain, mailbox, nonEmpty, secret, selector, stringFormat } from './primitives.js';

export const cidrSchema = stringFormat(parseTenantNetwork);
export const networkSenderSchema = z.strictObject({ cidr: cidrSchema, upstream: nonEmpty.optional(), from: mailbox.optional() });

/** How much a shop (or one of its logins) may send; every field optional, absent = no limit. */
export const sendLimitsSchema = z.strictObject({
  messagesPerMinute: z.int().min(1).optional(),
  messagesPerHour: z.int().min(1).optional(),
  messagesPerDay: z.int().min(1).optional(),
  recipientsPerMessage: z.int().min(1).optional(),
  recipientsPerMonth: z.int().min(1).optional(),
});

export const tenantSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9_-]{1,64}$/, 'must be 1-64 characters of a-z, 0-9, "-" and "_"'),
  name: nonEmpty,
  // Each login and each network may send through its own upstream and under its own default sender (seed 000).
  auth: z.array(z.strictObject({ user: nonEmpty, ...secret('password'), upstream: nonEmpty.optional(), from: mailbox.optional(), limits: sendLimitsSchema.optional() })).default([]),
  // A CIDR, or { cidr, upstream, from }; each entry is checked by its own schema below (a union would hide the reason).
  networks: z.array(z.unknown()).default([]),
  from: mailbox.optional(),
  domains: z
    .array(
      z.strictObject({
        domain,
        // One key, or several: rsa + ed25519 side by side, or old + new selector during rotation.
        dkim: z.union([
          z.strictObject({ selector, ...secret('privateKey') }),
          z.array(z.strictObject({ selector, ...secret('privateKey') })).min(1).max(4),
        ]).optional(),
      }),
    )
    .default([]),
  upstream: nonEmpty.optional(),
  limits: sendLimitsSchema.optional(),
  /** New mail of this shop is accepted and held (not delivered) until an operator releases it. */
  hold: z.boolean().optional(),
  categories: z.record(z.string().regex(/^[a-z0-9._-]{1,64}$/, 'category names are 1-64 characters of a-z, 0-9, ".", "-" and "_"'), z.enum(['optional', 'mandatory'])).optional(),
  categoryRules: z.array(z.strictObject({
    subject: z.string().min(1).max(500).refine((v) => {
      try {
        new RegExp(v, 'iu');
        return true;
      } catch {
        return false;
      }
    }, 'is not a valid regular expression'),
    category: z.string().regex(/^[a-z0-9._-]{1,64}$/, 'must be 1-64 characters of a-z, 0-9, ".", "-" and "_"'),
  })).max(100).optional(),
});

