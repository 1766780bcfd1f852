// Abuse protection: failed-login throttling. LoginThrottle counts failures per key in a window;
// AuthThrottle applies it to SMTP AUTH (the admin HTTP side uses admin/failure-limits.ts);
// AuthFailureAlarm watches the failures over all users and addresses and goes off on a spray.
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

/** What the alarm reports when it goes off. */
export interface AuthAlarmReport {
  failures: number;
  windowMs: number;
  addresses: number;
  users: number;
  /** The user name and the address with the most failures in the window. */
  topUser: { name: string; count: number };
  topAddress: { name: string; count: number };
}

const ALARM_BUCKETS = 10;
const TALLY_LIMIT = 10_000;

/**
 * The global alarm on failed logins (issue 21): failures over all users and addresses are counted in a
 * sliding window (ten buckets); when they reach `threshold` the alarm goes off once — `note` returns
 * the report — and stays on (`active`) while the window holds that many; it goes off again only after
 * the count has fallen below half the threshold. Which users and addresses failed is tallied per
 * window (bounded), so the report names the spray's shape. `threshold` 0: never.
 */
export class AuthFailureAlarm {
  private readonly buckets = new Array<number>(ALARM_BUCKETS).fill(0);
  private bucketStart = 0;
  private bucket = 0;
  private readonly users = new Map<string, number>();
  private readonly addresses = new Map<string, number>();
  private tallyStart = 0;
  private armed = true;
  /** Failed and throttled logins since start (the metrics' counters). */
  readonly totals = { failed: 0, throttled: 0, alarms: 0 };

  constructor(private readonly threshold: number, private readonly windowMs = 10 * 60_000, private readonly now: () => number = Date.now) {}

  /** Counts one failed (or throttled) login; the report when this one sets the alarm off. */
  note(kind: 'failed' | 'throttled', user: string, address: string): AuthAlarmReport | undefined {
    this.totals[kind]++;
    const now = this.now();
    this.advance(now);
    this.buckets[this.bucket]!++;
    if (now - this.tallyStart > this.windowMs) {
      this.users.clear();
      this.addresses.clear();
      this.tallyStart = now;
    }
    tally(this.users, userKey(user));
    tally(this.addresses, address);
    const count = this.count();
    // Re-arming happens in advance(): the count only falls when the window moves on.
    if (this.threshold === 0 || !this.armed || count < this.threshold) return undefined;
    this.armed = false;
    this.totals.alarms++;
    return { failures: count, windowMs: this.windowMs, addresses: this.addresses.size, users: this.users.size, topUser: top(this.users), topAddress: top(this.addresses) };
  }

  /** True while the window holds at least `threshold` failures. */
  active(): boolean {
    this.advance(this.now());
    return this.threshold > 0 && this.count() >= this.threshold;
  }

  private count(): number {
    return this.buckets.reduce((a, b) => a + b, 0);
  }

  private advance(now: number): void {
    const width = this.windowMs / ALARM_BUCKETS;
    if (this.bucketStart === 0) this.bucketStart = now;
    let steps = Math.floor((now - this.bucketStart) / width);
    if (steps <= 0) return;
    this.bucketStart += steps * width;
    for (steps = Math.min(steps, ALARM_BUCKETS); steps > 0; steps--) {
      this.bucket = (this.bucket + 1) % ALARM_BUCKETS;
      this.buckets[this.bucket] = 0;
    }
    if (this.count() < this.threshold / 2) this.armed = true;
  }
}

function tally(map: Map<string, number>, key: string): void {
  if (map.size >= TALLY_LIMIT && !map.has(key)) return;
  map.set(key, (map.get(key) ?? 0) + 1);
}

function top(map: Map<string, number>): { name: string; count: number } {
  let best = { name: '', count: 0 };
  for (const [name, count] of map) if (count > best.count) best = { name, count };
  return best;
}
