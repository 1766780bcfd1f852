// A raw SMTP client for tests that need exact bytes on the wire (smuggling, pipelining, EHLO):
// sends each command, collects each complete reply.
import net from 'node:net';

export interface Dialogue {
  /** Replies, one string per complete (possibly multi-line) reply, greeting first. */
  replies: string[];
  /** Sends raw bytes and waits for `expect` more complete replies (default 1). */
  send(data: string | Buffer, expect?: number): Promise<string[]>;
  close(): Promise<void>;
}

export async function openDialogue(port: number, opts: { host?: string; localAddress?: string; timeoutMs?: number } = {}): Promise<Dialogue> {
  const socket = net.connect({ port, host: opts.host ?? '127.0.0.1', ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
  const replies: string[] = [];
  let buffer = '';
  let current: string[] = [];
  let waiting: { count: number; resolve: (r: string[]) => void; reject: (e: Error) => void; start: number } | undefined;
  const check = () => {
    if (waiting && replies.length - waiting.start >= waiting.count) {
      const w = waiting;
      waiting = undefined;
      w.resolve(replies.slice(w.start, w.start + w.count));
    }
  };
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let i: number;
    while ((i = buffer.indexOf('\r\n')) >= 0) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      current.push(line);
      if (/^\d{3}(?: |$)/.test(line)) {
        replies.push(current.join('\n'));
        current = [];
      }
    }
    check();
  });
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const wait = (count: number, start: number) =>
    new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply within ${timeoutMs} ms; got ${JSON.stringify(replies.slice(start))}`)), timeoutMs);
      waiting = { count, start, resolve: (r) => { clearTimeout(timer); resolve(r); }, reject };
      check();
    });
  socket.on('close', () => waiting?.reject(new Error(`connection closed; replies so far ${JSON.stringify(replies)}`)));
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  await wait(1, 0);
  return {
    replies,
    async send(data, expect = 1) {
      const start = replies.length;
      socket.write(data);
      return wait(expect, start);
    },
    close: () => new Promise<void>((resolve) => { socket.end(); socket.once('close', () => resolve()); setTimeout(resolve, 1000).unref(); }),
  };
}
