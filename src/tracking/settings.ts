// A tenant's tracking settings (seed 004's profile and rules page): on/off, sending window and time
// zone, which statuses notify by which channel, templates per status and language, SMS sender, admin
// report, reminder days, quota. Validated here; stored by TrackingSettingsStore; defaults for the rest.
import { z } from 'zod';
import { NOTICE_STATUSES, type NoticeStatus } from './types.js';
import { isTimeZone, parseClock, type SendingWindow } from './window.js';
import { senderNameProblem } from './phone.js';
import { unknownMacros } from './templates.js';
import { isValidAddress } from '../config/formats.js';

export const CHANNELS = ['email', 'sms', 'call'] as const;
export type Channel = (typeof CHANNELS)[number];

const clock = z.string().refine((v) => parseClock(v) !== undefined, 'must be a time of day as HH:MM (24 hours)');
const template = (max: number) => z.string().min(1).max(max).superRefine((v, ctx) => {
  const unknown = unknownMacros(v);
  if (unknown.length > 0) ctx.addIssue({ code: 'custom', message: `unknown macro ${unknown.map((m) => `{${m}}`).join(', ')}; known: {name}, {trackingCode}, {orderSum}, {orderReference}, {carrier}, {pickupPoint}, {shop}` });
});
// The queue's own check, so an address accepted here is never refused by submit() later.
const email = z.string().max(254).refine(isValidAddress, 'must be an e-mail address');
const language = z.string().regex(/^[a-z]{2}$/, 'must be a two-letter language code (ru, en, …)');

const statusTemplates = z.strictObject({
  subject: template(300).optional(),
  text: template(20_000).optional(),
  html: template(100_000).optional(),
  sms: template(1000).optional(),
  call: template(1000).optional(),
});

export const trackingSettingsSchema = z.strictObject({
  /** The service on/off switch (seed 004). */
  enabled: z.boolean().default(false),
  timeZone: z.string().refine(isTimeZone, 'must be an IANA time zone such as Europe/Moscow').default('Europe/Moscow'),
  /** Notices go out only inside this local window. */
  window: z.strictObject({ from: clock, to: clock }).default({ from: '10:00', to: '12:00' }),
  /** Language of the templates when a shipment names none. */
  language: language.default('ru'),
  /** Country of phone numbers written without a country code. */
  defaultCountry: z.string().regex(/^[A-Z]{2}$/, 'must be a two-letter country code such as RU').default('RU'),
  /** No "accepted" notice when the code came in more than this many days after the carrier accepted the parcel. */
  acceptedNoticeMaxDelayDays: z.number().min(0).max(60).default(4),
  /** Days after arrival at the pick-up point for the not-picked-up-1 and not-picked-up-2 reminders. */
  notPickedUpDays: z.tuple([z.number().int().min(1).max(60), z.number().int().min(1).max(90)])
    .refine(([a, b]) => b > a, 'the second reminder must come after the first').default([5, 10]),
  /** Tracking codes per calendar month (UTC); null: no limit. */
  monthlyQuota: z.number().int().min(1).nullable().default(null),
  /** Which statuses notify the buyer on which channels. */
  notices: z.partialRecord(z.enum(NOTICE_STATUSES as [NoticeStatus, ...NoticeStatus[]]), z.array(z.enum(CHANNELS)).max(3)).default({
    accepted: ['email'],
    'arrived-at-pickup': ['email', 'sms'],
    'not-picked-up-1': ['email', 'sms'],
    'not-picked-up-2': ['email', 'sms'],
    'storage-expired': ['email'],
    delivered: [],
    returned: [],
  }),
  /** Texts per language and status; what is not given comes from the built-in texts. */
  templates: z.record(language, z.partialRecord(z.enum(NOTICE_STATUSES as [NoticeStatus, ...NoticeStatus[]]), statusTemplates)).default({}),
  sms: z.strictObject({
    gateway: z.string().min(1),
    sender: z.string().superRefine((v, ctx) => {
      const problem = senderNameProblem(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  }).nullable().default(null),
  call: z.strictObject({ gateway: z.string().min(1), callerId: z.string().regex(/^\+?[0-9]{3,15}$/, 'must be a phone number') }).nullable().default(null),
  /** The shop's admin addresses: daily report and copies (seed 003/004). */
  adminAddresses: z.array(email).max(20).default([]),
  /** Seed 003: categories of the shop's own mail (X-Mailgate-Category or a subject rule, e.g. "order-confirmation") copied to the admin addresses. */
  copyCategories: z.array(z.string().regex(/^[a-z0-9._-]{1,64}$/, 'category names are 1-64 characters of a-z, 0-9, ".", "-" and "_"')).max(50).default([]),
  /** Local time of the daily report; null: no report. */
  reportTime: clock.nullable().default('09:00'),
});

export type TrackingSettings = z.output<typeof trackingSettingsSchema>;

export const DEFAULT_SETTINGS: TrackingSettings = trackingSettingsSchema.parse({});

/** Validates a full or partial (merged onto `base`) settings object; issues name the field. */
export function parseTrackingSettings(input: unknown, base?: TrackingSettings): { ok: true; value: TrackingSettings } | { ok: false; issues: string[] } {
  const merged = base && input && typeof input === 'object' && !Array.isArray(input) ? { ...base, ...(input as object) } : input;
  const r = trackingSettingsSchema.safeParse(merged);
  if (r.success) return { ok: true, value: r.data };
  return { ok: false, issues: r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(settings)'}: ${i.message}`) };
}

/** The gateways settings name that the config does not declare. */
export function unknownGateways(s: TrackingSettings, known: ReadonlySet<string>): string[] {
  const issues: string[] = [];
  if (s.sms && !known.has(s.sms.gateway)) issues.push(`sms.gateway: unknown phone gateway "${s.sms.gateway}"`);
  if (s.call && !known.has(s.call.gateway)) issues.push(`call.gateway: unknown phone gateway "${s.call.gateway}"`);
  return issues;
}

/** The sending window of a tenant's settings, with its time zone. */
export function sendingWindowOf(settings: TrackingSettings): SendingWindow {
  return { ...settings.window, timeZone: settings.timeZone };
}
