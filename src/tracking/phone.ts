// Buyers' phone numbers and SMS sender names: normalised with libphonenumber-js (full metadata, so
// landlines are recognised), and the sender-name rule of seed 004.
import { createRequire } from 'node:module';
import type { CountryCode } from 'libphonenumber-js/max';

type Library = typeof import('libphonenumber-js/max');
let library: Library | undefined;
/** Loaded at the first number, not at start: its metadata is 2.6 MB of heap that a relay without parcel tracking never needs. */
function phoneLibrary(): Library {
  return (library ??= createRequire(import.meta.url)('libphonenumber-js/max') as Library);
}

export type PhoneCheck =
  | { ok: true; e164: string; mobile: boolean }
  | { ok: false; reason: string };

/**
 * Normalises a phone number as typed by a buyer ("8 (916) 123-45-67", "+7 916 1234567") to E.164.
 * Numbers that are not valid, or are landlines (no SMS, no calls), come back with the reason.
 */
export function normalisePhone(raw: string, defaultCountry: string = 'RU'): PhoneCheck {
  const text = raw.trim();
  if (text === '') return { ok: false, reason: 'no phone number' };
  const parsed = phoneLibrary().parsePhoneNumberFromString(text, { defaultCountry: defaultCountry as CountryCode, extract: false });
  if (!parsed || !parsed.isValid()) return { ok: false, reason: `"${text}" is not a valid phone number` };
  const type = parsed.getType();
  if (type === 'FIXED_LINE') return { ok: false, reason: `${parsed.number} is a landline: no SMS or calls` };
  const mobile = type === 'MOBILE' || type === 'FIXED_LINE_OR_MOBILE' || type === undefined;
  if (!mobile) return { ok: false, reason: `${parsed.number} is not a mobile number (${type.toLowerCase().replace(/_/g, ' ')}): no SMS or calls` };
  return { ok: true, e164: parsed.number, mobile };
}

/** Seed 004: an SMS sender name is at most 11 latin letters/digits (not only digits), or at most 15 digits. */
export function senderNameProblem(name: string): string | undefined {
  if (/^[0-9]{1,15}$/.test(name)) return undefined;
  if (/^[A-Za-z0-9]{1,11}$/.test(name)) return undefined;
  if (/^[0-9]+$/.test(name)) return 'a numeric sender is at most 15 digits';
  return 'a sender name is at most 11 latin letters and digits, or at most 15 digits';
}
