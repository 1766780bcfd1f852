// Direct (MX) delivery in the test's own process: a Deliverer whose resolver asks a loopback DNS
// server, an mx upstream aimed at one SMTP sink's port, one message. Says what came back for the
// recipient, the TLS policy sessions counted, and what the sink received.
//
//   const deliver = directDelivery(() => ({ resolver, mtaStsPort: web.port, ca: ca.caPem }));
//   const { result, sessions, message } = await deliver(tlsSink, 'x@secure.test');
import type { Resolver } from 'node:dns/promises';
import pino from 'pino';
import type { MxUpstream } from '../../src/config/types.js';
import { Deliverer } from '../../src/delivery/deliverer.js';
import type { RecipientResult } from '../../src/queue/delivery-result.js';
import type { TlsSession } from '../../src/store/records.js';
import type { Sink, SinkMessage } from './smtp-sink.js';

/** The mx upstream of the tests: the sink's port, loopback allowed, MTA-STS on, DANE off unless `over` says. */
export function mxUpstream(sink: Sink, over: Partial<MxUpstream> = {}): MxUpstream {
  return { name: 'direct', type: 'mx', port: sink.port, maxConnections: 2, requireTls: false, allowPrivateAddresses: true, mtaSts: true, dane: false, source: 'config', ...over };
}

export interface DeliveryProbe {
  result: RecipientResult;
  sessions: TlsSession[];
  message?: SinkMessage;
}

export function directDelivery(world: () => { resolver: Resolver; mtaStsPort: number; ca: string }, defaults: Partial<MxUpstream> = {}) {
  return async (sink: Sink, to: string, over: Partial<MxUpstream> = {}): Promise<DeliveryProbe> => {
    const { resolver, mtaStsPort, ca } = world();
    const d = new Deliverer({ hostname: 'relay.test', resolver, log: pino({ level: 'silent' }), secure: { mtaStsPort, ca } });
    try {
      const [result] = await d.deliver(mxUpstream(sink, { ...defaults, ...over }), { from: 'a@relay.test', to: [to] }, () => Buffer.from(`Subject: test\r\n\r\nhello ${to}\r\n`));
      return { result: result!, sessions: d.takeTlsSessions(), ...(sink.messages.find((m) => m.to[0] === to) ? { message: sink.messages.find((m) => m.to[0] === to)! } : {}) };
    } finally {
      await d.close();
    }
  };
}
