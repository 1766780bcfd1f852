// One readable piped into one writable, as a promise: node's stream.pipeline without its
// AbortController, whose abort on every finish builds a DOMException with a stack trace (~0.08 ms a
// message at r=1 on the SMTP thread). Same outcome as pipeline for two streams: resolves when `dst`
// has finished; on an error or a premature close of either, destroys both and rejects.
import { finished, type Readable, type Writable } from 'node:stream';

export function pipeInto(src: Readable, dst: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      src.unpipe(dst);
      src.destroy(err);
      dst.destroy(err);
      reject(err);
    };
    // Both watches stay, also after the end: an error either stream emits later (destroy() after a
    // failure, a source torn down after its end) has a listener, as with pipeline.
    finished(src, { writable: false }, (err) => { if (err) fail(err); });
    finished(dst, { readable: false }, (err) => {
      if (err) return fail(err);
      if (!settled) {
        settled = true;
        resolve();
      }
    });
    src.pipe(dst);
  });
}
