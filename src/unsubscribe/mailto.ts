// Unsubscribing by mail (the mailto: half of List-Unsubscribe): the inbound listener accepts a
// message to unsubscribe+<token>@<bounce domain> only for a token whose MAC verifies, and records
// the opt-out.
import type { Logger } from 'pino';
import type { OptOutList } from '../store/opt-outs.js';
import { readUnsubscribeToken } from './token.js';

export interface MailtoUnsubscribe {
  valid(token: string): boolean;
  apply(token: string): Promise<void>;
}

export function mailtoUnsubscribe(secret: Buffer, optOuts: OptOutList, log: Logger, now: () => number = Date.now): MailtoUnsubscribe {
  return {
    valid: (token) => readUnsubscribeToken(secret, token) !== undefined,
    async apply(token) {
      const t = readUnsubscribeToken(secret, token);
      if (!t) return;
      await optOuts.add({ ...t, time: now(), via: 'mailto' });
      log.info({ tenant: t.tenant, category: t.category }, 'unsubscribed by mail');
    },
  };
}
