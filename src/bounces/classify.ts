// One classifier for every failure: a bounce's per-recipient status and diagnostic, or an
// upstream's synchronous SMTP reply. Output: class (hard, soft, policy, …) and a fine reason.
// Wording patterns come first (enhanced codes are often generic, e.g. 5.0.0 or 5.7.1), then the
// RFC 3463 code, then the basic reply code. Pure.

export type BounceClass = 'hard' | 'soft' | 'policy' | 'complaint' | 'auto-reply';

export interface FailureInput {
  /** RFC 3463 enhanced status ("5.1.1"). */
  status?: string;
  /** Basic SMTP reply code (550). */
  replyCode?: number;
  /** DSN Action: failed, delayed, … */
  action?: string;
  /** Remote diagnostic text (Diagnostic-Code, or the reply text). */
  diagnostic?: string;
}

export interface Classification {
  class: BounceClass;
  reason: string;
}

type Rule = [RegExp, BounceClass, string];

/** Policy and soft reasons hold whatever the code's first digit says. */
const ALWAYS: Rule[] = [
  [/\bip=\d{1,3}(\.\d{1,3}){3}\b.{0,40}problem occurred|tosa@rx\.t-online\.de|spamhaus|spamcop|barracuda(central)?|sorbs|uceprotect|\bdnsbl|\brbl\b|block ?list|black ?list|(?<!not )listed (at|on|in|by) (?!domino|the domino|public name)|blocked using|banned sending ip|\bs3150\b|sending ip .*(block|reputation|banned)|(ip|address) .{0,40}(is )?(on (a|our) )?(block|black)|poor reputation|low reputation|reputation (of|for) .* (ip|sender)|client host .{0,80}blocked|ip.{0,30}blocked|blocked.{0,30}\bip\b|\bptr\b.*(missing|not found)|reverse dns|rdns/i, 'policy', 'blacklisted'],
  [/dmarc|\bspf\b|\bdkim\b|unauthenticated (e-?mail|sender|message)|sender policy framework|not pass .{0,40}(authentication|verification)|authentication (check )?fail|5\.7\.(2[3-9]|509|515)|sender (domain )?not authori[sz]ed/i, 'policy', 'auth-failed'],
  [/relay(ing)? (access )?(denied|not permitted|prohibited)|not (permitted|allowed) to relay|unable to relay|relay not permitted|we do not relay|no relaying|5\.7\.1 .{0,40}relay/i, 'policy', 'relay-denied'],
  [/mailbox (is |was )?full|mail ?box .{0,20}(exceed|over|full)|over ?quota|quota (exceeded|exceed)|exceeded (the |his |her |their )?(storage|quota)|insufficient (system )?storage|out of storage|storage (space|quota)|user is over|no space|disk full|full mailbox|postfach (ist )?voll|speicherplatz|переполнен|превышен[а-я]* (квот|лимит)|квот[а-я]* превышен|\b[45]\.2\.2\b/i, 'soft', 'mailbox-full'],
  [/gr[ae]y ?list|grey-list|gray-list/i, 'soft', 'greylisted'],
  [/rate limit|unexpected volume|high volume|too much (mail|traffic)|too many (messages|mails|connections|recipients|emails)|receiving mail (at a|too) (rate|fast)|sending rate|throttl|4\.7\.28|unusual rate|exceeded .{0,30}(rate|limit)|slow down|too fast|превышен[а-я]* лимит|слишком много/i, 'soft', 'rate-limited'],
  [/message (size|length) exceeds|message (is )?too (large|big)|size (limit )?exceed|exceeds (the )?(maximum|size|message size)|maximum (message )?size|mail size|\b5\.3\.4\b|\b[45]\.2\.3\b|zu gro(ß|ss)/i, 'soft', 'message-too-large'],
  [/delivery time (exceeded|expired)|message (has )?expired|expired in queue|too long in (the )?queue|retry (time|timeout) (not )?exceeded|could not be delivered (for|within) \d+|\b[45]\.4\.7\b|\bdelay(ed)? (for|more than) \d+ (days|hours)/i, 'soft', 'expired'],
  [/\bspam\b|\bjunk\b|unsolicited|bulk mail|content (was )?(rejected|blocked|filter)|message (content )?(was )?(rejected|blocked|refused) (due to|because of|by) .{0,30}(content|polic|filter)|virus|malware|phish|suspicious|prohibited (content|attachment)|5\.7\.1 .{0,60}(message|content)|\b5\.7\.(350|708)\b/i, 'policy', 'spam-blocked'],
];

/** Address problems: permanent only when the code says so; a 4xx wording becomes soft/temporary. */
const ADDRESS: Rule[] = [
  [/host or domain name not found|domain (name )?not found|no such domain|unrouteable (mail )?domain|unrouteable address|domain .{0,40}(does not|doesn'?t) exist|nxdomain|no mx (record|host)|name service error|unknown domain|domain is not (valid|configured)|dns (error|lookup|failure)|mail for .* loops back|\b5\.1\.2\b|\b5\.4\.4\b|\b5\.4\.310\b|домен .{0,20}не (существует|найден)|domain existiert nicht/i, 'hard', 'host-unknown'],
  [/account (has been |is )?(disabled|deactivated|suspended|closed|locked|blocked|inactive|expired)|mailbox (is |has been )?(disabled|deactivated|suspended|inactive|locked|closed)|(user|recipient|address) (is |has been )?(disabled|deactivated|suspended|inactive)|discontinued|no longer (active|available|in use|valid|exists?)|inactive (user|account|mailbox)|\b5\.2\.1\b|заблокирован|отключен|неактивн|gesperrt|deaktiviert/i, 'hard', 'mailbox-disabled'],
  [/bad (destination |recipient )?(mailbox )?address syntax|address syntax|syntax error in (the )?(recipient|address)|invalid address format|\b5\.1\.3\b|malformed (address|recipient)/i, 'hard', 'bad-address'],
  [/(doesn'?t|does not|don'?t) have an? .{0,30}account|no (such )?account|user unknown|unknown user|no such (user|recipient|mailbox|account|address|person)|(user|recipient|mailbox|account|address|e-?mail( address)?) (does not|doesn'?t|did not) exist|does not exist|recipient (address )?(not found|rejected|unknown|invalid)|recipientnotfound|address (rejected|not found|unknown|invalid)|invalid (recipient|mailbox|user|address)|mailbox (not found|unavailable|not available|unknown)|unknown (recipient|local.?part|mailbox|address)|not our customer|user not found|not a valid (mailbox|user|recipient)|undeliverable address|no mailbox|mailbox name not allowed|not listed in (the )?(domino )?directory|not listed in (the )?(public )?name (and|&) address book|(couldn'?t|could not|can'?t|cannot) be found|address (couldn'?t|could not) be found|\b5\.1\.(1|0|6|10)\b|\b5\.5\.1\b|unbekannt|nicht (vorhanden|gefunden|bekannt)|existiert nicht|gibt es nicht|нет такого|не существует|не найден|несуществующ|неизвестн/i, 'hard', 'user-unknown'],
];

const BY_STATUS: Array<[RegExp, BounceClass, string]> = [
  [/^5\.1\.(1|0|6|10)$/, 'hard', 'user-unknown'],
  [/^5\.1\.[24]$|^5\.4\.4$/, 'hard', 'host-unknown'],
  [/^5\.1\.3$/, 'hard', 'bad-address'],
  [/^5\.2\.1$/, 'hard', 'mailbox-disabled'],
  [/^[45]\.2\.2$/, 'soft', 'mailbox-full'],
  [/^[45]\.(2\.3|3\.4)$/, 'soft', 'message-too-large'],
  [/^[45]\.4\.7$/, 'soft', 'expired'],
  [/^5\.7\.(2[3-9]|509|515)$/, 'policy', 'auth-failed'],
  [/^5\.7\.\d+$/, 'policy', 'policy-other'],
  [/^4\.7\.28$/, 'soft', 'rate-limited'],
];

/** 5, 4 or undefined: is the failure permanent? From Action, then status, then reply code. */
export function permanence(f: FailureInput): 4 | 5 | undefined {
  const action = f.action?.toLowerCase();
  if (action === 'delayed') return 4;
  const s = f.status?.[0] ?? (f.replyCode ? String(f.replyCode)[0] : undefined);
  if (s === '5') return 5;
  if (s === '4') return 4;
  if (action === 'failed') return 5;
  return undefined;
}

export function classifyFailure(f: FailureInput): Classification {
  const c = classifyRaw(f);
  const action = f.action?.toLowerCase();
  // A warning while the sender still retries is not an expiry…
  if (c.reason === 'expired' && action === 'delayed') return { class: 'soft', reason: 'temporary' };
  // …and a final failure with a transient status means the sending MTA gave up: expired.
  if (c.reason === 'temporary' && action === 'failed' && f.status?.startsWith('4')) return { class: 'soft', reason: 'expired' };
  return c;
}

function classifyRaw(f: FailureInput): Classification {
  const text = `${f.diagnostic ?? ''}`.replace(/\s+/g, ' ');
  const perm = permanence(f);
  for (const [re, cls, reason] of ALWAYS) if (re.test(text)) return { class: cls, reason };
  for (const [re, cls, reason] of ADDRESS) {
    if (re.test(text)) return perm === 4 ? { class: 'soft', reason: 'temporary' } : { class: cls, reason };
  }
  if (f.status) for (const [re, cls, reason] of BY_STATUS) if (re.test(f.status)) return { class: cls, reason };
  if (perm === 4) return { class: 'soft', reason: 'temporary' };
  return { class: 'hard', reason: 'hard-other' };
}

/** The enhanced code stated in a diagnostic ("550 5.1.1 …" → "5.1.1"), if any. */
export function statusInText(text: string): string | undefined {
  return /\b([45]\.\d{1,3}\.\d{1,3})\b/.exec(text)?.[1] ?? /\b(2\.\d{1,3}\.\d{1,3})\b/.exec(text)?.[1];
}

/** The basic reply code stated in a diagnostic ("550-5.1.1 …" → 550), if any. */
export function replyCodeInText(text: string): number | undefined {
  const m = /(?:^|[\s'"(:;])([45]\d\d)(?=[ :-]|$)/m.exec(text) ?? /(?:^|[\s'"(:;])(2\d\d)(?=[ :-]|$)/m.exec(text);
  return m ? Number(m[1]) : undefined;
}
