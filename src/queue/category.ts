// Message categories (seed 001): the app names one in X-Mailgate-Category, or a tenant rule finds it by
// subject. Each tenant marks its categories optional (the buyer may unsubscribe) or mandatory; a
// category the tenant did not list counts as mandatory, so nothing important is ever dropped by mistake.
import libmime from 'libmime';
import type { Tenant } from '../config/types.js';

export interface Category {
  name: string;
  optional: boolean;
}

/** The category of a message of this tenant, or undefined when it has none. */
export function categorize(tenant: Pick<Tenant, 'categories' | 'categoryRules'> | undefined, headers: { category?: string; subject?: string }): Category | undefined {
  let name = headers.category?.trim().toLowerCase();
  if (!name && headers.subject && tenant?.categoryRules) {
    const subject = decodeSubject(headers.subject);
    name = tenant.categoryRules.find((r) => new RegExp(r.subject, 'iu').test(subject))?.category;
  }
  if (!name) return undefined;
  return { name, optional: tenant?.categories?.[name] === 'optional' };
}

function decodeSubject(raw: string): string {
  try {
    return libmime.decodeWords(raw);
  } catch {
    return raw;
  }
}
