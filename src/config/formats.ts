// Value formats of the config file: durations, sizes, listen addresses, DNS servers, hostnames,
// e-mail addresses and CIDRs. Each parser returns the value or an error text naming no secret.

import net from 'node:net';
import ms from 'ms';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(error: string): Parsed<T> => ({ ok: false, error });

/**
 * A duration: an `ms`-style string ("30s", "5m", "3d", "1.5h") or a number of seconds.
 * A unit-less numeric string counts as seconds too, like a number. Returns milliseconds.
 */
export function parseDuration(value: unknown): Parsed<number> {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) return fail('must be a non-negative number of seconds');
    return ok(Math.round(value * 1000));
  }
  if (typeof value !== 'string') return fail('must be a duration such as "30s", "5m", "3d" or a number of seconds');
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return ok(Math.round(Number(text) * 1000));
  // ms() treats a unit-less string as milliseconds and returns undefined (or NaN) for junk.
  const result = /^\d+(\.\d+)?\s*[a-z]+$/i.test(text) ? (ms(text as ms.StringValue) as number | undefined) : undefined;
  if (typeof result !== 'number' || !Number.isFinite(result) || result < 0) {
    return fail(`invalid duration "${value}" (use e.g. "30s", "5m", "3d" or a number of seconds)`);
  }
  return ok(Math.round(result));
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/** A size: a number of bytes, or a string such as "512KB", "25MB", "1GB" (powers of 1024). */
export function parseSize(value: unknown): Parsed<number> {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value <= 0) return fail('must be a positive whole number of bytes');
    return ok(value);
  }
  if (typeof value !== 'string') return fail('must be a number of bytes or a size such as "25MB"');
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim());
  const factor = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || factor === undefined) return fail(`invalid size "${value}" (use e.g. 26214400, "512KB", "25MB", "1GB")`);
  const bytes = Math.floor(Number(m[1]) * factor);
  if (bytes <= 0) return fail('must be greater than zero');
  return ok(bytes);
}

function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

/**
 * A listen address: "host:port", "[::1]:port", ":port" (host 127.0.0.1) or a bare port number.
 * Port 0 asks the OS for a free port.
 */
export function parseListenAddress(value: unknown): Parsed<{ host: string; port: number }> {
  const usage = 'must be "host:port", "[ipv6]:port", ":port" or a port number';
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > 65535) return fail('port must be a whole number from 0 to 65535');
    return ok({ host: '127.0.0.1', port: value });
  }
  if (typeof value !== 'string') return fail(usage);
  const text = value.trim();
  let host: string;
  let portText: string;
  const bracketed = /^\[([^\]]+)\]:(.*)$/.exec(text);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2]!;
    if (net.isIPv6(host) === false) return fail(`"${host}" is not an IPv6 address`);
  } else if (/^\d+$/.test(text)) {
    host = '127.0.0.1';
    portText = text;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return fail(usage);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) return fail(`${usage}; write IPv6 addresses in brackets, e.g. "[::1]:2525"`);
    if (host === '') host = '127.0.0.1';
    else if (!net.isIPv4(host) && !isHostname(host)) return fail(`"${host}" is neither an IP address nor a hostname`);
  }
  const port = parsePort(portText);
  if (port === undefined) return fail('port must be a whole number from 0 to 65535');
  return ok({ host, port });
}

/** A DNS server: "ip" or "ip:port" ("[ipv6]:port" for IPv6 with a port). Returned as written. */
export function parseDnsServer(value: string): Parsed<string> {
  const text = value.trim();
  if (net.isIP(text) !== 0 && !text.includes('%')) return ok(text);
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  const plain = /^([^:]+):(\d+)$/.exec(text);
  const m = bracketed ?? plain;
  if (m) {
    const isIp = bracketed ? net.isIPv6(m[1]!) : net.isIPv4(m[1]!);
    const port = parsePort(m[2]!);
    if (isIp && port !== undefined && port > 0) return ok(text);
  }
  return fail(`invalid DNS server "${value}" (use "ip" or "ip:port", "[ipv6]:port")`);
}

/** RFC 1123 hostname: dot-separated labels of letters, digits and inner hyphens. */
export function isHostname(value: string): boolean {
  if (value.length === 0 || value.length > 253) return false;
  return value
    .split('.')
    .every((label) => label.length > 0 && label.length <= 63 && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i.test(label));
}

// RFC 5322 dot-atom local part (no quoted strings, no comments).
const LOCAL_PART = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/i;

/**
 * A plain addr-spec `local@domain` with an ASCII hostname domain: the stricter check for addresses we
 * put into headers ourselves (configured senders). Envelope addresses use isValidAddress.
 */
export function isEmailAddress(value: string): boolean {
  const at = value.lastIndexOf('@');
  if (at <= 0) return false;
  const local = value.slice(0, at);
  const domain = value.slice(at + 1);
  return local.length <= 64 && LOCAL_PART.test(local) && isHostname(domain);
}

export interface Cidr {
  /** Canonical text: the address as written (lower-cased) and the prefix, e.g. "127.0.0.2/32". */
  text: string;
  family: 'ipv4' | 'ipv6';
  address: string;
  prefix: number;
  /** Network address with host bits cleared, as a hex key: equal keys mean the same network. */
  networkKey: string;
}

/** A CIDR "addr/prefix"; a bare address means a single host (/32 or /128). */
export function parseCidr(value: string): Parsed<Cidr> {
  const text = value.trim().toLowerCase();
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const version = address.includes('%') ? 0 : net.isIP(address);
  if (version === 0) return fail(`invalid CIDR "${value}": "${address}" is not an IP address`);
  const max = version === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const prefixText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) {
      return fail(`invalid CIDR "${value}": prefix must be a whole number from 0 to ${max}`);
    }
    prefix = Number(prefixText);
  }
  const family = version === 4 ? 'ipv4' : 'ipv6';
  try {
    new net.BlockList().addSubnet(address, prefix, family);
  } catch {
    return fail(`invalid CIDR "${value}"`);
  }
  const bytes = ipBytes(address, version);
  for (let bit = prefix; bit < bytes.length * 8; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return ok({
    text: `${address}/${prefix}`,
    family,
    address,
    prefix,
    networkKey: `${family}:${Buffer.from(bytes).toString('hex')}/${prefix}`,
  });
}

/** Ranges a tenant may trust whole (its own LAN, this host, link-local): [network, prefix]. */
const PRIVATE_RANGES: Array<[string, number, 'ipv4' | 'ipv6']> = [
  ['10.0.0.0', 8, 'ipv4'], ['100.64.0.0', 10, 'ipv4'], ['127.0.0.0', 8, 'ipv4'], ['169.254.0.0', 16, 'ipv4'], ['172.16.0.0', 12, 'ipv4'], ['192.168.0.0', 16, 'ipv4'],
  ['fc00::', 7, 'ipv6'], ['fe80::', 10, 'ipv6'],
];
/** The widest public network a tenant may trust: a provider's block of servers, not "everyone". */
const WIDEST_PUBLIC = { ipv4: 16, ipv6: 32 } as const;

/**
 * A tenant's trusted network: a CIDR no wider than a /16 of public IPv4 addresses (/32 for IPv6),
 * or inside one private range (10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.168/16, fc00::/7,
 * fe80::/10). Every client in it sends as the tenant without a password, so 0.0.0.0/0 would make
 * mailgate an open relay. IPv4 clients are also matched by IPv6 networks over the IPv4-mapped range
 * (::ffff:0:0/96): such a network is judged as the IPv4 network it stands for (::/64 holds all of it).
 */
export function parseTenantNetwork(value: string): Parsed<Cidr> {
  const parsed = parseCidr(value);
  if (!parsed.ok) return parsed;
  const tooWide = fail<Cidr>(`network "${value}" is too wide: every client in it could send as this tenant without a password (an open relay). Give the addresses of the shop's own servers: at most a /${WIDEST_PUBLIC.ipv4} of public IPv4 addresses (a /${WIDEST_PUBLIC.ipv6} for IPv6), or a private range`);
  const c = parsed.value;
  if (c.family === 'ipv6') {
    const v4 = mappedIpv4(c);
    if (v4 === 'all') return tooWide;
    if (v4) return narrowEnough(v4.address, v4.prefix, 'ipv4') ? parsed : tooWide;
  }
  return narrowEnough(c.address, c.prefix, c.family) ? parsed : tooWide;
}

function narrowEnough(address: string, prefix: number, family: 'ipv4' | 'ipv6'): boolean {
  if (prefix >= WIDEST_PUBLIC[family]) return true;
  return PRIVATE_RANGES.some(([network, rangePrefix, rangeFamily]) => {
    if (rangeFamily !== family || prefix < rangePrefix) return false;
    const list = new net.BlockList();
    list.addSubnet(network, rangePrefix, rangeFamily);
    return list.check(address, family);
  });
}

/** The IPv4 part of an IPv6 network that overlaps ::ffff:0:0/96: 'all' when it holds the whole range, undefined when it does not touch it. */
function mappedIpv4(c: Cidr): { address: string; prefix: number } | 'all' | undefined {
  if (c.prefix <= 96) {
    const network = new net.BlockList();
    network.addSubnet(c.address, c.prefix, 'ipv6');
    return network.check('::ffff:0:0', 'ipv6') ? 'all' : undefined;
  }
  const mapped = new net.BlockList();
  mapped.addSubnet('::ffff:0:0', 96, 'ipv6');
  if (!mapped.check(c.address, 'ipv6')) return undefined;
  return { address: ipBytes(c.address, 6).slice(12).join('.'), prefix: c.prefix - 96 };
}

/** Bytes of an address already accepted by net.isIP. */
function ipBytes(address: string, version: number): number[] {
  if (version === 4) return address.split('.').map(Number);
  let text = address;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    // Embedded IPv4 in the last 32 bits (::ffff:1.2.3.4).
    tail = ipBytes(text.slice(lastColon + 1), 4);
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const words = (s: string | undefined) => (s ? s.split(':').filter((w) => w !== '').map((w) => parseInt(w, 16)) : []);
  const left = words(head);
  const right = words(rest);
  const all = rest === undefined ? left : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const bytes = all.flatMap((w) => [w >> 8, w & 0xff]);
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

/**
 * True for a usable envelope address (SMTP, API, imports): the one check every way into the queue uses.
 * local@domain, no spaces or control characters, RFC 5321 lengths, no domain literal. UTF-8 allowed (SMTPUTF8). */
export function isValidAddress(address: string): boolean {
  if (address.length > 254) return false;
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return false;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  // Quoted local parts are refused too: nodemailer would send them unquoted.
  if (local.length > 64 || /[\s<>()\\,;:"\x00-\x1f\x7f]/.test(local)) return false;
  // Domain literals ([192.0.2.1]) are refused: they would let a tenant aim direct delivery at any host.
  if (domain.startsWith('[')) return false;
  return /^(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+[\p{L}\p{N}-]{2,63}$/u.test(domain);
}
