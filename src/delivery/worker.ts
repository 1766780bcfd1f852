// Delivery thread: runs the Deliverer (nodemailer pools, MX lookups) off the main event loop, so
// SMTP ingress and the spool use one core and outbound SMTP the other. Jobs and results are plain
// data over postMessage; the main thread keeps all state and writes all records.
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../log-lines.js';
import { Deliverer } from './deliverer.js';
import { dnsResolver } from './mx.js';
import { runDeliveryJob } from './job.js';
import type { DeliveryJob, WorkerReply, WorkerSetup } from './worker-protocol.js';

const setup = workerData as WorkerSetup;
const log = createLogger({ level: setup.logLevel, format: setup.logFormat, sync: true, base: { pid: process.pid, thread: 'delivery' } });
const deliverer = new Deliverer({ hostname: setup.hostname, resolver: dnsResolver(setup.dnsServers), log, secure: setup.secure });

parentPort!.on('message', (msg: DeliveryJob | { close: true }) => {
  if ('close' in msg) {
    void deliverer.close().then(() => parentPort!.close());
    return;
  }
  runDeliveryJob(deliverer, msg).then(
    (done) => parentPort!.postMessage({ id: msg.id, ...done } satisfies WorkerReply),
    (err: Error) => parentPort!.postMessage({ id: msg.id, error: err.message } satisfies WorkerReply),
  );
});
