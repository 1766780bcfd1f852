// Finds e-mail addresses in untrusted text in linear time: every '@' is a candidate, and the local
// part and domain are read outwards from it, each at most as long as RFC 5321 allows. (A regex with
// `[chars]+@` restarts at every position of a long run without '@' and goes quadratic on it.)
// Pure; imports nothing.

/** Longest local part (RFC 5321 4.5.3.1.1), with room for the odd over-long one real MTAs quote. */
const MAX_LOCAL = 128;
/** Longest domain (RFC 5321 4.5.3.1.2). */
const MAX_DOMAIN = 255;

export interface FoundAddress {
  /** The address as written (case kept). */
  address: string;
  /** Where it starts in the text. */
  index: number;
}

function isLocalChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c >= 0x80 ||
    // . ! # $ % & ' * + / = ? ^ _ ` { | } ~ -
    c === 0x2e || c === 0x21 || (c >= 0x23 && c <= 0x27) || c === 0x2a || c === 0x2b || c === 0x2f || c === 0x3d || c === 0x3f ||
    c === 0x5e || c === 0x5f || c === 0x60 || (c >= 0x7b && c <= 0x7e) || c === 0x2d;
}

function isLabelChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c >= 0x80 || c === 0x2d;
}

/** The longest valid domain (two or more labels, none starting or ending with '-') at the start of `s`. */
function domainPrefix(s: string): string | undefined {
  const labels: string[] = [];
  for (const label of s.split('.')) {
    if (label === '' || label.startsWith('-')) break;
    const trimmed = label.replace(/-+$/, '');
    labels.push(trimmed);
    if (trimmed !== label) break;
  }
  return labels.length >= 2 ? labels.join('.') : undefined;
}

/** Every address in `text`, in order, at most `limit` of them. */
export function findAddresses(text: string, limit = Infinity): FoundAddress[] {
  const found: FoundAddress[] = [];
  let prevEnd = 0;
  for (let at = text.indexOf('@'); at >= 0 && found.length < limit; at = text.indexOf('@', at + 1)) {
    let start = at;
    const floor = Math.max(prevEnd, at - MAX_LOCAL);
    while (start > floor && isLocalChar(text.charCodeAt(start - 1))) start--;
    if (start === at) continue;
    let end = at + 1;
    const ceiling = Math.min(text.length, at + 1 + MAX_DOMAIN);
    while (end < ceiling && (isLabelChar(text.charCodeAt(end)) || text.charCodeAt(end) === 0x2e)) end++;
    const domain = domainPrefix(text.slice(at + 1, end));
    if (!domain) continue;
    found.push({ address: `${text.slice(start, at)}@${domain}`, index: start });
    prevEnd = at + 1 + domain.length;
  }
  return found;
}

/** The first address in `text`, if any. */
export function firstAddress(text: string | undefined): string | undefined {
  return text ? findAddresses(text, 1)[0]?.address : undefined;
}
