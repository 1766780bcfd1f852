// One webhook HTTP POST, with a DNS lookup that refuses loopback, private and link-local targets
// (unless the operator allows them), so a tenant cannot aim mailgate at the LAN. The check runs on the
// address actually connected to, so DNS rebinding does not get around it.
import http from 'node:http';
import https from 'node:https';
import { privateLiteral, publicOnlyLookup } from '../security/public-lookup.js';

export interface PostResult {
  /** HTTP status, absent when no response came. */
  status?: number;
  /** Why it failed, in words for the delivery log. */
  error?: string;
  durationMs: number;
}

export function postJson(url: string, body: string, headers: Record<string, string>, opts: { timeoutMs: number; allowPrivate: boolean }): Promise<PostResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const done = (r: Omit<PostResult, 'durationMs'>) => resolve({ ...r, durationMs: Date.now() - started });
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return done({ error: 'invalid URL' });
    }
    const hint = 'set webhooks.allowPrivateTargets to allow';
    const refused = opts.allowPrivate ? undefined : privateLiteral(target.hostname, hint);
    if (refused) return done({ error: refused.message });
    const lookup = opts.allowPrivate ? undefined : publicOnlyLookup(hint);
    const client = target.protocol === 'https:' ? https : http;
    const req = client.request(target, {
      method: 'POST', ...(lookup ? { lookup } : {}), timeout: opts.timeoutMs, agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body).toString(), 'user-agent': 'mailgate-webhooks/1', ...headers },
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
