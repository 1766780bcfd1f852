// secureDelivery: what direct (type: mx) delivery under MTA-STS and DANE needs besides the
// per-upstream switches: extra CAs to trust, the MTA-STS policy port (tests), and TLS reports
// (RFC 8460). Structure and defaults only; load.ts reads the CA file.
import { z } from 'zod';
import { duration, emailAddress, nonEmpty, port } from './primitives.js';

export const tlsReportsSchema = z.strictObject({
  // Off by default: reports go to third parties, name this relay and its volumes per domain, and a
  // mailto: report must be DKIM-signed by the system domain (RFC 8460 §5.3), which a fresh install lacks.
  enabled: z.boolean().default(false),
  /** "organization-name" of the reports (default: system.hostname). */
  organization: nonEmpty.optional(),
  /** "contact-info" of the reports and the sender of mailto: reports (default: system.sender.address). */
  contact: emailAddress.optional(),
  /** Per https: upload. */
  timeout: duration.prefault('30s'),
  /** Allow https: report addresses that resolve to loopback, private or link-local addresses (tests, labs). */
  allowPrivateTargets: z.boolean().default(false),
});

export const secureDeliverySchema = z.strictObject({
  /** PEM file of CA certificates trusted besides the system's, for MTA-STS policy hosts, MX hosts under a policy and report uploads. */
  caFile: nonEmpty.optional(),
  /** Port of https://mta-sts.<domain>/ (443; tests point it at a loopback server). */
  mtaStsPort: port.default(443),
  tlsReports: tlsReportsSchema.prefault({}),
});
