// Console sessions (unit): anonymous sign-in-form sessions are capped, so requests without a cookie
// cannot fill memory; a sign-in reports the token's previous sign-in from the SignInLog.
import { describe, expect, it } from 'vitest';
import { MAX_ANONYMOUS, SessionStore, memorySignInLog } from '../src/console/session.js';

describe('console sessions', () => {
  it('keeps at most MAX_ANONYMOUS sign-in-form sessions, dropping the oldest, and never a signed-in one', async () => {
    const store = new SessionStore();
    const user = await store.signIn(undefined, 'token-of-a-shop-admin', 'tenant', 'demo');
    const first = store.anonymous();
    for (let i = 0; i < MAX_ANONYMOUS + 10; i++) store.anonymous();
    expect(store.get(first.id)).toBeUndefined();
    expect(store.get(user.id)?.user?.tenant).toBe('demo');
  });

  it('reports the previous sign-in of the same token as "since"', async () => {
    let now = 1_000;
    const log = memorySignInLog();
    const a = new SessionStore(log, () => now);
    expect((await a.signIn(undefined, 'tok', 'admin', undefined)).user!.since).toBe(0);
    now = 5_000;
    // Another SessionStore on the same log (a restart with the store kept): still knows the last sign-in.
    const b = new SessionStore(log, () => now);
    expect((await b.signIn(undefined, 'tok', 'admin', undefined)).user!.since).toBe(1_000);
  });
});
