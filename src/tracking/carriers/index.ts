// The carriers mailgate tracks with: one CarrierModule each (its name, the label shops and buyers
// read, how a spreadsheet may name it, which codes look like its own, and how to make its adapter),
// and the registry of adapters a configuration enables. A new carrier is its adapter file, its entry
// here and in CARRIERS (types.ts), and its options in the config's tracking section.
import { CARRIERS, type CarrierAdapter, type CarrierName } from '../types.js';
import { createDhlAdapter, type DhlOptions } from './dhl.js';
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
  /** The adapter; throws TypeError for options that cannot work (bad URL, concurrency < 1, …). */
  create(options: CarrierOptions[N]): CarrierAdapter;
}

export const CARRIER_MODULES: { readonly [N in CarrierName]: CarrierModule<N> } = {
  'russian-post': {
    name: 'russian-post',
    label: 'Russian Post',
    aliases: ['russian post', 'russianpost', 'pochta', 'pochta rossii', 'почта россии', 'почта рф', 'почта'],
    // A 14-digit domestic ШПИ, or a UPU S10 code issued in Russia (RA123456789RU).
    looksLike: (code) => /^\d{14}$/.test(code) || /^[A-Z]{2}\d{9}RU$/.test(code),
    create: lazyRussianPost,
  },
  dhl: {
    name: 'dhl',
    label: 'DHL',
    aliases: ['dhl', 'dhl express'],
    looksLike: () => false,
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

/** One adapter per configured carrier. */
export function createCarrierRegistry(options: { readonly [N in CarrierName]?: CarrierOptions[N] }): CarrierRegistry {
  const registry: { [N in CarrierName]?: CarrierAdapter } = {};
  for (const name of CARRIERS) {
    const given = options[name];
    if (given) registry[name] = createCarrier(name, given as never);
  }
  return registry;
}
