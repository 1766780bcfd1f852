// The slowloris scenario of issue 21 (finding 4), measured on loopback against a real mailgate:
// ATTACKERS connections from 127.0.0.1 to submission (and INBOUND_ATTACKERS to the inbound MX), each
// sending one byte every 5 s and reconnecting 5 s after it is closed, while a legitimate shop app sends
// one message every 1.5 s over its own connection (nodemailer, AUTH PLAIN) from 127.0.0.2 — and a
// second run where the app shares the attacker's address (127.0.0.1). Prints how many legitimate
// mails were accepted (and bounces on the inbound MX), and how many connections the attacker held.
//
//   npm run build && node --import tsx test/bench/slowloris.ts [--cli dist/cli.js] [--seconds 60]
//                                                              [--attackers 520] [--same-address]
// Not a test: figures for the closing note (2 shared cores; timings are the machine's).
import net from 'node:net';
import nodemailer from 'nodemailer';
import { startMailgate, writeConfig } from '../helpers/mailgate-process.js';
import { startSink } from '../helpers/smtp-sink.js';
import { testConfig, sinkUpstream } from '../helpers/config.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}
const cli = arg('cli', 'dist/cli.js');
const seconds = Number(arg('seconds', '60'));
const attackers = Number(arg('attackers', '520'));
const inboundAttackers = Number(arg('inbound-attackers', '120'));
const legitAddress = process.argv.includes('--same-address') ? '127.0.0.1' : '127.0.0.2';

interface Slowloris { held(): number; opened(): number; stop(): void }

/** `count` connections to `port` from 127.0.0.1, a byte every 5 s each, reopened when closed. */
function slowloris(port: number, count: number): Slowloris {
  let stopped = false;
  let opened = 0;
  const live = new Set<net.Socket>();
  const greeted = new Set<net.Socket>();
  const open = () => {
    if (stopped) return;
    opened++;
    const s = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.1' });
    live.add(s);
    const bytes = Buffer.from('EHLO slow.example.test\r\n');
    let i = 0;
    const timer = setInterval(() => { if (i < bytes.length - 2) s.write(bytes.subarray(i, ++i)); }, 5000);
    s.on('data', (d) => { if (d.toString().startsWith('220')) greeted.add(s); });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearInterval(timer);
      live.delete(s);
      greeted.delete(s);
      setTimeout(open, 5000);
    });
  };
  for (let n = 0; n < count; n++) setTimeout(open, n * 2);
  return {
    held: () => greeted.size,
    opened: () => opened,
    stop: () => {
      stopped = true;
      for (const s of live) s.destroy();
    },
  };
}

async function main(): Promise<void> {
  const dir = await makeTempDir('mg-slowloris-');
  const sink = await startSink({});
  const configFile = await writeConfig(dir, testConfig({
    dataDir: `${dir}/data`,
    upstreams: [sinkUpstream('shop-smtp', sink.port)],
    tenants: ['{ id: shop, name: Shop, upstream: shop-smtp, auth: [ { user: shop, password: correct-horse } ] }'],
  }));
  const mg = await startMailgate({ configFile, cliPath: cli });
  const attack = slowloris(mg.submission.port, attackers);
  const inboundAttack = slowloris(mg.inbound.port, inboundAttackers);
  await new Promise((r) => setTimeout(r, 3000));

  const results = { sent: 0, accepted: 0, refused: [] as string[], bounces: 0, bouncesAccepted: 0, heldMax: 0, inboundHeldMax: 0 };
  const sample = setInterval(() => {
    results.heldMax = Math.max(results.heldMax, attack.held());
    results.inboundHeldMax = Math.max(results.inboundHeldMax, inboundAttack.held());
  }, 500);
  const sends: Promise<void>[] = [];
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    results.sent++;
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: mg.submission.port, localAddress: legitAddress, secure: false, ignoreTLS: true, connectionTimeout: 10_000, greetingTimeout: 10_000, auth: { user: 'shop', pass: 'correct-horse' } } as nodemailer.TransportOptions);
    sends.push(t.sendMail({ from: 'orders@shop.test', to: 'kunde@example.test', subject: 'order', text: 'thanks' }).then(
      () => { results.accepted++; },
      (err: Error) => { results.refused.push(err.message.slice(0, 80)); },
    ));
    results.bounces++;
    const b = nodemailer.createTransport({ host: '127.0.0.1', port: mg.inbound.port, localAddress: legitAddress, secure: false, ignoreTLS: true, connectionTimeout: 10_000, greetingTimeout: 10_000 } as nodemailer.TransportOptions);
    sends.push(b.sendMail({ envelope: { from: '', to: 'postmaster@bounces.relay.test' }, raw: 'From: mailer-daemon@example.test\r\nTo: postmaster@bounces.relay.test\r\nSubject: hello\r\n\r\nnothing\r\n' }).then(
      () => { results.bouncesAccepted++; },
      (err: Error) => { results.refused.push(`inbound: ${err.message.slice(0, 80)}`); },
    ));
    await new Promise((r) => setTimeout(r, 1500));
  }
  await Promise.all(sends);
  clearInterval(sample);
  attack.stop();
  inboundAttack.stop();
  await mg.kill();
  await sink.close();
  await removeDir(dir);
  const reasons = new Map<string, number>();
  for (const r of results.refused) reasons.set(r, (reasons.get(r) ?? 0) + 1);
  console.log(JSON.stringify({
    cli, seconds, attackers, inboundAttackers, legitAddress,
    submission: { sent: results.sent, accepted: results.accepted, attackerHeldMax: results.heldMax, attackerConnectionsOpened: attack.opened() },
    inbound: { sent: results.bounces, accepted: results.bouncesAccepted, attackerHeldMax: results.inboundHeldMax, attackerConnectionsOpened: inboundAttack.opened() },
    refusals: Object.fromEntries(reasons),
  }, null, 2));
}

await main();
