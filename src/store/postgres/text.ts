// Text as PostgreSQL takes it: neither text nor jsonb may hold U+0000, which a hostile bounce or API
// call can carry. It is stored as U+FFFD (the replacement character) instead of failing the write.
const NUL = /\u0000/g;

/** A text parameter: NUL replaced (it could match nothing stored anyway). */
export function clean(s: string): string {
  return s.includes('\u0000') ? s.replace(NUL, '\ufffd') : s;
}

/** JSON for a jsonb parameter. */
export function jsonText(value: unknown): string {
  const text = JSON.stringify(value);
  // Only a string holding NUL is written with the escape "\u0000"; then stringify again, replacing.
  if (!text.includes('\\u0000')) return text;
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'string' ? clean(v) : v));
}

/** "%part%" for a case-insensitive LIKE on a lower-cased column, with %, _ and \\ taken literally. */
export function likePattern(part: string): string {
  return `%${clean(part.toLowerCase().trim()).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
