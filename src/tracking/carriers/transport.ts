// Carrier transport shared by the carrier adapters: one HTTP exchange with a deadline, turned into a
// CarrierError a shop admin can read when it fails; a bounded-parallel map over tracking codes; and
// keeping credentials out of every message.
import { CarrierError, type TrackResult } from '../types.js';
import { excerpt, redact } from '../http-text.js';

/** What a carrier answered: status, headers and the whole body as text. */
export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: string;
}

export interface ExchangeOptions {
  /** Readable carrier name used in messages ("Russian Post", "DHL"). */
  carrier: string;
  timeoutMs: number;
  fetch: typeof fetch;
  /** Strings that must never appear in a message (passwords, API keys). */
  secrets: readonly string[];
  /** The caller's cancellation (track()'s signal, or a sibling request that failed). */
  signal?: AbortSignal;
}

/** "10 s", "0.25 s": a duration as an admin reads it. */
export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(2))} s`;
}

/** The first `max` characters of a body, whitespace collapsed and secrets removed, for an error message. */
export function snippet(body: string, secrets: readonly string[], max = 80): string {
  return excerpt(redact(body, secrets), max) || 'empty body';
}

/** "Russian Post sent an unreadable answer (…)": garbage is retried, it is usually a proxy or an outage page. */
export function unreadableAnswer(carrier: string, body: string, secrets: readonly string[]): CarrierError {
  return new CarrierError(`${carrier} sent an unreadable answer (${snippet(body, secrets)})`, true);
}

/** The reason a connection failed, from undici's error cause ("connection refused", "host not found", …). */
export function networkProblem(err: unknown): string {
  const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? String((cause as { code: unknown }).code) : '';
  switch (code) {
    case 'ECONNREFUSED': return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN': return 'host not found';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET': return 'connection reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH': return 'network unreachable';
    default: break;
  }
  if (code.startsWith('ERR_TLS') || code.includes('CERT')) return `TLS problem (${code})`;
  const message = cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err);
  return code ? `${code}: ${message}` : message;
}

/**
 * One HTTP exchange, body included, under a deadline. Resolves with any HTTP status (the caller decides
 * what a status means); rejects with a retryable CarrierError when the carrier did not answer in time or
 * could not be reached, and with the caller's abort reason when `signal` was aborted.
 */
export async function exchange(url: string, init: RequestInit, options: ExchangeOptions): Promise<HttpAnswer> {
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([deadline, options.signal]) : deadline;
  try {
    const response = await options.fetch(url, { ...init, signal });
    const body = await response.text();
    return { status: response.status, headers: response.headers, body };
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason;
    if (deadline.aborted) throw new CarrierError(`${options.carrier} did not answer within ${formatSeconds(options.timeoutMs)}`, true);
    throw new CarrierError(redact(`${options.carrier} could not be reached (${networkProblem(err)})`, options.secrets), true);
  }
}

/**
 * Runs `work` over `items` with at most `limit` running at once, results in input order. The first
 * failure aborts the signal handed to the others, starts no more work, and is what the whole call
 * rejects with once the running ones have settled. An abort of `signal` rejects with its reason.
 */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, signal: AbortSignal) => Promise<R>,
  signal?: AbortSignal,
): Promise<R[]> {
  signal?.throwIfAborted();
  const stop = new AbortController();
  const onAbort = () => stop.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  let failure: unknown;
  const worker = async () => {
    while (!failed && !stop.signal.aborted && next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index]!, stop.signal);
      } catch (err) {
        if (!failed) {
          failed = true;
          failure = err;
          stop.abort(err);
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (signal?.aborted) throw signal.reason;
  if (failed) throw failure;
  return results;
}

/**
 * Looks up each distinct code once and answers in the order (and with the duplicates) asked. A
 * failure that concerns one code (its request got a 5xx, garbage or no answer) becomes that code's
 * error, so one bad code does not hold back the others' news; a refusal of the credentials, a rate
 * limit, or every code failing means the carrier is the problem, and the whole call fails.
 */
export async function trackDistinct(
  codes: readonly string[],
  limit: number,
  trackOne: (code: string, signal: AbortSignal) => Promise<TrackResult>,
  signal?: AbortSignal,
): Promise<TrackResult[]> {
  const distinct = [...new Set(codes)];
  const failures: CarrierError[] = [];
  const results = await mapLimited(distinct, limit, async (code, s) => {
    try {
      return await trackOne(code, s);
    } catch (err) {
      if (!(err instanceof CarrierError) || !err.retryable || err.retryAfterMs !== undefined) throw err;
      failures.push(err);
      return { code, error: err.message };
    }
  }, signal);
  if (failures.length > 0 && failures.length === distinct.length) throw failures[0]!;
  const byCode = new Map(distinct.map((code, i) => [code, results[i]!]));
  return codes.map((code) => byCode.get(code)!);
}

/** Checks the options every adapter shares; a bad configuration is a startup error, not a CarrierError. */
export function checkCommonOptions(carrier: string, options: { url: string; timeoutMs?: number; concurrency?: number }): void {
  try {
    const url = new URL(options.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new TypeError(`${carrier}: "${options.url}" is not an http(s) URL`);
  }
  if (options.timeoutMs !== undefined && !(Number.isFinite(options.timeoutMs) && options.timeoutMs > 0)) {
    throw new TypeError(`${carrier}: timeoutMs must be a positive number of milliseconds`);
  }
  if (options.concurrency !== undefined && !(Number.isInteger(options.concurrency) && options.concurrency >= 1)) {
    throw new TypeError(`${carrier}: concurrency must be a whole number of at least 1`);
  }
}
