// One classifier for every failure: a bounce's per-recipient facts, or an upstream's synchronous
// SMTP reply. Output: a class (what the relay does) and a fine reason (what happened).
//
// Order of evidence: a success is nothing; a warning is never final; a refusal of the *sender*
// (after MAIL FROM, at connection, "sender address rejected", X.1.7/X.1.8) never counts against
// the recipient; then the wording, most specific first (enhanced codes are often generic: 5.0.0,
// 5.7.1, 5.1.0); then the RFC 3463 code; then the basic reply code.
//
// A missing mailbox is *hard* (it suppresses) only on strong evidence: an X.1.1 status, a refusal
// at RCPT TO, or the receiving system's own directory lookup. "User unknown" answered after DATA or
// without saying when is often a content filter answering as if the user did not exist (Japanese
// carriers do so by design): that is `filtered`, soft. A permanent failure whose cause is unclear is
// hard with the reason `other`, which does not suppress. Pure.
import { findAddresses } from './addresses.js';

export type BounceClass = 'hard' | 'soft' | 'policy' | 'complaint' | 'report' | 'auto-reply' | 'none';

/** The SMTP stage a refusal came at, when the report says. */
export type SmtpCommand = 'CONN' | 'HELO' | 'AUTH' | 'MAIL' | 'RCPT' | 'DATA';

export interface FailureInput {
  /** RFC 3463 enhanced status ("5.1.1"). */
  status?: string;
  /** Basic SMTP reply code (550). */
  replyCode?: number;
  /** DSN Action: failed, delayed, delivered, … */
  action?: string;
  /** The SMTP command the refusal answered. */
  command?: SmtpCommand;
  /** Remote diagnostic text (Diagnostic-Code, or the reply text) and the report's words about it. */
  diagnostic?: string;
  /** The report is a warning: the sender's server still retries. */
  warning?: boolean;
  /** The report comes from the system that holds the mailboxes and looked the address up itself. */
  authoritative?: boolean;
}

export interface Classification {
  class: BounceClass;
  reason: string;
}

type Rule = readonly [RegExp, BounceClass, string];

const MAILBOX_FULL: Rule = [/mail ?box(es)? (is |was )?full|mailbox (is )?over|over ?quota|quota (exceeded|exceed|full)|exceeded (the |his |her |their |its )?(storage|quota|mailbox)|(mailbox|account|inbox|storage|disk) (quota|size|storage)? ?(limit )?(has been |was |is )?(exceeded|full)|disk quota|user is over|account is full|inbox is full|full mailbox|mailfolder is full|not enough (storage|space) (in|for) (the |this )?(mailbox|user|account)|mailbox size exceeds|insufficient (mailbox )?space (in|for) (the )?(mailbox|user)|exhausted (the )?(allowed )?(storage|space|quota)|storage space|speichervolumen|speicherplatz|postfach (ist )?voll|boîte (aux lettres )?(est )?pleine|casilla (llena|está llena)|переполнен|ящик (полон|переполнен)|квот[а-я]* превышен|превышен[а-я]* квот|メールボックスが(いっぱい|一杯)|容量(超過|オーバー)|送信先のメールボックスが一杯|as their mailbox is full|\b[45]\.2\.2\b/i, 'soft', 'mailbox-full'];
const SYSTEM_FULL: Rule = [/insufficient (system )?(storage|resources)|system (storage|disk) (is )?full|out of (disk|storage)|no space left on device|server (is )?full|\b[45]\.3\.1\b/i, 'soft', 'system-full'];
const TOO_LARGE: Rule = [/message (size|length) exceeds|message (is |was )?too (large|big|long)|exceeds? (the )?(maximum|message size|size limit|allowed size|fixed (maximum )?message size)|size (limit )?exceeded|maximum (allowed )?(message )?size|mail size|larger than (the )?(allowed|maximum|limit)|line (length )?limit exceeded|too big for|zu gro(ß|ss)|trop (gros|volumineux)|\b[45]\.2\.3\b|\b[45]\.3\.4\b/i, 'soft', 'too-large'];
const RATE_LIMITED: Rule = [/rate ?limit|rate of|unexpected volume|high volume|too much (mail|traffic)|too many (messages|mails|e-?mails|connections|recipients|sessions|concurrent|simultaneous|invalid recipients|errors)|receiving mail (at a|too) (rate|fast)|sending (rate|quota|limit)|throttl|unusual rate|exceeded (the )?(maximum )?(number|rate|limit|sending)|(daily|hourly) (sending )?(quota|limit)|slow down|too fast|connection limit|exceeds? .{0,30}(limit of|per (hour|day|minute))|temporarily deferred due to|4\.7\.28|\b[45]\.5\.3\b|превышен[а-я]* лимит|слишком много/i, 'soft', 'rate-limited'];
const SUSPENDED: Rule = [/(account|mailbox|address)( that you tried to reach)? (has been |is |was )?(temporar(il)?y )?(disabled|deactivated|suspended)\b|account (has been |is |was )?(temporar(il)?y )?(disabled|deactivated|suspended|locked|frozen|inactive|closed|expired|on hold|blocked by (the )?administrator)|mail ?box (is |has been |was )?(temporar(il)?y )?(disabled|deactivated|suspended|inactive|locked|frozen|closed|not active)|(user|recipient|address|e-?mail address) (account )?(is |has been |was )?(temporar(il)?y )?(disabled|deactivated|suspended|inactive|locked|frozen)|(user|recipient|address|account) .{0,60}temporar(il)?y locked|is no longer (in use|active|valid|available|monitored|being monitored)|no longer accepts (e-?)?mail|(has been|was) discontinued|or discontinued|inactive (user|account|mailbox)|not an active (account|user|mailbox)|account is not active|(user|account|mailbox) (not active|inactive)|заблокирован|отключен|неактивн|gesperrt|deaktiviert|desactivad|suspendu/i, 'soft', 'suspended'];
const HAS_MOVED: Rule = [/has moved|address has changed|no longer (at|with) (this|our)|moved to (a )?new address|\b5\.1\.6\b/i, 'hard', 'has-moved'];
const NOT_ACCEPTING: Rule = [/null mx|does not accept (e-?)?mail(?! from)|accepts no (e-?)?mail|no smtp service|not accepting network messages|couldn'?t find a mail exchanger|domain (does not|doesn'?t) (accept|receive) (e-?)?mail(?! from)/i, 'hard', 'domain-accepts-no-mail'];
const RELAY_DENIED: Rule = [/relay(ing)? (access )?(is )?(denied|not permitted|prohibited|not allowed|refused)|not (permitted|allowed|authori[sz]ed) to relay|unable to relay|relay not (permitted|allowed)|we do not relay|no relaying|relaying (mail )?(to .{1,80} )?(is )?(not|denied)|isn'?t in my list of allowed rcpthosts|not in my list of allowed rcpthosts|non-accepted domain|\b5\.7\.54\b/i, 'policy', 'relay-denied'];
const AUTH_FAILED: Rule = [/dmarc|\bspf\b|\bdkim\b|domainkeys|unauthenticated (e-?mail|sender|message|mail)|sender policy framework|not pass .{0,40}(authentication|verification)|authentication (checks? )?(have |has )?fail|fails? (the )?(sender )?authentication|sender (domain )?(is )?not authori[sz]ed|\b[45]\.7\.(2[0-4]|26|509|510|511|515)\b/i, 'policy', 'auth-failed'];
const BLOCKED: Rule = [/spamhaus|spamcop|barracuda(central)?|\bsorbs\b|uceprotect|abuseat|\bdnsbl|\brbl\b|\bsurbl\b|block ?list|black ?list|deny ?list|(?<!not )listed (at|on|in|by) (?!domino|the domino|public name|(the )?directory)|blocked (using|by|for abuse|because of (your|the sending) ip)|banned sending ip|sending ip|\bs3150\b|(your |sending |client |connecting )(ip|host|server)( address)? .{0,60}(block|reject|refus|ban|not allowed|not permitted|listed)|(ip|address) .{0,40}(is )?(on (a|our) )?(block|black)|poor reputation|low reputation|bad reputation|reputation (of|for) (the )?(sending|your|ip|sender)|client host .{0,80}(blocked|rejected|refused)|client host rejected|\bip=?\s?\[?\d{1,3}(\.\d{1,3}){3}\]? .{0,40}(block|reject|refus|not allowed)|blocked .{0,30}\bip\b|\bptr\b|reverse (dns|lookup|mapping)|\brdns\b|hostname (does not|doesn'?t) (resolve|match)|cannot find your hostname|no valid (ptr|reverse|hostname)|servers? without a valid sender domain|please use the smtp server of your isp|use your (isp|provider)'?s? (smtp|mail) (server|relay)|dynamic(ally assigned)? ip|dial-?up|residential|weren'?t sent|not allowed to send (mail|e-?mail)|refused to talk to me|service refus|connection (refused|rejected) (due to|because|for)|invalid ip for sending|\b\d{1,3}(\.\d{1,3}){3}\]? (is )?(blocked|blacklisted|listed|banned|rejected|refused|not allowed)|aup#(cxbl|cdrbl|cxdns|ipbl\d*|cxsmtp|cxcnct|cxmxrt|cxthrt|cxmj|[a-z]*bl\d*)|traffic not accepted from this ip|from your (ip|server|host|network|mail server)|\b5\.7\.(25|6[0-4]\d|70[0-9]|750)\b/i, 'policy', 'blocked'];
const VIRUS: Rule = [/virus|malware|infected|trojan|\bworm\b|dangerous (content|attachment)|malicious/i, 'policy', 'virus'];
const SPAM: Rule = [/\bspam\b|spam-?like|\bjunk\b|unsolicited|bulk (mail|e-?mail)|content (was )?(rejected|blocked|refused)|rejected (because|due to|as) .{0,30}(content|spam)|(message|mail) (content )?(was )?(rejected|blocked|refused|looks like|classified|identified|flagged) .{0,40}(content|spam|phish|suspicious)|suspicious|phish|message rejected as|mail rejete|detected as spam|scored as spam|high (spam )?score|\b5\.7\.350\b/i, 'policy', 'spam-content'];
const CONTENT_ERROR: Rule = [/header (error|syntax|is invalid|too long)|invalid (message )?header|malformed (message|header|mime)|(message|header)s? (is |are )?not (rfc|compliant)|not (rfc ?)?(2|5)?822 compliant|rfc ?(2|5)822|duplicate (header|message-id)|multiple (subject|from|to|date|message-id) headers|missing (required )?(header|date|message-id|from)|bare (lf|linefeed|newline|cr)|8-?bit (data|characters?|content)|illegal (character|byte)|invalid character|media error|mime (error|syntax)|line too long|\b[45]\.6\.\d+\b/i, 'policy', 'content-error'];
const FILTERED: Rule = [/rejected by (the )?(domain|content|mail|spam|recipient'?s?)? ?filter|filtered|refused by (the )?filter|domain filter/i, 'soft', 'filtered'];
const EXPIRED: Rule = [/expired|delivery time|retry (time|timeout|period|limit)|(too long|been|remained) in (the )?queue|in the queue too long|giving up|gave up|given up|could not (be )?deliver(ed)? (for|within|in) (the last )?\d+|cannot send (message|mail) for \d+|not (been )?delivered (within|for|after|in) \d+|(after|for) (more than )?\d+ (days?|hours?) (on|in) the queue|multiple retries|failing for a long time|failed \d+ attempts|could not send mail for past|\b[45]\.4\.7\b/i, 'soft', 'expired'];
const NETWORK: Rule = [/connection (timed out|refused|reset|closed|lost|dropped|failed)|timed out|time-?out|could not connect|unable to connect|can'?t connect|failed to connect|no route to host|network (is )?unreachable|host (is )?(unreachable|not reachable|down)|not reachable|not responding|no answer|lost connection|socket error|did not accept our requests to connect|broken pipe|tls (handshake )?(fail|error)|name service error|dns (lookup )?(failure|timeout|error|temporary)|temporary (dns|lookup|name) |try again later|service (is )?(currently )?(unavailable|not available)|\b[45]\.4\.[0-2]\b/i, 'soft', 'network'];
const MAILER_ERROR: Rule = [/mailer error|pipe to \||\|\/|procmail|local delivery (failed|error)|command (died|failed|exited)|exited with|x-unix|delivery to (a )?(program|file|pipe)/i, 'soft', 'mailer-error'];
const SYSTEM: Rule = [/system error|internal (server )?error|local (error|problem)|temporar(il)?y (local )?(problem|failure|error|unavailable)|mail (loop|for .{1,100} loops back)|loops? back to myself|routing loop|too many hops|hop count|loop (detected|alert)|duplicated message-id|unable to contact ldap|ldap|configuration error|misconfigur|resources? (are )?temporarily unavailable|out of memory|error (in|while) processing|processing error|\b[45]\.(3\.[0235]|4\.[3-6])\b/i, 'soft', 'system'];
const SYNTAX: Rule = [/syntax error|command (not )?(unrecognized|recognized)|unrecognized command|bad sequence|malformed address|invalid command|\b[45]\.5\.[0-24-9]\b/i, 'soft', 'syntax-error'];
const GREYLISTED: Rule = [/gr[ae]y ?-?list/i, 'soft', 'greylisted'];
const HOST_UNKNOWN: Rule = [/host (or domain name )?not found(?!, try again)|unknown host|host unknown|(host|domain) name (lookup )?(not found|failed|failure)|domain (name )?not found|no such domain|domain .{0,60}(does not|doesn'?t) exist|unrout(e)?able (mail )?(domain|address)|\bnxdomain\b|no mx (records? )?(found|for|host)|no (valid )?mx|name or service not known|domain is not reachable\. please check|unknown domain|invalid domain|domain (is )?(invalid|not valid|not configured)|recipient domain .{0,40}(invalid|not valid|does not exist)|mail for .{1,100} loops back|authoritative answer from name server|illegal (host|domain)|домен .{0,20}не (существует|найден)|domain existiert nicht|\b5\.1\.2\b/i, 'hard', 'host-unknown'];
const USER_UNKNOWN = /user ?unknown|recipient address rejected: access denied|unknown (user|recipient|mailbox|address|local[- ]?part|alias|e-?mail( address)?|virtual user)|unknown or illegal alias|no such (user|recipient|mailbox|account|address|person|local user|e-?mail)|(user|mailbox|recipient|address|account|e-?mail( address)?|addressee) (does not|doesn'?t|did not|not) exists?|does not exist|(doesn'?t|does not|don'?t) have an? .{0,40}account|no account by that name|(recipient|user|mailbox|address|account|addressee|e-?mail address) (was )?(not found|unknown|invalid)|address (couldn'?t|could not|can'?t|cannot) be found|(wasn'?t|was not) found at the destination|recipientnotfound|recipient not found|invalid (recipient|mailbox|user|address|e-?mail)|mailbox (not found|unavailable|not available|unknown|invalid|does not exist|not present)|no mailbox|not a valid (mailbox|user|recipient|address)|is not a known user|not our customer|addressee unknown|not listed in (the )?(domino )?directory|not listed in (the )?(public )?name (and|&) address book|recipient name is not recognized|no such address|there is no one at this address|badrcptto|validrcptto|chkusr|no one here by that name|check if (the )?address is correct|address (is )?(invalid|not valid|unknown)|bad (destination )?(recipient|mailbox|address)|unbekannt|existiert nicht|gibt es nicht|nicht (vorhanden|gefunden)|utilisateur inconnu|n'existe pas|no existe|inexistente|sconosciut|nessun utente|не существует|нет такого|неизвестн|несуществующ|存在しません|存在しない|ディレクトリのリストにありません/i;
/** The recipient address is malformed (RFC 3463 X.1.3): it can never be delivered. */
const BAD_ADDRESS = /(bad|invalid) (recipient |destination (mailbox )?)?address syntax|recipient address syntax|syntax (error )?in (the )?(recipient|destination) address|invalid address format|\b5\.1\.3\b/i;
/** Wording of systems that looked the address up in their own directory (not a filter's pretext). */
const DIRECTORY_LOOKUP = /not listed in (the )?(domino )?directory|not listed in (the )?(public )?name (and|&) address book|recipient name is not recognized|msexch:ims:.{0,80}unknown recipient|resolver\.adr\.recipientnotfound|recipient not found by smtp address lookup|unknown user:\s*["<]?\S|no mailbox here by that name|chkusr|\(and other recipients in the same domain\)\. please check if address is correct|delivery error: dd this user doesn'?t have an? \S{1,80} account|local mailbox \S{1,200} is unavailable: user not found|requested action not taken: no such user here|5\.4\.1 recipient address rejected: access denied/i;
const POLICY: Rule = [/polic(y|ies)|access denied|administrative(ly)? prohibit|prohibited|not authori[sz]ed|unauthori[sz]ed|not permitted|denied|refused|forbidden|rejected for|security|\b[45]\.7\.\d{1,3}\b/i, 'policy', 'policy'];
/** Sender-side refusals: the recipient is not the problem. */
const SENDER_REJECTED = /sender (address|domain|e-?mail)? ?(rejected|refused|invalid|not allowed|unknown|verify failed|verification failed)|(sender|from|mail from|envelope) domain .{0,40}(does not exist|doesn'?t exist|not found|invalid|unknown|not resolv)|domain of (the )?sender|(domain of )?sender address .{0,60}(does not exist|rejected|invalid)|sender verify|from address|invalid (mail )?from|envelope sender|return path|mail from .{0,40}(rejected|refused|invalid)|your (domain|address) (is )?(not|invalid)|provide a valid from|domain is invalid\. please provide|\b[45]\.1\.[78]\b|\b5\.7\.27\b/i;

/** Expiry wording that says delivery is over (even inside a report that calls itself a warning). */
const FINAL_EXPIRY = /envelope expired|giving up|gave up|given up|retry timeout exceeded|in the queue too long|not going to try again|could not be delivered (for|within)/i;

/** Wording rules in the order they are tried (most specific first). */
const WORDING: readonly Rule[] = [
  MAILBOX_FULL, SYSTEM_FULL, TOO_LARGE, RATE_LIMITED, SUSPENDED, HAS_MOVED, NOT_ACCEPTING, RELAY_DENIED, AUTH_FAILED, BLOCKED,
  VIRUS, SPAM, CONTENT_ERROR, FILTERED, GREYLISTED,
];
/** Tried after the address rules: words about transport and the remote system. */
const LATE_WORDING: readonly Rule[] = [EXPIRED, MAILER_ERROR, SYSTEM, NETWORK, SYNTAX, POLICY];

/** RFC 3463 codes (and the registry's later ones) when the wording says nothing known. */
function byStatus(status: string, command?: SmtpCommand): Classification | undefined {
  const [, subject, detail] = status.split('.').map(Number) as [number, number, number];
  switch (subject) {
    case 1:
      if (detail === 1) return { class: 'hard', reason: 'user-unknown' };
      if (detail === 2) return { class: 'hard', reason: 'host-unknown' };
      if (detail === 3) return { class: 'hard', reason: 'bad-address' };
      if (detail === 6) return { class: 'hard', reason: 'has-moved' };
      if (detail === 7 || detail === 8) return { class: 'policy', reason: 'sender-rejected' };
      if (detail === 10) return { class: 'hard', reason: 'domain-accepts-no-mail' };
      // "Other address status" refused at RCPT: the address was looked at and refused.
      if (detail === 0 && command === 'RCPT') return { class: 'hard', reason: 'user-unknown' };
      return undefined;
    case 2:
      if (detail === 1) return { class: 'soft', reason: 'suspended' };
      if (detail === 2) return { class: 'soft', reason: 'mailbox-full' };
      if (detail === 3) return { class: 'soft', reason: 'too-large' };
      return { class: 'soft', reason: 'filtered' };
    case 3:
      if (detail === 1) return { class: 'soft', reason: 'system-full' };
      if (detail === 4) return { class: 'soft', reason: 'too-large' };
      return { class: 'soft', reason: 'system' };
    case 4:
      if (detail === 7) return { class: 'soft', reason: 'expired' };
      if (detail >= 3) return { class: 'soft', reason: 'system' };
      return { class: 'soft', reason: 'network' };
    case 5:
      return detail === 3 ? { class: 'soft', reason: 'rate-limited' } : { class: 'soft', reason: 'syntax-error' };
    case 6:
      return { class: 'policy', reason: 'content-error' };
    case 7:
      if (detail === 13) return { class: 'soft', reason: 'suspended' };
      if (detail === 25) return { class: 'policy', reason: 'blocked' };
      if (detail === 27) return { class: 'policy', reason: 'sender-rejected' };
      if (detail === 28) return { class: 'soft', reason: 'rate-limited' };
      if ((detail >= 20 && detail <= 26) || detail === 509 || detail === 510 || detail === 511 || detail === 515) return { class: 'policy', reason: 'auth-failed' };
      if (detail >= 600 && detail <= 649) return { class: 'policy', reason: 'blocked' };
      return { class: 'policy', reason: 'policy' };
    default:
      return undefined;
  }
}

/** 5, 4 or undefined: is the failure permanent? From the warning flag and Action, then status, then reply code. */
export function permanence(f: FailureInput): 4 | 5 | undefined {
  const action = f.action?.toLowerCase();
  if (f.warning || action === 'delayed') return 4;
  const s = f.status?.[0] ?? (f.replyCode ? String(f.replyCode)[0] : undefined);
  if (s === '5') return 5;
  if (s === '4') return 4;
  if (action === 'failed') return 5;
  return undefined;
}

/** "user unknown" is hard only when the report shows the address itself was looked up and refused. */
function missingMailbox(f: FailureInput, text: string): Classification {
  // X.1.1 says "bad destination mailbox address" whatever the command (Sendmail pipelines RCPT and DATA).
  const strong = f.authoritative || f.command === 'RCPT' || /^[45]\.1\.(1|10|351)$/.test(f.status ?? '') || DIRECTORY_LOOKUP.test(text) ||
    (!f.command && /^5\.1\.[03]$/.test(f.status ?? '') && !/^5\.0/.test(f.status ?? ''));
  return strong ? { class: 'hard', reason: 'user-unknown' } : { class: 'soft', reason: 'filtered' };
}

function classifyRaw(f: FailureInput, text: string): Classification {
  const perm = permanence(f);
  const status = f.status && /^[245]\.\d{1,3}\.\d{1,3}$/.test(f.status) ? f.status : undefined;
  // A refusal of our sender or of our server: never about the recipient.
  const senderSide = f.command === 'MAIL' || f.command === 'CONN' || f.command === 'HELO' || f.command === 'AUTH' || (status !== undefined && /^[45]\.1\.[78]$/.test(status)) || SENDER_REJECTED.test(text);
  if (senderSide) {
    for (const [re, cls, reason] of [TOO_LARGE, RATE_LIMITED, AUTH_FAILED, BLOCKED, SPAM, VIRUS, RELAY_DENIED]) if (re.test(text)) return { class: cls, reason };
    if (f.command === 'CONN' || f.command === 'HELO') {
      if (NETWORK[0].test(text) && perm !== 5) return { class: 'soft', reason: 'network' };
      return { class: 'policy', reason: 'blocked' };
    }
    return { class: 'policy', reason: 'sender-rejected' };
  }
  for (const [re, cls, reason] of WORDING) if (re.test(text)) return { class: cls, reason };
  if (HOST_UNKNOWN[0].test(text) && !/not found, try again|temporar|time-?out|servfail|malformed or unexpected/i.test(text)) return { class: 'hard', reason: 'host-unknown' };
  if (BAD_ADDRESS.test(text)) return { class: 'hard', reason: 'bad-address' };
  if (USER_UNKNOWN.test(text)) return missingMailbox(f, text);
  for (const [re, cls, reason] of LATE_WORDING) if (re.test(text)) return { class: cls, reason };
  if (status) {
    const c = byStatus(status, f.command);
    if (c?.reason === 'user-unknown') return missingMailbox(f, text);
    if (c) return c;
  }
  if (f.replyCode === 521 || f.replyCode === 556) return { class: 'hard', reason: 'domain-accepts-no-mail' };
  if (perm === 4) return { class: 'soft', reason: 'temporary' };
  return { class: 'hard', reason: 'other' };
}

/**
 * The words a report says, without what only names things: addresses and URLs ("filtered@example.com"
 * or ".../reason/#filtered" say nothing about why), whitespace folded, at most 2,000 characters.
 */
function wordsOf(diagnostic: string): string {
  const text = diagnostic.slice(0, 2000).replace(/\b(https?|ftp):\/\/\S+/gi, ' <url> ');
  let out = '';
  let last = 0;
  for (const a of findAddresses(text, 200)) {
    out += `${text.slice(last, a.index)}<address>`;
    last = a.index + a.address.length;
  }
  return (out + text.slice(last)).replace(/\s+/g, ' ');
}

/** Classes that describe a final failure about the recipient (the rest never suppress). */
export function classifyFailure(f: FailureInput): Classification {
  const action = f.action?.toLowerCase();
  if (action === 'delivered' || action === 'relayed' || action === 'expanded' || action === 'deliverable' || /^2\./.test(f.status ?? '')) return { class: 'none', reason: 'delivered' };
  // An enhanced code only written in the text ("550-5.1.1 The email account …") counts as the status.
  const status = f.status ?? (f.diagnostic ? statusInText(f.diagnostic.slice(0, 300)) : undefined);
  const words = wordsOf(f.diagnostic ?? '');
  const c = classifyRaw(status ? { ...f, status } : f, words);
  const warning = f.warning || action === 'delayed';
  // OpenSMTPD reports an expiry in a "temporary failure report": the words say it is over.
  if (warning && c.reason === 'expired' && FINAL_EXPIRY.test(words)) return c;
  if (warning) {
    // Still being retried: nothing is final, whatever the words; a mailbox reason is still worth saying.
    return c.class === 'hard' || ['expired', 'temporary', 'system', 'network', 'other'].includes(c.reason) ? { class: 'soft', reason: 'delayed' } : c;
  }
  const transient = (f.status ?? '').startsWith('4') || (f.replyCode !== undefined && f.replyCode >= 400 && f.replyCode < 500);
  if (transient && (action === 'failed' || f.status?.startsWith('5'))) {
    // A final report about transient refusals: the sender's server gave up. An address that was "unknown"
    // all along stays so; a connection or system that kept failing is an expiry.
    if (c.reason === 'user-unknown' && /^4\.1\.1$/.test(status ?? '')) return c;
    if (c.class === 'hard' || ['network', 'temporary', 'system', 'greylisted'].includes(c.reason)) return { class: 'soft', reason: 'expired' };
    return c;
  }
  if (permanence(f) !== 4) return c;
  // A 4xx answer during delivery: temporary.
  if (c.class === 'hard') return { class: 'soft', reason: 'temporary' };
  return c;
}

/** The enhanced code stated in a text ("550 5.1.1 …", "(#5.4.4)", "[#4.1.9]"), if any. */
export function statusInText(text: string): string | undefined {
  return /(?<![\d.])([45]\.\d{1,3}\.\d{1,3})(?![\d.]*\d)/.exec(text)?.[1] ?? /(?<![\d.])(2\.\d{1,3}\.\d{1,3})(?![\d.]*\d)/.exec(text)?.[1];
}

/** The basic reply code stated in a text ("550-5.1.1 …" → 550), if any. */
export function replyCodeInText(text: string): number | undefined {
  const m = /(?:^|[\s'"(:;\[])([45][0-5]\d)(?=[ :\-\]]|$)/m.exec(text) ?? /(?:^|[\s'"(:;])(2[0-5]\d)(?=[ :-]|$)/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** The SMTP command a refusal answered, from the wording of Postfix, Exim, Sendmail, qmail and others. */
export function commandInText(text: string): SmtpCommand | undefined {
  const lines = text.slice(0, 4000);
  const t = lines.replace(/[ \t]*\n[ \t]*/g, ' ');
  // Command names are matched as MTAs write them (upper case), so "an error in the mail server" is no MAIL.
  const m = /in reply to (?:the )?(RCPT TO|MAIL FROM|end of DATA|DATA|HELO|EHLO|AUTH|STARTTLS)\b/.exec(t) ??
    /after (RCPT TO|MAIL FROM|end of (?:data|DATA)|DATA|initial connection|HELO|EHLO|AUTH|pipelined (?:RCPT|MAIL|DATA))\b/.exec(t) ??
    /did not like our (RCPT TO|MAIL FROM|final DATA|DATA|HELO|EHLO)\b/.exec(t) ??
    /(?:[Ee]rror|ERROR|[Ff]ailed|[Ff]ailure|FAILED|[Rr]ejected) (?:following|after|during|for|in|at) (?:the )?(RCPT|MAIL|DATA|TEXT|HELO|EHLO|CONNECT)\b/.exec(t) ??
    /SMTP error from remote (?:mail )?server (?:after|for) (RCPT|MAIL|DATA|TEXT|HELO|EHLO)\b/.exec(t) ??
    /\[(RCPT_TO|MAIL_FROM|DATA)\]|SMTP:(RCPT|MAIL|DATA)\b|-+ ?SMTP command\s*(RCPT|MAIL|DATA)/.exec(t);
  const word = m ? (m.slice(1).find((x) => x) ?? '').toUpperCase() : undefined;
  if (word) return commandOf(word);
  // Sendmail's transcript: the last command it sent before the error.
  const sent = [...lines.matchAll(/^(?:>>>|.{0,40}-->) (RCPT|MAIL|DATA|HELO|EHLO|\.)/gim)];
  if (sent.length > 0) return commandOf(sent[sent.length - 1]![1]!.toUpperCase());
  if (/does not like recipient|rejected recipient|has rejected (the )?address|recipient (address )?rejected at rcpt/i.test(t)) return 'RCPT';
  if (/sender was rejected|does not like sender/i.test(t)) return 'MAIL';
  if (/failed after i sent the message|after end of data|after (the )?message (was )?(sent|transmitted)/i.test(t)) return 'DATA';
  if (/refused to talk to me|greeting failed|while connecting|connection (?:refused|timed out)|(?:could not|unable to|can'?t) connect/i.test(t)) return 'CONN';
  return undefined;
}

function commandOf(word: string): SmtpCommand | undefined {
  if (word.startsWith('RCPT')) return 'RCPT';
  if (word.startsWith('MAIL')) return 'MAIL';
  if (word.includes('DATA') || word === 'TEXT' || word === '.') return 'DATA';
  if (word === 'HELO' || word === 'EHLO' || word === 'STARTTLS') return 'HELO';
  if (word === 'AUTH') return 'AUTH';
  if (word === 'INITIAL CONNECTION' || word === 'CONNECT') return 'CONN';
  if (word.startsWith('PIPELINED')) return commandOf(word.slice(10));
  return undefined;
}
