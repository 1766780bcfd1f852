// `mailgate node drain` on a single node (LevelDB): it stops accepting mail, delivers what falls due
// within the grace period, keeps what it could not deliver in its data directory (there is no other
// node to give it to), exits, and delivers the rest after its next start.
import { describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { sinkUpstream, testConfig } from './helpers/config.js';
import { waitForEvent } from './helpers/events.js';
import { runCli, startMailgate } from './helpers/mailgate-process.js';
import { useMailgate } from './helpers/use-mailgate.js';

describe('node drain on one node', () => {
  let accept = false;
  const w = useMailgate({
    prefix: 'mg-drain-',
    sinks: [{ rcptReply: (rcpt) => (rcpt.startsWith('later') && !accept ? { code: 451, message: '4.3.0 try again later' } : undefined) }],
    config: ({ dir, sinks }) => testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('up', sinks[0]!.port)],
      tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, password: correct-horse } ], upstream: up }'],
      extra: 'queue: { retrySchedule: [1s] }',
    }),
  });

  it('stops accepting, keeps what it could not deliver, exits, and delivers it after the next start', async () => {
    const submit = w.submit({ user: 'shop', pass: 'correct-horse' });
    await submit.sendMail({ from: 'orders@shop.test', to: 'later@example.com', subject: 'Held', text: 'x' });
    await waitForEvent(w.mg, 'later@example.com', 'deferred');
    const run = await runCli(['node', 'drain', '--grace', '1', '--config', w.configFile, '--json'], { timeoutMs: 30_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ handedOver: 0, kept: 1 });
    expect(await w.mg.exited()).toBe(0);
    // no longer accepting
    const refused = await nodemailer.createTransport({ host: w.mg.submission.host, port: w.mg.submission.port, ignoreTLS: true, connectionTimeout: 2000 })
      .sendMail({ from: 'a@shop.test', to: 'b@example.com', text: 'x' }).then(() => false, () => true);
    expect(refused).toBe(true);
    accept = true;
    w.mg = await startMailgate({ configFile: w.configFile });
    await w.sink.waitFor(1, 15_000);
    expect(w.sink.messages[0]!.to).toEqual(['later@example.com']);
  }, 60_000);

  it('refuses a bad grace period', async () => {
    const run = await runCli(['node', 'drain', '--grace', 'soon', '--config', w.configFile]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/usage: mailgate node drain/);
  });
});
