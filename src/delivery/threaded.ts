// The main thread's handle on the delivery thread: sends jobs, matches replies, and restarts the
// thread if it dies (jobs in flight then fail with an error the scheduler turns into a deferral).
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Upstream } from '../config/types.js';
import type { RecipientResult } from './types.js';
import type { DeliveryJob, JobBody, WorkerReply, WorkerSetup } from './worker-protocol.js';

interface Pending {
  resolve: (r: RecipientResult[]) => void;
  reject: (e: Error) => void;
}

export class ThreadedDeliverer {
  private worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closing = false;

  constructor(private readonly setup: WorkerSetup, private readonly log: Logger) {
    this.worker = this.spawn();
  }

  deliver(upstream: Upstream, envelope: { from: string; to: string[] }, body: JobBody): Promise<RecipientResult[]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, upstream, envelope, body } satisfies DeliveryJob);
    });
  }

  /** Stops the thread: politely when idle; at once when deliveries are still pending (they are abandoned and retried after restart). */
  async close(): Promise<void> {
    this.closing = true;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    if (this.pending.size > 0) void this.worker.terminate();
    else this.worker.postMessage({ close: true });
    const timer = setTimeout(() => void this.worker.terminate(), 5000);
    await exited;
    clearTimeout(timer);
    this.failAll(new Error('delivery thread stopped'));
  }

  private spawn(): Worker {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: this.setup });
    worker.on('message', (reply: WorkerReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if ('error' in reply) p.reject(new Error(reply.error));
      else p.resolve(reply.results);
    });
    worker.on('error', (err) => this.log.error({ err: err.message }, 'delivery thread failed'));
    worker.on('exit', (code) => {
      if (this.closing) return;
      this.log.error({ code }, 'delivery thread exited; restarting it');
      this.failAll(new Error(`delivery thread exited with code ${code}`));
      this.worker = this.spawn();
    });
    worker.unref();
    return worker;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
