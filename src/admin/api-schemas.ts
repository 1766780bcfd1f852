// The shapes the admin API answers with, as JSON schemas: registered once (components in the
// OpenAPI document) and referenced by the operations in api-docs.ts. Objects list their fields;
// the few left open (`additionalProperties: true`) are records whose fields are documented with
// the config (tenants, upstreams, tracking settings and parcels) and say so in their description.

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const nullable = (s: object) => ({ anyOf: [s, { type: 'null' }] });
const smtpReply = { type: 'object', required: ['code', 'text'], properties: { code: int, enhanced: str, text: str, command: str } } as const;
const open = (description: string, required: string[] = []) => ({ type: 'object', description, required, additionalProperties: true });

export const API_SCHEMAS = [
  {
    $id: 'ErrorAnswer', type: 'object', required: ['error', 'message'], additionalProperties: true,
    description: 'Every 4xx and 5xx answer: a stable code and a sentence for people; some errors add fields (issues, rows).',
    properties: { error: { type: 'string', description: 'A stable code, e.g. NOT_FOUND, FORBIDDEN, INVALID, UNKNOWN_PARAMETER.' }, message: str, issues: { type: 'array', items: str } },
  },
  {
    $id: 'Event', type: 'object', required: ['time', 'type', 'msgId', 'tenant', 'recipient'],
    description: 'One event of a message\'s life (accepted, delivered, deferred, failed, bounced, …) or an application error.',
    properties: {
      time: int, type: str, msgId: str, tenant: str, recipient: str, upstream: str, reply: smtpReply, attempt: int, code: str, latencyMs: int,
      class: str, reason: str, detail: str, severity: str, reference: str, phone: str,
      advice: { type: 'string', description: 'What the event means for a shop admin and what to do.' },
    },
  },
  {
    $id: 'MessageSummary', type: 'object', required: ['id', 'tenant', 'createdAt', 'state', 'from', 'to', 'subject', 'messageId', 'reference', 'size', 'recipients', 'credential', 'contentKeptUntil', 'held'],
    description: 'A message as lists show it.',
    properties: {
      id: str, tenant: str, createdAt: int, state: str, from: str, to: { type: 'array', items: str }, subject: nullable(str), messageId: nullable(str), reference: nullable(str), size: int,
      recipients: {
        type: 'array',
        items: {
          type: 'object', required: ['address', 'status', 'delivery', 'attempts', 'updatedAt', 'lastReply', 'upstream', 'lastUpstream'],
          properties: {
            address: str,
            status: { type: 'string', enum: ['queued', 'deferred', 'delivered', 'failed', 'bounced', 'complained', 'suppressed', 'unsubscribed'], description: 'What became of the recipient: a bounce or complaint after delivery overrides "delivered".' },
            delivery: { type: 'string', enum: ['queued', 'deferred', 'delivered', 'failed'], description: 'What the delivery itself did.' },
            attempts: int, updatedAt: int, lastReply: nullable(smtpReply), upstream: nullable(str), lastUpstream: nullable(str),
            outcome: {
              type: 'object', required: ['type', 'time'], description: 'A bounce or complaint that came back after delivery, or why it was not sent.',
              properties: { type: { type: 'string', enum: ['bounced', 'complained', 'suppressed', 'unsubscribed'] }, class: str, reason: str, diagnostic: str, time: int },
            },
          },
        },
      },
      credential: nullable(str), resendOf: str,
      held: { anyOf: [{ type: 'object', required: ['since', 'by'], properties: { since: int, by: str } }, { type: 'null' }], description: 'Accepted and kept, not delivered until released.' },
      contentKeptUntil: { ...nullable(int), description: 'Until when the content is kept once the message is final (re-send, raw source); null when gone or still queued.' },
    },
  },
  {
    $id: 'SuppressionEntry', type: 'object', required: ['tenant', 'address', 'class', 'reason', 'time', 'source'],
    description: 'An address that gets no more mail from a tenant, and why.',
    properties: { tenant: str, address: str, class: str, reason: str, time: int, msgId: str, source: { type: 'string', enum: ['bounce', 'complaint', 'admin'] }, diagnostic: str, rule: str },
  },
  { $id: 'Shipment', ...open('A tracked parcel (tenant, carrier, code, status, buyer contact, order, check times); README "Parcel tracking" lists the fields.', ['tenant', 'carrier', 'code', 'status']) },
  { $id: 'Tenant', ...open('A tenant as the config file describes it (README "Tenants"), with its credentials (no passwords) and sender domains\' checks.', ['id', 'name']) },
  { $id: 'Upstream', ...open('An upstream (smtp or mx) as the config file describes it; passwords are shown as ********.', ['name', 'type']) },
  { $id: 'Webhook', ...open('A webhook subscription (README "Webhooks"); the secret only when created or rotated.', ['id', 'tenant', 'url', 'events', 'active']) },
  { $id: 'AnyObject', ...open('An object; README names its fields.') },
] as const;

export const ref = (id: (typeof API_SCHEMAS)[number]['$id']) => ({ $ref: `${id}#` });
export const listOf = (key: string, id: (typeof API_SCHEMAS)[number]['$id'], extra: Record<string, object> = {}) => ({
  type: 'object', required: [key], properties: { [key]: { type: 'array', items: ref(id) }, cursor: { type: 'string', description: 'Pass as `cursor` for the next page; absent on the last.' }, ...extra },
});

/** The largest time a JavaScript Date holds (ms since 1970): a later one is refused (400), not ignored. */
export const MAX_TIME_MS = 8_640_000_000_000_000;

/** A time query parameter in ms since 1970. */
export const timeMs = (extra: { description?: string } = {}) => ({ type: 'integer', minimum: 0, maximum: MAX_TIME_MS, ...extra }) as const;
