// Phone gateways: builds the configured PhoneGateway (Twilio or a generic webhook) from its config entry.
import type { PhoneGateway } from '../types.js';
import { TwilioGateway } from './twilio.js';
import { WebhookGateway } from './webhook.js';
import type { PhoneGatewayConfig } from '../../config/types.js';

export type { PhoneGatewayConfig };

export { TwilioGateway, type TwilioGatewayOptions } from './twilio.js';
export { WebhookGateway, signWebhookBody, WEBHOOK_SIGNATURE_HEADER, type WebhookGatewayOptions, type WebhookGatewayRequest } from './webhook.js';

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
