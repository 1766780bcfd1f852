// tracking: polling, carrier accounts, phone gateways.
import { z } from 'zod';
import { duration, nonEmpty, positiveInt, secret } from './primitives.js';

export const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });
export const trackingSchema = z.strictObject({
  checksPerDay: z.int().min(1).max(48).default(4),
  maxAge: duration.prefault('60d'),
  firstCheckDelay: duration.prefault('1m'),
  batchSize: positiveInt.max(1000).default(100),
  carriers: z.strictObject({
    'russian-post': z.strictObject({ url: httpUrl.default('https://tracking.russianpost.ru/rtm34'), login: nonEmpty, ...secret('password'), timeout: duration.prefault('10s'), concurrency: positiveInt.max(64).default(4) }).optional(),
    dhl: z.strictObject({ url: httpUrl.default('https://api-eu.dhl.com'), ...secret('apiKey'), timeout: duration.prefault('10s'), concurrency: positiveInt.max(64).default(4) }).optional(),
  }).default({}),
  phoneGateways: z.array(z.unknown()).default([]),
});
export const phoneGatewaySchemas = {
  twilio: z.strictObject({
    name: nonEmpty, type: z.literal('twilio'), baseUrl: httpUrl.optional(), accountSid: nonEmpty, ...secret('authToken'),
    voiceLanguage: z.string().regex(/^[a-z]{2}(-[A-Z]{2})?$/, 'must be a language tag such as ru-RU').optional(), timeout: duration.prefault('10s'),
  }),
  webhook: z.strictObject({ name: nonEmpty, type: z.literal('webhook'), url: httpUrl, ...secret('token'), ...secret('secret'), timeout: duration.prefault('10s') }),
};

