// The carriers mailgate tracks with: one CarrierModule each (its name, the label shops and buyers
// read, how a spreadsheet may name it, which codes look like its own, its account's config schema,
// and how to make its adapter), and the registry of adapters a configuration enables. A new carrier
// is its adapter file, its entry here and its name in CARRIERS (types.ts); the compiler checks
// that the two lists agree, and the config loader learns its schema from here.
import { z } from 'zod';
import type { PluggedSchema } from '../../config/plugged.js';
import { duration, httpUrl, nonEmpty, renameTimeout, positiveInt } from '../../config/schema/primitives.js';
import { CARRIERS, type CarrierAdapter, type CarrierName } from '../types.js';
import { createDhlAdapter, DHL_URL, type DhlOptions } from './dhl.js';
import type { RussianPostOptions } from './russian-post.js';
import { checkCommonOptions } from './transport.js';

export type { DhlOptions } from './dhl.js';
export type { RussianPostOptions } from './russian-post.js';

/** The options of each carrier's adapter. */
export interface CarrierOptions {
  'russian-post': RussianPostOptions;
  dhl: DhlOptions;
}

/** The adapters a configuration enables, by carrier name. */
export type CarrierRegistry = { readonly [N in CarrierName]?: CarrierAdapter };

/**
 * Russian Post's adapter (and its XML parser) is loaded on the first check, not at start: most
 * installations track with one carrier, and an idle relay should not carry the other's code.
 */
function lazyRussianPost(options: RussianPostOptions): CarrierAdapter {
  checkCommonOptions('Russian Post', options);
  let adapter: Promise<CarrierAdapter> | undefined;
  return {
    name: 'russian-post',
    maxBatch: 1,
    async track(codes, signal) {
      adapter ??= import('./russian-post.js').then((m) => m.createRussianPostAdapter(options));
      return (await adapter).track(codes, signal);
    },
  };
}

export interface CarrierModule<N extends CarrierName> {
  name: N;
  /** How shops and buyers call it ("Russian Post"). */
  label: string;
  /** Other names a spreadsheet's carrier column may use (the name itself always counts). */
  aliases: readonly string[];
  /** Whether a tracking code is plainly this carrier's (used when a row names no carrier). */
  looksLike(code: string): boolean;
  /** Its account in the config (tracking.carriers.<name>): the schema's output is the adapter's options. */
  config: PluggedSchema;
  /** The account's required keys, as a shop admin is told to add them ("login, password"). */
  configKeys: string;
  /** The adapter; throws TypeError for options that cannot work (bad URL, concurrency < 1, …). */
  create(options: CarrierOptions[N]): CarrierAdapter;
}

/** What every carrier account has: the service address, the time a request may take, requests at once. */
function accountSchema<S extends z.ZodRawShape>(defaultUrl: string, shape: S) {
  return z.strictObject({ url: httpUrl.default(defaultUrl), timeout: duration.prefault('10s'), concurrency: positiveInt.max(64).default(4), ...shape })
    .transform(renameTimeout);
}

export const CARRIER_MODULES: { readonly [N in CarrierName]: CarrierModule<N> } = {
  'russian-post': {
    name: 'russian-post',
    label: 'Russian Post',
    aliases: ['russian post', 'russianpost', 'pochta', 'pochta rossii', 'почта россии', 'почта рф', 'почта'],
    // A 14-digit domestic ШПИ, or a UPU S10 code issued in Russia (RA123456789RU).
    looksLike: (code) => /^\d{14}$/.test(code) || /^[A-Z]{2}\d{9}RU$/.test(code),
    // The URL is written here, not imported: the adapter (and its XML parser) loads on the first check.
    config: { schema: accountSchema('https://tracking.russianpost.ru/rtm34', { login: nonEmpty, password: nonEmpty }), secrets: { password: 'required' } },
    configKeys: 'login, password',
    create: lazyRussianPost,
  },
  dhl: {
    name: 'dhl',
    label: 'DHL',
    aliases: ['dhl', 'dhl express'],
    looksLike: () => false,
    config: { schema: accountSchema(DHL_URL, { apiKey: nonEmpty }), secrets: { apiKey: 'required' } },
    configKeys: 'apiKey',
    create: createDhlAdapter,
  },
};

/** The adapter for `name`; throws TypeError for options that cannot work (bad URL, concurrency < 1, …). */
export function createCarrier<N extends CarrierName>(name: N, options: CarrierOptions[N]): CarrierAdapter {
  const module: CarrierModule<N> = CARRIER_MODULES[name];
  return module.create(options);
}

/** How shops and buyers call a carrier. */
export function carrierLabel(name: CarrierName): string {
  return CARRIER_MODULES[name].label;
}

/** What a shop admin reads when codes wait for a carrier that is not configured: what to add where. */
export function missingCarrierReason(name: CarrierName): string {
  const m = CARRIER_MODULES[name];
  return `no carrier configured for ${m.label}: add tracking.carriers.${name} (${m.configKeys}) to the mailgate config and restart mailgate`;
}

/** The config schema of each carrier's account, for the config loader. */
export const CARRIER_CONFIG: Readonly<Record<string, PluggedSchema>> = Object.fromEntries(CARRIERS.map((n) => [n, CARRIER_MODULES[n].config]));

/** One adapter per configured carrier (`options` as the config loader made them with CARRIER_CONFIG). */
export function createCarrierRegistry(options: Readonly<Record<string, unknown>>): CarrierRegistry {
  const registry: { [N in CarrierName]?: CarrierAdapter } = {};
  for (const name of CARRIERS) {
    const given = Object.hasOwn(options, name) ? options[name] : undefined;
    if (given) registry[name] = createCarrier(name, given as never);
  }
  return registry;
}
