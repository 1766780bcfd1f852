// Envelope address checks shared by every way into the queue.

/** True for a usable envelope address: local@domain, no spaces or control characters, RFC 5321 lengths, no domain literal. UTF-8 allowed (SMTPUTF8). */
export function isValidAddress(address: string): boolean {
  if (address.length > 254) return false;
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return false;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  // Quoted local parts are refused too: nodemailer would send them unquoted.
  if (local.length > 64 || /[\s<>()\\,;:"\x00-\x1f\x7f]/.test(local)) return false;
  // Domain literals ([192.0.2.1]) are refused: they would let a tenant aim direct delivery at any host.
  if (domain.startsWith('[')) return false;
  return /^(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+[\p{L}\p{N}-]{2,63}$/u.test(domain);
}
