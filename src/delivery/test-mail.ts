// The upstream test of seed 000: send one real test e-mail through an upstream and return the
// whole SMTP dialogue and the final reply, so a shop admin sees the server's exact answer when
// settings are wrong. A diagnostic, not tenant mail: it bypasses the queue on purpose.
import type { Resolver } from 'node:dns/promises';
import { format } from 'node:util';
import nodemailer from 'nodemailer';
import type { Upstream } from '../config/types.js';
import type { SmtpReply } from '../store/records.js';
import { connectSocket } from './connect.js';
import { resolveMx } from './mx.js';
import { parseReply, type SmtpClientError } from './reply.js';
import { mxTransportOptions, smtpTransportOptions } from './transport-options.js';

export interface TestMailResult {
  ok: boolean;
  /** Host (and port) the test talked to. */
  server: string;
  /** The final reply: the 250 for the message, or the reply that ended the attempt. */
  reply?: SmtpReply;
  /** Why it failed, in words, when there was no SMTP reply (connection, DNS, TLS). */
  error?: string;
  /** "C: …" lines we sent and "S: …" lines the server sent; credentials masked. */
  dialogue: string[];
}

export async function sendTestMail(upstream: Upstream, opts: { to: string; from: string; hostname: string; resolver: Resolver; timeoutMs?: number }): Promise<TestMailResult> {
  const dialogue: string[] = [];
  const record = (data: { tnx?: string } | undefined, message: string, ...args: unknown[]) => {
    const text = format(message, ...args);
    if (data?.tnx === 'server') dialogue.push(...text.split(/\r?\n/).map((l) => `S: ${l}`));
    else if (data?.tnx === 'client') dialogue.push(...text.split(/\r?\n/).map((l) => `C: ${l}`));
  };
  const logger = { trace: record, debug: record, info: () => undefined, warn: () => undefined, error: () => undefined, fatal: () => undefined, level: () => undefined };

  // The same transport options delivery uses (transport-options.ts): the test says what delivery will do,
  // opportunistic STARTTLS to an MX included.
  let target;
  if (upstream.type === 'smtp') {
    target = smtpTransportOptions(upstream);
  } else {
    const route = await resolveMx(opts.resolver, opts.to.slice(opts.to.lastIndexOf('@') + 1), { allowPrivateAddresses: upstream.allowPrivateAddresses });
    if (!route.ok) return { ok: false, server: upstream.name, reply: route.reply, error: route.reply.text, dialogue };
    target = mxTransportOptions(upstream, route.hosts[0]!.name, route.hosts[0]!.addresses[0]!);
  }
  const { port, tls: { servername } } = target;
  const timeout = opts.timeoutMs ?? 20_000;
  const server = `${servername}:${port}`;
  // The same connection as delivery: a shop's own server only on a public address.
  const publicOnly = upstream.type === 'smtp' && upstream.publicOnly === true;
  const transport = nodemailer.createTransport({
    ...target, name: opts.hostname,
    getSocket: (o: Parameters<typeof connectSocket>[0], cb: Parameters<typeof connectSocket>[1]) => connectSocket(o, cb, { publicOnly, timeoutMs: timeout }),
    connectionTimeout: timeout, greetingTimeout: timeout, socketTimeout: timeout,
    logger: logger as never, debug: true, disableFileAccess: true, disableUrlAccess: true,
  });
  try {
    const info = await transport.sendMail({
      from: opts.from, to: opts.to, subject: `mailgate test via ${upstream.name}`,
      text: `This is a test message sent by mailgate (${opts.hostname}) through the upstream "${upstream.name}" (${server}).\n`,
    });
    return { ok: true, server, reply: parseReply(String(info.response), 250), dialogue };
  } catch (e) {
    const err = e as SmtpClientError;
    return { ok: false, server, ...(err.response ? { reply: parseReply(err.response, err.responseCode ?? 0) } : {}), error: err.message, dialogue };
  } finally {
    transport.close();
  }
}
