// What happens to a message that reached the bounce domain: parse it, attribute it to the
// original message and recipient through the VERP token (forgeries are logged and ignored),
// record a bounced / complained / auto-replied event for the tenant, and suppress the address
// after a hard bounce, a complaint, or soft bounces that keep coming with no delivery in between.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { EventLog } from '../store/event-log.js';
import type { Store, StoreOp } from '../store/ports.js';
import type { SuppressionEntry, SuppressionList } from '../store/suppression.js';
import type { Spool } from '../queue/spool.js';
import type { MessageRecord, QueueEvent, RecipientOutcome } from '../store/records.js';
import { OPERATOR_TENANT, setOutcome } from '../store/records.js';
import { parseVerp, readOwnMessageId } from '../identity/verp.js';
import { ParserStoppedError } from './parse-thread.js';
import { parseBounce, type BounceReport, type BouncedRecipient } from './parse.js';
import type { BounceClass } from './classify.js';
import { suppressionRule, verdictFor } from './verdict.js';
import { SoftBounceCounter, softRule } from './soft-bounces.js';


/**
 * The suppression entry for a delivery attempt the receiving server refused for good because the
 * address is bad (550 5.1.1 user unknown at RCPT, say): with direct MX delivery that reply is the
 * bounce, and no bounce message will follow. Our own refusals (private MX, no route) do not count.
 */
export function rejectionSuppression(event: QueueEvent): SuppressionEntry | undefined {
  if (event.type !== 'failed' || event.code !== 'UPSTREAM_REJECTED' || !verdictFor({ class: (event.class ?? 'none') as BounceClass, reason: event.reason ?? '' }).suppress) return undefined;
  const r = event.reply;
  return {
    tenant: event.tenant, address: event.recipient, class: 'hard', reason: event.reason!, time: event.time, msgId: event.msgId, source: 'bounce',
    rule: `the receiving server refused it during delivery: ${suppressionRule({ class: 'hard', reason: event.reason! })}`,
    ...(r ? { diagnostic: `${r.code}${r.enhanced ? ` ${r.enhanced}` : ''} ${r.text}`.slice(0, 500) } : {}),
  };
}
/**
 * The writes that go with a delivery attempt's outcome (committed with its event): a refusal that
 * says the address is bad suppresses it; a refusal about the mailbox (full, disabled) counts as a
 * soft bounce, as a DSN saying so would. Our own expiries and network trouble never count.
 */
export async function deliveryOutcomeOps(event: QueueEvent, suppression: SuppressionList, softBounces: SoftBounceCounter): Promise<StoreOp[]> {
  const entry = rejectionSuppression(event);
  if (entry) return suppression.addOps(entry);
  if ((event.type !== 'deferred' && event.type !== 'failed') || (event.code !== 'UPSTREAM_DEFERRED' && event.code !== 'UPSTREAM_REJECTED')) return [];
  const verdict = verdictFor({ class: (event.class ?? 'none') as BounceClass, reason: event.reason ?? '' });
  if (!verdict.countsTowardsSuppression || event.reason === 'expired') return [];
  const counted = await softBounces.count(event.tenant, event.recipient, event.time, event.msgId);
  if (!counted.suppress) return counted.ops;
  const r = event.reply;
  return [...counted.ops, ...suppression.addOps({
    tenant: event.tenant, address: event.recipient, class: event.class!, reason: event.reason!, time: event.time, msgId: event.msgId, source: 'bounce',
    rule: softRule(event.reason!, counted.count, counted.since, event.time),
    ...(r ? { diagnostic: `${r.code}${r.enhanced ? ` ${r.enhanced}` : ''} ${r.text}`.slice(0, 500) } : {}),
  })];
}

export interface BounceProcessorDeps {
  spool: Spool;
  store: Store;
  events: EventLog;
  suppression: SuppressionList;
  verpSecret: Buffer;
  bounceDomain: string;
  log: Logger;
  now?: () => number;
  /** How a message is parsed: on a thread with a deadline in the relay (BounceParseThread), in-process in tests. */
  parse?: (raw: Buffer, own: string[]) => Promise<BounceReport>;
}

/** The error log's tenant for what concerns the operator, not a shop (not a valid tenant id, so never a shop's). */
export { OPERATOR_TENANT };
/** A stored inbound message that failed to parse this many times (timeout or error) is quarantined. */
const MAX_PARSE_ATTEMPTS = 2;

/** One recipient a report is recorded for; `address` '' when the report is about the message but names none of its recipients. */
interface Target {
  address: string;
  proven: boolean;
  /** false: recorded and the recipient's state set, but never suppressed (a return path shared by several recipients). */
  suppresses?: boolean;
  /** About the message, not a recipient: an operator warning, not a bounce of anyone. */
  unattributed?: boolean;
  detail?: string;
}

export type ProcessResult =
  | { status: 'recorded'; msgId: string; recipient: string; class: string; reason: string }
  | { status: 'ignored'; why: string }
  | { status: 'failed'; why: string }
  | { status: 'quarantined'; why: string };

export class BounceProcessor {
  private readonly now: () => number;

  private readonly softBounces: SoftBounceCounter;

  constructor(private readonly deps: BounceProcessorDeps) {
    this.now = deps.now ?? Date.now;
    this.softBounces = new SoftBounceCounter(deps.store, deps.events);
  }

  /** Parses and records one inbound message; never throws for bad input. */
  async process(raw: Buffer, envelope: { from: string; to: string[] }): Promise<ProcessResult> {
    const { log } = this.deps;
    let token: { msgId: string; index?: number } | undefined;
    for (const rcpt of envelope.to) {
      const local = rcpt.slice(0, rcpt.lastIndexOf('@'));
      if (!/^b-/i.test(local)) continue;
      token = parseVerp(this.deps.verpSecret, rcpt, this.deps.bounceDomain);
      if (!token) {
        log.warn({ to: rcpt, from: envelope.from }, 'forged bounce ignored: the VERP token does not verify');
        return { status: 'ignored', why: 'forged VERP token' };
      }
      break;
    }
    let report;
    try {
      report = await (this.deps.parse ?? parseBounce)(raw, envelope.to);
    } catch (err) {
      if (err instanceof ParserStoppedError) throw err;
      log.warn({ err: (err as Error).message, to: envelope.to }, 'inbound message could not be parsed');
      return { status: 'failed', why: (err as Error).message };
    }
    if (report.recipients.length === 0) {
      log.info({ to: envelope.to, subject: report.subject, kind: report.kind }, 'inbound message is not a bounce');
      return { status: 'ignored', why: 'not a bounce' };
    }
    // Without a return path, the message is found by its Message-ID (ours carries a MAC tag).
    const own = !token && report.original.messageId ? readOwnMessageId(this.deps.verpSecret, report.original.messageId) : undefined;
    const msgId = token?.msgId ?? own ?? (!token && report.original.messageId ? await this.deps.spool.byMessageId(report.original.messageId) : undefined);
    // One report per message at a time: each reads what it adds to (a recipient's soft-bounce count)
    // and writes it back, so two bounces for one message processed together must not overwrite each
    // other. (The recipient's outcome is set on the stored record by the store: message.outcome.)
    return this.oneAtATime(msgId ?? '', () => this.attribute(report, envelope, token, msgId, own));
  }

  private readonly running = new Map<string, Promise<unknown>>();

  private oneAtATime<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.running.get(key) ?? Promise.resolve();
    const mine = before.then(fn, fn);
    const settled = mine.then(() => undefined, () => undefined);
    this.running.set(key, settled);
    void settled.then(() => { if (this.running.get(key) === settled) this.running.delete(key); });
    return mine;
  }

  /** Who a parsed report is about and what it does, recorded in one commit. */
  private async attribute(report: BounceReport, envelope: { from: string; to: string[] }, token: { msgId: string; index?: number } | undefined, msgId: string | undefined, own: string | undefined): Promise<ProcessResult> {
    const { log } = this.deps;
    let record: MessageRecord | undefined;
    // Who the bounce is about, and whether it proves that: a VERP token for the recipient; or our own
    // tagged Message-ID together with a bounced recipient that message was sent to. Only a proven
    // bounce suppresses; others are recorded for the shop to see. A token for the message only
    // (queue.returnPath: message, one transaction to several recipients) is seen by every one of
    // them, so a co-recipient could forge it: the recipients a structured report (a DSN's recipient
    // fields, a provider's JSON) names that the message was sent to get the bounce recorded and their
    // state set, but it suppresses no one; names guessed from free text count for nothing.
    let targets: Target[] = [];
    const named = (r: MessageRecord) => {
      const seen = new Set<string>();
      return r.envelope.to.filter((to) => {
        const key = to.toLowerCase();
        if (seen.has(key) || !report.recipients.some((b) => b.recipient === key)) return false;
        seen.add(key);
        return true;
      });
    };
    if (token) {
      record = await this.deps.spool.get(token.msgId);
      if (record && token.index !== undefined) {
        const address = record.envelope.to[token.index];
        if (address) targets = [{ address, proven: true }];
      } else if (record) {
        const structured = report.kind === 'dsn' || report.kind === 'notification';
        targets = structured ? named(record).map((address) => ({
          address, proven: true, suppresses: false,
          detail: `bounce to the return path of a message sent to ${record!.envelope.to.length} recipients in one transaction: recorded, not suppressed (a co-recipient could have sent it)`,
        })) : [];
        if (targets.length === 0) {
          const names = report.recipients.map((r) => r.recipient).filter(Boolean).slice(0, 3).join(', ');
          targets = [{
            address: '', proven: false, unattributed: true,
            detail: `bounce about this message (sent to ${record.envelope.to.length} recipients in one transaction) that does not say in a delivery status report which of them it is about${names ? ` (its text names ${names})` : ''}: recorded, not acted on`,
          }];
        }
      }
    } else if (report.original.messageId) {
      // Sent back to From or Reply-To instead of the return path: the message its Message-ID names.
      record = msgId ? await this.deps.spool.get(msgId) : undefined;
      const first = record ? named(record)[0] : undefined;
      const address = first ?? (record?.envelope.to.length === 1 ? record.envelope.to[0] : undefined);
      if (address) targets = [{ address, proven: own !== undefined && first !== undefined }];
    }
    if (!token && !record) {
      log.warn({ to: envelope.to, messageId: report.original.messageId, kind: report.kind }, 'bounce without VERP token not attributed');
      return { status: 'ignored', why: 'no VERP token' };
    }
    if (!record || targets.length === 0) {
      log.warn({ msgId: token?.msgId, messageId: report.original.messageId }, 'bounce for an unknown message ignored');
      return { status: 'ignored', why: 'unknown message' };
    }
    const time = this.now();
    const ops: StoreOp[] = [];
    const lines: Array<Record<string, unknown>> = [];
    let current = record;
    let first: ProcessResult | undefined;
    for (const target of targets) {
      const done = await this.recordTarget(current, report, target, time);
      ops.push(...done.ops);
      lines.push(done.line);
      current = done.record;
      first ??= done.result;
    }
    await this.deps.store.commit(ops);
    // Logged once recorded, so what the line says can be read back.
    for (const { msg, ...line } of lines) log.info(line, String(msg));
    return first!;
  }

  /** The ops that record what the report says about one recipient of `record` (and the record as it is after them). */
  private async recordTarget(record: MessageRecord, report: BounceReport, target: Target, time: number): Promise<{ ops: StoreOp[]; record: MessageRecord; result: ProcessResult; line: Record<string, unknown> }> {
    const { address, proven } = target;
    const entry: BouncedRecipient = report.recipients.find((r) => r.recipient === address.toLowerCase()) ?? report.recipients[0]!;
    // A feedback report about authentication (DMARC, SPF) is news for the operator, not a bounce.
    const type: QueueEvent['type'] = target.unattributed ? 'warning' : entry.class === 'complaint' ? 'complained' : entry.class === 'auto-reply' ? 'auto-replied' : entry.class === 'report' ? 'warning' : 'bounced';
    const detail = target.detail ?? (!proven ? `bounce without our return path${entry.recipient && entry.recipient !== address.toLowerCase() ? ` (it names ${entry.recipient})` : ''}: recorded, not acted on` : undefined);
    const event: QueueEvent = {
      time, type, msgId: record.id, tenant: record.tenant, recipient: address,
      code: target.unattributed ? 'BOUNCE_UNATTRIBUTED' : type === 'complained' ? 'RECIPIENT_COMPLAINED' : type === 'auto-replied' ? 'AUTO_REPLY' : type === 'warning' ? 'FEEDBACK_REPORT' : 'RECIPIENT_BOUNCED',
      class: entry.class, reason: entry.reason,
      ...(entry.diagnostic || entry.replyCode ? { reply: { code: entry.replyCode ?? 0, ...(entry.status ? { enhanced: entry.status } : {}), text: entry.diagnostic ?? '' } } : {}),
      ...(entry.remoteMta ? { upstream: entry.remoteMta } : {}),
      ...(detail ? { detail } : {}),
    };
    const ops = this.deps.events.ops(event);
    const verdict = proven && target.suppresses !== false ? verdictFor(entry) : { suppress: false, countsTowardsSuppression: false };
    let suppress = verdict.suppress;
    let rule = verdict.suppress ? suppressionRule(entry) : undefined;
    if (verdict.countsTowardsSuppression) {
      const counted = await this.softBounces.count(record.tenant, address, time, record.id);
      ops.push(...counted.ops);
      suppress = counted.suppress;
      rule = softRule(entry.reason, counted.count, counted.since, time);
    }
    if (suppress) {
      ops.push(...this.deps.suppression.addOps({
        tenant: record.tenant, address, class: entry.class, reason: entry.reason, time, msgId: record.id,
        source: entry.class === 'complaint' ? 'complaint' : 'bounce', ...(entry.diagnostic ? { diagnostic: entry.diagnostic.slice(0, 500) } : {}),
        ...(rule ? { rule } : {}),
      }));
    }
    // The recipient's state follows: delivered, then bounced or complained (a proven report only).
    // Only the outcome is written, onto the record as stored then: a delivery attempt recorded since
    // `record` was read is kept.
    let after: MessageRecord | undefined;
    const recipient = record.recipients.find((r) => r.address.toLowerCase() === address.toLowerCase());
    if (proven && (type === 'bounced' || type === 'complained') && recipient) {
      const outcome: RecipientOutcome = { type, class: entry.class, reason: entry.reason, time, ...(entry.diagnostic ? { diagnostic: entry.diagnostic.slice(0, 500) } : {}) };
      ops.push({ kind: 'message.outcome', id: record.id, address: recipient.address, outcome });
      after = setOutcome(record, recipient.address, outcome); // what the store does with the op
    }
    const line = { msg: `inbound ${type}`, msgId: record.id, tenant: record.tenant, to: address, class: entry.class, reason: entry.reason, status: entry.status, suppressed: suppress, proven };
    return { ops, record: after ?? record, result: { status: 'recorded', msgId: record.id, recipient: address, class: entry.class, reason: entry.reason }, line };
  }

  /**
   * Processes a stored inbound file (first line: X-Mailgate-Envelope) and removes it. Each try is
   * counted in a file beside it before parsing starts, so a message that hangs or kills the process
   * is not tried for ever: after MAX_PARSE_ATTEMPTS failed tries it moves to quarantine/ and the
   * operator's error log says so.
   */
  async processFile(file: string): Promise<ProcessResult> {
    const attemptsFile = `${file}.attempts`;
    const data = await fs.readFile(file);
    const nl = data.indexOf('\n');
    const first = data.subarray(0, Math.max(0, nl)).toString('utf8');
    const m = /^X-Mailgate-Envelope: (.*)\r?$/.exec(first);
    let envelope: { from: string; to: string[] } = { from: '', to: [] };
    try {
      if (m) envelope = JSON.parse(m[1]!) as typeof envelope;
    } catch {
      // A damaged envelope line: the message is still read, without the envelope.
    }
    let result: ProcessResult = { status: 'failed', why: 'not tried' };
    let tries = Number((await fs.readFile(attemptsFile, 'utf8').catch(() => '0')).trim()) || 0;
    while (tries < MAX_PARSE_ATTEMPTS) {
      tries++;
      await fs.writeFile(attemptsFile, String(tries));
      try {
        result = await this.process(m ? data.subarray(nl + 1) : data, envelope);
      } catch (err) {
        // Not the message's fault (the store, say): this try does not count.
        await fs.writeFile(attemptsFile, String(tries - 1));
        throw err;
      }
      if (result.status !== 'failed') {
        await fs.unlink(file).catch(() => undefined);
        await fs.unlink(attemptsFile).catch(() => undefined);
        return result;
      }
    }
    return this.quarantine(file, envelope, result.status === 'failed' ? result.why : 'it stopped the process while being read');
  }

  private async quarantine(file: string, envelope: { from: string; to: string[] }, why: string): Promise<ProcessResult> {
    const dir = path.join(path.dirname(file), 'quarantine');
    await fs.mkdir(dir, { recursive: true });
    const name = path.basename(file);
    await fs.rename(file, path.join(dir, name));
    await fs.unlink(`${file}.attempts`).catch(() => undefined);
    const detail = `An inbound message could not be read as a bounce (${why}) and was moved to ${path.join(dir, name)}. It is not retried; look at it, then delete it.`;
    const time = this.now();
    await this.deps.store.commit(this.deps.events.ops({
      time, type: 'warning', msgId: name.replace(/\.eml$/, ''), tenant: OPERATOR_TENANT, recipient: envelope.to[0] ?? '',
      code: 'INBOUND_QUARANTINED', detail: detail.slice(0, 1000),
    }));
    this.deps.log.error({ file: name, from: envelope.from, to: envelope.to, why }, 'inbound message quarantined');
    return { status: 'quarantined', why };
  }

  /** Processes inbound files left over from before a restart. */
  async processBacklog(dir: string): Promise<void> {
    let names: string[] = [];
    try {
      names = (await fs.readdir(dir)).filter((n) => n.endsWith('.eml'));
    } catch {
      return;
    }
    for (const name of names) {
      await this.processFile(path.join(dir, name)).catch((err: Error) => this.deps.log.error({ file: name, err: err.message }, 'inbound message could not be processed'));
    }
  }
}
