// Bounce parsing off the main thread: inbound mail is untrusted, and a message that makes the
// parser spin must not stop submission, the API or /healthz. One message at a time goes to a
// worker thread with a deadline; a parse that overruns it kills the thread (a new one starts for
// the next message) and fails with ParseTimeoutError. The thread starts on the first bounce and
// stops when idle, so an idle relay does not carry mailparser's memory.
import { Worker } from 'node:worker_threads';
import type { BounceReport } from './parse.js';

export interface ParseRequest {
  id: number;
  raw: Uint8Array;
  own: string[];
}

/** `ms`: how long the parse took, timed on the thread itself. */
export type ParseReply = { id: number; report: BounceReport; ms: number } | { id: number; error: string; ms: number } | { ready: true };

/** A thread that has not said "ready" by then is taken for broken (ms). */
const START_LIMIT_MS = 30_000;

export class ParseTimeoutError extends Error {
  constructor(ms: number) {
    super(`parsing took longer than ${ms} ms and was stopped`);
    this.name = 'ParseTimeoutError';
  }
}

/** The parser was stopped (shutdown) before it read the message: not the message's fault, try again later. */
export class ParserStoppedError extends Error {
  constructor() {
    super('bounce parser stopped');
    this.name = 'ParserStoppedError';
  }
}

interface Job {
  raw: Buffer;
  own: string[];
  resolve: (r: BounceReport) => void;
  reject: (e: Error) => void;
}

export interface ParseThreadOptions {
  /** Longest one message may take (ms). */
  deadlineMs?: number;
  /** The thread stops after this long without work (ms). */
  idleMs?: number;
  /** The worker script (tests pass the built one). */
  script?: URL;
}

export class BounceParseThread {
  private worker: Worker | undefined;
  /** Resolves when the current worker has loaded (its deadline clock starts then). */
  private ready: Promise<void> | undefined;
  private readonly jobs: Job[] = [];
  private busy = false;
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly deadlineMs: number;
  private readonly idleMs: number;
  private readonly script: URL;

  constructor(opts: ParseThreadOptions = {}) {
    this.deadlineMs = opts.deadlineMs ?? 5000;
    this.idleMs = opts.idleMs ?? 30_000;
    this.script = opts.script ?? new URL('./parse-worker.js', import.meta.url);
  }

  /** Parses one message on the thread; rejects with ParseTimeoutError past the deadline. */
  parse(raw: Buffer, own: Iterable<string> = []): Promise<BounceReport> {
    if (this.closed) return Promise.reject(new ParserStoppedError());
    return new Promise((resolve, reject) => {
      this.jobs.push({ raw, own: [...own], resolve, reject });
      this.pump();
    });
  }

  /** Whether the thread is running now (for tests and metrics). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    for (const job of this.jobs.splice(0)) job.reject(new ParserStoppedError());
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }

  private pump(): void {
    if (this.busy || this.closed) return;
    const job = this.jobs.shift();
    if (!job) {
      this.idleTimer = setTimeout(() => void this.stopIdle(), this.idleMs);
      this.idleTimer.unref();
      return;
    }
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.busy = true;
    const worker = this.worker ?? this.spawn();
    const ready = this.ready!;
    const id = this.nextId++;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('exit', onExit);
      this.busy = false;
      fn();
      this.pump();
    };
    const onMessage = (reply: ParseReply) => {
      if (!('id' in reply) || reply.id !== id) return;
      // An answer that came in time by this thread's clock may still have overrun: this thread may
      // have been too busy to see its timer fire (a restart reading its backlog, say).
      if (reply.ms > this.deadlineMs) return settle(() => job.reject(new ParseTimeoutError(this.deadlineMs)));
      settle(() => ('error' in reply ? job.reject(new Error(reply.error)) : job.resolve(reply.report)));
    };
    const onExit = (code: number) => {
      if (this.worker === worker) this.worker = undefined;
      settle(() => job.reject(this.closed ? new ParserStoppedError() : new Error(`bounce parser thread exited with code ${code}`)));
    };
    const stop = (error: Error) => {
      if (this.worker === worker) this.worker = undefined;
      worker.off('exit', onExit);
      void worker.terminate();
      settle(() => job.reject(error));
    };
    worker.on('message', onMessage);
    worker.on('exit', onExit);
    worker.postMessage({ id, raw: job.raw, own: job.own } satisfies ParseRequest);
    // The deadline counts from when the thread has loaded: a slow start (a busy machine) is not the message's fault.
    timer = setTimeout(() => stop(new Error('bounce parser thread did not start')), Math.max(START_LIMIT_MS, this.deadlineMs));
    void ready.then(() => {
      if (settled) return;
      clearTimeout(timer);
      timer = setTimeout(() => stop(new ParseTimeoutError(this.deadlineMs)), this.deadlineMs);
    });
  }

  private spawn(): Worker {
    // A thread's heap is capped: a message that makes the parser allocate without end kills the thread, not the relay.
    const worker = new Worker(this.script, { resourceLimits: { maxOldGenerationSizeMb: 256 } });
    worker.unref();
    worker.on('error', () => undefined);
    this.ready = new Promise((resolve) => {
      const onReady = (m: ParseReply) => {
        if (!('ready' in m)) return;
        worker.off('message', onReady);
        resolve();
      };
      worker.on('message', onReady);
    });
    this.worker = worker;
    return worker;
  }

  private async stopIdle(): Promise<void> {
    if (this.busy || this.jobs.length > 0 || !this.worker) return;
    const w = this.worker;
    this.worker = undefined;
    await w.terminate();
  }
}
