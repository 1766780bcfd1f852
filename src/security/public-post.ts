// One HTTP(S) POST to a URL someone outside the operator gave mailgate (a tenant's webhook, a
// recipient domain's TLS report address), connecting only where the given lookup allows: an IP
// literal refused up front, names through the lookup of the connection itself (public-lookup.ts), so
// DNS rebinding does not get around it. Never throws: the status, or why there was none.
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';

export interface PostResult {
  /** HTTP status, absent when no response came. */
  status?: number;
  /** Why it failed, in words for the delivery log. */
  error?: string;
  durationMs: number;
}

export interface PublicPostOptions {
  timeoutMs: number;
  /** Why the URL's host may not be connected to (an IP literal inside the network), from privateLiteral/refusedLiteral. */
  refused?: string;
  /** The connection's lookup (publicOnlyLookup or publicLookup); absent: the system's, for operators' own targets. */
  lookup?: LookupFunction;
  /** CAs for https (the system's plus extra); absent: Node's defaults. */
  ca?: string[];
}

export function postTo(target: URL, body: string | Buffer, headers: Record<string, string>, opts: PublicPostOptions): Promise<PostResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const done = (r: Omit<PostResult, 'durationMs'>) => resolve({ ...r, durationMs: Date.now() - started });
    if (opts.refused) return done({ error: opts.refused });
    const client = target.protocol === 'https:' ? https : http;
    const req = client.request(target, {
      method: 'POST', timeout: opts.timeoutMs, agent: false,
      ...(opts.lookup ? { lookup: opts.lookup } : {}),
      ...(opts.ca ? { ca: opts.ca } : {}),
      headers: { 'content-length': Buffer.byteLength(body).toString(), ...headers },
    }, (res) => {
      res.resume();
      res.on('end', () => done({ status: res.statusCode ?? 0 }));
      res.on('error', (err) => done({ status: res.statusCode ?? 0, error: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)));
    req.on('error', (err) => done({ error: err.message }));
    req.end(body);
  });
}
