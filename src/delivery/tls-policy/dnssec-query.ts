// One DNS question to mailgate's resolvers that also tells whether the resolver validated the answer
// with DNSSEC (the AD flag, RFC 4035 §3.2.3 / RFC 6840 §5.7) — which Node's dns module does not show.
// Asked with dns-packet over UDP (EDNS0, DO and AD set), again over TCP when the answer is truncated;
// servers in order, the next one on a timeout or a network error. The AD flag is only as good as the
// path to the resolver: DANE should use a validating resolver on this host (RFC 7672 §8).
// Imports: node dgram/net/crypto, dns-packet.
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import * as dnsPacket from 'dns-packet';

export interface SecureAnswer {
  /** NOERROR, NXDOMAIN, SERVFAIL, … */
  rcode: string;
  /** The resolver says it validated the answer (AD flag). */
  authentic: boolean;
  answers: dnsPacket.Answer[];
}

/** "ip", "ip:port", "[v6]:port" (Resolver.getServers()'s forms) as host and port. */
export function parseServer(server: string): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(server);
  if (v6) return { host: v6[1]!, port: Number(v6[2] ?? 53) };
  if (net.isIPv6(server)) return { host: server, port: 53 };
  const [host, port] = server.split(':');
  return { host: host!, port: Number(port ?? 53) };
}

/** Asks `servers` (first that answers) for `name`/`type`. Throws when none answers. */
export async function querySecure(servers: string[], name: string, type: dnsPacket.RecordType, timeoutMs = 5000): Promise<SecureAnswer> {
  let lastError: Error = new Error('no DNS servers');
  for (const server of servers) {
    const target = parseServer(server);
    try {
      const query = dnsPacket.encode({
        type: 'query', id: randomInt(65536), flags: dnsPacket.RECURSION_DESIRED | dnsPacket.AUTHENTIC_DATA,
        questions: [{ type, name, class: 'IN' }],
        additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: dnsPacket.DNSSEC_OK, flag_do: true, options: [] }],
      });
      let response = await overUdp(target, query, timeoutMs);
      if (response.flag_tc) response = await overTcp(target, query, timeoutMs);
      return { rcode: response.rcode ?? 'NOERROR', authentic: response.flag_ad === true, answers: response.answers ?? [] };
    } catch (err) {
      lastError = err as Error;
    }
  }
  throw lastError;
}

type Decoded = dnsPacket.DecodedPacket & { flag_tc?: boolean; flag_ad?: boolean; rcode?: string };

function matches(query: Buffer, answer: dnsPacket.DecodedPacket): boolean {
  const asked = dnsPacket.decode(query);
  const q = asked.questions?.[0];
  const a = answer.questions?.[0];
  return answer.type === 'response' && answer.id === asked.id && q !== undefined && a !== undefined && a.name.toLowerCase() === q.name.toLowerCase() && a.type === q.type;
}

function overUdp(target: { host: string; port: number }, query: Buffer, timeoutMs: number): Promise<Decoded> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(target.host) ? 'udp6' : 'udp4');
    const done = (fn: () => void) => {
      clearTimeout(timer);
      socket.close();
      fn();
    };
    const timer = setTimeout(() => done(() => reject(new Error(`no answer from ${target.host}:${target.port} within ${timeoutMs} ms`))), timeoutMs);
    socket.on('error', (err) => done(() => reject(err)));
    socket.on('message', (msg, from) => {
      if (from.port !== target.port) return;
      let decoded: Decoded;
      try {
        decoded = dnsPacket.decode(msg) as Decoded;
      } catch {
        return; // not an answer: keep waiting
      }
      if (matches(query, decoded)) done(() => resolve(decoded));
    });
    socket.send(query, target.port, target.host);
  });
}

function overTcp(target: { host: string; port: number }, query: Buffer, timeoutMs: number): Promise<Decoded> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(target.port, target.host);
    let buf = Buffer.alloc(0);
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer from ${target.host}:${target.port} within ${timeoutMs} ms`)));
    socket.on('error', reject);
    socket.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      socket.write(Buffer.concat([len, query]));
    });
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      socket.destroy();
      try {
        const decoded = dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))) as Decoded;
        if (matches(query, decoded)) resolve(decoded);
        else reject(new Error('the DNS answer does not match the question'));
      } catch (err) {
        reject(err as Error);
      }
    });
  });
}
