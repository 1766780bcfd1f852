// One delivery job: prepare the message (identity, headers, DKIM) when asked, then one SMTP
// transaction per recipient, each with its own VERP return path — or, when the plan says `together`,
// one per server for all recipients with the message's return path. Shared by both deliverers.
import { createReadStream } from 'node:fs';
import type { Deliverer } from './deliverer.js';
import { makeField } from '../header-fields.js';
import { prepareMessage } from '../identity/prepare.js';
import type { SigningThread } from '../identity/dkim.js';
import type { DeliveryJob, JobOutcome } from './worker-protocol.js';
import type { RecipientResult } from '../queue/delivery-result.js';

/** Recipients in one transaction with a message's shared return path. */
const RECIPIENTS_PER_TRANSACTION = 50;

function batches<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function openBody(job: DeliveryJob) {
  const b = job.body;
  if (b.kind === 'buffer') return () => Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength);
  if (b.length === 0) return () => Buffer.alloc(0);
  return () => createReadStream(b.path, { start: b.start, end: b.start + b.length - 1 });
}

/** `signing`: the delivery thread signs itself (it has the spare core); on the main loop the signature goes to libuv's pool. */
export async function runDeliveryJob(deliverer: Deliverer, job: DeliveryJob, signing: SigningThread = 'caller'): Promise<JobOutcome> {
  const outcome = await deliverJob(deliverer, job, signing);
  const tlsSessions = deliverer.takeTlsSessions();
  return tlsSessions.length > 0 ? { ...outcome, tlsSessions } : outcome;
}

async function deliverJob(deliverer: Deliverer, job: DeliveryJob, signing: SigningThread): Promise<JobOutcome> {
  if (!job.prepare) return { results: await deliverer.deliver(job.upstream, job.envelope, openBody(job)) };
  const { identity, trace, verp, listUnsubscribe } = job.prepare;
  let plan;
  let addedMessageId;
  let results;
  if (listUnsubscribe) {
    // Optional category: each recipient's copy carries its own signed List-Unsubscribe (RFC 8058).
    const each = await Promise.all(job.envelope.to.map((rcpt, i) => prepareMessage(job.body, identity, { ...trace, recipient: rcpt }, [
      makeField('List-Unsubscribe', listUnsubscribe[i]!),
      makeField('List-Unsubscribe-Post', 'List-Unsubscribe=One-Click'),
    ], signing)));
    plan = each[0]!.plan;
    addedMessageId = each[0]!.addedMessageId;
    results = await Promise.all(job.envelope.to.map((rcpt, i) => deliverer.deliver(job.upstream, { from: verp[i] ?? job.envelope.from, to: [rcpt] }, () => each[i]!.open())));
  } else {
    const prepared = await prepareMessage(job.body, identity, job.envelope.to.length === 1 ? { ...trace, recipient: job.envelope.to[0]! } : trace, [], signing);
    plan = prepared.plan;
    addedMessageId = prepared.addedMessageId;
    results = job.prepare.together
      // One transaction per server (the deliverer splits by domain for MX delivery) and per 50 recipients
      // (RFC 5321 asks servers for 100; smarthosts often allow 50), one return path for the message.
      ? await Promise.all(batches(job.envelope.to, RECIPIENTS_PER_TRANSACTION).map((to) => deliverer.deliver(job.upstream, { from: verp[0] ?? job.envelope.from, to }, () => prepared.open())))
      : await Promise.all(job.envelope.to.map((rcpt, i) => deliverer.deliver(job.upstream, { from: verp[i] ?? job.envelope.from, to: [rcpt] }, () => prepared.open())));
  }
  return {
    results: results.flat(),
    identity: { mode: plan.mode, ...(plan.reason ? { reason: plan.reason } : {}), ...(plan.warning ? { warning: plan.warning } : {}), dkimDomains: plan.signers.map((s) => s.domain), ...(addedMessageId ? { messageId: addedMessageId } : {}) },
  };
}
