// Admin API: a tenant's messages (newest first, by recipient, reference, Message-ID, status, time),
// one message with its whole history, and re-sending a kept message to a corrected address.
import { timeMs } from './api-schemas.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { MailQueue } from '../queue/queue.js';
import type { Spool } from '../queue/spool.js';
import type { EventLog } from '../store/event-log.js';
import type { AcrossTenants } from '../store/ports.js';
import { RECIPIENT_VIEWS, recipientState, type MessageRecord, type RecipientState } from '../store/records.js';
import { ApiError } from './errors.js';
import { explained, referenced } from './events.js';
import { mayAccess, tenantIdSchema, tenantScope } from './principal.js';
import { refuseIfElsewhere } from './queue.js';

export interface MessageRouteDeps {
  spool: Spool;
  events: EventLog;
  queue: MailQueue;
  acrossTenants: AcrossTenants;
}

/** A recipient as a shop admin sees it: a later bounce or complaint overrides "delivered". */
export function recipientView(x: RecipientState) {
  return {
    address: x.address, status: recipientState(x), delivery: x.status, attempts: x.attempts, updatedAt: x.updatedAt, lastReply: x.lastReply ?? null, upstream: x.lastUpstream ?? null, lastUpstream: x.lastUpstream ?? null,
    ...(x.outcome ? { outcome: x.outcome } : {}),
  };
}

/** What a list shows of a message. */
export function summary(r: MessageRecord) {
  return {
    id: r.id, tenant: r.tenant, createdAt: r.createdAt, state: r.state, from: r.envelope.from, to: r.envelope.to,
    subject: r.subject ?? null, messageId: r.messageId ?? null, reference: r.reference ?? null, size: r.size,
    recipients: r.recipients.map(recipientView),
    /** The SMTP login or trusted network the message came in by. */
    credential: r.source.user ?? r.source.network ?? null,
    /** Held: accepted and kept, not delivered until an operator releases it. */
    held: r.held ?? null,
    /** Until when the content stays on disk once the message is final (re-send, raw source); null when gone or still queued. */
    contentKeptUntil: r.state === 'done' && (r.keptUntil ?? 0) > Date.now() ? r.keptUntil! : null,
    ...(r.resendOf ? { resendOf: r.resendOf } : {}),
  };
}

export function registerMessageRoutes(api: FastifyInstance, deps: MessageRouteDeps): void {
  api.get('/messages', {
    config: { scope: 'tenant' },
    schema: {
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          tenant: tenantIdSchema,
          recipient: { type: 'string', minLength: 3, maxLength: 320 },
          name: { type: 'string', minLength: 2, maxLength: 200, description: 'a part of the recipients\' display names in the To header (case-insensitive); recent messages are searched' },
          reference: { type: 'string', minLength: 1, maxLength: 998 },
          messageId: { type: 'string', minLength: 1, maxLength: 998 },
          status: { type: 'string', enum: [...RECIPIENT_VIEWS] },
          from: timeMs(),
          to: timeMs(),
          cursor: { type: 'string', maxLength: 200 },
          limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
        },
      },
    },
  }, async (req) => {
    const q = req.query as { tenant?: string; recipient?: string; name?: string; reference?: string; messageId?: string; status?: string; from?: number; to?: number; cursor?: string; limit: number };
    // Without a tenant: a tenant token's own, an admin token's every tenant (the operator's view).
    const tenant = tenantScope(req, q.tenant);
    if (q.reference || q.messageId) {
      // A Message-ID we made names its queue id; the app's own are indexed like references.
      const ours = q.messageId && !q.reference ? await deps.spool.byMessageId(q.messageId.includes('<') ? q.messageId : `<${q.messageId}>`) : undefined;
      const own = ours ? await deps.spool.get(ours) : undefined;
      const ids = own && (tenant === undefined || own.tenant === tenant) ? [own.id] : await referenced(deps, tenant, (q.reference ?? q.messageId)!);
      const recs = (await Promise.all(ids.map((id) => deps.spool.get(id)))).filter((r): r is MessageRecord => Boolean(r) && (tenant === undefined || r!.tenant === tenant));
      return { messages: recs.sort((a, b) => b.createdAt - a.createdAt).slice(0, q.limit).map(summary) };
    }
    const rcpt = q.recipient?.toLowerCase();
    const name = q.name?.toLowerCase().trim();
    const list = {
      limit: q.limit, ...(q.from !== undefined ? { from: q.from } : {}), ...(q.to !== undefined ? { to: q.to } : {}), ...(q.cursor ? { cursor: q.cursor } : {}),
      filter: (r: MessageRecord) => (!rcpt || r.envelope.to.some((t) => t.toLowerCase() === rcpt)) && (!name || (r.toNames ?? '').toLowerCase().includes(name)) && (!q.status || r.recipients.some((x) => recipientState(x) === q.status || (q.status === 'failed' && x.status === 'failed'))),
    };
    const page = tenant === undefined ? await deps.acrossTenants.messages(list) : await deps.spool.listByTenant(tenant, list);
    return { messages: page.messages.map(summary), ...(page.cursor ? { cursor: page.cursor } : {}) };
  });

  /** The message if the asker may see it; another tenant's is answered as one that does not exist (a shop learns nothing of others' ids). */
  const visible = async (req: FastifyRequest, id: string): Promise<MessageRecord> => {
    const record = await deps.spool.get(id);
    if (!record || !mayAccess(req, record.tenant)) throw new ApiError('NOT_FOUND', `no message ${id}`);
    return record;
  };

  api.get('/messages/:id', {
    config: { scope: 'tenant' },
    schema: { params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9A-Z]{20}$' } }, required: ['id'] } },
  }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const record = await visible(req, id);
    return { ...summary(record), envelope: record.envelope, source: record.source, identity: record.identity ?? null, events: explained(await deps.events.byMessage(id)) };
  });

  api.get('/messages/:id/raw', {
    config: { scope: 'tenant' },
    schema: {
      params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9A-Z]{20}$' } }, required: ['id'] },
      querystring: { type: 'object', additionalProperties: false, properties: { maxBytes: { type: 'integer', minimum: 1 } } },
    },
  }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const { maxBytes } = req.query as { maxBytes?: number };
    const record = await visible(req, id);
    if (!deps.spool.hasBody(record, Date.now())) throw new ApiError('BODY_GONE', `the content of ${id} is no longer kept (retention.bodies)`);
    // Several nodes: the content is on the disk of the node that holds the message.
    await refuseIfElsewhere(deps.spool, id, 'read its raw source');
    // As the app sent it (before our From/DKIM changes), streamed from the spool; maxBytes cuts it.
    const length = Math.min(record.size, maxBytes ?? record.size);
    return reply.type('message/rfc822').header('content-length', length).header('x-mailgate-size', record.size)
      .send(deps.spool.openBody(record.body, length));
  });

  api.post('/messages/:id/resend', {
    config: { scope: 'tenant' },
    schema: {
      params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9A-Z]{20}$' } }, required: ['id'] },
      body: { type: ['object', 'null'], properties: { recipient: { type: 'string', minLength: 3, maxLength: 254 } }, additionalProperties: false },
    },
  }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const recipient = (req.body as { recipient?: string } | null)?.recipient;
    await visible(req, id);
    await refuseIfElsewhere(deps.spool, id, 're-send it');
    // A SubmitError (body gone, a suppressed address) answers with its code's status (errors.ts).
    const result = await deps.queue.resend(id, recipient ? [recipient] : undefined);
    return reply.code(201).send({ id: result.id, resendOf: id });
  });
}
