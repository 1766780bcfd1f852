// The deliverer the relay uses, as the config asks: the delivery thread (the second core) or the
// main event loop. Both take the same jobs and give the same outcomes; the TLS policy sessions each
// outcome carries go to `onTlsSessions` (the TLS reports). Imports: config types, the two deliverers.
import type { Resolver } from 'node:dns/promises';
import type { Logger } from 'pino';
import type { Config, Upstream } from '../config/types.js';
import type { TlsSession } from '../store/records.js';
import { InlineDeliverer } from './inline.js';
import { ThreadedDeliverer, type DeliveryOutcome } from './threaded.js';
import type { DeliveryJob, JobBody } from './worker-protocol.js';

export interface MessageDeliverer {
  deliver(upstream: Upstream, envelope: { from: string; to: string[] }, body: JobBody, prepare?: DeliveryJob['prepare']): Promise<DeliveryOutcome>;
  close(): Promise<void>;
}

export function createDeliverer(config: Config, resolver: Resolver, log: Logger, onTlsSessions: (sessions: TlsSession[]) => void): MessageDeliverer {
  const secure = { mtaStsPort: config.secureDelivery.mtaStsPort, ...(config.secureDelivery.ca ? { ca: config.secureDelivery.ca } : {}) };
  const inner: MessageDeliverer = config.queue.deliveryThread
    ? new ThreadedDeliverer({ hostname: config.system.hostname, dnsServers: config.dns.servers, logLevel: config.logLevel, logFormat: config.logFormat, secure }, log)
    : new InlineDeliverer(config.system.hostname, resolver, log, secure);
  return {
    async deliver(upstream, envelope, body, prepare) {
      const outcome = await inner.deliver(upstream, envelope, body, prepare);
      if (outcome.tlsSessions) onTlsSessions(outcome.tlsSessions);
      return outcome;
    },
    close: () => inner.close(),
  };
}
