// Admin API: the queue as an operator sees it (like `postqueue -p`), and flush / retry / delete.
import type { FastifyInstance } from 'fastify';
import type { Scheduler } from '../queue/scheduler.js';
import type { Spool } from '../queue/spool.js';
import type { MessageRecord } from '../store/records.js';
import type { Directory } from '../tenants/directory.js';
import { notFound, tenantIdSchema } from './principal.js';
import { ApiError } from './errors.js';

export interface QueueRouteDeps {
  spool: Spool;
  scheduler: Scheduler;
  directory: Directory;
}

const idParam = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9A-Z]{20}$' } } } as const;

/** One queued message: who, to whom (still pending), how old, how many attempts, the last answer, next try. */
export function queueEntry(r: MessageRecord, now: number) {
  const pending = r.recipients.filter((x) => x.status === 'queued' || x.status === 'deferred');
  const last = [...pending].sort((a, b) => b.updatedAt - a.updatedAt)[0];
  return {
    id: r.id, tenant: r.tenant, from: r.envelope.from, size: r.size, createdAt: r.createdAt, ageSeconds: Math.round((now - r.createdAt) / 1000),
    attempts: r.attempts, nextAttemptAt: r.held ? null : r.dueAt, held: r.held ?? null,
    pending: pending.map((x) => ({ address: x.address, status: x.status, lastReply: x.lastReply ?? null, upstream: x.lastUpstream ?? null })),
    lastReply: last?.lastReply ?? null,
  };
}

/** A node not heard from for this long is taken for dead: its queued messages may be deleted at another node. */
export const DEAD_HOLDER_MS = 5 * 60 * 1000;

/**
 * Several nodes: a queued message is retried, held, released or deleted by the node that holds it
 * (its body is on that node's disk, and only that node's scheduler knows whether it is being
 * delivered right now). Elsewhere the change could be lost to that node's next write, or make this
 * node try a body it does not have. Its content (raw source, re-send) is read there too.
 */
export async function refuseIfElsewhere(spool: Spool, id: string, what = 'retry, hold, release or delete it', opts: { unlessHolderDead?: boolean } = {}): Promise<void> {
  const holder = await spool.holder(id);
  if (holder === undefined || holder === 'here') return;
  // A node that died with its disk never delivers its messages: the operator can still take them out of the queue.
  if (opts.unlessHolderDead && holder !== 'nobody' && holder.silentMs > DEAD_HOLDER_MS) return;
  if (holder === 'nobody') throw new ApiError('ON_OTHER_NODE', `message ${id} is being handed over from a node taken out of service; another node takes it on within seconds: try again there (mailgate status lists the nodes)`, { node: null });
  throw new ApiError('ON_OTHER_NODE', `message ${id} is kept at node ${holder.name} (${holder.node}), with its content: ${what} through that node's API, console or mailgate command (a node not heard from for ${DEAD_HOLDER_MS / 60_000} minutes is taken for dead, and its queued messages can be deleted at any node)`, { node: holder.node, nodeName: holder.name });
}

export function registerQueueRoutes(api: FastifyInstance, deps: QueueRouteDeps): void {
  api.get('/queue', {
    schema: {
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { tenant: tenantIdSchema, limit: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 } },
      },
    },
  }, async (req) => {
    const q = req.query as { tenant?: string; limit: number };
    const now = Date.now();
    const out = [];
    for await (const r of deps.spool.queued()) {
      if (q.tenant && r.tenant !== q.tenant) continue;
      out.push(queueEntry(r, now));
      if (out.length >= q.limit) break;
    }
    return { messages: out };
  });

  api.post('/queue/flush', async () => ({ flushed: await deps.scheduler.flush() }));

  api.post('/queue/:id/retry', { schema: { params: idParam } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    await refuseIfElsewhere(deps.spool, id);
    const result = await deps.scheduler.retryNow(id);
    if (result === 'missing') return notFound(reply, `no message ${id}`);
    if (result === 'done') throw new ApiError('NOT_QUEUED', `message ${id} is no longer queued (every recipient is delivered or failed)`);
    if (result === 'held') throw new ApiError('CONFLICT', `message ${id} is held: release it to deliver it (mailgate queue release ${id}, the console's queue page, or POST /queue/${id}/release)`);
    return { id, status: result === 'busy' ? 'being delivered now' : 'due now' };
  });

  for (const [action, hold] of [['hold', true], ['release', false]] as const) {
    api.post(`/queue/:id/${action}`, { schema: { params: idParam } }, async (req, reply) => {
      const { id } = req.params as { id: string };
      await refuseIfElsewhere(deps.spool, id);
      const result = await deps.scheduler.setHeld(id, hold, 'an administrator (admin API)');
      if (result === 'missing') return notFound(reply, `no message ${id}`);
      if (result === 'done') throw new ApiError('NOT_QUEUED', `message ${id} is no longer queued`);
      if (result === 'busy') throw new ApiError('BUSY', `message ${id} is being delivered right now; try again in a moment`);
      return { id, status: result === 'unchanged' ? (hold ? 'held' : 'released') : result };
    });
  }

  api.post('/queue/release', {
    schema: { querystring: { type: 'object', required: ['tenant'], additionalProperties: false, properties: { tenant: tenantIdSchema } } },
  }, async (req) => {
    const { tenant } = req.query as { tenant: string };
    const released = await deps.scheduler.releaseTenant(tenant, 'an administrator (admin API)');
    // A misspelt shop is said to be one; a shop removed from the config may still have held mail, released above.
    if (released === 0 && !deps.directory.tenant(tenant)) throw new ApiError('NOT_FOUND', `no tenant ${tenant}`);
    return { tenant, released };
  });

  api.delete('/queue/:id', { schema: { params: idParam } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    await refuseIfElsewhere(deps.spool, id, undefined, { unlessHolderDead: true });
    const result = await deps.scheduler.remove(id, 'an administrator (admin API)');
    if (result.status === 'deleted') return { id, failed: result.recipients };
    if (result.status === 'missing') return notFound(reply, `no message ${id}`);
    if (result.status === 'done') throw new ApiError('NOT_QUEUED', `message ${id} is no longer queued`);
    throw new ApiError('BUSY', `message ${id} is being delivered right now; try again in a moment`);
  });
}
