// One webhook HTTP POST of a JSON payload: loopback, private and link-local targets refused (unless the
// operator allows them), so a tenant cannot aim mailgate at the LAN — checked on the address actually
// connected to (security/public-post.ts with the public-only lookup), so DNS rebinding does not get around it.
import { privateLiteral, publicOnlyLookup } from '../security/public-lookup.js';
import { postTo, type PostResult } from '../security/public-post.js';

export type { PostResult };

const ALLOW_HINT = 'set webhooks.allowPrivateTargets to allow';

/**
 * Why a webhook may not be set to `url` (its host is an IP literal inside the network, or localhost),
 * undefined when it may: said when the webhook is made, not by an endless retry later. Names that
 * resolve to such an address are refused at each delivery (the lookup may change). Pure.
 */
export function refusedTarget(url: string, allowPrivate: boolean): string | undefined {
  if (allowPrivate) return undefined;
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return undefined; // the URL's own check says what is wrong
  }
  if (/^localhost\.?$|\.localhost\.?$/i.test(host)) return `${host} is this machine (${ALLOW_HINT})`;
  return privateLiteral(host, ALLOW_HINT)?.message;
}

export function postJson(url: string, body: string, headers: Record<string, string>, opts: { timeoutMs: number; allowPrivate: boolean }): Promise<PostResult> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.resolve({ error: 'invalid URL', durationMs: 0 });
  }
  const refused = opts.allowPrivate ? undefined : privateLiteral(target.hostname, ALLOW_HINT)?.message;
  return postTo(target, body, { 'content-type': 'application/json', 'user-agent': 'mailgate-webhooks/1', ...headers }, {
    timeoutMs: opts.timeoutMs,
    ...(refused ? { refused } : {}),
    ...(opts.allowPrivate ? {} : { lookup: publicOnlyLookup(ALLOW_HINT) }),
  });
}
