// Carrier adapters by name: the options each carrier takes, createCarrier(name, options), and a registry
// of the adapters a configuration enables.
import type { CarrierAdapter, CarrierName } from '../types.js';
import { createDhlAdapter, type DhlOptions } from './dhl.js';
import { createRussianPostAdapter, type RussianPostOptions } from './russian-post.js';

export type { DhlOptions } from './dhl.js';
export type { RussianPostOptions } from './russian-post.js';
export { DHL_URL } from './dhl.js';
export { RUSSIAN_POST_URL } from './russian-post.js';

/** The options of each carrier's adapter. */
export interface CarrierOptions {
  'russian-post': RussianPostOptions;
  dhl: DhlOptions;
}

/** The adapters a configuration enables, by carrier name. */
export type CarrierRegistry = { readonly [N in CarrierName]?: CarrierAdapter };

const FACTORIES: { readonly [N in CarrierName]: (options: CarrierOptions[N]) => CarrierAdapter } = {
  'russian-post': createRussianPostAdapter,
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
