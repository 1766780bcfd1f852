// Test configs: a minimal valid mailgate.yaml on loopback with port 0 everywhere; tokens as fingerprints
// for comparisons whose failure must not print the secret.
import { createHash } from 'node:crypto';

export interface TestConfigOptions {
  dataDir: string;
  /** YAML list items for `upstreams:` (each a flow mapping). */
  upstreams?: string[];
  /** YAML list items for `tenants:`. */
  tenants: string[];
  systemUpstream?: string;
  /** More `system:` keys, as YAML flow-mapping entries (`dkim: { … }, spf: { … }`). */
  system?: string;
  /** More `admin:` keys, as YAML flow-mapping entries (`allowPrivateTenantUpstreams: true`). */
  admin?: string;
  /** Extra top-level YAML appended verbatim (queue:, limits:, dns:, …). */
  extra?: string;
  /** false: no admin.tokens, so mailgate makes its own admin token on the first start. Default true (ADMIN_TOKEN). */
  adminToken?: boolean;
}

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export function testConfig(o: TestConfigOptions): string {
  return [
    `dataDir: ${o.dataDir}`,
    'logLevel: info',
    'listen: { submission: 127.0.0.1:0, inbound: 127.0.0.1:0, admin: 127.0.0.1:0 }',
    `system: { hostname: relay.test, sender: { address: noreply@relay.test, name: Relay }, bounceDomain: bounces.relay.test, upstream: ${o.systemUpstream ?? 'direct'}${o.system ? `, ${o.system}` : ''} }`,
    `admin: { tokens: [${o.adminToken === false ? '' : ` { name: ops, token: ${ADMIN_TOKEN} } `}]${o.admin ? `, ${o.admin}` : ''} }`,
    'shutdownGrace: 3s',
    `upstreams:${o.upstreams?.length ? '' : ' []'}`,
    ...(o.upstreams ?? []).map((u) => `  - ${u}`),
    'tenants:',
    ...o.tenants.map((t) => `  - ${t}`),
    o.extra ?? '',
  ].join('\n');
}

/** A sink upstream entry for `upstreams:`. */
export function sinkUpstream(name: string, port: number): string {
  return `{ name: ${name}, host: 127.0.0.1, port: ${port}, tls: none }`;
}

/** Tokens as "name → sha256:<first 12 hex>", to compare without a failure printing the secrets. */
export function fingerprints(tokens: Array<{ name: string; token: string }>): Array<{ name: string; token: string }> {
  return tokens.map((t) => ({ name: t.name, token: `sha256:${createHash('sha256').update(t.token).digest('hex').slice(0, 12)}` }));
}
