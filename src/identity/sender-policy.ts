// Who a message is sent as — decided per message from the tenant's verified sender domains:
// its own domain (From kept, DKIM d= that domain) or the system sender with the tenant's name and
// Reply-To set to the original From (DKIM d= the system domain). Pure: data in, a plan out.
import addressparser from 'nodemailer/lib/addressparser/index.js';
import mimeFuncs from 'nodemailer/lib/mime-funcs/index.js';
import { fieldValue, findField, type HeaderField } from '../header-fields.js';

/** Mailbox providers whose domains a tenant can never verify: mail "from" them goes out as the system sender. */
export const FREE_MAIL_DOMAINS = new Set([
  'gmail.com', 'googlemail.com', 'yahoo.com', 'yahoo.de', 'yahoo.co.uk', 'ymail.com', 'hotmail.com', 'hotmail.de',
  'outlook.com', 'outlook.de', 'live.com', 'msn.com', 'aol.com', 'icloud.com', 'me.com', 'mac.com', 'proton.me',
  'protonmail.com', 'gmx.de', 'gmx.net', 'gmx.at', 'gmx.ch', 'web.de', 't-online.de', 'freenet.de', 'posteo.de',
  'mail.ru', 'inbox.ru', 'list.ru', 'bk.ru', 'yandex.ru', 'yandex.com', 'ya.ru', 'rambler.ru', 'ukr.net',
  'orange.fr', 'free.fr', 'laposte.net', 'libero.it', 'virgilio.it', 'seznam.cz', 'wp.pl', 'onet.pl', 'o2.pl',
  'qq.com', '163.com', '126.com', 'zoho.com', 'mail.com', 'gmx.com',
]);

export interface DkimKeyRef {
  domain: string;
  selector: string;
  /** PKCS#8 PEM. */
  privateKey: string;
}

export interface IdentityInput {
  tenant: { id: string; name: string; fromName?: string; fromAddress?: string; domains: string[] };
  /** Tenant domain → the selectors (with keys) whose DNS records are verified. Absent: not verified. */
  verified: Record<string, DkimKeyRef[]>;
  /** Why each unverified tenant domain is not verified (the failing checks' messages). */
  unverifiedReasons: Record<string, string[]>;
  system: { sender: { address: string; name?: string }; dkim?: DkimKeyRef; hostname: string };
}

export interface IdentityPlan {
  mode: 'own-domain' | 'system-sender';
  /** Why mail goes out as the system sender (absent for own-domain). */
  reason?: string;
  /** New From value, when rewritten. */
  from?: string;
  /** Reply-To value to add, when rewritten and the message had none. */
  replyTo?: string;
  signers: DkimKeyRef[];
  /** The domain Message-IDs we add are on. */
  idDomain: string;
  /** For the tenant: which DNS records would let mail go out under its own domain. */
  warning?: string;
}

/** "Name <addr>" with the name quoted or RFC 2047-encoded as needed; CR/LF cannot survive. */
export function formatMailbox(name: string | undefined, address: string): string {
  const clean = (name ?? '').replace(/[\r\n\t]+/g, ' ').replace(/\s+/g, ' ').trim();
  if (!clean) return `<${address}>`;
  if (/[^\x20-\x7e]/.test(clean)) return `${mimeFuncs.encodeWord(clean, 'Q', 52)} <${address}>`;
  if (/^[\w !#$%&'*+\-/=?^`{|}~]+$/.test(clean)) return `${clean} <${address}>`;
  return `"${clean.replace(/(["\\])/g, '\\$1')}" <${address}>`;
}

function fromAddress(fields: HeaderField[]): { address: string; domain: string; value: string } | undefined {
  const field = findField(fields, 'from');
  if (!field) return undefined;
  const value = Buffer.from(fieldValue(field), 'latin1').toString('utf8');
  const first = addressparser(value, { flatten: true })[0];
  if (!first?.address || !first.address.includes('@')) return undefined;
  return { address: first.address, domain: first.address.slice(first.address.lastIndexOf('@') + 1).toLowerCase(), value: fieldValue(field) };
}

export function decideIdentity(fields: HeaderField[], input: IdentityInput): IdentityPlan {
  const { tenant, system } = input;
  const from = fromAddress(fields);
  const ownDomain = from && tenant.domains.includes(from.domain) && !FREE_MAIL_DOMAINS.has(from.domain);
  const signers = from ? input.verified[from.domain] : undefined;
  if (ownDomain && signers && signers.length > 0) {
    return { mode: 'own-domain', signers, idDomain: from.domain };
  }

  let reason: string;
  let warning: string | undefined;
  if (!from) reason = 'the message has no usable From address';
  else if (FREE_MAIL_DOMAINS.has(from.domain)) reason = `${from.domain} is a free-mail domain, which cannot authorise other senders`;
  else if (!tenant.domains.includes(from.domain)) reason = `${from.domain} is not a sender domain of tenant ${tenant.id}`;
  else {
    const why = input.unverifiedReasons[from.domain] ?? ['its DNS records have not been checked yet'];
    reason = `${from.domain} is not verified`;
    warning = `mail from ${from.domain} goes out as ${system.sender.address} with Reply-To ${from.address}; to send under your own domain: ${why.join('; ')}`;
  }
  const plan: IdentityPlan = {
    mode: 'system-sender',
    reason,
    from: formatMailbox(tenant.fromName ?? tenant.name, system.sender.address),
    signers: system.dkim ? [system.dkim] : [],
    idDomain: system.dkim?.domain ?? system.sender.address.slice(system.sender.address.lastIndexOf('@') + 1),
    ...(warning ? { warning } : {}),
  };
  if (!findField(fields, 'reply-to')) {
    const replyTo = from ? from.value : tenant.fromAddress ? formatMailbox(tenant.fromName ?? tenant.name, tenant.fromAddress) : undefined;
    if (replyTo) plan.replyTo = replyTo;
  }
  return plan;
}
