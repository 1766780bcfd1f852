// What a tenant claims that no other tenant may have: its id, its SMTP users, its networks (compared
// as networks, so 10.0.0.0/8 and 10.0.0.1/8 are one) and its sender domains. One rule for the config
// file (owners are positions in the file) and for tenants made through the API (owners are tenant ids).
import { parseCidr } from './formats.js';
import type { Tenant } from './types.js';

export type ClaimKind = 'id' | 'user' | 'network' | 'domain';

function normal(kind: ClaimKind, value: string): string {
  if (kind === 'domain') return value.toLowerCase();
  if (kind === 'network') {
    const cidr = parseCidr(value);
    return cidr.ok ? cidr.value.networkKey : value;
  }
  return value;
}

export class TenantClaims {
  private readonly owners = new Map<string, string>();

  /** Records that `owner` claims `value`; returns who claimed it before, when that was someone else. */
  claim(kind: ClaimKind, value: string, owner: string): string | undefined {
    const key = `${kind}\n${normal(kind, value)}`;
    const first = this.owners.get(key);
    if (first === undefined) this.owners.set(key, owner);
    return first !== undefined && first !== owner ? first : undefined;
  }

  /** Who claims `value` now, if anyone. */
  owner(kind: ClaimKind, value: string): string | undefined {
    return this.owners.get(`${kind}\n${normal(kind, value)}`);
  }

  /** Every claim of a resolved tenant. */
  static of(t: Pick<Tenant, 'id' | 'auth' | 'networks' | 'domains'>): Array<[ClaimKind, string]> {
    return [['id', t.id], ...t.auth.map((a): [ClaimKind, string] => ['user', a.user]), ...t.networks.map((n): [ClaimKind, string] => ['network', n]), ...t.domains.map((d): [ClaimKind, string] => ['domain', d.domain])];
  }

  /** The claims of these tenants, owned by their ids. */
  static ofTenants(tenants: Array<Pick<Tenant, 'id' | 'auth' | 'networks' | 'domains'>>): TenantClaims {
    const claims = new TenantClaims();
    for (const t of tenants) for (const [kind, value] of TenantClaims.of(t)) claims.claim(kind, value, t.id);
    return claims;
  }
}
