// The bounce parsing thread's entry point: parses one message per request and answers with the
// report (or the error). Runs untrusted input; the main thread kills it when it overruns its deadline.
// It says "ready" once loaded, so the deadline counts parsing only, never the thread's start.
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import { parseBounce } from './parse.js';
import type { ParseReply, ParseRequest } from './parse-thread.js';

// Each answer says how long the parse took here (ms): the main thread's clock can run late when
// it is busy, and a parse that finished past the deadline must still count as overrun.
parentPort!.on('message', (req: ParseRequest) => {
  const start = performance.now();
  parseBounce(Buffer.from(req.raw.buffer, req.raw.byteOffset, req.raw.byteLength), req.own).then(
    (report) => parentPort!.postMessage({ id: req.id, report, ms: performance.now() - start } satisfies ParseReply),
    (err: Error) => parentPort!.postMessage({ id: req.id, error: err.message, ms: performance.now() - start } satisfies ParseReply),
  );
});
parentPort!.postMessage({ ready: true } satisfies ParseReply);
