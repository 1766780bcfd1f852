// What a failure means for a shop admin and what to do about it, in plain words, from the event's
// type, error code, class and reason. Shown next to each entry of the error log (API `advice`,
// console). Pure; imports nothing.

const BY_REASON: Record<string, string> = {
  'user-unknown': 'The address does not exist. Check it with the buyer, correct it and re-send; mailgate sends nothing more to it.',
  'host-unknown': 'The domain of the address does not exist (often a typo such as gmial.com). Correct the address and re-send; mailgate sends nothing more to it.',
  'bad-address': 'The address is malformed. Correct it and re-send.',
  'has-moved': 'The recipient has moved to another address. Ask the buyer for the new one and re-send.',
  'domain-accepts-no-mail': 'The domain of the address accepts no e-mail (it says so in its DNS, a "null MX"): no address there can receive mail. Ask the buyer for another address; mailgate sends nothing more to this one.',
  // Events recorded before the reason got its name.
  'not-accepting': 'The domain of the address accepts no e-mail. Ask the buyer for another address.',
  other: 'The receiving server refused the message for good without saying why (its answer is shown). The address is not suppressed; re-send only if the answer suggests it will work.',
  'mailbox-full': "The recipient's mailbox is full. Nothing to do now; if it stays full for 3 days, mailgate stops sending to it.",
  suspended: "The recipient's account is disabled or locked, often for a while. Nothing to do now; if it keeps bouncing for 3 days, mailgate stops sending to it. Ask the buyer for another address if the mail matters.",
  filtered: "The receiving server's filter refused the message (sometimes saying the user is unknown). The address is not suppressed; if the buyer confirms it, ask them to allow mail from your shop.",
  expired: 'Delivery was retried until the time ran out; the receiving server kept failing. Nothing is known to be wrong with the address: re-send later if the mail matters.',
  delayed: 'Delivery is delayed; it is still being retried. Nothing to do.',
  network: 'The receiving server could not be reached (network or DNS trouble). It is retried; nothing to do.',
  system: 'The receiving server had a problem of its own. It is retried; nothing to do.',
  'system-full': 'The receiving server is out of storage. It is retried; nothing to do.',
  'mailer-error': "Delivery into the mailbox failed on the recipient's system. Nothing to do on your side.",
  'rate-limited': 'The receiving server is limiting how much mail it takes at once. It is retried more slowly; nothing to do.',
  greylisted: 'The receiving server asked us to try again later (greylisting). It is retried; nothing to do.',
  temporary: 'The receiving server refused the message for now. It is retried; nothing to do.',
  'too-large': 'The message is too large for the receiving server. Send it again with smaller attachments.',
  'syntax-error': 'The receiving server did not understand our SMTP commands. The operator should look at the answer.',
  blocked: "The receiving server refused our server (block list, reputation or missing reverse DNS), not the address. The operator has been told; the address is fine.",
  'auth-failed': "The message failed the recipient's SPF, DKIM or DMARC checks. Check your sender domain's DNS records on the Domains page.",
  'spam-content': 'The receiving server took the message for spam. Check its text and links; the address is fine.',
  virus: 'The receiving server found a virus or a dangerous attachment in the message. Check the attachment.',
  'content-error': "The receiving server refused the message's format (headers or encoding). The operator should look at the answer.",
  'relay-denied': 'The receiving server does not take mail for this domain from us (often a wrong domain or an MX misconfiguration). Check the domain with the buyer.',
  'sender-rejected': 'The receiving server refused the sender address, not the recipient. Check the sender address and the DNS records of its domain.',
  policy: "The receiving server refused the message under its own rules (its answer is shown). The address is fine.",
  'out-of-office': 'An automatic out-of-office reply. Nothing to do.',
  'auto-reply': 'An automatic reply. Nothing to do.',
};

const BY_CODE: Record<string, string> = {
  RECIPIENT_SUPPRESSED: 'Not sent: the address is on the suppression list after an earlier bounce or complaint (see Suppression for why). Correct the address, or remove the entry once it is fixed, then re-send.',
  MESSAGE_EXPIRED: 'mailgate could not deliver the message before the queue gave up. The answers of each try are shown; re-send later if the mail matters.',
  UPSTREAM_AUTH_FAILED: 'The smarthost refused our login. The operator must fix the user name or password of the upstream; queued mail is sent once it works.',
  UPSTREAM_TLS_FAILED: 'The encrypted connection to the upstream failed. The operator must check its TLS settings and certificate; the mail is retried.',
  UPSTREAM_PRIVATE_ADDRESS: "The shop's own mail server now resolves to an address inside the operator's network, and mailgate does not connect there. The shop admin must check the server's host name; the mail is retried.",
  UPSTREAM_UNREACHABLE: 'The upstream or the receiving server could not be reached. It is retried; nothing to do unless it lasts.',
  RECIPIENT_DOMAIN_TYPO: 'The domain looks like a typo of a well-known one. The mail is sent anyway; check the address with the buyer.',
  AUTH_FAILURE_ALARM: 'Many SMTP logins failed in a short time: someone may be guessing passwords. Check that no shop login is leaked (change it if in doubt) and block the addresses named here in your firewall if they keep on.',
  BOUNCE_UNATTRIBUTED: 'A bounce came back for a message sent to several recipients in one transaction, but it does not say which of them it is about. Nobody was suppressed; check the text shown if the mail matters.',
  INBOUND_QUARANTINED: 'An inbound message could not be read and was put aside. The operator should look at the file named in the detail.',
  FEEDBACK_REPORT: 'A report about how your mail was authenticated (SPF, DKIM, DMARC), not a complaint. Check your sender domain on the Domains page.',
};

export interface Explainable {
  type: string;
  code?: string;
  class?: string;
  reason?: string;
}

/** One or two sentences: what happened and what to do; undefined for events that need none. */
export function adviceFor(e: Explainable): string | undefined {
  if (e.code && BY_CODE[e.code]) return BY_CODE[e.code];
  if (e.type === 'complained') return 'The recipient marked your mail as spam or unsubscribed. mailgate sends nothing more to this address.';
  if (e.type === 'sender-rewritten' || e.code === 'SENDER_REWRITTEN') return "Sent under the relay's own sender address with your address as Reply-To, because your domain's DNS records are missing (see Domains). Shown once here; each such message says so on its own page.";
  if (e.reason && BY_REASON[e.reason]) return BY_REASON[e.reason];
  return undefined;
}
