// One webhook HTTP POST of a JSON payload: loopback, private and link-local targets refused (unless the
// operator allows them), so a tenant cannot aim mailgate at the LAN — checked on the address actually
// connected to (security/public-post.ts with the public-only lookup), so DNS rebinding does not get around it.
import { privateLiteral, publicOnlyLookup } from '../security/public-lookup.js';
import { postTo, type PostResult } from '../security/public-post.js';

export type { PostResult };

export function postJson(url: string, body: string, headers: Record<string, string>, opts: { timeoutMs: number; allowPrivate: boolean }): Promise<PostResult> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.resolve({ error: 'invalid URL', durationMs: 0 });
  }
  const hint = 'set webhooks.allowPrivateTargets to allow';
  const refused = opts.allowPrivate ? undefined : privateLiteral(target.hostname, hint)?.message;
  return postTo(target, body, { 'content-type': 'application/json', 'user-agent': 'mailgate-webhooks/1', ...headers }, {
    timeoutMs: opts.timeoutMs,
    ...(refused ? { refused } : {}),
    ...(opts.allowPrivate ? {} : { lookup: publicOnlyLookup(hint) }),
  });
}
