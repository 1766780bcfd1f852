// Likely typos in recipient domains: one edit (insert, delete, replace, swap) away from a major
// mailbox provider's domain — htmail.com → hotmail.com, gmial.com → gmail.com, yandx.ru → yandex.ru.
// Such a domain may exist and accept mail, so no bounce ever says so; a warning with the suggestion does.

export const MAJOR_MAIL_DOMAINS = [
  'gmail.com', 'googlemail.com', 'yahoo.com', 'yahoo.de', 'yahoo.fr', 'yahoo.co.uk', 'hotmail.com', 'hotmail.de', 'hotmail.fr',
  'hotmail.co.uk', 'outlook.com', 'outlook.de', 'live.com', 'live.de', 'msn.com', 'aol.com', 'icloud.com', 'me.com', 'mac.com',
  'gmx.de', 'gmx.net', 'gmx.at', 'gmx.ch', 'web.de', 't-online.de', 'freenet.de', 'posteo.de', 'mail.ru', 'inbox.ru', 'list.ru',
  'bk.ru', 'yandex.ru', 'yandex.com', 'ya.ru', 'rambler.ru', 'ukr.net', 'orange.fr', 'free.fr', 'laposte.net', 'wanadoo.fr',
  'sfr.fr', 'libero.it', 'virgilio.it', 'seznam.cz', 'wp.pl', 'onet.pl', 'o2.pl', 'interia.pl', 'proton.me', 'protonmail.com',
  'bluewin.ch', 'comcast.net', 'verizon.net', 'att.net', 'qq.com', '163.com', 'mail.com', 'zoho.com',
];

function withinOneEdit(a: string, b: string): boolean {
  if (a === b) return false;
  if (Math.abs(a.length - b.length) > 1) return false;
  if (a.length === b.length) {
    const diff: number[] = [];
    for (let i = 0; i < a.length && diff.length <= 2; i++) if (a[i] !== b[i]) diff.push(i);
    if (diff.length === 1) return true;
    return diff.length === 2 && diff[1] === diff[0]! + 1 && a[diff[0]!] === b[diff[1]!] && a[diff[1]!] === b[diff[0]!];
  }
  const [short, long] = a.length < b.length ? [a, b] : [b, a];
  let i = 0;
  while (i < short.length && short[i] === long[i]) i++;
  return short.slice(i) === long.slice(i + 1);
}

/** The major provider domain this one is probably a typo of, or undefined. */
export function suggestDomain(domain: string): string | undefined {
  const d = domain.toLowerCase();
  if (MAJOR_MAIL_DOMAINS.includes(d)) return undefined;
  return MAJOR_MAIL_DOMAINS.find((m) => withinOneEdit(d, m));
}
