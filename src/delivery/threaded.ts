// The main thread's handle on the delivery thread: sends jobs, matches replies, and restarts the
// thread if it dies (jobs in flight then fail with an error the scheduler turns into a deferral).
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Upstream } from '../config/types.js';
import type { DeliveryJob, JobBody, JobOutcome, WorkerReply, WorkerSetup } from './worker-protocol.js';

export type DeliveryOutcome = JobOutcome;

interface Pending {
  resolve: (r: DeliveryOutcome) => void;
  reject: (e: Error) => void;
}

export class ThreadedDeliverer {
  private worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closing = false;
  /** Consecutive early deaths: the restart delay grows with them so a broken thread cannot spin. */
  private crashes = 0;
  private alive = false;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(private readonly setup: WorkerSetup, private readonly log: Logger) {
    this.worker = this.spawn();
  }

  deliver(upstream: Upstream, envelope: { from: string; to: string[] }, body: JobBody, prepare?: DeliveryJob['prepare']): Promise<DeliveryOutcome> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (!this.alive) return reject(new Error('delivery thread is restarting'));
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, upstream, envelope, body, ...(prepare ? { prepare } : {}) } satisfies DeliveryJob);
    });
  }

  /** Stops the thread: politely when idle; at once when deliveries are still pending (they are abandoned and retried after restart). */
  async close(): Promise<void> {
    this.closing = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (!this.alive) {
      this.failAll(new Error('delivery thread stopped'));
      return;
    }
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
      else {
        const { id: _id, ...outcome } = reply;
        p.resolve(outcome);
      }
    });
    worker.on('error', (err) => this.log.error({ err: err.message }, 'delivery thread failed'));
    const started = Date.now();
    this.alive = true;
    worker.on('exit', (code) => {
      this.alive = false;
      if (this.closing) return;
      this.crashes = Date.now() - started < 10_000 ? this.crashes + 1 : 1;
      const delay = Math.min(30_000, 250 * 2 ** (this.crashes - 1));
      this.log.error({ code, restartInMs: delay }, 'delivery thread exited; restarting it');
      this.failAll(new Error(`delivery thread exited with code ${code}`));
      this.restartTimer = setTimeout(() => { if (!this.closing) this.worker = this.spawn(); }, delay);
      this.restartTimer.unref();
    });
    worker.unref();
    return worker;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
