// Console sessions, in memory only: the random cookie value → the signed-in user's API token, the
// tenant being looked at, the CSRF token of its forms, and when this token last signed in before
// (the red counter's "since", kept in the data directory). A restart signs everyone out; the API token never reaches the browser.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'mg_session';
/** Sessions unused this long are dropped. */
const IDLE_MS = 12 * 60 * 60 * 1000;
/** Sessions without a sign-in (the sign-in form's CSRF token only) live shorter. */
const ANON_IDLE_MS = 60 * 60 * 1000;

export interface Session {
  id: string;
  csrf: string;
  lastSeen: number;
  /** Absent until sign-in. */
  user?: {
    token: string;
    role: 'admin' | 'tenant';
    /** The tenant shown: fixed for a tenant token, chosen by an admin. */
    tenant?: string;
    /** A tenant token's shop name (the header shows it), read once. */
    tenantName?: string;
    /** Errors since this time are counted in red: the token's previous sign-in (0 on its first since start). */
    since: number;
    signedInAt: number;
  };
  /** A spreadsheet uploaded for import, waiting for the admin's confirmation after the preview. */
  pendingImport?: { tenant: string; filename: string; data: Buffer; preview: unknown };
  /** A suppression list uploaded or pasted for import, waiting for confirmation after its preview. */
  pendingSuppressions?: { tenant: string; data: Buffer; preview: unknown };
}

/** Sign-in forms waiting at once; an older one then needs a reload. */
export const MAX_ANONYMOUS = 5000;

const newId = () => randomBytes(32).toString('base64url');

/** Where the time of each token's last sign-in is kept (the data directory, so a restart keeps the red counter right). */
export interface SignInLog {
  get(tokenHash: string): Promise<number | undefined>;
  set(tokenHash: string, time: number): Promise<void>;
}

/** A SignInLog in memory (tests, or no store). */
export function memorySignInLog(): SignInLog {
  const times = new Map<string, number>();
  return { get: async (k) => times.get(k), set: async (k, t) => void times.set(k, t) };
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    /** sha256(token) → time of its last sign-in. */
    private readonly lastSignIn: SignInLog = memorySignInLog(),
    private readonly now: () => number = Date.now,
  ) {}

  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    const idle = s.user ? IDLE_MS : ANON_IDLE_MS;
    if (this.now() - s.lastSeen > idle) {
      this.sessions.delete(id);
      return undefined;
    }
    s.lastSeen = this.now();
    return s;
  }

  /** A session for the sign-in form (CSRF token only). */
  anonymous(): Session {
    this.sweep();
    // Anyone can make these (GET / without a cookie): beyond a cap the oldest go, so a flood cannot fill memory.
    let anonymous = 0;
    for (const x of this.sessions.values()) if (!x.user) anonymous++;
    for (const [id, x] of this.sessions) {
      if (anonymous < MAX_ANONYMOUS) break;
      if (!x.user) {
        this.sessions.delete(id);
        anonymous--;
      }
    }
    const s: Session = { id: newId(), csrf: newId(), lastSeen: this.now() };
    this.sessions.set(s.id, s);
    return s;
  }

  /** A fresh session (new id, new CSRF token) for a token that just proved valid; `since` is its previous sign-in. */
  async signIn(old: Session | undefined, token: string, role: 'admin' | 'tenant', tenant: string | undefined): Promise<Session> {
    if (old) this.sessions.delete(old.id);
    const key = createHash('sha256').update(token).digest('hex');
    const now = this.now();
    const since = (await this.lastSignIn.get(key)) ?? 0;
    await this.lastSignIn.set(key, now);
    const s: Session = { id: newId(), csrf: newId(), lastSeen: now, user: { token, role, ...(tenant ? { tenant } : {}), since, signedInAt: now } };
    this.sessions.set(s.id, s);
    return s;
  }

  signOut(s: Session): void {
    this.sessions.delete(s.id);
  }

  /** Constant-time comparison of a form's CSRF field with the session's. */
  static csrfOk(s: Session | undefined, given: unknown): boolean {
    if (!s || typeof given !== 'string') return false;
    const a = Buffer.from(s.csrf);
    const b = Buffer.from(given);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) if (now - s.lastSeen > (s.user ? IDLE_MS : ANON_IDLE_MS)) this.sessions.delete(id);
  }
}
