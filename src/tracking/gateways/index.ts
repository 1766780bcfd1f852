// Phone gateways: builds the configured PhoneGateway (Twilio or a generic webhook) from its config entry.
import type { PhoneGateway } from '../types.js';
import { TwilioGateway, type TwilioGatewayOptions } from './twilio.js';
import { WebhookGateway, type WebhookGatewayOptions } from './webhook.js';

export { TwilioGateway, type TwilioGatewayOptions } from './twilio.js';
export { WebhookGateway, signWebhookBody, WEBHOOK_SIGNATURE_HEADER, type WebhookGatewayOptions, type WebhookGatewayRequest } from './webhook.js';

/** One configured SMS / voice-call gateway; `name` is how notices and logs refer to it. */
export type PhoneGatewayConfig =
  | ({ type: 'twilio' } & TwilioGatewayOptions)
  | ({ type: 'webhook' } & WebhookGatewayOptions);

export function createPhoneGateway(config: PhoneGatewayConfig): PhoneGateway {
  switch (config.type) {
    case 'twilio':
      return new TwilioGateway(config);
    case 'webhook':
      return new WebhookGateway(config);
    default: {
      const unknownType: never = config; // a YAML typo reaches here despite the types
      throw new Error(`phone gateway "${String((unknownType as { name?: unknown }).name)}": unknown type "${String((unknownType as { type?: unknown }).type)}" (twilio or webhook)`);
    }
  }
}
