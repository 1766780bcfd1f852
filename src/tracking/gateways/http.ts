// Phone gateways: the one HTTP POST every gateway adapter makes, with its deadline, the caller's
// cancel signal, connection failures and Retry-After turned into GatewayErrors a shop admin can read.
import { GatewayError } from '../types.js';
import { retryAfterMs } from '../http-text.js';

/** Default deadline of one gateway request. */
export const DEFAULT_GATEWAY_TIMEOUT_MS = 10_000;

export interface GatewayRequest {
  /** Who is being talked to, as the admin should read it: `Twilio`, `SMS gateway "shop-bridge"`. */
  service: string;
  url: URL;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** A gateway's HTTP answer, body already read as text. */
export interface GatewayAnswer {
  status: number;
  text: string;
  /** Milliseconds from Retry-After, when the answer carried one. */
  retryAfterMs?: number;
}

/** "10 s", "1.5 s", "250 ms". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  return `${Number((ms / 1000).toFixed(1))} s`;
}

/**
 * POSTs once and reads the whole answer. Never follows redirects (a redirected POST loses its body).
 * Rejects with a retryable GatewayError when the gateway is unreachable, too slow or the caller
 * cancelled; any HTTP answer, error statuses included, resolves for the adapter to judge.
 */
export async function postToGateway(req: GatewayRequest): Promise<GatewayAnswer> {
  const deadline = AbortSignal.timeout(req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([req.signal, deadline]) : deadline;
  const where = req.url.origin; // never the path or query: a webhook URL may carry a token
  try {
    const res = await fetch(req.url, { method: 'POST', headers: req.headers, body: req.body, signal, redirect: 'manual' });
    const text = await res.text();
    return { status: res.status, text, retryAfterMs: retryAfterMs(res.headers.get('retry-after')) };
  } catch (err) {
    if (deadline.aborted) throw new GatewayError(`${req.service} did not answer within ${formatDuration(req.timeoutMs)} (${where})`, true, undefined, true);
    if (req.signal?.aborted) throw new GatewayError(`${req.service} request was cancelled before it finished`, true, undefined, true);
    const problem = connectionProblem(err);
    // Refused or unresolvable: nothing was sent. Anything else (a reset, a hang-up) may have come after the request.
    const neverSent = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)$/.test(problem);
    throw new GatewayError(`could not reach ${req.service} at ${where}: ${problem}`, true, undefined, !neverSent);
  }
}

/** "ECONNREFUSED", "ENOTFOUND", … from fetch's TypeError("fetch failed", { cause }). */
function connectionProblem(err: unknown): string {
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause && typeof cause === 'object') {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const message = (cause as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  }
  return err instanceof Error ? err.message : String(err);
}

/** The answer as a JSON object, or undefined when it is not one (HTML error pages, empty bodies). */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
