// The recipient-domain label of the per-domain delivery counters, with bounded cardinality: the big
// mailbox providers by name, plus the first TOP_SEEN other domains to reach PROMOTE_AFTER recipients
// since start (the busiest of this relay's shops); every other domain is "other". A promoted domain
// keeps its label until restart (a counter's series never moves), so there are at most
// PROVIDERS.length + TOP_SEEN + 1 domain values.

/** Big mailbox providers (Europe and worldwide), always labelled by name. */
export const PROVIDERS: readonly string[] = [
  'gmail.com', 'googlemail.com', 'outlook.com', 'hotmail.com', 'live.com', 'msn.com', 'yahoo.com', 'ymail.com', 'aol.com',
  'icloud.com', 'me.com', 'mac.com', 'proton.me', 'protonmail.com', 'gmx.de', 'gmx.net', 'gmx.at', 'gmx.ch', 'web.de',
  't-online.de', 'freenet.de', 'posteo.de', 'mail.de', 'orange.fr', 'free.fr', 'laposte.net', 'libero.it', 'yandex.ru', 'mail.ru', 'qq.com',
];
export const TOP_SEEN = 20;
export const PROMOTE_AFTER = 10;
/** Counts of not-yet-promoted domains are forgotten beyond this many, so the tally stays small. */
const MAX_TALLIED = 10_000;

export class DomainLabels {
  private readonly named = new Set(PROVIDERS);
  private readonly promoted = new Set<string>();
  private readonly tally = new Map<string, number>();

  /** The label for a recipient address's domain, counting it towards promotion. */
  label(address: string): string {
    const domain = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
    if (this.named.has(domain) || this.promoted.has(domain)) return domain;
    if (this.promoted.size >= TOP_SEEN) return 'other';
    const n = (this.tally.get(domain) ?? 0) + 1;
    if (n >= PROMOTE_AFTER) {
      this.promoted.add(domain);
      this.tally.delete(domain);
      return domain;
    }
    if (this.tally.size >= MAX_TALLIED) this.tally.clear();
    this.tally.set(domain, n);
    return 'other';
  }
}
