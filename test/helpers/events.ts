// Reading a running mailgate's event log over its admin API, as an operator would.
import type { MailgateProcess } from './mailgate-process.js';
import { ADMIN_TOKEN } from './config.js';

export interface Ev {
  type: string;
  recipient: string;
  msgId: string;
  upstream?: string;
  code?: string;
  class?: string;
  reason?: string;
  detail?: string;
  reply?: { code: number; enhanced?: string; text: string };
}

export async function eventsFor(mg: MailgateProcess, recipient: string): Promise<Ev[]> {
  const res = await fetch(`${mg.adminUrl}/api/v1/events?recipient=${encodeURIComponent(recipient)}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  if (res.status !== 200) throw new Error(`GET /api/v1/events answered ${res.status}`);
  return ((await res.json()) as { events: Ev[] }).events;
}

/** Polls until an event of one of `types` exists for `recipient`; returns all its events and the match. */
export async function waitForEvent(mg: MailgateProcess, recipient: string, types: string | string[], timeoutMs = 10_000): Promise<{ events: Ev[]; match: Ev }> {
  const wanted = Array.isArray(types) ? types : [types];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = await eventsFor(mg, recipient);
    const match = events.find((e) => wanted.includes(e.type));
    if (match) return { events, match };
    if (Date.now() > deadline) throw new Error(`no ${wanted.join('/')} event for ${recipient}; have ${JSON.stringify(events)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
