// The world most process-level suites set up: a temp dir, SMTP sinks on loopback, optionally a DNS
// server on loopback with a zone, a mailgate process on a config written for them, torn down after
// the suite. Call it inside a describe():
//
//   const w = useMailgate({ prefix: 'mg-x-', sinks: [{}], config: ({ dir, sinks }) => testConfig({ … }) });
//   it('…', async () => { await w.submit().sendMail(…); await w.sink.waitFor(1); … });
//
// With `dns: { 'name.test': { TXT: […] } }` the config gets the server too:
//   config: ({ dir, sinks, dns }) => testConfig({ …, extra: `dns: { servers: [ "${dns.address}" ] }` })
import { afterAll, beforeAll } from 'vitest';
import nodemailer from 'nodemailer';
import { ADMIN_TOKEN } from './config.js';
import { startDnsServer, type DnsServer, type Zone } from './dns-server.js';
import { startMailgate, writeConfig, type MailgateProcess } from './mailgate-process.js';
import { startSink, type Sink, type SinkOptions } from './smtp-sink.js';
import { makeTempDir, removeDir } from './tmp.js';

export interface MailgateWorldOptions {
  /** Prefix of the temp dir's name. */
  prefix: string;
  /** Sinks to start before mailgate, in order (w.sink is the first). */
  sinks?: SinkOptions[];
  /** A zone for a DNS server on 127.0.0.1, started after the sinks (none without it). */
  dns?: Zone;
  /** The YAML config, written to <dir>/mailgate.yaml. */
  config: (w: { dir: string; sinks: Sink[]; dns: DnsServer }) => string | Promise<string>;
  env?: NodeJS.ProcessEnv;
}

export interface MailgateWorld {
  dir: string;
  configFile: string;
  mg: MailgateProcess;
  sinks: Sink[];
  /** The first sink. */
  sink: Sink;
  /** The DNS server (only with the `dns` option). */
  dns: DnsServer;
  /** A request to the admin API with the admin token (JSON body when given). */
  api(path: string, init?: { method?: string; body?: unknown; token?: string }): Promise<Response>;
  /** A nodemailer transport to the submission port; logs in when `auth` is given. */
  submit(auth?: { user: string; pass: string }): nodemailer.Transporter;
  /** A nodemailer transport to the inbound (bounce MX) port. */
  inbound(): nodemailer.Transporter;
}

export function useMailgate(opts: MailgateWorldOptions): MailgateWorld {
  const w = { sinks: [] as Sink[] } as unknown as MailgateWorld;
  w.api = (path, init = {}) => fetch(`${w.mg.adminUrl}/api/v1${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${init.token ?? ADMIN_TOKEN}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  w.submit = (auth) => nodemailer.createTransport({ host: w.mg.submission.host, port: w.mg.submission.port, secure: false, ignoreTLS: true, ...(auth ? { auth } : {}) });
  w.inbound = () => nodemailer.createTransport({ host: w.mg.inbound.host, port: w.mg.inbound.port, secure: false, ignoreTLS: true });

  beforeAll(async () => {
    w.dir = await makeTempDir(opts.prefix);
    w.sinks = await Promise.all((opts.sinks ?? []).map((o) => startSink(o)));
    w.sink = w.sinks[0]!;
    if (opts.dns) w.dns = await startDnsServer(opts.dns);
    w.configFile = await writeConfig(w.dir, await opts.config({ dir: w.dir, sinks: w.sinks, dns: w.dns }));
    w.mg = await startMailgate({ configFile: w.configFile, ...(opts.env ? { env: opts.env } : {}) });
  });
  afterAll(async () => {
    await w.mg?.kill();
    await Promise.all(w.sinks.map((s) => s.close()));
    await w.dns?.close();
    if (w.dir) await removeDir(w.dir);
  });
  return w;
}
