// submit(): the only way into the queue. Policy checks, canonicalised body to the spool,
// record + "accepted" events made durable by group commit, then handed to the scheduler.
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { EventLog } from '../store/event-log.js';
import type { SuppressionEntry, SuppressionList } from '../store/suppression.js';
import type { OptOutList } from '../store/opt-outs.js';
import type { Tenant } from '../config/types.js';
import { categorize } from './category.js';
import { isValidAddress } from '../config/formats.js';
import { suggestDomain } from './domain-typo.js';
import { CanonicalStream } from './canonical-stream.js';
import { pipeInto } from './pipe-into.js';
import { newQueueId } from './ids.js';
import type { Scheduler } from './scheduler.js';
import type { Spool, StagedBody } from './spool.js';
import { HELD_DUE, type MessageRecord, type MessageSource, type QueueEvent, type RecipientOutcome } from '../store/records.js';
import type { ErrorCode } from '../error-codes.js';

export class SubmitError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

export interface SubmitInput {
  tenant: string;
  envelope: { from: string; to: string[] };
  body: Readable;
  source: MessageSource;
  /** The message this one re-sends. */
  resendOf?: string;
}

export interface QueueDeps {
  spool: Spool;
  suppression: SuppressionList;
  events: EventLog;
  scheduler: Scheduler;
  /** Buyers' unsubscriptions from optional categories; absent means none are checked. */
  optOuts?: OptOutList;
  /** The tenant's category settings (read at submission, so changes apply to the next message). */
  tenant?: (id: string) => Tenant | undefined;
  limits: { maxMessageSize: number; maxRecipients: number };
  /** Seed 003: the shop admin addresses that get a copy of this tenant's messages of this category (envelope only, like Bcc). */
  adminCopies?: (tenant: string, category: string) => Promise<string[]>;
  log: Logger;
  now?: () => number;
}

export class MailQueue {
  private readonly now: () => number;
  accepted = 0;

  constructor(private readonly deps: QueueDeps) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * Queues a failed message again — to a corrected address, or to the recipients that failed —
   * as a new message linked to the original (seed 000's "correct the address, re-send").
   */
  async resend(msgId: string, to?: string[]): Promise<{ id: string }> {
    const original = await this.deps.spool.get(msgId);
    if (!original) throw new SubmitError('NOT_FOUND', `no message ${msgId}`);
    if (!this.deps.spool.hasBody(original, this.now())) throw new SubmitError('BODY_GONE', `the body of ${msgId} is no longer kept; ask the application to send it again`);
    const failed = original.recipients.filter((r) => r.status === 'failed').map((r) => r.address);
    // A suppressed address would make the re-sent message fail at once: a corrected address on the
    // list is refused with the reason, and the failed recipients still on it are left out.
    const listed = new Map<string, SuppressionEntry>();
    for (const address of to ?? failed) {
      const entry = await this.deps.suppression.get(original.tenant, address);
      if (entry) listed.set(address, entry);
    }
    const named = (addresses: string[]) => addresses.map((a) => {
      const e = listed.get(a)!;
      return `${a} (${e.rule ?? (e.source === 'admin' ? `added by hand: ${e.reason}` : `${e.source}: ${e.reason}`)})`;
    }).join(', ');
    if (to && listed.size > 0) {
      throw new SubmitError('SUPPRESSED', `${named([...listed.keys()])} ${listed.size === 1 ? 'is' : 'are'} on the suppression list, so the message would not go out: correct the address, or remove it from the suppression list first`);
    }
    const recipients = to ?? failed.filter((a) => !listed.has(a));
    if (recipients.length === 0 && listed.size > 0) {
      throw new SubmitError('SUPPRESSED', `every failed recipient of ${msgId} is on the suppression list (${named([...listed.keys()])}): correct the address and re-send to it`);
    }
    if (recipients.length === 0) throw new SubmitError('NO_RECIPIENTS', `${msgId} has no failed recipient to re-send to`);
    const result = await this.submit({
      tenant: original.tenant,
      envelope: { from: original.envelope.from, to: recipients },
      body: this.deps.spool.openBody(original.body),
      source: { kind: 'api' },
      resendOf: msgId,
    });
    const time = this.now();
    // The event goes on the original's failed recipients, so the address the buyer mistyped shows the fix.
    const noted = failed.length > 0 ? failed : original.envelope.to;
    await this.deps.spool.appendEvents(noted.flatMap((recipient) => this.deps.events.ops({
      time, type: 'resent', msgId, tenant: original.tenant, recipient, detail: `re-sent to ${recipients.join(', ')} as ${result.id}`,
    })));
    return result;
  }

  /** Stores the message durably and schedules it; resolves with its queue id only once it is on disk. */
  async submit(input: SubmitInput): Promise<{ id: string }> {
    const { tenant } = input;
    const envelope = { from: input.envelope.from, to: [...input.envelope.to] };
    if (envelope.to.length === 0) throw new SubmitError('NO_RECIPIENTS', 'no recipients');
    if (envelope.to.length > this.deps.limits.maxRecipients) {
      throw new SubmitError('TOO_MANY_RECIPIENTS', `too many recipients (limit ${this.deps.limits.maxRecipients})`);
    }
    for (const rcpt of envelope.to) {
      if (!isValidAddress(rcpt)) throw new SubmitError('INVALID_RECIPIENT', `invalid recipient address: ${rcpt}`);
    }
    if (envelope.from !== '' && !isValidAddress(envelope.from)) {
      throw new SubmitError('INVALID_SENDER', `invalid sender address: ${envelope.from}`);
    }

    const suppressed = new Map<string, SuppressionEntry>();
    for (const rcpt of envelope.to) {
      const entry = await this.deps.suppression.get(tenant, rcpt);
      if (entry) suppressed.set(rcpt, entry);
    }
    const createdAt = this.now();
    const id = newQueueId(createdAt);
    const canonical = new CanonicalStream();
    const [staged] = await Promise.all([
      this.deps.spool.stage(id, canonical, this.deps.limits.maxMessageSize),
      pipeInto(input.body, canonical),
    ]) as [StagedBody, void];
    const headers = canonical.headers();
    const category = categorize(this.deps.tenant?.(tenant), headers);
    if (category && this.deps.adminCopies) {
      const have = new Set(envelope.to.map((a) => a.toLowerCase()));
      const copies = (await this.deps.adminCopies(tenant, category.name)).filter((a) => !have.has(a.toLowerCase()) && isValidAddress(a));
      if (copies.length > 0) envelope.to.push(...copies);
    }
    // Seed 001: a buyer who unsubscribed from an optional category gets no more of it; the app still gets 250.
    const unsubscribed = new Set<string>();
    if (category?.optional && this.deps.optOuts) {
      for (const rcpt of envelope.to) if (!suppressed.has(rcpt) && (await this.deps.optOuts.has(tenant, category.name, rcpt))) unsubscribed.add(rcpt);
    }
    const skipped = (address: string) => suppressed.has(address) || unsubscribed.has(address);
    const record: MessageRecord = {
      id,
      tenant,
      createdAt,
      dueAt: createdAt,
      attempts: 0,
      envelope: { from: envelope.from, to: [...envelope.to] },
      recipients: envelope.to.map((address) => {
        const entry = suppressed.get(address);
        const outcome: RecipientOutcome | undefined = entry ? { type: 'suppressed', class: entry.class, reason: entry.reason, time: createdAt }
          : unsubscribed.has(address) ? { type: 'unsubscribed', reason: `unsubscribed from "${category!.name}"`, time: createdAt } : undefined;
        return { address, status: outcome ? 'failed' : 'queued', attempts: 0, updatedAt: createdAt, ...(outcome ? { outcome } : {}) };
      }),
      size: staged.size,
      body: staged.ref,
      ...(headers.messageId ? { messageId: headers.messageId } : {}),
      ...(headers.subject ? { subject: headers.subject } : {}),
      ...(headers.reference ? { reference: headers.reference } : {}),
      ...(headers.toNames ? { toNames: headers.toNames } : {}),
      ...(category ? { category } : {}),
      source: input.source,
      ...(input.resendOf ? { resendOf: input.resendOf } : {}),
      state: envelope.to.every(skipped) ? 'done' : 'queued',
    };
    if (record.state === 'done') record.dueAt = 0;
    // A shop under review (tenants[].hold): its mail is accepted and kept, not delivered until released.
    else if (this.deps.tenant?.(tenant)?.hold) {
      record.held = { since: createdAt, by: 'the shop is on hold' };
      record.dueAt = HELD_DUE;
    }
    const events: QueueEvent[] = envelope.to.map((recipient) => ({ time: createdAt, type: 'accepted', msgId: id, tenant, recipient }));
    for (const recipient of envelope.to) {
      const suggestion = suggestDomain(recipient.slice(recipient.lastIndexOf('@') + 1));
      if (!suggestion) continue;
      const fixed = `${recipient.slice(0, recipient.lastIndexOf('@'))}@${suggestion}`;
      events.push({ time: createdAt, type: 'warning', msgId: id, tenant, recipient, code: 'RECIPIENT_DOMAIN_TYPO', detail: `the domain of ${recipient} looks like a typo: did you mean ${fixed}?` });
    }
    for (const [recipient, entry] of suppressed) {
      events.push({
        time: createdAt, type: 'failed', msgId: id, tenant, recipient, code: 'RECIPIENT_SUPPRESSED', class: entry.class, reason: entry.reason,
        detail: `not sent: ${recipient} is on the suppression list since ${new Date(entry.time).toISOString()} (${entry.class}/${entry.reason}${entry.msgId ? `, message ${entry.msgId}` : ''})`,
      });
    }
    for (const recipient of unsubscribed) {
      events.push({
        time: createdAt, type: 'failed', msgId: id, tenant, recipient, code: 'RECIPIENT_UNSUBSCRIBED', class: 'policy', reason: 'unsubscribed',
        detail: `not sent: ${recipient} unsubscribed from "${category!.name}" messages (an optional category)`,
      });
    }
    await this.deps.spool.enqueue(record, staged, events.flatMap((e) => this.deps.events.ops(e)));
    this.accepted++;
    this.deps.log.info({ msgId: id, tenant, from: envelope.from, nrcpt: envelope.to.length, size: staged.size, messageId: headers.messageId }, 'message accepted');
    if (suppressed.size + unsubscribed.size > 0) this.deps.log.info(skippedLogFields(id, tenant, [...suppressed.keys()], [...unsubscribed]), `${id}: ${suppressed.size + unsubscribed.size} recipient(s) not sent: on the suppression list or unsubscribed`);
    if (record.state === 'queued' && !record.held) this.deps.scheduler.push(record, staged.data);
    return { id };
  }
}

/** The one log line for a message's recipients that were not sent (suppressed, unsubscribed): counts and at most 20 addresses. */
export function skippedLogFields(msgId: string, tenant: string, suppressed: string[], unsubscribed: string[]): Record<string, unknown> {
  const shown = [...suppressed, ...unsubscribed].slice(0, 20);
  return { msgId, tenant, status: 'suppressed', suppressed: suppressed.length, unsubscribed: unsubscribed.length, to: shown };
}
