// SMTP-time refusals in the tenant's error log. A recipient the app gives at RCPT that mailgate
// refuses for its syntax (the app gets 501/553 and, being an old shop app, usually drops it) becomes
// a `refused` event with code RECIPIENT_SYNTAX and what was refused — control characters replaced,
// at most 200 characters. At most one entry per tenant and address a minute, and at most 60 per
// tenant a minute, so one broken app cannot flood the log. The syntax rule itself is pure.
// SessionRefusals caps the refused RCPTs of one session (limits.maxRefusedRecipients) and logs
// them once per session with a count.
import { entryId } from '../queue/ids.js';
import type { Logger } from 'pino';
import { isValidAddress } from '../config/formats.js';
import type { QueueEvent } from '../store/records.js';

const MINUTE = 60_000;
const MAX_SHOWN = 200;
const PER_TENANT_PER_MINUTE = 60;

/** What is wrong with a recipient path's address, with the reply to give; undefined when it is usable. */
export function recipientSyntaxProblem(address: string): { code: 501 | 553; text: string } | undefined {
  // RFC 5321 paths have no comments; a relay that strips them ("anna(x)@…" → "anna@…") delivers to someone else.
  if (/[()]/.test(address)) return { code: 501, text: '5.1.3 Bad recipient address syntax: comments are not allowed in an SMTP path' };
  if (!isValidAddress(address)) return { code: 553, text: '5.1.3 Bad recipient address syntax' };
  return undefined;
}

/** The refused address as the error log shows it: no control characters, at most 200 characters. Pure. */
export function shownAddress(raw: string): string {
  const clean = raw.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, '?');
  return clean.length > MAX_SHOWN ? `${clean.slice(0, MAX_SHOWN)}…` : clean;
}

export class RefusalLog {
  private readonly lastByAddress = new Map<string, number>();
  private readonly perTenant = new Map<string, { since: number; count: number }>();

  constructor(
    private readonly record: (events: QueueEvent[]) => Promise<void>,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records that `tenant`'s app was refused `address` with `reply`, unless that was said within the minute. */
  note(tenant: string, address: string, reply: { code: number; text: string }): void {
    const now = this.now();
    const shown = shownAddress(address);
    if (!this.allowed(tenant, shown.toLowerCase(), now)) return;
    const [enhanced, ...words] = reply.text.split(' ');
    const event: QueueEvent = {
      time: now, type: 'refused', msgId: entryId('RF'), tenant, recipient: shown, code: 'RECIPIENT_SYNTAX',
      reply: { code: reply.code, enhanced: enhanced!, text: words.join(' ') },
      detail: `the app gave the recipient <${shown}>; it was refused at RCPT (${reply.code} ${reply.text}) and the message did not go to it`,
    };
    this.record([event]).catch((err: Error) => this.log.warn({ err: err.message, tenant }, 'could not write a refused recipient to the error log'));
  }

  private allowed(tenant: string, key: string, now: number): boolean {
    if (this.lastByAddress.size > 10_000) for (const [k, t] of this.lastByAddress) if (t <= now - MINUTE) this.lastByAddress.delete(k);
    const byAddress = `${tenant}\n${key}`;
    if ((this.lastByAddress.get(byAddress) ?? -Infinity) > now - MINUTE) return false;
    const t = this.perTenant.get(tenant);
    const window = t && t.since > now - MINUTE ? t : { since: now, count: 0 };
    if (window.count >= PER_TENANT_PER_MINUTE) return false;
    this.perTenant.set(tenant, { since: window.since, count: window.count + 1 });
    this.lastByAddress.set(byAddress, now);
    return true;
  }
}

/**
 * Refused RCPTs of each session, so a client that keeps guessing is stopped and the log gets one
 * line per session, not one per command: the `max`-th refusal in a session is answered 421 4.7.0
 * and the connection closed; when the session ends, one line says how many were refused and the
 * first of them.
 */
export class SessionRefusals {
  private readonly sessions = new Map<string, { remote: string; count: number; first: string; reply: string }>();

  constructor(private readonly max: number, private readonly listener: string, private readonly log: Logger) {}

  /** Counts a refusal in session `id`; the reply to give (`reply`, or 421 once the cap is reached). */
  refuse(id: string, remote: string, address: string, reply: { code: number; text: string }): { code: number; text: string } {
    let s = this.sessions.get(id);
    if (!s) {
      s = { remote, count: 0, first: shownAddress(address), reply: `${reply.code} ${reply.text}` };
      this.sessions.set(id, s);
    }
    s.count++;
    if (s.count < this.max) return reply;
    return { code: 421, text: `4.7.0 Too many refused recipients (${this.max}) in one session, closing connection` };
  }

  /** The session ended: one log line when it had refusals. */
  closed(id: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    this.log.warn({ listener: this.listener, remote: s.remote, refused: s.count, first: s.first, reply: s.reply, ended: s.count >= this.max }, 'SMTP session: recipients refused');
  }
}
