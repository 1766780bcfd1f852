// The relay's SMTP listeners, started and stopped together; each resolves with the address it
// really listens on (the config may say port 0), Nagle off so replies to pipelined commands go out at once.
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { SMTPServer } from 'smtp-server';
import type { Config, ListenAddress } from '../config/types.js';
import { createInboundServer, type InboundHandler, type UnsubscribeByMail } from './inbound.js';
import { AuthThrottle } from '../security/login-throttle.js';
import { createSubmissionServer, type SubmissionDeps } from './submission.js';

export function listenSmtp(server: SMTPServer, at: ListenAddress): Promise<string> {
  server.server.on('connection', (socket: Socket) => socket.setNoDelay(true));
  return new Promise((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.server.off('error', reject);
      resolve(addressText(server.server.address() as AddressInfo));
    });
  });
}

export function closeSmtp(server: SMTPServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** "127.0.0.1:2525" or "[::1]:2525". */
export function addressText(a: AddressInfo): string {
  return `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}

/** The SMTP side of the relay: submission (and SMTPS when configured) and the inbound MX, started and stopped together. */
export class SmtpListeners {
  private readonly servers: ReadonlyArray<readonly [name: 'submission' | 'submissions' | 'inbound', server: SMTPServer, at: ListenAddress]>;

  constructor(config: Config, deps: SubmissionDeps, inbound: { onStored: InboundHandler; unsubscribe: UnsubscribeByMail }, log: Logger) {
    // Submission and SMTPS count failed logins together: two ports must not double a guesser's allowance.
    const throttle = new AuthThrottle({ perUser: config.limits.authFailuresPerUser, perClient: config.limits.authFailuresPerClient });
    this.servers = [
      ['submission', createSubmissionServer(deps, throttle), config.listen.submission] as const,
      // SMTPS (implicit TLS, 465) for apps that only know "SSL": same policy, TLS from the first byte.
      ...(config.listen.submissions ? [['submissions', createSubmissionServer(deps, throttle, true), config.listen.submissions] as const] : []),
      ['inbound', createInboundServer(config, log, inbound.onStored, inbound.unsubscribe, deps.disk), config.listen.inbound] as const,
    ];
    for (const [name, server] of this.servers) server.on('error', (err: Error) => log.warn({ listener: name, err: err.message }, 'SMTP connection error'));
  }

  /** Starts every listener; resolves with the addresses they really listen on. */
  async listen(): Promise<{ submission: string; inbound: string; submissions?: string }> {
    const out: Record<string, string> = {};
    for (const [name, server, at] of this.servers) out[name] = await listenSmtp(server, at);
    return out as { submission: string; inbound: string; submissions?: string };
  }

  /** Stops accepting connections; resolves once the open ones have finished or timed out. */
  private closing: Promise<void> | undefined;

  /** Stops listening; connections mid-DATA finish. Calling it again waits for the same close. */
  close(): Promise<void> {
    this.closing ??= Promise.all(this.servers.map(([, server]) => closeSmtp(server))).then(() => undefined);
    return this.closing;
  }
}
