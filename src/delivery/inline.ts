// The deliverer on the main event loop: same jobs and results as the delivery thread, without a
// second V8 isolate (about 26 MB) or the copies over postMessage. The RSA/Ed25519 signature, the
// one heavy computation, runs on libuv's thread pool (async crypto.sign), so it uses the other core.
import type { Resolver } from 'node:dns/promises';
import type { Logger } from 'pino';
import type { Upstream } from '../config/types.js';
import { Deliverer } from './deliverer.js';
import { runDeliveryJob } from './job.js';
import type { DeliveryOutcome } from './threaded.js';
import type { DeliveryJob, JobBody, WorkerSetup } from './worker-protocol.js';

export class InlineDeliverer {
  private readonly deliverer: Deliverer;

  /** `resolver`: the main thread's own (the same DNS servers). */
  constructor(hostname: string, resolver: Resolver, log: Logger, secure: WorkerSetup['secure']) {
    this.deliverer = new Deliverer({ hostname, resolver, log: log.child({ thread: 'delivery' }), secure });
  }

  deliver(upstream: Upstream, envelope: { from: string; to: string[] }, body: JobBody, prepare?: DeliveryJob['prepare']): Promise<DeliveryOutcome> {
    // No thread to answer, so no job id to match replies by.
    return runDeliveryJob(this.deliverer, { id: 0, upstream, envelope, body, ...(prepare ? { prepare } : {}) }, 'pool');
  }

  close(): Promise<void> {
    return this.deliverer.close();
  }
}
