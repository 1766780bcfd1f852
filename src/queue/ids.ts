// Queue ids: short, time-ordered, unique per process run and unguessable enough to be shown to
// users ("queued as …"): milliseconds, a random per-process prefix and a counter.
import { randomBytes } from 'node:crypto';

const runPrefix = randomBytes(3).toString('hex').toUpperCase();
let counter = 0;

/** The acceptance time a queue id carries (its first 9 characters, base 36 ms). */
export function queueIdTime(id: string): number {
  return parseInt(id.slice(0, 9), 36);
}

export function newQueueId(now: number = Date.now()): string {
  counter = (counter + 1) % 0x100000;
  return `${now.toString(36).toUpperCase().padStart(9, '0')}${runPrefix}${counter.toString(16).toUpperCase().padStart(5, '0')}`;
}

/**
 * The id of an error-log entry that belongs to no message (an app's error, a refused recipient, a login
 * alarm): a two-letter kind and 18 random hex digits — 20 characters like a queue id, never one.
 */
export function entryId(kind: string): string {
  return `${kind}${randomBytes(9).toString('hex').toUpperCase()}`;
}
