// Taking a node out of service (`mailgate node drain`): with its listeners already closed, it
// delivers what falls due within the grace period, stops delivering, and gives every message it
// still holds to the other nodes (several nodes on PostgreSQL) or keeps it in its data directory
// for its next start (one node).
import type { Spool } from './spool.js';

export interface DrainResult {
  /** Messages that left the queue while draining (delivered or failed for good). */
  delivered: number;
  /** Messages now with the other nodes. */
  handedOver: number;
  /** Messages still in this node's data directory (a single-node store has no one to give them to). */
  kept: number;
  seconds: number;
}

export async function drainQueue(spool: Spool, stopDelivering: (graceMs: number) => Promise<void>, graceMs: number, now: () => number = Date.now): Promise<DrainResult> {
  const start = now();
  const until = start + graceMs;
  const before = await spool.depth();
  for (;;) {
    const next = await spool.nextDue();
    if (next === undefined || next > until || now() >= until) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await stopDelivering(Math.max(1000, until - now()));
  let handedOver = 0;
  let kept = 0;
  for await (const record of spool.queued()) {
    if (await spool.handOver(record)) handedOver++;
    else kept++;
  }
  return { delivered: Math.max(0, before - handedOver - kept), handedOver, kept, seconds: Math.round((now() - start) / 100) / 10 };
}
