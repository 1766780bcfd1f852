// Abuse protection: failed-login throttling. LoginThrottle counts failures per key (a client
// address, or an address and token prefix) in a window; AuthThrottle applies it to SMTP AUTH.
//
// AuthThrottle's design (issue 21, finding 8). Every failed AUTH counts three times: for the pair
// (user, address) in a one-minute window, for the user over all addresses and for the address over
// all users in 15-minute windows. An attempt is refused (454, the password not even checked) when
//   (a) its pair has failed `perPair` (10) times this minute: whoever keeps failing backs off, alone
//       (as the old per-address limit did, but only for that user);
//   (b) its user has failed `perUser` times (limits.authFailuresPerUser) and this address has not
//       logged in as that user before: a spray over 200 addresses against one user stops after
//       `perUser` guesses in all, not 200 × the per-address limit;
//   (c) its address has failed `perClient` times (limits.authFailuresPerClient) and has not logged
//       in as that user before: one address spraying a password over many users stops there.
// An address that has logged in as a user (remembered in memory for 30 days) is refused only by
// (a), its own failures: a real user is not locked out by someone else's guessing, and the right
// password from a throttled address (an office NAT, the reverse proxy) is accepted as long as the
// user's own pair is fine. Memory is bounded (tables cleared past 50,000 entries); a restart forgets.

export class LoginThrottle {
  private readonly failures = new Map<string, { start: number; count: number }>();

  constructor(private readonly limit = 10, private readonly windowMs = 60_000, private readonly now: () => number = Date.now) {}

  /** True while `key` may still try. */
  allowed(key: string): boolean {
    const e = this.failures.get(key);
    if (!e || this.now() - e.start > this.windowMs) return true;
    return e.count < this.limit;
  }

  fail(key: string): void {
    const now = this.now();
    const e = this.failures.get(key);
    if (!e || now - e.start > this.windowMs) {
      if (this.failures.size > 50_000) this.failures.clear();
      this.failures.set(key, { start: now, count: 1 });
    } else {
      e.count++;
    }
  }
}

const WINDOW = 15 * 60_000;

/** A user name as the tables keep it: case-folded, at most 256 characters (no memory for huge names). */
function userKey(user: string): string {
  return user.slice(0, 256).toLowerCase();
}
const KNOWN_FOR = 30 * 24 * 3600_000;

export class AuthThrottle {
  private readonly pairs: LoginThrottle;
  private readonly users: LoginThrottle;
  private readonly clients: LoginThrottle;
  /** "user\naddress" → when that address last logged in as that user. */
  private readonly known = new Map<string, number>();

  constructor(limits: { perPair?: number; perUser: number; perClient: number }, private readonly now: () => number = Date.now) {
    this.pairs = new LoginThrottle(limits.perPair ?? 10, 60_000, now);
    this.users = new LoginThrottle(limits.perUser, WINDOW, now);
    this.clients = new LoginThrottle(limits.perClient, WINDOW, now);
  }

  /** Why `user` may not try from `address` now ('pair' | 'user' | 'client'), or undefined. */
  refusal(user: string, address: string): 'pair' | 'user' | 'client' | undefined {
    const u = userKey(user);
    if (!this.pairs.allowed(`${u}\n${address}`)) return 'pair';
    if (this.isKnown(u, address)) return undefined;
    if (!this.users.allowed(u)) return 'user';
    if (!this.clients.allowed(address)) return 'client';
    return undefined;
  }

  failed(user: string, address: string): void {
    const u = userKey(user);
    this.pairs.fail(`${u}\n${address}`);
    this.users.fail(u);
    this.clients.fail(address);
  }

  succeeded(user: string, address: string): void {
    if (this.known.size > 50_000) this.known.clear();
    this.known.set(`${userKey(user)}\n${address}`, this.now());
  }

  private isKnown(user: string, address: string): boolean {
    const t = this.known.get(`${user}\n${address}`);
    return t !== undefined && this.now() - t < KNOWN_FOR;
  }
}
