// Secure direct delivery benchmark (`node --import tsx test/bench/secure-delivery.bench.ts`): what
// MTA-STS and DANE cost a delivery, on loopback servers (DNS, an HTTPS policy host, a STARTTLS SMTP
// sink). Measures the policy discovery (TXT + HTTPS fetch) of a domain mailgate has not seen, the
// first delivery to it (discovery, connection, STARTTLS, certificate check), and the steady state:
// sequential deliveries over the pooled connection with no policy, a cached MTA-STS policy, and
// DANE (TLSA answer cached). --n=N deliveries per case (default 300).
import { Resolver } from 'node:dns/promises';
import { X509Certificate, createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { Deliverer } from '../../src/delivery/deliverer.js';
import { MtaStsPolicies } from '../../src/delivery/tls-policy/mta-sts.js';
import { mxUpstream } from '../helpers/direct-delivery.js';
import { startDnsServer } from '../helpers/dns-server.js';
import { startPolicyServer } from '../helpers/https-policy-server.js';
import { startSink } from '../helpers/smtp-sink.js';
import { makeTestCa } from '../helpers/test-ca.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

const N = Number(process.argv.find((a) => a.startsWith('--n='))?.slice(4) ?? 300);
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))]!;
const ms = (x: number) => `${x.toFixed(2)} ms`;

const dir = await makeTempDir('mailgate-secure-bench-');
const ca = makeTestCa(dir);
const domains = Array.from({ length: 50 }, (_, i) => `d${i}.test`);
const mxCert = ca.issue('mx', ['mx.bench.test']);
const sink = await startSink({ tls: mxCert });
const web = await startPolicyServer(ca.issue('web', [...domains, 'sts.test'].map((d) => `mta-sts.${d}`)));
const spkiHash = createHash('sha256').update(new X509Certificate(mxCert.cert).publicKey.export({ type: 'spki', format: 'der' })).digest();
const dns = await startDnsServer({
  'plain.test': { MX: [{ preference: 10, exchange: 'mx.bench.test' }] },
  'sts.test': { MX: [{ preference: 10, exchange: 'mx.bench.test' }] },
  '_mta-sts.sts.test': { TXT: ['v=STSv1; id=1'] },
  'mta-sts.sts.test': { A: ['127.0.0.1'] },
  'dane.test': { MX: [{ preference: 10, exchange: 'mx.dane.test' }] },
  'mx.dane.test': { A: ['127.0.0.1'] },
  [`_${sink.port}._tcp.mx.dane.test`]: { TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: spkiHash }], AD: true },
  'mx.bench.test': { A: ['127.0.0.1'] },
  ...Object.fromEntries(domains.flatMap((d) => [[`_mta-sts.${d}`, { TXT: ['v=STSv1; id=1'] }], [`mta-sts.${d}`, { A: ['127.0.0.1'] }]])),
});
const policy = 'version: STSv1\nmode: enforce\nmx: mx.bench.test\nmax_age: 86400\n';
for (const d of [...domains, 'sts.test']) web.setPolicy(d, policy);
const resolver = new Resolver();
resolver.setServers([dns.address]);

// Discovery of a domain not seen before: TXT record, then the HTTPS fetch (a new TLS connection each).
const discovery: number[] = [];
const policies = new MtaStsPolicies({ resolver, port: web.port, ca: ca.caPem });
for (const d of domains) {
  const t = performance.now();
  const found = await policies.lookup(d, true);
  discovery.push(performance.now() - t);
  if (!found.policy) throw new Error(`no policy for ${d}`);
}
console.log(`MTA-STS discovery (TXT + HTTPS fetch), ${domains.length} domains: median ${ms(quantile(discovery, 0.5))}, p95 ${ms(quantile(discovery, 0.95))}`);

const deliverer = new Deliverer({ hostname: 'relay.test', resolver, log: pino({ level: 'silent' }), secure: { mtaStsPort: web.port, ca: ca.caPem } });
const body = () => Buffer.from('Subject: bench\r\n\r\nhello\r\n');
async function measure(label: string, domain: string, over: Parameters<typeof mxUpstream>[1]): Promise<void> {
  const upstream = mxUpstream(sink, { maxConnections: 1, ...over });
  const t0 = performance.now();
  const [first] = await deliverer.deliver(upstream, { from: 'a@relay.test', to: [`first@${domain}`] }, body);
  const firstMs = performance.now() - t0;
  if (first!.outcome !== 'delivered') throw new Error(`${label}: ${JSON.stringify(first)}`);
  const times: number[] = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    const [r] = await deliverer.deliver(upstream, { from: 'a@relay.test', to: [`r${i}@${domain}`] }, body);
    times.push(performance.now() - t);
    if (r!.outcome !== 'delivered') throw new Error(`${label}: ${JSON.stringify(r)}`);
  }
  console.log(`${label.padEnd(28)} first delivery ${ms(firstMs).padStart(10)}; then ${N}: median ${ms(quantile(times, 0.5))}, p95 ${ms(quantile(times, 0.95))}`);
}
await measure('no policy (mtaSts: false)', 'plain.test', { mtaSts: false });
await measure('no policy published', 'plain.test', {});
await measure('MTA-STS enforce, cached', 'sts.test', {});
await measure('DANE-EE (dane: true)', 'dane.test', { dane: true, mtaSts: false });
deliverer.takeTlsSessions();
await deliverer.close();
await Promise.all([sink.close(), web.close(), dns.close()]);
await removeDir(dir);
