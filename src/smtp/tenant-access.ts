// Who is sending: a tenant found by SMTP AUTH credentials or by the client's source network.
// Anyone else is nobody, and nobody may relay.
import net from 'node:net';
import type { Tenant, TenantCredential } from '../config/types.js';
import { verifyPassword } from '../config/password.js';

export interface Identity {
  tenant: Tenant;
  /** The AUTH user, absent for network-trusted clients. */
  user?: string;
  /** The tenant network (CIDR as configured) a client without AUTH came from. */
  network?: string;
}

/** Strips the IPv4-mapped prefix ("::ffff:10.0.0.1" → "10.0.0.1"). */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
}

export class TenantAccess {
  private readonly users = new Map<string, { tenant: Tenant; cred: TenantCredential }>();
  /** One entry per network, so the most specific match can be told (a /32 with its own upstream inside a /24). */
  private readonly networks: Array<{ tenant: Tenant; cidr: string; bits: number; list: net.BlockList }> = [];
  private readonly byId = new Map<string, Tenant>();

  constructor(tenants: Tenant[]) {
    for (const tenant of tenants) {
      this.byId.set(tenant.id, tenant);
      for (const cred of tenant.auth) this.users.set(cred.user, { tenant, cred });
      for (const cidr of tenant.networks) {
        const [addr, prefix] = cidr.split('/');
        const type = net.isIPv6(addr!) ? 'ipv6' : 'ipv4';
        const bits = prefix === undefined ? (type === 'ipv6' ? 128 : 32) : Number(prefix);
        const list = new net.BlockList();
        list.addSubnet(addr!, bits, type);
        this.networks.push({ tenant, cidr, bits, list });
      }
    }
  }

  tenant(id: string): Tenant | undefined {
    return this.byId.get(id);
  }

  /** The tenant whose credentials these are, or undefined. Constant-time comparison; never logs the password. */
  async authenticate(user: string, password: string): Promise<Identity | undefined> {
    const entry = this.users.get(user);
    if (!entry) {
      // Spend comparable time on unknown users so they cannot be told apart from wrong passwords.
      await verifyPassword(DUMMY, user, password);
      return undefined;
    }
    return (await verifyPassword(entry.cred, user, password)) ? { tenant: entry.tenant, user } : undefined;
  }

  /** The tenant trusted by source network, or undefined; the same (frozen) answer for the same address. */
  byNetwork(remoteAddress: string): Identity | undefined {
    // Asked at every RCPT and DATA; BlockList.check builds a SocketAddress each time (~6 µs).
    const known = this.byAddress.get(remoteAddress);
    if (known !== undefined) return known ?? undefined;
    if (this.byAddress.size >= 10_000) this.byAddress.clear();
    const found = this.lookUp(remoteAddress);
    this.byAddress.set(remoteAddress, found ? Object.freeze(found) : null);
    return found;
  }

  private readonly byAddress = new Map<string, Identity | null>();

  private lookUp(remoteAddress: string): Identity | undefined {
    const addr = plainAddress(remoteAddress);
    const type = net.isIPv6(addr) ? 'ipv6' : 'ipv4';
    let best: { tenant: Tenant; cidr: string; bits: number } | undefined;
    for (const n of this.networks) if ((!best || n.bits > best.bits) && n.list.check(addr, type)) best = n;
    return best ? { tenant: best.tenant, network: best.cidr } : undefined;
  }
}

const DUMMY: TenantCredential = { user: '', passwordHash: Buffer.alloc(32), passwordSalt: Buffer.alloc(16) };
