// An HTTPS server on 127.0.0.1 playing every https://mta-sts.<domain>/ policy host (by Host header)
// and every https: TLS report address (any POST is kept). Give it a certificate for the mta-sts
// names (test-ca.ts) and point mailgate at its port (secureDelivery.mtaStsPort):
//
//   const web = await startPolicyServer({ key, cert });
//   web.setPolicy('secure.test', 'version: STSv1\nmode: enforce\nmx: mx.secure.test\nmax_age: 86400\n');
//   ... web.requests (every request), web.posts (bodies of POSTs) ...
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface PolicyReply {
  status?: number;
  contentType?: string;
  body: string;
}

export interface PolicyServer {
  port: number;
  /** Every request: the Host it named, method and path. */
  requests: Array<{ host: string; method: string; path: string }>;
  /** Every POST with its body (TLS reports). */
  posts: Array<{ host: string; path: string; contentType: string; body: Buffer }>;
  /** Serves `policy` for mta-sts.<domain>; a string is a 200 text/plain answer. */
  setPolicy(domain: string, policy: string | PolicyReply): void;
  /** mta-sts.<domain> answers 404 from now on. */
  removePolicy(domain: string): void;
  /** Answer POSTs with this status (default 200). */
  postStatus: number;
  close(): Promise<void>;
}

export async function startPolicyServer(tls: { key: string; cert: string }, port = 0): Promise<PolicyServer> {
  const policies = new Map<string, PolicyReply>();
  const state = {
    requests: [] as PolicyServer['requests'],
    posts: [] as PolicyServer['posts'],
    postStatus: 200,
  };
  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const host = String(req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    state.requests.push({ host, method: req.method ?? '', path: req.url ?? '' });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST') {
        state.posts.push({ host, path: req.url ?? '', contentType: String(req.headers['content-type'] ?? ''), body: Buffer.concat(chunks) });
        res.writeHead(state.postStatus).end();
        return;
      }
      const policy = req.url === '/.well-known/mta-sts.txt' && host.startsWith('mta-sts.') ? policies.get(host.slice('mta-sts.'.length)) : undefined;
      if (!policy) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      res.writeHead(policy.status ?? 200, { 'content-type': policy.contentType ?? 'text/plain' }).end(policy.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return Object.assign(state, {
    port: (server.address() as AddressInfo).port,
    setPolicy(domain: string, policy: string | PolicyReply) {
      policies.set(domain.toLowerCase(), typeof policy === 'string' ? { body: policy } : policy);
    },
    removePolicy(domain: string) {
      policies.delete(domain.toLowerCase());
    },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  });
}
