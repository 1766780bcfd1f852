// An authoritative DNS server on 127.0.0.1 (UDP and TCP on the same port) answering from an
// in-memory zone. Point a resolver at it instead of mocking DNS:
//
//   const dns = await startDnsServer({ 'shop.example': { MX: [{ preference: 10, exchange: 'mx.shop.example' }] } });
//   const resolver = new Resolver(); resolver.setServers([dns.address]);
//
// Names are case-insensitive (a trailing dot is ignored). Unknown name: NXDOMAIN. Known name without
// records of the asked type: NOERROR with an empty answer. Every answer has the AA flag; a name with
// `AD: true` answers with the AD flag too, as a DNSSEC-validating resolver does for a signed zone
// (the client is told the data is validated — what DANE relies on).
// UDP answers larger than the client's limit (512, or its EDNS size) are sent truncated (TC), so the
// client retries over TCP, as real resolvers do for long TXT (DKIM) records.
import dgram from 'node:dgram';
import net from 'node:net';
import * as dnsPacket from 'dns-packet';

export interface MxRecord {
  preference: number;
  exchange: string;
}

export interface ZoneEntry {
  MX?: MxRecord[];
  A?: string[];
  AAAA?: string[];
  /** Each TXT record is a string (split into 255-byte chunks on the wire) or explicit chunks. */
  TXT?: (string | string[])[];
  CNAME?: string;
  PTR?: string[];
  /** DANE records: usage, selector, matching type and the association data (hex or bytes). */
  TLSA?: TlsaRecord[];
  /** Answers for this name carry the AD (authentic data) flag. */
  AD?: boolean;
  /** Questions of these types about this name get SERVFAIL (a broken zone, or one whose signatures do not validate). */
  SERVFAIL?: string[];
}

export interface TlsaRecord {
  usage: number;
  selector: number;
  matchingType: number;
  data: string | Buffer;
}

export type Zone = Record<string, ZoneEntry>;

export interface DnsQueryLog {
  name: string;
  type: string;
  transport: 'udp' | 'tcp';
}

export interface DnsServer {
  /** "127.0.0.1:PORT", ready for `resolver.setServers([address])` or config `dns.servers`. */
  address: string;
  port: number;
  /** Every question received, in order. */
  queries: DnsQueryLog[];
  /** Replaces all records of `name` (creates the name). */
  set(name: string, rr: ZoneEntry): void;
  /** Removes `name`, which then answers NXDOMAIN. */
  delete(name: string): void;
  close(): Promise<void>;
}

const TTL = 60;
const RCODE_NXDOMAIN = 3;
const RCODE_SERVFAIL = 2;
const RCODE_NOTIMP = 4;

function normalize(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

function txtChunks(value: string | string[]): Buffer[] {
  if (Array.isArray(value)) return value.map((s) => Buffer.from(s, 'utf8'));
  const buf = Buffer.from(value, 'utf8');
  if (buf.length === 0) return [buf];
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += 255) out.push(buf.subarray(i, i + 255));
  return out;
}

function answersFor(name: string, type: string, entry: ZoneEntry): dnsPacket.Answer[] {
  const base = { name, ttl: TTL, class: 'IN' as const };
  switch (type) {
    case 'A':
      return (entry.A ?? []).map((data) => ({ ...base, type: 'A' as const, data }));
    case 'AAAA':
      return (entry.AAAA ?? []).map((data) => ({ ...base, type: 'AAAA' as const, data }));
    case 'MX':
      return (entry.MX ?? []).map((mx) => ({
        ...base,
        type: 'MX' as const,
        data: { preference: mx.preference, exchange: mx.exchange.replace(/\.$/, '') },
      }));
    case 'TXT':
      return (entry.TXT ?? []).map((txt) => ({ ...base, type: 'TXT' as const, data: txtChunks(txt) }));
    case 'PTR':
      return (entry.PTR ?? []).map((data) => ({ ...base, type: 'PTR' as const, data }));
    case 'CNAME':
      return entry.CNAME ? [{ ...base, type: 'CNAME' as const, data: entry.CNAME.replace(/\.$/, '') }] : [];
    case 'TLSA':
      return (entry.TLSA ?? []).map((t) => ({
        ...base,
        type: 'TLSA' as const,
        data: { usage: t.usage, selector: t.selector, matchingType: t.matchingType, certificate: Buffer.isBuffer(t.data) ? t.data : Buffer.from(t.data, 'hex') },
      }));
    default:
      return [];
  }
}

function soaFor(name: string): dnsPacket.Answer {
  return {
    name,
    type: 'SOA',
    ttl: TTL,
    class: 'IN',
    data: {
      mname: 'ns.test',
      rname: 'hostmaster.test',
      serial: 1,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: TTL,
    },
  };
}

export async function startDnsServer(initial: Zone = {}): Promise<DnsServer> {
  const zone = new Map<string, ZoneEntry>();
  for (const [name, entry] of Object.entries(initial)) zone.set(normalize(name), entry);
  const queries: DnsQueryLog[] = [];

  /** Builds the response to a raw query; undefined means: do not answer. UDP answers are truncated to the client's limit. */
  const respond = (msg: Buffer, transport: 'udp' | 'tcp'): Buffer | undefined => {
    let query: dnsPacket.DecodedPacket;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return undefined; // not DNS: drop, as servers do
    }
    if (query.type !== 'query') return undefined;
    const rd = query.flags !== undefined ? query.flags & dnsPacket.RECURSION_DESIRED : 0;
    const opt = (query.additionals ?? []).find((a): a is dnsPacket.OptAnswer => a.type === 'OPT');
    const questions = query.questions ?? [];
    let rcode = 0;
    let authentic = false;
    const answers: dnsPacket.Answer[] = [];
    const authorities: dnsPacket.Answer[] = [];
    if (questions.length !== 1) {
      rcode = questions.length === 0 ? RCODE_SERVFAIL : RCODE_NOTIMP;
    } else {
      const q = questions[0]!;
      queries.push({ name: q.name, type: q.type, transport });
      let name = normalize(q.name);
      let entry = zone.get(name);
      // Follow one level of CNAME for other types, as an authoritative server does within its zone.
      if (entry?.CNAME && q.type !== 'CNAME') {
        answers.push(...answersFor(q.name, 'CNAME', entry));
        name = normalize(entry.CNAME);
        entry = zone.get(name);
        if (entry) answers.push(...answersFor(name, q.type, entry));
      } else if (entry?.SERVFAIL?.includes(q.type)) {
        rcode = RCODE_SERVFAIL;
      } else if (entry === undefined) {
        rcode = RCODE_NXDOMAIN;
        authorities.push(soaFor(q.name));
      } else {
        answers.push(...answersFor(q.name, q.type, entry));
        if (answers.length === 0) authorities.push(soaFor(q.name));
      }
      authentic = rcode === 0 && entry?.AD === true;
    }
    const response: dnsPacket.Packet = {
      type: 'response',
      id: query.id ?? 0,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | rd | rcode | (authentic ? dnsPacket.AUTHENTIC_DATA : 0),
      questions,
      answers,
      authorities,
      additionals: opt
        ? [
            {
              type: 'OPT',
              name: '.',
              udpPayloadSize: 4096,
              extendedRcode: 0,
              ednsVersion: 0,
              flags: 0,
              flag_do: false,
              options: [],
            },
          ]
        : [],
    };
    let out = dnsPacket.encode(response);
    if (transport === 'udp') {
      const limit = opt ? Math.max(512, opt.udpPayloadSize) : 512;
      if (out.length > limit) {
        out = dnsPacket.encode({
          ...response,
          flags: (response.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE,
          answers: [],
          authorities: [],
        });
      }
    }
    return out;
  };

  const tcpSockets = new Set<net.Socket>();

  const createUdp = (): dgram.Socket => {
    const udp = dgram.createSocket('udp4');
    udp.on('message', (msg, rinfo) => {
      const out = respond(msg, 'udp');
      if (out) udp.send(out, rinfo.port, rinfo.address);
    });
    return udp;
  };

  const createTcp = (): net.Server =>
    net.createServer((socket) => {
      tcpSockets.add(socket);
      socket.on('close', () => tcpSockets.delete(socket));
      socket.on('error', () => socket.destroy());
      let buf = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 2) {
          const len = buf.readUInt16BE(0);
          if (buf.length < 2 + len) break;
          const out = respond(buf.subarray(2, 2 + len), 'tcp');
          buf = buf.subarray(2 + len);
          if (out) {
            const lenBuf = Buffer.alloc(2);
            lenBuf.writeUInt16BE(out.length, 0);
            socket.write(Buffer.concat([lenBuf, out]));
          }
        }
      });
    });

  // Bind UDP on a free port, then TCP on the same number; if TCP's port is taken, start over.
  let udp: dgram.Socket | undefined;
  let tcp: net.Server | undefined;
  for (let attempt = 0; udp === undefined; attempt++) {
    const u = createUdp();
    await new Promise<void>((resolve, reject) => {
      u.once('error', reject);
      u.bind(0, '127.0.0.1', () => {
        u.off('error', reject);
        resolve();
      });
    });
    // ICMP errors from clients that went away: nothing to do
    u.on('error', () => undefined);
    const t = createTcp();
    const ok = await new Promise<boolean>((resolve) => {
      const onError = (): void => resolve(false);
      t.once('error', onError);
      t.listen(u.address().port, '127.0.0.1', () => {
        t.off('error', onError);
        resolve(true);
      });
    });
    if (ok) {
      udp = u;
      tcp = t;
    } else {
      await new Promise<void>((resolve) => u.close(() => resolve()));
      if (attempt >= 20) throw new Error('dns-server: found no port free for both UDP and TCP');
    }
  }
  const port = udp.address().port;
  const udpSocket = udp;
  const tcpServer = tcp!;

  let closing: Promise<void> | undefined;
  return {
    address: `127.0.0.1:${port}`,
    port,
    queries,
    set(name: string, rr: ZoneEntry): void {
      zone.set(normalize(name), rr);
    },
    delete(name: string): void {
      zone.delete(normalize(name));
    },
    close(): Promise<void> {
      closing ??= Promise.all([
        new Promise<void>((resolve) => udpSocket.close(() => resolve())),
        new Promise<void>((resolve) => {
          tcpServer.close(() => resolve());
          for (const s of tcpSockets) s.destroy();
        }),
      ]).then(() => undefined);
      return closing;
    },
  };
}
