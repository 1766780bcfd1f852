// Queue ids: short, time-ordered, unguessable enough to be shown to users ("queued as …").
import { randomBytes } from 'node:crypto';

export function newQueueId(now: number = Date.now()): string {
  return `${now.toString(36).toUpperCase().padStart(9, '0')}${randomBytes(5).toString('hex').toUpperCase()}`;
}
