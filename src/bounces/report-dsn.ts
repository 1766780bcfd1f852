// RFC 3464 delivery status notifications and their broken variants: a message/delivery-status
// part (or the same fields pasted into the text), one group of fields per recipient, two
// Final-Recipient fields run together, junk recipients (pipes, "rfc822;" alone). What a group does
// not say (the SMTP command, a diagnostic) is taken from the notification's paragraph about that
// recipient. Success notifications (delivered, relayed, expanded) are no failure. Pure.
import { findAddresses } from './addresses.js';
import { statusInText } from './classify.js';
import { diagnosticOf, factsIn, MAX_RECIPIENTS, oneLine, type Extracted, type Failure } from './failure.js';
import { partText, type MailView } from './message.js';
import { BOILERPLATE, firstMentions, notificationText, windows } from './report-text.js';

const STATUS_TYPES = new Set(['message/delivery-status', 'message/global-delivery-status', 'text/delivery-status', 'message/delivery-status-report']);
const SUCCESS = new Set(['delivered', 'relayed', 'expanded', 'deliverable']);

type Fields = Map<string, string>;

/** "name: value" groups separated by blank lines; a second Final-Recipient in one group starts a new group. */
export function fieldGroups(text: string): Fields[] {
  const groups: Fields[] = [];
  for (const block of text.replace(/\r\n?/g, '\n').split(/\n[ \t]*\n/)) {
    let fields: Fields = new Map();
    let last: string | undefined;
    for (const line of block.split('\n')) {
      if (/^[ \t]/.test(line) && last) {
        const prev = fields.get(last)!;
        if (prev.length < 4000) fields.set(last, `${prev} ${line.trim()}`);
        continue;
      }
      const m = /^([A-Za-z][A-Za-z0-9-]{0,60})[ \t]*:[ \t]*(.*)$/.exec(line.slice(0, 2000));
      if (!m) continue;
      const name = m[1]!.toLowerCase();
      if ((name === 'final-recipient' && fields.has('final-recipient')) || (name === 'original-recipient' && fields.has('original-recipient') && fields.has('final-recipient'))) {
        groups.push(fields);
        fields = new Map();
      }
      last = name;
      fields.set(name, fields.has(name) ? `${fields.get(name)} ${m[2]!.trim()}` : m[2]!.trim());
    }
    if (fields.size > 0) groups.push(fields);
  }
  return groups;
}

/** "rfc822; a@b" → "a@b"; "smtp; 550 …" → "550 …". */
export function stripType(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const v = value.replace(/^[A-Za-z0-9-]+\s*;\s*/, '').trim();
  return v.replace(/^<(.*)>$/, '$1') || undefined;
}

/** The address of a recipient field, when it holds one (not "X-Unix; |/usr/bin/procmail"). */
function addressIn(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const v = stripType(value);
  if (!v || /^[|/]/.test(v)) return undefined;
  const found = findAddresses(v, 1)[0];
  if (found) return found.address.toLowerCase().replace(/\.+$/, '');
  // A host-local address ("user@mailhub0") is still the address the report names.
  return /^[^\s@<>"]{1,128}@[A-Za-z0-9-]{1,63}$/.exec(v.trim())?.[0].toLowerCase();
}

function statusFields(view: MailView): string[] {
  const texts = view.parts.filter((p) => STATUS_TYPES.has(p.type)).map(partText);
  if (texts.length > 0) return texts;
  // Broken reports: the fields pasted into the text, or a part with the wrong type.
  const text = view.text;
  const at = text.search(/^[ \t]*(reporting-mta|final-recipient|original-recipient)[ \t]*:/im);
  return at >= 0 && /^[ \t]*final-recipient[ \t]*:/im.test(text.slice(at, at + 20_000)) ? [text.slice(at)] : [];
}

export function readDsn(view: MailView): Extracted | undefined {
  const fieldTexts = statusFields(view);
  if (fieldTexts.length === 0) return undefined;
  const groups = fieldTexts.flatMap(fieldGroups);
  const { body } = notificationText(view.text);
  const human = body.split(/^[ \t]*reporting-mta[ \t]*:/im)[0]!;
  const mentions = firstMentions(human);
  const seen = new Set<string>();
  const reportingMta = stripType(groups.find((g) => g.has('reporting-mta'))?.get('reporting-mta'));
  const kept: Array<{ recipient: string; g: Fields; action?: string; status?: string }> = [];
  let successes = 0;
  let omitted = 0;
  for (const g of groups) {
    if (!g.has('final-recipient') && !g.has('original-recipient') && !g.has('x-actual-recipient')) continue;
    const recipient = addressIn(g.get('final-recipient')) ?? addressIn(g.get('original-recipient')) ?? addressIn(g.get('x-actual-recipient'));
    if (!recipient) continue;
    const action = g.get('action')?.toLowerCase().trim().split(/[\s(]/)[0];
    const status = /\b\d\.\d{1,3}\.\d{1,3}\b/.exec(g.get('status') ?? '')?.[0];
    if ((action && SUCCESS.has(action)) || (status?.startsWith('2.') && (!action || action === 'failed'))) {
      successes++;
      continue;
    }
    if (seen.has(recipient)) continue;
    seen.add(recipient);
    if (kept.length >= MAX_RECIPIENTS) {
      omitted++;
      continue;
    }
    kept.push({ recipient, g, ...(action ? { action } : {}), ...(status ? { status } : {}) });
  }
  // The notification's paragraph about each recipient ends where the next recipient is named.
  const located = kept.flatMap(({ recipient }) => (mentions.has(recipient) ? [{ address: recipient, index: mentions.get(recipient)! }] : []));
  const paragraphs = windows(human, located);
  const failures: Failure[] = kept.map(({ recipient, g, action, status: groupStatus }) => {
    let status = groupStatus;
    const diagnosticType = /^\s*([A-Za-z0-9-]+)\s*;/.exec(g.get('diagnostic-code') ?? '')?.[1]?.toLowerCase();
    const code = stripType(g.get('diagnostic-code')) ?? g.get('x-postfix-diagnostic') ?? g.get('x-diagnostic') ?? undefined;
    const paragraph = paragraphs.get(recipient)?.replace(BOILERPLATE, ' ').slice(0, 1500);
    const stated = statusInText(code ?? paragraph ?? '');
    // A generic status ("5.0.0") gives way to the specific one the diagnostic states, if they agree on the class.
    if (stated && (!status || (/^\d\.0\.0$/.test(status) && stated[0] === status[0]))) status = stated;
    const facts = factsIn(`${code ?? ''}\n${paragraph ?? ''}`);
    const diagnostic = code ? oneLine(code) : paragraph ? diagnosticOf(paragraph) : diagnosticOf(human.slice(0, 1500));
    const remote = stripType(g.get('remote-mta')) ?? facts.remoteMta ?? reportingMta;
    return {
      recipient,
      ...facts,
      ...(status ? { status } : {}),
      ...(action ? { action } : {}),
      diagnostic,
      context: [code, /\(([^)]{3,200})\)/.exec(g.get('status') ?? '')?.[1], diagnosticType === 'x-unix' ? 'x-unix' : undefined, paragraph ?? (code ? undefined : human.slice(0, 1500))].filter(Boolean).join('\n'),
      ...(remote ? { remoteMta: remote.toLowerCase() } : {}),
      ...(action === 'delayed' ? { warning: true } : {}),
    };
  });
  // Fields without a usable recipient: the text may still say who (the text reader is tried next).
  if (failures.length === 0) return successes > 0 ? { kind: 'none', failures: [] } : undefined;
  return { kind: 'dsn', failures, ...(omitted ? { omitted } : {}) };
}
