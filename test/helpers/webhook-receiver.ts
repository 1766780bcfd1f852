// A webhook receiver on 127.0.0.1: records every request and answers with the next status given
// (then 200); waitFor(n) resolves once n requests have come.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  status: number;
}

/** A webhook receiver on 127.0.0.1 that answers with the next status of `statuses` (then 200). */
export async function startReceiver(statuses: number[] = []) {
  const received: Received[] = [];
  const waiters: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const status = statuses.shift() ?? 200;
      received.push({ headers: req.headers, body, status });
      res.writeHead(status).end();
      waiters.splice(0).forEach((w) => w());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const waitFor = async (n: number, ms = 10_000) => {
    const until = Date.now() + ms;
    while (received.length < n) {
      if (Date.now() > until) throw new Error(`receiver got ${received.length} of ${n} requests`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 200);
      });
    }
    return received;
  };
  return { url: `http://127.0.0.1:${port}/hook`, received, waitFor, close: () => new Promise<void>((r) => server.close(() => r())) };
}
