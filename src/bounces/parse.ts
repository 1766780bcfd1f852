// Reads a message that came back to the bounce domain and says what it is: an RFC 3464 DSN, a
// non-standard MTA bounce, an RFC 5965 ARF complaint, an auto-reply, or none of those — with one
// entry per failed recipient (class, reason, status, diagnostic) and what identifies the original
// message (Message-ID, X-Order-Id / X-Reference) for when the VERP token is missing.
import type { ParsedMail, Attachment } from 'mailparser';
import { classifyFailure, replyCodeInText, statusInText, type BounceClass } from './classify.js';
import { mimeParts } from './mime-parts.js';
import { findAddresses, firstAddress } from './addresses.js';

export interface BouncedRecipient {
  recipient: string;
  class: BounceClass;
  reason: string;
  status?: string;
  action?: string;
  replyCode?: number;
  remoteMta?: string;
  diagnostic?: string;
  feedbackType?: string;
}

export type BounceKind = 'dsn' | 'non-standard' | 'arf' | 'auto-reply' | 'none';

export interface OriginalRef {
  messageId?: string;
  orderId?: string;
  reference?: string;
  to?: string;
  from?: string;
}

export interface BounceReport {
  kind: BounceKind;
  recipients: BouncedRecipient[];
  original: OriginalRef;
  subject?: string;
  from?: string;
  /** Recipients past MAX_RECIPIENTS, counted but not listed. */
  omittedRecipients?: number;
}

/** Any mix of CRLF, LF and CR-only line ends becomes CRLF, so all three parse the same. */
export function normalizeLineEnds(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  if (!/\r(?!\n)|(?<!\r)\n/.test(text)) return raw;
  return Buffer.from(text.replace(/\r\n|\r|\n/g, '\r\n'), 'latin1');
}

/** A report names at most this many recipients; the rest are counted (a 10 MB DSN could name 130,000). */
export const MAX_RECIPIENTS = 1000;
/** Diagnostics are cut to this before any pattern sees them. */
const MAX_DIAGNOSTIC = 1000;

/** Splits "name: value" field groups separated by blank lines (DSN and ARF bodies). */
export function fieldGroups(text: string): Array<Map<string, string>> {
  const groups: Array<Map<string, string>> = [];
  for (const block of text.replace(/\r\n/g, '\n').split(/\n[ \t]*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const line of block.split('\n')) {
      if (/^[ \t]/.test(line) && last) {
        fields.set(last, `${fields.get(last)} ${line.trim()}`);
        continue;
      }
      const m = /^([A-Za-z0-9-]+)\s*:\s*(.*)$/.exec(line);
      if (m) {
        last = m[1]!.toLowerCase();
        fields.set(last, fields.has(last) ? `${fields.get(last)} ${m[2]!.trim()}` : m[2]!.trim());
      }
    }
    if (fields.size > 0) groups.push(fields);
  }
  return groups;
}

/** "rfc822; a@b" → "a@b"; "smtp; 550 …" → "550 …". */
function stripType(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const v = value.replace(/^[A-Za-z0-9-]+\s*;\s*/, '').trim();
  return v.replace(/^<(.*)>$/, '$1') || undefined;
}

function headerOf(parsed: ParsedMail, name: string): string | undefined {
  const v = parsed.headers.get(name.toLowerCase());
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && 'text' in (v as object)) return String((v as { text: string }).text);
  if (typeof v === 'object' && 'value' in (v as object)) return String((v as { value: string }).value);
  return String(v);
}

interface ReportPart {
  contentType: string;
  text: string;
}

/** The parts of a message by type: mailparser's attachments, and the MIME walker's leaves (which include message/* parts mailparser folds into text). */
function reportParts(parsed: ParsedMail, raw: Buffer): ReportPart[] {
  const parts: ReportPart[] = parsed.attachments.map((a: Attachment) => ({ contentType: a.contentType.toLowerCase(), text: a.content.toString('utf8') }));
  for (const p of mimeParts(raw.toString('latin1'))) parts.push({ contentType: p.contentType, text: p.body });
  return parts;
}

const ORIGINAL_TYPES = ['message/rfc822', 'text/rfc822-headers', 'message/global', 'message/global-headers', 'message/rfc822-headers'];

/** Header fields of the returned original message (attached, or inline after the bounce text). */
function originalRef(parts: ReportPart[], text: string): OriginalRef {
  const att = parts.find((a) => ORIGINAL_TYPES.includes(a.contentType));
  const source = att ? att.text : text;
  const head = att ? source.split(/\r?\n\r?\n/)[0]! : source;
  const field = (name: string) => new RegExp(`^${name}:[ \\t]*(.+(?:\\r?\\n[ \\t].+)*)`, 'im').exec(head)?.[1]?.replace(/\r?\n[ \t]+/g, ' ').trim();
  const addr = firstAddress;
  return {
    ...(field('Message-ID') ? { messageId: /<[^>]+>/.exec(field('Message-ID')!)?.[0] ?? field('Message-ID') } : {}),
    ...(field('X-Order-Id') ? { orderId: field('X-Order-Id') } : {}),
    ...(field('X-Reference') ? { reference: field('X-Reference') } : {}),
    ...(addr(field('To')) ? { to: addr(field('To')) } : {}),
    ...(addr(field('From')) ? { from: addr(field('From')) } : {}),
  };
}

function failed(recipient: string, input: { status?: string; action?: string; diagnostic?: string; replyCode?: number; remoteMta?: string }): BouncedRecipient {
  const diagnostic = input.diagnostic?.slice(0, 4 * MAX_DIAGNOSTIC).replace(/\s+/g, ' ').trim().slice(0, MAX_DIAGNOSTIC);
  const remoteMta = input.remoteMta ?? (diagnostic ? /\bhost\s+([A-Za-z0-9.-]+\.[A-Za-z]{2,})\s*\[[^\]]+\]/.exec(diagnostic)?.[1] : undefined);
  const status = input.status ?? (diagnostic ? statusInText(diagnostic) : undefined);
  const replyCode = input.replyCode ?? (diagnostic ? replyCodeInText(diagnostic) : undefined);
  const derivedStatus = status ?? (replyCode ? `${String(replyCode)[0]}.0.0` : input.action?.toLowerCase() === 'delayed' ? '4.0.0' : undefined);
  const c = classifyFailure({ status: derivedStatus, replyCode, action: input.action, diagnostic });
  return {
    recipient: recipient.toLowerCase(),
    class: c.class,
    reason: c.reason,
    ...(derivedStatus ? { status: derivedStatus } : {}),
    ...(input.action ? { action: input.action.toLowerCase() } : {}),
    ...(replyCode ? { replyCode } : {}),
    ...(remoteMta ? { remoteMta } : {}),
    ...(diagnostic ? { diagnostic } : {}),
  };
}

/** RFC 3463 codes that go with each reason, for bounces whose text states no code. */
const CANONICAL_STATUS: Record<string, string> = {
  'user-unknown': '5.1.1', 'host-unknown': '5.1.2', 'bad-address': '5.1.3', 'mailbox-disabled': '5.2.1', 'hard-other': '5.0.0',
  'mailbox-full': '5.2.2', 'message-too-large': '5.3.4', 'expired': '4.4.7', 'greylisted': '4.7.1', 'rate-limited': '4.7.0', 'temporary': '4.0.0',
  'spam-blocked': '5.7.1', 'blacklisted': '5.7.1', 'auth-failed': '5.7.26', 'relay-denied': '5.7.1', 'policy-other': '5.7.1',
};

function withCanonicalStatus(r: BouncedRecipient): BouncedRecipient {
  return r.status || r.replyCode ? r : { ...r, ...(CANONICAL_STATUS[r.reason] ? { status: CANONICAL_STATUS[r.reason] } : {}) };
}

function parseArf(parsed: ParsedMail, parts: ReportPart[], text: string): BounceReport | undefined {
  const report = parts.find((a) => a.contentType === 'message/feedback-report');
  const ctype = headerOf(parsed, 'content-type') ?? '';
  if (!report && !/report-type\s*=\s*"?feedback-report/i.test(ctype)) return undefined;
  const fields = report ? fieldGroups(report.text)[0] ?? new Map<string, string>() : new Map<string, string>();
  const feedbackType = (fields.get('feedback-type') ?? 'abuse').toLowerCase().trim();
  const original = originalRef(parts, text);
  const recipient = stripType(fields.get('original-rcpt-to')) ?? original.to ?? stripType(fields.get('removal-recipient'));
  return {
    kind: 'arf',
    original,
    recipients: recipient
      ? [{ recipient: recipient.toLowerCase(), class: 'complaint', reason: feedbackType, feedbackType, ...(fields.get('source-ip') ? { remoteMta: fields.get('source-ip')! } : {}) }]
      : [],
  };
}

function parseDsn(parts: ReportPart[], text: string): BounceReport | undefined {
  const part = parts.find((a) => ['message/delivery-status', 'message/global-delivery-status'].includes(a.contentType));
  if (!part) return undefined;
  // mailparser may have folded the status fields into the text: keep only the human part for windows.
  const statusAt = text.search(/^[ \t]*reporting-mta[ \t]*:/im);
  const human = statusAt >= 0 ? text.slice(0, statusAt) : text;
  const mentions = mentionIndex(human);
  const groups = fieldGroups(part.text);
  const perMessage = groups.find((g) => g.has('reporting-mta') || g.has('arrival-date')) ?? new Map<string, string>();
  const recipients: BouncedRecipient[] = [];
  const seen = new Set<string>();
  let omitted = 0;
  for (const g of groups) {
    const recipient = stripType(g.get('final-recipient')) ?? stripType(g.get('original-recipient'));
    if (!recipient || !recipient.includes('@')) continue;
    if (recipients.length >= MAX_RECIPIENTS) {
      if (!seen.has(recipient.toLowerCase())) omitted++;
      seen.add(recipient.toLowerCase());
      continue;
    }
    seen.add(recipient.toLowerCase());
    const action = g.get('action')?.toLowerCase().trim();
    if (action && ['delivered', 'relayed', 'expanded'].includes(action)) continue;
    const diagnostic = stripType(g.get('diagnostic-code')) ?? g.get('x-postfix-diagnostic') ?? undefined;
    let status = /^\d\.\d{1,3}\.\d{1,3}/.exec(g.get('status') ?? '')?.[0];
    const stated = diagnostic ? statusInText(diagnostic) : undefined;
    if (status && stated && /^\d\.0\.0$/.test(status) && stated[0] === status[0]) status = stated;
    // A DSN without a diagnostic: the human-readable part usually says why.
    const why = diagnostic ?? windowFor(recipient, human, mentions) ?? human.slice(0, 600);
    recipients.push(failed(recipient, {
      ...(status ? { status } : {}),
      ...(action ? { action } : {}),
      diagnostic: why,
      ...(stripType(g.get('remote-mta')) ? { remoteMta: stripType(g.get('remote-mta'))! } : perMessage.get('reporting-mta') ? { remoteMta: stripType(perMessage.get('reporting-mta'))! } : {}),
    }));
  }
  return { kind: recipients.length > 0 ? 'dsn' : 'none', recipients, original: originalRef(parts, text), ...(omitted ? { omittedRecipients: omitted } : {}) };
}

const BOUNCE_FROM = /mailer-daemon|postmaster|mail delivery (system|subsystem)|mail ?administrator|mailerdaemon|delivery[- ]?(status|notification)|microsoftexchange|nobody@|notify@|bounce/i;
const BOUNCE_SUBJECT = /undeliver|undelivered|delivery (status notification|failure|failed|has failed|problem|incomplete|report)|returned mail|failure notice|mail delivery failed|non[- ]?deliver|could not be delivered|not delivered|delivery unsuccessful|mail (system )?error|permanent error|warning: message .* delayed|delayed mail|не доставлено|недоставленное|недоставлен|ошибка доставки|unzustellbar|nicht zustellbar|zustellung fehlgeschlagen|fehlgeschlagen|non remis|non recapitabile|onbestelbaar|devuelto|no entregado/i;
/** Where the bounce text ends and the returned original begins (tested on one line at a time). */
const ORIGINAL_START = /^(-{2,}\s*)?(this is a copy of the message|below this line is a copy|original message follows|-+ ?original message ?-+|the original message (was|is)|----- ?(returned|original) (message|mail)|message headers follow|original message headers|--- the header of the original message|исходное сообщение|заголовки исходного|original-nachricht|ursprüngliche nachricht|kopf der nachricht|\s*-{3,} (the )?(original|returned) |-{3,} ?(headers|copy) of )/i;

/** Where the first line matching `re` starts; each line is cut to 200 characters first, so no pattern sees unbounded input. */
function lineSearch(text: string, re: RegExp): number {
  for (let start = 0; start < text.length;) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl;
    if (re.test(text.slice(start, Math.min(end, start + 200)))) return start;
    start = end + 1;
  }
  return -1;
}

/** Where each address (lower case) is mentioned in a text: built once, so a report with many recipients stays linear. */
type Mentions = Map<string, number[]>;

function mentionIndex(text: string): Mentions {
  const index: Mentions = new Map();
  for (const { address, index: at } of findAddresses(text)) {
    const key = address.toLowerCase();
    const list = index.get(key);
    if (!list) index.set(key, [at]);
    else if (list.length < 4) list.push(at);
  }
  return index;
}

const IGNORED_LOCAL = /^(mailer-daemon|postmaster|noreply|no-reply|abuse|fbl)$/i;

/** The text following each mention of `recipient`, each up to the next paragraph naming an address. */
function windowFor(recipient: string, text: string, mentions: Mentions): string | undefined {
  const parts: string[] = [];
  for (const i of mentions.get(recipient.toLowerCase()) ?? []) {
    const after = text.slice(i + recipient.length, i + recipient.length + 1200);
    const cut = after.search(/\n\s*\n\s*(<?[^\s@<>]+@[^\s@<>]+>?)\s*(:|\n|$)/);
    const piece = (cut > 0 ? after.slice(0, cut) : after).trim();
    if (piece) parts.push(piece);
  }
  return parts.length > 0 ? parts.join(' ') : undefined;
}

/** Addresses that are really message ids or header values of the returned message, not recipients. */
function inMessageIdContext(text: string, index: number): boolean {
  const lineStart = Math.max(index - 300, text.lastIndexOf('\n', index) + 1);
  const line = text.slice(lineStart, index);
  return /^\s*(message-id|references|in-reply-to|return-path|received|dkim-signature|x-[a-z-]+)\s*:/i.test(line) || /<[^>\s]*$/.test(line) && /^(message-id|references)/i.test(line.trim());
}

function looksLikeBounce(parsed: ParsedMail, text: string): boolean {
  const from = headerOf(parsed, 'from') ?? '';
  const subject = parsed.subject ?? '';
  // A person replying about a bounce ("Re: Undeliverable: …") is not a bounce.
  if (/^(re|aw|sv|antw|ответ|fwd?|wg|tr)\s*:/i.test(subject.trim()) && !BOUNCE_FROM.test(from)) return false;
  const returnPath = headerOf(parsed, 'return-path') ?? '';
  if (BOUNCE_SUBJECT.test(subject)) return true;
  if (BOUNCE_FROM.test(from) && /fail|error|deliver|return|reject|недостав|zustell/i.test(`${subject} ${text.slice(0, 2000)}`)) return true;
  return /^<?>?$/.test(returnPath.trim()) && /(could not|couldn'?t|wasn'?t|was not|cannot|can'?t) be delivered|delivery (to the following|has failed)|permanent(ly)? (fatal )?error|the following address(es)? (had|failed)|this is the (mail system|qmail-send program)|mail delivery software/i.test(text);
}

function parseNonStandard(parsed: ParsedMail, parts: ReportPart[], text: string, ownAddresses: Set<string>): BounceReport | undefined {
  if (!looksLikeBounce(parsed, text)) return undefined;
  const original = originalRef(parts, text);
  const cutAt = lineSearch(text, ORIGINAL_START);
  const body = cutAt > 0 ? text.slice(0, cutAt) : text;
  const fromAddr = firstAddress(headerOf(parsed, 'from'))?.toLowerCase();
  const found = new Set<string>();
  let omitted = 0;
  for (const m of findAddresses(body)) {
    if (inMessageIdContext(body, m.index)) continue;
    // "Sender Address: orders@shop.example" names the sender, not a failed recipient.
    if (/(sender( address)?|absender|отправитель|from|von|expéditeur)\s*:?\s*["'<(]?\s*$/i.test(body.slice(Math.max(0, m.index - 40), m.index))) continue;
    const a = m.address.replace(/[.]+$/, '').replace(/^'+|'+$/g, '').toLowerCase();
    const local = a.slice(0, a.lastIndexOf('@'));
    if (IGNORED_LOCAL.test(local) || a === fromAddr || ownAddresses.has(a) || found.has(a)) continue;
    if (original.from && a === original.from.toLowerCase()) continue;
    if (found.size >= MAX_RECIPIENTS) { omitted++; continue; }
    found.add(a);
  }
  const recipients = found.size > 0 ? [...found] : original.to ? [original.to.toLowerCase()] : [];
  const mentions = mentionIndex(body);
  const lines = diagnosticLines(body);
  const diag = (r: string) => {
    const window = windowFor(r, body, mentions);
    if (found.size > 1) return window ?? lines ?? body.slice(0, 800);
    return [window, lines].filter(Boolean).join(' ') || body.slice(0, 800);
  };
  // Without a code in the text, the wording's canonical code stands in.
  return {
    kind: recipients.length > 0 ? 'non-standard' : 'none',
    original,
    recipients: recipients.map((r) => withCanonicalStatus(failed(r, { diagnostic: diag(r) }))),
    ...(omitted ? { omittedRecipients: omitted } : {}),
  };
}

/** The lines of a bounce text that carry the remote server's answer (SMTP codes and wording). */
function diagnosticLines(text: string): string | undefined {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const interesting = lines.filter((l) => /\b[245]\d\d\b|\b[245]\.\d{1,3}\.\d{1,3}\b|said:|error|reason|unknown|not exist|full|quota|rejected|denied|blocked|expired|delay|unreachable|not found|недостав|не существует|переполнен|unbekannt|voll/i.test(l));
  return interesting.length > 0 ? interesting.slice(0, 12).join(' ') : undefined;
}

const AUTO_SUBJECT = /^(auto(matic)?[- ]?(reply|response|antwort|answer)|automatische antwort|out of (the )?office|ooo\b|abwesenheit|autoreply|auto-reply|автоответ|автоматический ответ|vacation|absence|réponse automatique|risposta automatica|respuesta automática|i am (currently )?(out|away)|away from (the )?office|ich bin (nicht|bis))/i;
const OOO = /out of (the )?office|ooo\b|abwesen|vacation|urlaub|absence|away|отпуск|нет на месте|не в офисе|not in the office|nicht im (büro|buero|hause|haus)|außer haus|ausser haus|holiday|congé|ferie|vacaciones|fuera de la oficina|absent/i;

function parseAutoReply(parsed: ParsedMail, parts: ReportPart[], text: string): BounceReport | undefined {
  const autoSubmitted = (headerOf(parsed, 'auto-submitted') ?? '').toLowerCase();
  const subject = parsed.subject ?? '';
  const flagged = (autoSubmitted !== '' && autoSubmitted !== 'no') || headerOf(parsed, 'x-autoreply') !== undefined ||
    headerOf(parsed, 'x-autorespond') !== undefined || /auto[_-]?reply/i.test(headerOf(parsed, 'precedence') ?? '') ||
    (headerOf(parsed, 'x-auto-response-suppress') !== undefined && AUTO_SUBJECT.test(subject));
  if (!flagged && !AUTO_SUBJECT.test(subject.replace(/^(re|aw|fw|fwd)\s*:\s*/i, ''))) return undefined;
  const from = firstAddress(headerOf(parsed, 'from'))?.toLowerCase();
  const reason = OOO.test(`${autoSubmitted} ${subject} ${text.slice(0, 1000)}`) ? 'out-of-office' : 'auto-reply';
  return { kind: 'auto-reply', original: originalRef(parts, text), recipients: from ? [{ recipient: from, class: 'auto-reply', reason }] : [] };
}

/**
 * Parses one message. `ownAddresses` are our own addresses (the VERP recipient, the system
 * sender) that must never be taken for a bounced recipient. Never throws for bad input.
 */
export async function parseBounce(raw: Buffer, ownAddresses: Iterable<string> = []): Promise<BounceReport> {
  const canonical = normalizeLineEnds(raw);
  // Loaded on the first bounce: mailparser and its charset tables are a large part of an idle process's memory.
  const { simpleParser } = await import('mailparser');
  const parsed = await simpleParser(canonical, { skipImageLinks: true, skipTextLinks: true, maxHtmlLengthToParse: 2 * 1024 * 1024 });
  const text = (parsed.text ?? '').replace(/\r\n/g, '\n');
  const parts = reportParts(parsed, canonical);
  const own = new Set([...ownAddresses].map((a) => a.toLowerCase()));
  for (const to of findAddresses(headerOf(parsed, 'to') ?? '', 100)) own.add(to.address.toLowerCase());
  const report = parseArf(parsed, parts, text) ?? parseDsn(parts, text) ?? parseNonStandard(parsed, parts, text, own) ?? parseAutoReply(parsed, parts, text);
  const base = report ?? { kind: 'none' as const, recipients: [], original: originalRef(parts, text) };
  return {
    ...base,
    ...(parsed.subject ? { subject: parsed.subject } : {}),
    ...(parsed.from?.value[0]?.address ? { from: parsed.from.value[0].address } : {}),
  };
}
