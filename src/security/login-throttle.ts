// Abuse protection: failed-login throttling by client address, for the admin API and SMTP AUTH.
// After too many failures in a window, further attempts from that address are refused until it ends.

export class LoginThrottle {
  private readonly failures = new Map<string, { start: number; count: number }>();

  constructor(private readonly limit = 10, private readonly windowMs = 60_000, private readonly now: () => number = Date.now) {}

  /** True while `address` may still try. */
  allowed(address: string): boolean {
    const e = this.failures.get(address);
    if (!e || this.now() - e.start > this.windowMs) return true;
    return e.count < this.limit;
  }

  fail(address: string): void {
    const now = this.now();
    const e = this.failures.get(address);
    if (!e || now - e.start > this.windowMs) {
      if (this.failures.size > 50_000) this.failures.clear();
      this.failures.set(address, { start: now, count: 1 });
    } else {
      e.count++;
    }
  }
}
