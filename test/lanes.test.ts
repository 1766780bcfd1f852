// Delivery lanes: a hanging upstream holds at most its maxConnections deliveries, so mail for other
// upstreams still flows while it hangs (without lanes it would take every delivery slot).
import { afterAll, describe, expect, it } from 'vitest';
import { startTarpit, type Tarpit } from './helpers/tarpit.js';
import { useMailgate } from './helpers/use-mailgate.js';
import { sinkUpstream, testConfig } from './helpers/config.js';

describe('delivery lanes per upstream', () => {
  let tarpit: Tarpit;
  const w = useMailgate({
    prefix: 'mg-lanes-',
    sinks: [{}],
    config: async ({ dir, sinks }) => {
      tarpit = await startTarpit();
      return testConfig({
        dataDir: `${dir}/data`,
        upstreams: [`{ name: hanging, host: 127.0.0.1, port: ${tarpit.port}, tls: none, maxConnections: 2 }`, sinkUpstream('fast', sinks[0]!.port)],
        systemUpstream: 'fast',
        tenants: [
          '{ id: slow, name: Slow, upstream: hanging, auth: [ { user: slow, password: slow-password } ] }',
          '{ id: quick, name: Quick, upstream: fast, auth: [ { user: quick, password: quick-password } ] }',
        ],
        extra: 'queue: { concurrency: 4 }',
      });
    },
  });
  // Runs before the fixture's teardown (after hooks run in reverse): kill at once, do not wait on the hanging deliveries.
  afterAll(async () => {
    await w.mg?.kill('SIGKILL');
    await tarpit?.close();
  });

  it('keeps delivering to a healthy upstream while another one hangs', async () => {
    const send = (user: string, i: number) => w.submit({ user, pass: `${user}-password` })
      .sendMail({ from: `${user}@shop.test`, to: `buyer${i}@example.com`, subject: `${user} ${i}`, text: 'x' });
    for (let i = 0; i < 8; i++) await send('slow', i);
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    for (let i = 0; i < 3; i++) await send('quick', i);
    await w.sink.waitFor(3, 5000);
    expect(Date.now() - started).toBeLessThan(5000);
    // The hanging upstream got no more connections than its lane allows.
    expect(tarpit.connections).toBeLessThanOrEqual(2);
  });
});
