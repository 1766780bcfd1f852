// Bounces in plain words (Exim, qmail, Postfix without a DSN, Sendmail v5, Exchange 2003, Domino,
// Notes, Gmail, Yahoo, Courier, IMail, InterScan, OpenSMTPD, DragonFly and the rest): is it a
// bounce at all, where the notification ends and the returned message begins, which addresses
// are the failed recipients (not the sender, our own addresses, header lines of the original),
// and the paragraph that says what happened to each. Pure.
import { findAddresses } from './addresses.js';
import { diagnosticOf, factsIn, MAX_RECIPIENTS, tells, type Extracted, type Failure } from './failure.js';
import { originalHeader, type MailView } from './message.js';
import { parseHeaders, splitHead } from './mime-parts.js';

const BOUNCE_FROM = /mailer-daemon|post_?master|-admin@|^owner-|-owner@|-request@|mail delivery (system|subsystem|service)|mail ?administrator|mailerdaemon|delivery[- ]?(status|notification|failure)|microsoftexchange|nobody@|notify@|bounce|mail ?system|smtp ?gateway|auto-?notify|no-?reply@|mail-?daemon|interscan|mailguard|antispam|email security/i;
const BOUNCE_SUBJECT = /undeliver|undelivered|deliver(y|ies)? (status notification|failure|failed|has failed|problem|incomplete|report|error|notification|delayed)|delivery status|returned mail|return(ed|ing) (mail|message)|failure notice|mail delivery (failed|failure|error|problem)|non[- ]?deliver|could not be delivered|cannot be delivered|not delivered|delivery unsuccessful|mail (system )?error|permanent (error|failure)|message delayed|delayed mail|delayed message|warning:? (could not|message)|message (could not|has not been) (be )?(delivered|sent)|failed delivery|failure delivery|delivery failure|mail failure|mail could not|(returned|undeliverable|rejected) (mail|message)|message not delivered|loop alert|transient failure|there was an error sending|error sending|delivery notification|system error|mail (was )?not (sent|delivered)|не доставлено|недоставленное|недоставлен|ошибка доставки|не может быть доставлено|unzustellbar|nicht zustellbar|zustellung fehlgeschlagen|fehlgeschlagen|non remis|non recapitabile|onbestelbaar|devuelto|no entregado|non distribuibile|メールエラー|エラー|送信できません|返送/i;
/** Sentences a bounce uses (in its text) that ordinary mail does not. */
const BOUNCE_WORDS = /(could not|couldn'?t|wasn'?t|was not|cannot|can'?t|unable to) (be )?deliver|delivery (to the following|has failed|failed|of your message|problem)|permanent(ly)? (fatal )?(error|failure)|the following (address(es)?|recipients?)|this is the (mail system|qmail-send program|postfix program|mail delivery)|mail delivery (software|system|subsystem)|did not reach the following|was not delivered to|not been delivered|failed permanently|has been delayed|error delivering your mail|unable to deliver|message could not be delivered|delivery status notification|there was an error|had (permanent )?(fatal )?errors|rejected by (a|the) remote (mail )?server|undeliverable|returned mail|delivery failed|mail system error|error occurred while trying to deliver|transcript of session|not yet been delivered|will be retried|requested action not taken|error message below|invalid (user|recipient) address/i;
/** Where the notification ends and the returned original begins (tested on one line at a time). */
const ORIGINAL_START = /^\s*(-{2,}\s*)?(this is a copy of (the|your) message|below this line is a copy|(the )?original message (follows|as follows|headers? follows?|(was|is)(:| attached| included| below| enclosed| as follows))|original mail as follows|-+ ?original message ?-+|----- ?(returned|original|unsent|undelivered) (message|mail)|(unsent|returned|undelivered) message follows|message headers follow|original message headers|the header of the original message|headers? of the (original|returned) message|included is a copy of the message|enclosed is a copy of the message|returned message|-{3,} ?(headers|copy) of |------- returned message|-------original mail info|исходное сообщение|заголовки исходного|original-nachricht|ursprüngliche nachricht|kopf der nachricht|\s*-{3,} ?(the )?(original|returned|following) (message|mail))/i;
const WARNING = /warning message only|will be retried|has not yet been delivered|not yet been delivered|delivery (has been |is |was )?delayed|has been delayed|still (trying|being retried|in (the )?queue)|will (continue to )?(try|retry)|(continue|keep) trying|only a temporary failure report|no action is required|delay(ed)? (status )?notification|will keep trying|retry (will|shall) continue|could not send mail for past|message delayed|warning[:-]+\s*could not send|is still being tried/i;
const WARNING_SUBJECT = /\bdelay|\bwarning|transient|not yet delivered|still being|will be retried|retry/i;
/** Sentences every bounce of one MTA carries whatever went wrong; they must not decide a reason. */
export const BOILERPLATE = /this is a permanent error[;.,]?(\s*i'?ve given up\.?)?(\s*sorry it didn'?t work out\.?)?|i'?m afraid i wasn'?t able to deliver your message to the following addresses\.?|(could not|couldn'?t) be delivered to one or more (of its )?\s*recipients\.?|the following address(\(es\)|es)?\s+failed:?|we recommend contacting the other email provider for further information about the cause of this error\.?|рекомендуем вам проверить корректность указания адресов получателей\.?|for further assistance, please (send mail to|contact) [^\n]*|if you do so, please include this problem report[^\n]*|you can delete your own text from the attached returned message\.?/gi;
/** Local parts that are never a bounced recipient. */
const IGNORED_LOCAL = /^(mailer-daemon|postmaster|mailerdaemon|abuse|fbl|noreply|no-reply|do-not-reply|donotreply|nobody|root|bounces?)$/i;
/** Header lines of a returned message, quoted in the notification: their addresses are not recipients. */
const QUOTED_HEADER = /^\s*(received|message-id|references|in-reply-to|return-path|reply-to|sender|from|dkim-signature|authentication-results|x-[a-z0-9-]+|arc-[a-z-]+|list-[a-z-]+|delivered-to|resent-[a-z-]+|errors-to|disposition-notification-to)\s*:/i;
/** Words just before an address that make it the sender, not a recipient. */
const SENDER_BEFORE = /(mail from|envelope[- ]from|envelope sender|sent by|message sent by|(^|[\s(])from|sender( address)?|von|absender|отправитель|expéditeur|remitente|mittente|originator|return-path|generated from|reply-to|on behalf of|original sender|your address)\s*[:=]?\s*["'<(\[]?\s*$/i;
const TO_LINE = /^\s*(to|an|à|a|para|кому)\s*:/i;
/** Words just before an address that make it a message id, not a mailbox (transcripts quote Message-ID lines anywhere). */
const MESSAGE_ID_BEFORE = /(message-?id|references|in-reply-to|msgid)\s*[:=]?\s*<?\s*$/i;

export function looksLikeBounce(view: MailView, text: string): boolean {
  const from = view.header('from') ?? '';
  const subject = view.subject;
  // A person replying about a bounce ("Re: Undeliverable: …") is not a bounce.
  if (/^(re|aw|sv|antw|ответ|fwd?|wg|tr)\s*:/i.test(subject) && !BOUNCE_FROM.test(from)) return false;
  if (view.headers.has('x-failed-recipients')) return true;
  const returnPath = view.header('return-path') ?? '';
  const nullSender = /^<?\s*>?$/.test(returnPath.trim());
  if (BOUNCE_SUBJECT.test(subject) && (BOUNCE_FROM.test(from) || nullSender || BOUNCE_WORDS.test(text.slice(0, 5000)) || view.headers.has('auto-submitted'))) return true;
  if (BOUNCE_FROM.test(from) && (BOUNCE_WORDS.test(text.slice(0, 5000)) || BOUNCE_SUBJECT.test(subject))) return true;
  if (nullSender && BOUNCE_WORDS.test(text.slice(0, 5000))) return true;
  return view.headers.has('x-mailer-daemon') || /^(auto-replied|auto-generated)/i.test(view.header('auto-submitted') ?? '') && BOUNCE_WORDS.test(text.slice(0, 5000));
}

/** Where the first line matching `re` starts (lines cut to 200 characters first, so no pattern sees unbounded input). */
export function lineSearch(text: string, re: RegExp, from = 0): number {
  for (let start = from; start < text.length;) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl;
    if (re.test(text.slice(start, Math.min(end, start + 200)))) return start;
    start = end + 1;
  }
  return -1;
}

/** The notification's own text: up to the returned original, when it is inline. */
export function notificationText(text: string): { body: string; rest: string } {
  // The marker may follow a short introduction only: skip the first line (a bounce never starts with its original).
  const cut = lineSearch(text, ORIGINAL_START, Math.min(text.indexOf('\n') + 1 || text.length, text.length));
  return cut > 0 ? { body: text.slice(0, cut), rest: text.slice(cut) } : { body: text, rest: '' };
}

/** Where the line holding `index` starts, looking back at most 2,000 characters (a report may be one huge line). */
function lineStart(text: string, index: number): number {
  const from = Math.max(0, index - 2000);
  return from + text.slice(from, index).lastIndexOf('\n') + 1;
}

export interface Mention {
  address: string;
  index: number;
}

/** Addresses in the notification that may be failed recipients, in order, each once. */
function candidates(body: string, exclude: Set<string>): Mention[] {
  const seen = new Map<string, Mention>();
  const toLine: Mention[] = [];
  for (const m of findAddresses(body, 20 * MAX_RECIPIENTS)) {
    let address = m.address.replace(/\.+$/, '').replace(/^['"]+|['"]+$/g, '').toLowerCase();
    // Exchange and Outlook write "user@example.com<mailto:user@example.com>"; Japanese MTAs glue punctuation.
    address = address.replace(/^mailto:/, '');
    const at = address.lastIndexOf('@');
    if (at <= 0 || IGNORED_LOCAL.test(address.slice(0, at)) || exclude.has(address) || seen.has(address)) continue;
    const start = lineStart(body, m.index);
    const line = body.slice(start, Math.min(body.length, m.index + 200));
    if (QUOTED_HEADER.test(line)) continue;
    const before = body.slice(Math.max(0, m.index - 60), m.index).replace(/\s+/g, ' ');
    if (SENDER_BEFORE.test(before) || MESSAGE_ID_BEFORE.test(before)) continue;
    if (/:\/\/\S*$/.test(before) || /^[^\s]*\?[^\s]*=$/.test(before.split(' ').pop() ?? '')) continue;
    if (/^\S*>?\s*\.{0,3}\s*sender ok/i.test(body.slice(m.index + m.address.length, m.index + m.address.length + 30))) continue;
    const mention = { address, index: m.index };
    if (TO_LINE.test(line)) {
      if (!toLine.some((x) => x.address === address)) toLine.push(mention);
      continue;
    }
    seen.set(address, mention);
  }
  // "To:" lines name the original's recipients; they count only when nothing else is named.
  return seen.size > 0 ? [...seen.values()] : toLine;
}

/** The paragraph about each recipient: from the line of its first mention to the next recipient's. */
export function windows(body: string, mentions: Mention[]): Map<string, string> {
  const sorted = [...mentions].sort((a, b) => a.index - b.index);
  const out = new Map<string, string>();
  sorted.forEach((m, i) => {
    const start = lineStart(body, m.index);
    const next = sorted[i + 1];
    const end = next ? Math.max(lineStart(body, next.index), m.index + m.address.length) : body.length;
    out.set(m.address, body.slice(start, Math.min(end, start + 3000)));
  });
  return out;
}

/** The failed recipients an X-Failed-Recipients header names (Exim, Google). */
export function failedRecipientsHeader(view: MailView): string[] {
  const values = view.headers.get('x-failed-recipients') ?? [];
  return [...new Set(values.flatMap((v) => findAddresses(v, MAX_RECIPIENTS)).map((a) => a.address.toLowerCase()))];
}

/** Reads a plain-words bounce; undefined when the message is not one. */
export function readTextBounce(view: MailView, own: Set<string>): Extracted | undefined {
  const { body, rest } = notificationText(view.text);
  if (!looksLikeBounce(view, body)) return undefined;
  if (!view.original && rest) view.original = parseHeaders(splitHead(rest.replace(/^[^\n]*\n+/, '').replace(/^\s+/gm, (s) => (s.includes('\n') ? '\n' : s))).head);
  const exclude = new Set(own);
  if (view.from) exclude.add(view.from);
  // The bounce goes to the original's sender: its To and the original's From are the sender, unless
  // they are all the text names (a redacted or self-addressed report).
  const sender = new Set([...exclude, ...view.to]);
  const originalFrom = findAddresses(originalHeader(view, 'from') ?? '', 1)[0]?.address.toLowerCase();
  if (originalFrom) sender.add(originalFrom);
  const warning = WARNING.test(body.slice(0, 6000)) || WARNING_SUBJECT.test(view.subject);
  const header = failedRecipientsHeader(view).filter((a) => !own.has(a));
  let mentions = candidates(body, sender);
  if (mentions.length === 0 && header.length === 0) mentions = candidates(body, exclude);
  if (header.length > 0) {
    // The header is authoritative; the text says why (when it names them).
    const named = new Map(mentions.map((m) => [m.address, m]));
    mentions = header.map((address) => named.get(address) ?? { address, index: -1 });
  }
  let omitted = 0;
  if (mentions.length > MAX_RECIPIENTS) {
    omitted = mentions.length - MAX_RECIPIENTS;
    mentions = mentions.slice(0, MAX_RECIPIENTS);
  }
  const cleaned = body.replace(BOILERPLATE, ' ');
  if (mentions.length === 0) {
    // Named by no address in the text (a local part only, or nothing): the returned original's recipient.
    const to = findAddresses(originalHeader(view, 'to') ?? '', 2).map((a) => a.address.toLowerCase()).filter((a) => !own.has(a));
    const recipients = to.length === 1 ? to : [];
    // Neither a recipient nor a reason: nothing to record.
    if (recipients.length === 0 && !tells(cleaned)) return { kind: 'none', failures: [] };
    return {
      kind: 'non-standard',
      failures: (recipients.length > 0 ? recipients : [undefined]).map((recipient) => ({
        ...(recipient ? { recipient } : {}), ...factsIn(cleaned), diagnostic: diagnosticOf(cleaned), context: cleaned.slice(0, 4000), ...(warning ? { warning } : {}),
      })),
    };
  }
  const located = mentions.filter((m) => m.index >= 0);
  const paragraphs = new Map([...windows(body, located)].map(([a, p]) => [a, p.replace(BOILERPLATE, ' ')]));
  const single = mentions.length === 1;
  const failures: Failure[] = mentions.map(({ address }) => {
    const own = paragraphs.get(address);
    // One recipient: the whole notification speaks about it (many put the reason before the address).
    const context = single || !own ? cleaned.slice(0, 6000) : own;
    const facts = factsIn(own ?? context);
    const wide = single ? factsIn(cleaned) : {};
    return {
      recipient: address,
      ...wide,
      ...facts,
      diagnostic: diagnosticOf(single ? cleaned : own ?? context),
      context,
      ...(warning ? { warning } : {}),
    };
  });
  return { kind: 'non-standard', failures, ...(omitted ? { omitted } : {}) };
}

/** Where each address is first mentioned in a text (lower case), built once for many lookups. */
export function firstMentions(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of findAddresses(text, 20 * MAX_RECIPIENTS)) {
    const a = m.address.toLowerCase();
    if (!out.has(a)) out.set(a, m.index);
  }
  return out;
}
