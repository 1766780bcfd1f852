// Tenant SMTP passwords: scrypt hashing at config load and constant-time verification at AUTH,
// with a bounded in-process cache of successful verifications so per-message connections stay cheap.

import { createHmac, randomBytes, scrypt,
  scryptSync, timingSafeEqual } from 'node:crypto';

const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
const SCRYPT_OPTIONS = { N: 16384, r: 8, p: 1 } as const;
/** Successful verifications remembered; the oldest is dropped first. */
const CACHE_LIMIT = 10_000;

export interface PasswordHash {
  passwordHash: Buffer;
  passwordSalt: Buffer;
}

export function hashPassword(password: string): PasswordHash {
  const passwordSalt = randomBytes(SALT_LENGTH);
  const passwordHash = scryptSync(password, passwordSalt, KEY_LENGTH, SCRYPT_OPTIONS);
  return { passwordHash, passwordSalt };
}

// The cache holds HMACs under a key that never leaves this process, never passwords.
// The stored hash is part of the key, so a changed password (new hash) misses the cache.
const cacheKey = randomBytes(32);
const verified = new Map<string, true>();

function cacheId(cred: PasswordHash, user: string, password: string): string {
  return createHmac('sha256', cacheKey)
    .update(`${user}\0${password}\0${cred.passwordHash.toString('hex')}`)
    .digest('base64');
}

/** Checks a password; scrypt runs on libuv's pool, so failed logins do not stall the event loop. */
export async function verifyPassword(cred: PasswordHash, user: string, password: string): Promise<boolean> {
  const id = cacheId(cred, user, password);
  if (verified.has(id)) {
    // Refresh: a Map iterates in insertion order, so re-inserting keeps busy entries young.
    verified.delete(id);
    verified.set(id, true);
    return true;
  }
  const candidate = await new Promise<Buffer>((resolve, reject) =>
    scrypt(password, cred.passwordSalt, cred.passwordHash.length || KEY_LENGTH, SCRYPT_OPTIONS, (err, key) => (err ? reject(err) : resolve(key))));
  const match = candidate.length === cred.passwordHash.length && timingSafeEqual(candidate, cred.passwordHash);
  if (match) {
    // Failed attempts are never cached.
    if (verified.size >= CACHE_LIMIT) {
      const oldest = verified.keys().next();
      if (!oldest.done) verified.delete(oldest.value);
    }
    verified.set(id, true);
  }
  return match;
}
