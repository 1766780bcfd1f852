// Config entries whose schemas live with the code they configure — each parcel carrier's account,
// each phone gateway type — and are handed to the loader by that code. The loader knows none of them
// by name: it reads their secrets, checks each entry against its schema, and reports issues by path.
import type { z } from 'zod';

export interface PluggedSchema {
  /** One entry with its secrets already read: structure, formats, defaults; may transform to the adapter's options. */
  schema: z.ZodType;
  /** The fields that are secrets (given inline, as …File or as …Env, exactly one); required ones must be given. */
  secrets: Readonly<Record<string, 'required' | 'optional'>>;
}

export interface PluggedSchemas {
  /** tracking.carriers.<name> */
  carriers: Readonly<Record<string, PluggedSchema>>;
  /** tracking.phoneGateways[] by their `type` */
  phoneGateways: Readonly<Record<string, PluggedSchema>>;
}

/** No carriers and no gateway types: a config that names one is refused. */
export const NOTHING_PLUGGED: PluggedSchemas = { carriers: {}, phoneGateways: {} };
