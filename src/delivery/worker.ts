// Delivery thread: runs the Deliverer (nodemailer pools, MX lookups) off the main event loop, so
// SMTP ingress and the spool use one core and outbound SMTP the other. Jobs and results are plain
// data over postMessage; the main thread keeps all state and writes all records.
import { Resolver } from 'node:dns/promises';
import { createReadStream } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import { Deliverer } from './deliverer.js';
import { makeField } from '../identity/headers.js';
import { prepareMessage } from '../identity/prepare.js';
import type { DeliveryJob, WorkerReply, WorkerSetup } from './worker-protocol.js';

const setup = workerData as WorkerSetup;
const log = pino({ level: setup.logLevel, base: { pid: process.pid, thread: 'delivery' } });
const resolver = new Resolver({ timeout: 5000, tries: 2 });
if (setup.dnsServers.length > 0) resolver.setServers(setup.dnsServers);
const deliverer = new Deliverer({ hostname: setup.hostname, resolver, log });

function openBody(job: DeliveryJob) {
  const b = job.body;
  if (b.kind === 'buffer') return () => Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength);
  if (b.length === 0) return () => Buffer.alloc(0);
  return () => createReadStream(b.path, { start: b.start, end: b.start + b.length - 1 });
}

async function run(job: DeliveryJob): Promise<WorkerReply> {
  if (!job.prepare) return { id: job.id, results: await deliverer.deliver(job.upstream, job.envelope, openBody(job)) };
  const { identity, trace, verp, listUnsubscribe } = job.prepare;
  let plan;
  let results;
  if (listUnsubscribe) {
    // Optional category: each recipient's copy carries its own signed List-Unsubscribe (RFC 8058).
    const each = await Promise.all(job.envelope.to.map((rcpt, i) => prepareMessage(job.body, identity, { ...trace, recipient: rcpt }, [
      makeField('List-Unsubscribe', listUnsubscribe[i]!),
      makeField('List-Unsubscribe-Post', 'List-Unsubscribe=One-Click'),
    ])));
    plan = each[0]!.plan;
    results = await Promise.all(job.envelope.to.map((rcpt, i) => deliverer.deliver(job.upstream, { from: verp[i] ?? job.envelope.from, to: [rcpt] }, () => each[i]!.open())));
  } else {
    const prepared = await prepareMessage(job.body, identity, job.envelope.to.length === 1 ? { ...trace, recipient: job.envelope.to[0]! } : trace);
    plan = prepared.plan;
    // One transaction per recipient: each has its own VERP return path.
    results = await Promise.all(job.envelope.to.map((rcpt, i) => deliverer.deliver(job.upstream, { from: verp[i] ?? job.envelope.from, to: [rcpt] }, () => prepared.open())));
  }
  return {
    id: job.id,
    results: results.flat(),
    identity: { mode: plan.mode, ...(plan.reason ? { reason: plan.reason } : {}), ...(plan.warning ? { warning: plan.warning } : {}), dkimDomains: plan.signers.map((s) => s.domain) },
  };
}

parentPort!.on('message', (msg: DeliveryJob | { close: true }) => {
  if ('close' in msg) {
    void deliverer.close().then(() => parentPort!.close());
    return;
  }
  run(msg).then(
    (reply) => parentPort!.postMessage(reply satisfies WorkerReply),
    (err: Error) => parentPort!.postMessage({ id: msg.id, error: err.message } satisfies WorkerReply),
  );
});
