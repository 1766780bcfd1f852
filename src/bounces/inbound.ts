// What reaches the bounce domain, from stored file to event: parsed on a thread of its own with a
// deadline (inbound mail is untrusted and must never stop the main loop), then attributed and
// recorded by the processor. Files that fail are kept and tried at the next start, at most twice.
import path from 'node:path';
import type { Logger } from 'pino';
import { BounceParseThread } from './parse-thread.js';
import { BounceProcessor, type BounceProcessorDeps } from './processor.js';

export class InboundBounces {
  private readonly parser: BounceParseThread;
  private readonly processor: BounceProcessor;

  constructor(
    deps: Omit<BounceProcessorDeps, 'parse'>,
    private readonly dataDir: string,
    deadlineMs: number,
    private readonly log: Logger,
  ) {
    this.parser = new BounceParseThread({ deadlineMs });
    this.processor = new BounceProcessor({ ...deps, parse: (raw, own) => this.parser.parse(raw, own) });
  }

  /** Processes a message the inbound listener just stored; never throws. */
  handle(file: string): void {
    this.processor.processFile(file).catch((err: Error) => this.log.error({ file, err: err.message }, 'inbound message could not be processed; it is kept and retried at the next start'));
  }

  /** Processes what a previous run left in <dataDir>/inbound. */
  backlog(): Promise<void> {
    return this.processor.processBacklog(path.join(this.dataDir, 'inbound'));
  }

  close(): Promise<void> {
    return this.parser.close();
  }
}
