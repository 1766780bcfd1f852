// Carrier adapters by name: the options each carrier takes, createCarrier(name, options), and a registry
// of the adapters a configuration enables.
import type { CarrierAdapter, CarrierName } from '../types.js';
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

const FACTORIES: { readonly [N in CarrierName]: (options: CarrierOptions[N]) => CarrierAdapter } = {
  'russian-post': lazyRussianPost,
  dhl: createDhlAdapter,
};

/** The adapter for `name`; throws TypeError for options that cannot work (bad URL, concurrency < 1, …). */
export function createCarrier<N extends CarrierName>(name: N, options: CarrierOptions[N]): CarrierAdapter {
  const factory: (options: CarrierOptions[N]) => CarrierAdapter = FACTORIES[name];
  return factory(options);
}

/** One adapter per configured carrier. */
export function createCarrierRegistry(options: { readonly [N in CarrierName]?: CarrierOptions[N] }): CarrierRegistry {
  const registry: { [N in CarrierName]?: CarrierAdapter } = {};
  if (options['russian-post']) registry['russian-post'] = createCarrier('russian-post', options['russian-post']);
  if (options.dhl) registry.dhl = createCarrier('dhl', options.dhl);
  return registry;
}
