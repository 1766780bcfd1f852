// What each operation of the admin API is for, in the OpenAPI document: summary, description and
// the schema of its success answer, keyed "METHOD /path" (paths below /api/v1). Every error answer
// is ErrorAnswer. app.ts puts these on the routes as they are registered; a route missing here
// fails test/openapi.test.ts, so the document cannot fall behind the routes.
import { listOf, ref } from './api-schemas.js';

export interface OperationDoc {
  summary: string;
  description: string;
  /** Success status → schema (null: no body). */
  ok: Record<number, object | null>;
}

const obj = (properties: Record<string, object>, required = Object.keys(properties)) => ({ type: 'object', required, properties });
const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const bool = { type: 'boolean' } as const;
const any = ref('AnyObject');
const SCOPE = 'An admin token sees every tenant; a tenant token only its own.';
const ACROSS = 'Without `tenant`, an admin token gets every tenant\'s rows (each names its tenant) and a tenant token its own; `tenant=` filters. Unknown parameters are refused (400 UNKNOWN_PARAMETER) rather than ignored.';

const doc = (summary: string, description: string, ok: Record<number, object | null>): OperationDoc => ({ summary, description, ok });

const COUNTS = Object.fromEntries(['accepted', 'delivered', 'deferred', 'bouncedHard', 'bouncedSoft', 'complained', 'suppressed', 'failed'].map((c) => [c, int]));
const RATES = { bounceRate: { type: 'number' }, complaintRate: { type: 'number' } };
const STATS = {
  type: 'object', required: ['tenant', 'from', 'to', 'bucket'],
  properties: {
    tenant: { anyOf: [str, { type: 'null' }] }, from: int, to: int, bucket: { type: 'string', enum: ['hour', 'day'] }, by: { type: 'string', enum: ['domain', 'upstream'] },
    totals: obj({ ...COUNTS, ...RATES }),
    series: { type: 'array', items: obj({ time: int, ...COUNTS }) },
    rows: { type: 'array', items: obj({ key: str, ...COUNTS, ...RATES }) },
  },
};

const IMPORTED = obj({
  tenant: str, dryRun: bool, rows: int, added: int, wouldAdd: int, alreadySuppressed: int, duplicates: int, rejectedCount: int,
  rejected: { type: 'array', items: obj({ line: int, value: str, why: str }) },
}, ['tenant', 'dryRun', 'rows', 'alreadySuppressed', 'duplicates', 'rejectedCount', 'rejected']);
const SAVED_SETTINGS = obj({ tenant: str, stored: bool, settings: any, noticesReplanned: { type: 'integer', description: 'Planned notices moved into the new sending window.' } }, ['tenant', 'stored', 'settings']);

export const API_DOCS: Record<string, OperationDoc> = {
  'GET /whoami': doc('Who this token is', 'The token\'s role (admin or tenant) and, for a tenant token, its tenant.', { 200: obj({ role: { type: 'string', enum: ['admin', 'tenant'] }, tenant: str }, ['role']) }),
  'GET /queue/summary': doc('Queue depth', 'How many messages this node has queued and when the next is due (admin).', { 200: obj({ depth: int, nextDue: { anyOf: [int, { type: 'null' }] } }) }),

  'GET /events': doc('Event history', 'Events of one recipient or one message (oldest first), or the newest events of all (admin).', { 200: listOf('events', 'Event') }),
  'GET /errors': doc('Error log', `Delivery failures, bounces, complaints and application errors, newest first, paged with \`cursor\`; search by recipient, queue id or order reference. ${ACROSS}`, { 200: listOf('events', 'Event') }),
  'POST /errors': doc('Record an application error', 'A shop\'s own error (a payment after the deadline, tickets sold twice), shown and counted with the mail errors and found by its reference. ' + SCOPE, { 201: obj({ id: str, event: ref('Event') }) }),
  'GET /errors/count': doc('Errors since a time', `How many error-log entries since \`since\` (the console's red counter); \`tenant\` is null for every tenant. ${ACROSS}`, { 200: obj({ tenant: { anyOf: [str, { type: 'null' }] }, since: int, count: int }) }),

  'GET /messages': doc('Messages', `Messages newest first, paged with \`cursor\`; by recipient, order reference, Message-ID, status or time. ${ACROSS}`, { 200: listOf('messages', 'MessageSummary') }),
  'GET /messages/:id': doc('One message', 'A message with its envelope, recipients, source, sender identity and every event. ' + SCOPE, { 200: { type: 'object', additionalProperties: true, required: ['id', 'tenant', 'envelope', 'recipients', 'events'], description: 'MessageSummary fields, with envelope, recipients in full, source, identity and events.' } }),
  'GET /messages/:id/raw': doc('A message\'s raw source', 'The message as the app sent it (before mailgate\'s sender and DKIM changes), as message/rfc822, streamed; `maxBytes` cuts it. 410 BODY_GONE once its content is no longer kept (retention.bodies). ' + SCOPE, { 200: { type: 'string', description: 'The message (message/rfc822).' } }),
  'GET /stats': doc('Delivery statistics', 'Counts of accepted, delivered, deferred, bounced (hard, soft), complained, suppressed and failed recipients per hour or day (`series`, every bucket of the range, oldest first, with `totals`), or with `by=domain|upstream` per recipient domain or upstream over the range (largest first, with bounce and complaint rates). Times are UTC milliseconds; buckets start at UTC hours and days; at most 366 days. Without `tenant`, an admin token sees every tenant together; a tenant token always its own.', { 200: STATS }),
  'POST /messages/:id/resend': doc('Re-send a message', 'Sends a kept message again, to a corrected address when given; 410 when its body is no longer kept. ' + SCOPE, { 201: obj({ id: str, resendOf: str }) }),

  'GET /suppression': doc('Suppression list', `Addresses that get no more mail, and why; filter by a part of the address or the reason. ${ACROSS}`, { 200: obj({ entries: { type: 'array', items: ref('SuppressionEntry') } }) }),
  'GET /suppression/export': doc('Export the suppression list', 'Every entry as CSV (UTF-8 with a BOM; address, class, reason, source, since, message, rule, diagnostic; a tenant column first for every tenant\'s). ' + ACROSS, { 200: { type: 'string', description: 'text/csv' } }),
  'POST /suppression/import': doc('Import addresses to suppress', 'A CSV (or a plain list) as the request body, Content-Type text/csv: one address per row, optionally a reason; a header row with "email"/"address" (and "reason") is recognised; comma, semicolon or tab. Addresses already on the list keep their entry; `dryRun=true` previews. No webhook is sent per imported address. ' + SCOPE, { 200: IMPORTED }),
  'POST /suppression': doc('Suppress an address', 'Adds an address by hand (201). An address already on the list keeps its entry: 200 with the entry as it is. ' + SCOPE, { 200: ref('SuppressionEntry'), 201: ref('SuppressionEntry') }),
  'DELETE /suppression/:tenant/:address': doc('Remove a suppression', 'The address gets mail again (once fixed). ' + SCOPE, { 204: null }),

  'GET /shipments': doc('Parcels', `Tracked parcels by status, tracking code, buyer e-mail, phone or order reference, paged with \`cursor\`. ${ACROSS}`, { 200: listOf('shipments', 'Shipment') }),
  'POST /shipments': doc('Track parcels', 'One parcel, or up to 1000 in `shipments`; each row\'s result. ' + SCOPE, { 200: any, 201: any }),
  'POST /shipments/import': doc('Import a spreadsheet', 'A CSV or XLSX file as the request body; `dryRun` previews every row\'s errors first. ' + SCOPE, { 200: any }),
  'GET /shipments/:carrier/:code': doc('One parcel', 'A parcel with its history and planned notices. ' + SCOPE, { 200: any }),
  'DELETE /shipments/:carrier/:code': doc('Stop tracking a parcel', 'Deletes the parcel and its planned notices. ' + SCOPE, { 204: null }),
  'GET /tracking/settings': doc('Tracking settings', 'A tenant\'s tracking settings (defaults until saved). ' + SCOPE, { 200: obj({ tenant: str, stored: bool, settings: any }) }),
  'PUT /tracking/settings': doc('Replace tracking settings', 'Saves the whole settings object; notices already planned move into a changed sending window (`noticesReplanned`). ' + SCOPE, { 200: SAVED_SETTINGS }),
  'PATCH /tracking/settings': doc('Change tracking settings', 'Saves the given fields over the current settings; notices already planned move into a changed sending window (`noticesReplanned`). ' + SCOPE, { 200: SAVED_SETTINGS }),
  'GET /tracking/stats': doc('Tracking statistics', 'Parcels per status and this month\'s quota. ' + SCOPE, { 200: any }),
  'GET /blacklist': doc('Notice blacklist', 'E-mail addresses and phone numbers that get no parcel notices. ' + SCOPE, { 200: any }),
  'GET /blacklist/check': doc('Is a contact blacklisted', 'Checks an e-mail address and/or phone number. ' + SCOPE, { 200: any }),
  'DELETE /blacklist': doc('Unblacklist a contact', 'The contact gets notices again. ' + SCOPE, { 200: any, 204: null }),

  'GET /tenants': doc('Tenants', 'Every tenant (admin).', { 200: obj({ tenants: { type: 'array', items: ref('Tenant') } }) }),
  'GET /tenants/:tenant': doc('One tenant', 'A tenant with its credentials (no passwords) and sender domains. ' + SCOPE, { 200: ref('Tenant') }),
  'POST /tenants': doc('Create a tenant', 'A tenant made through the API (config-file tenants are read-only) (admin).', { 201: ref('Tenant') }),
  'PATCH /tenants/:tenant': doc('Change a tenant', 'Changes the given fields (admin).', { 200: ref('Tenant') }),
  'PUT /tenants/:tenant/upstream': doc('Choose a tenant\'s upstream', 'The upstream the tenant\'s mail goes through. ' + SCOPE, { 200: ref('Tenant') }),
  'DELETE /tenants/:tenant': doc('Delete a tenant', 'Refused while it has queued messages (admin).', { 200: any, 204: null }),
  'POST /tenants/:tenant/credentials': doc('Add SMTP credentials', 'A login for the tenant\'s app; the password is shown once (admin).', { 201: any }),
  'POST /tenants/:tenant/credentials/:user/rotate': doc('Rotate a password', 'A new password for a login, shown once; the login\'s API tokens are revoked (admin).', { 200: any }),
  'PATCH /tenants/:tenant/credentials/:user': doc('Change a login', 'The login\'s own upstream or sender (admin).', { 200: any }),
  'DELETE /tenants/:tenant/credentials/:user': doc('Delete a login', 'The app can no longer log in with it (admin).', { 204: null }),
  'POST /tenants/:tenant/tokens': doc('Issue a tenant API token', 'A token for the tenant\'s own data (console and API), shown once (admin).', { 201: any }),
  'GET /tenants/:tenant/tokens': doc('Tenant API tokens', 'The names of a tenant\'s tokens, never the tokens (admin).', { 200: any }),
  'DELETE /tenants/:tenant/tokens/:name': doc('Revoke a tenant API token', 'The token stops working at once (admin).', { 204: null }),

  'GET /upstreams': doc('Upstreams', 'The upstreams this token may use. ' + SCOPE, { 200: obj({ upstreams: { type: 'array', items: ref('Upstream') } }) }),
  'GET /upstreams/:name': doc('One upstream', 'An upstream (passwords masked). ' + SCOPE, { 200: ref('Upstream') }),
  'POST /upstreams': doc('Create an upstream', 'An SMTP or MX upstream; a tenant token\'s is its own, and must be a public mail server. ' + SCOPE, { 201: ref('Upstream') }),
  'PATCH /upstreams/:name': doc('Change an upstream', 'Changes the given fields. ' + SCOPE, { 200: ref('Upstream') }),
  'POST /upstreams/:name/copy': doc('Copy an upstream', 'An editable copy of a visible upstream. ' + SCOPE, { 201: ref('Upstream') }),
  'DELETE /upstreams/:name': doc('Delete an upstream', 'Refused while a tenant or login uses it. ' + SCOPE, { 204: null }),
  'POST /upstreams/:name/test': doc('Send a test mail', 'Sends one mail through the upstream and answers with the whole SMTP dialogue. ' + SCOPE, { 200: any }),

  'GET /webhooks': doc('Webhooks', 'Webhook subscriptions. ' + SCOPE, { 200: obj({ webhooks: { type: 'array', items: ref('Webhook') } }) }),
  'POST /webhooks': doc('Subscribe a webhook', 'Events are POSTed, signed with the secret shown here once. ' + SCOPE, { 201: ref('Webhook') }),
  'GET /webhooks/:id': doc('One webhook', 'A subscription (no secret). ' + SCOPE, { 200: ref('Webhook') }),
  'PATCH /webhooks/:id': doc('Change a webhook', 'URL, events, active; `rotateSecret` answers with a new secret. ' + SCOPE, { 200: ref('Webhook') }),
  'DELETE /webhooks/:id': doc('Delete a webhook', 'No more deliveries. ' + SCOPE, { 204: null }),
  'GET /webhooks/:id/deliveries': doc('Webhook deliveries', 'The delivery log, newest first. ' + SCOPE, { 200: obj({ deliveries: { type: 'array', items: any } }) }),
  'POST /webhooks/:id/test': doc('Test a webhook', 'Delivers a test event now and answers with the attempt. ' + SCOPE, { 200: obj({ attempt: any }) }),

  'GET /optouts': doc('Opt-outs', 'Recipients who unsubscribed from a category. ' + SCOPE, { 200: any }),
  'DELETE /optouts/:tenant/:category/:address': doc('Remove an opt-out', 'The recipient gets that category again. ' + SCOPE, { 204: null }),

  'GET /domains': doc('Sender domains', 'Each tenant domain\'s DNS check (SPF, DKIM, DMARC). ' + SCOPE, { 200: any }),
  'POST /domains/:domain/verify': doc('Check a domain now', 'Runs the DNS check of one sender domain. ' + SCOPE, { 200: any }),

  'GET /queue': doc('Queued messages', 'This node\'s queue, soonest due first (admin).', { 200: obj({ messages: { type: 'array', items: any } }) }),
  'POST /queue/flush': doc('Flush the queue', 'Every queued message is due now; held messages stay held (admin).', { 200: obj({ flushed: int }) }),
  'POST /queue/:id/hold': doc('Hold a message', 'A queued message is kept and not delivered until released (admin).', { 200: obj({ id: str, status: str }) }),
  'POST /queue/:id/release': doc('Release a held message', 'A held message is due now (admin).', { 200: obj({ id: str, status: str }) }),
  'POST /queue/release': doc('Release a shop\'s held mail', 'Every held message of `tenant` is due now (admin); set the tenant\'s `hold` to false first, or new mail is held again.', { 200: obj({ tenant: str, released: int }) }),
  'POST /queue/:id/retry': doc('Retry a message now', 'One queued message is due now (admin).', { 200: obj({ id: str, status: str }) }),
  'DELETE /queue/:id': doc('Delete a queued message', 'Its recipients fail with "deleted by an administrator" (admin).', { 200: obj({ id: str, failed: { type: 'array', items: str } }) }),

  'GET /warnings': doc('Setup warnings', 'What this relay\'s setup lacks, one sentence each saying what to set: no admin token in the config, no DKIM key for the system sender, a placeholder or short host name, sender domains without their DNS records, tracking without a carrier account (admin). Also logged at start and printed by `mailgate check-config`.', { 200: obj({ warnings: { type: 'array', items: str } }) }),
  'GET /cluster': doc('Cluster', 'This node and the nodes sharing its store (admin).', { 200: any }),
  'POST /node/drain': doc('Drain this node', 'The node stops taking mail, hands its queue to the other nodes and stops (admin).', { 200: any }),
};
