// Phone gateways: one module per gateway type (its config schema and how to build it), and the
// PhoneGateway for a configured entry. A new gateway type is its file and its entry here.
import { z } from 'zod';
import type { PluggedSchema } from '../../config/plugged.js';
import type { PhoneGatewayEntry } from '../../config/types.js';
import { duration, httpUrl, nonEmpty, renameTimeout } from '../../config/schema/primitives.js';
import type { PhoneGateway } from '../types.js';
import { TwilioGateway, type TwilioGatewayOptions } from './twilio.js';
import { WebhookGateway, type WebhookGatewayOptions } from './webhook.js';

export { TwilioGateway, type TwilioGatewayOptions } from './twilio.js';
export { WebhookGateway, signWebhookBody, WEBHOOK_SIGNATURE_HEADER, type WebhookGatewayOptions, type WebhookGatewayRequest } from './webhook.js';

/** A configured gateway entry: its type, its name, and that type's options. */
export type PhoneGatewayConfig =
  | ({ type: 'twilio' } & TwilioGatewayOptions)
  | ({ type: 'webhook' } & WebhookGatewayOptions);

interface GatewayModule {
  /** The entry in tracking.phoneGateways[] (type, name, options); the schema's output is the gateway's options. */
  config: PluggedSchema;
  create(options: never): PhoneGateway;
}

const timeoutMs = <S extends z.ZodRawShape>(shape: S) =>
  z.strictObject({ name: nonEmpty, timeout: duration.prefault('10s'), ...shape }).transform(renameTimeout);

export const GATEWAY_MODULES: Readonly<Record<PhoneGatewayConfig['type'], GatewayModule>> = {
  twilio: {
    config: {
      schema: timeoutMs({
        type: z.literal('twilio'), baseUrl: httpUrl.optional(), accountSid: nonEmpty, authToken: nonEmpty,
        voiceLanguage: z.string().regex(/^[a-z]{2}(-[A-Z]{2})?$/, 'must be a language tag such as ru-RU').optional(),
      }),
      secrets: { authToken: 'required' },
    },
    create: (options: TwilioGatewayOptions) => new TwilioGateway(options),
  },
  webhook: {
    config: {
      schema: timeoutMs({ type: z.literal('webhook'), url: httpUrl, token: nonEmpty.optional(), secret: nonEmpty.optional() }),
      secrets: { token: 'optional', secret: 'optional' },
    },
    create: (options: WebhookGatewayOptions) => new WebhookGateway(options),
  },
};

/** The config schema of each gateway type, for the config loader. */
export const GATEWAY_CONFIG: Readonly<Record<string, PluggedSchema>> = Object.fromEntries(Object.entries(GATEWAY_MODULES).map(([t, m]) => [t, m.config]));

export function createPhoneGateway(config: PhoneGatewayConfig | PhoneGatewayEntry): PhoneGateway {
  const module = Object.hasOwn(GATEWAY_MODULES, config.type) ? GATEWAY_MODULES[config.type as PhoneGatewayConfig['type']] : undefined;
  if (!module) throw new Error(`phone gateway "${String(config.name)}": unknown type "${String(config.type)}" (${Object.keys(GATEWAY_MODULES).join(' or ')})`);
  return module.create(config as never);
}
