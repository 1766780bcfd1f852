// The HTTP side's failure limits, on @fastify/rate-limit's store (time windows, a bounded LRU of keys):
// requests with a bad or no admin/API token, counted per client address and presented token prefix
// (the first 8 characters) and per address over all prefixes; and unsubscribe links that do not verify,
// per address. Only failures are counted — a valid token or link is never refused — so one noisy
// script behind a shared reverse proxy cannot lock the others out. IPv6 clients count per /64.
// Imports fastify, the plugin and ipaddr.js.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import ipaddr from 'ipaddr.js';

const MINUTE = 60_000;
/** Keys each limit remembers (least recently used forgotten first). */
const KEYS = 50_000;

/** A failure counter: `failed` counts one for the request and says whether it is over the limit now. */
export interface FailureLimit {
  failed(req: FastifyRequest): Promise<{ over: boolean; retryAfterSeconds: number }>;
}

/** Registers the plugin (no route is limited unless it asks); call once on the root instance. */
export async function installFailureLimits(app: FastifyInstance): Promise<void> {
  await app.register(rateLimit, { global: false });
}

/**
 * The client as the limits count it: an IPv4 address, or the /64 network of an IPv6 address (one
 * client usually has a whole /64, so counting single IPv6 addresses would give it endless fresh
 * budgets); IPv4-mapped IPv6 as IPv4. Pure.
 */
export function clientKey(ip: string): string {
  if (!ipaddr.isValid(ip)) return ip;
  const addr = ipaddr.process(ip);
  if (addr.kind() === 'ipv4') return addr.toString();
  return `${(addr as ipaddr.IPv6).toNormalizedString().split(':').slice(0, 4).join(':')}::/64`;
}

/** What the bad-token limit counts under: the client (clientKey) and the token's first 8 characters. Pure. */
export function tokenPrefixKey(ip: string, token: string | undefined): string {
  return `${clientKey(ip)}\n${token ? token.slice(0, 8) : ''}`;
}

function limit(app: FastifyInstance, max: number, key: (req: FastifyRequest) => string): FailureLimit['failed'] {
  const count = app.createRateLimit({ max, timeWindow: MINUTE, keyGenerator: key, cache: KEYS } as Parameters<FastifyInstance['createRateLimit']>[0]);
  return async (req) => {
    const r = await count(req);
    return r.isAllowed ? { over: false, retryAfterSeconds: 0 } : { over: r.isExceeded, retryAfterSeconds: Math.max(1, r.ttlInSeconds) };
  };
}

export interface BadTokenLimit {
  /** Counts a request with a bad or no token and answers it: 429 over the limit, else 401 saying `unauthorized`. */
  refuse(req: FastifyRequest, reply: FastifyReply, unauthorized: string): Promise<FastifyReply>;
}

/**
 * Bad tokens: 10 a minute per address and token prefix, 100 a minute per address over all prefixes
 * (a guesser who varies the prefix still stops).
 */
export function badTokenLimit(app: FastifyInstance, token: (req: FastifyRequest) => string | undefined): BadTokenLimit {
  const perPrefix = limit(app, 10, (req) => tokenPrefixKey(req.ip, token(req)));
  const perAddress = limit(app, 100, (req) => clientKey(req.ip));
  const failed: FailureLimit['failed'] = async (req) => {
    const [a, b] = await Promise.all([perPrefix(req), perAddress(req)]);
    return { over: a.over || b.over, retryAfterSeconds: Math.max(a.retryAfterSeconds, b.retryAfterSeconds) };
  };
  return {
    async refuse(req, reply, unauthorized) {
      const limit = await failed(req);
      if (limit.over) return tooManyFailures(reply, limit.retryAfterSeconds, 'too many requests with a bad token from this address; try again in a minute');
      return reply.code(401).header('WWW-Authenticate', 'Bearer').send({ error: 'UNAUTHORIZED', message: unauthorized });
    },
  };
}

/** Unsubscribe links that do not verify: 30 a minute per address. */
export function badLinkLimit(app: FastifyInstance): FailureLimit {
  return { failed: limit(app, 30, (req) => clientKey(req.ip)) };
}

/** The 429 answer in the API's error shape. */
function tooManyFailures(reply: FastifyReply, retryAfterSeconds: number, message: string): FastifyReply {
  return reply.code(429).header('Retry-After', String(retryAfterSeconds)).send({ error: 'TOO_MANY_FAILED_LOGINS', message });
}
