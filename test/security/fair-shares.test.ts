// Security findings 4 and 5 (issue 21): one client address cannot take every connection slot, a
// connection must keep moving (a whole command within limits.commandTimeout, DATA above
// limits.minDataRate), commands per connection and refused RCPTs per session are capped, refusals
// are logged once per session, and a command line with a bare LF is refused. Against a running
// mailgate on loopback (127.0.0.1 and 127.0.0.2 are two client addresses), with small limits.
import net from 'node:net';
import nodemailer from 'nodemailer';
import { describe, expect, it } from 'vitest';
import { sinkUpstream, testConfig } from '../helpers/config.js';
import { openDialogue } from '../helpers/smtp-dialogue.js';
import { useMailgate } from '../helpers/use-mailgate.js';

/** A raw connection: everything received, and a promise for its close. */
function connect(port: number, localAddress = '127.0.0.1') {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  const c = { socket, text: '', closed: new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now()))) };
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => { c.text += d; });
  socket.on('error', () => undefined);
  return c;
}

async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('fair shares of connections, commands and refused recipients', () => {
  const w = useMailgate({
    prefix: 'mg-fair-',
    sinks: [{}],
    config: ({ dir, sinks }) => testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('shop-smtp', sinks[0]!.port)],
      tenants: ['{ id: shop, name: Shop, upstream: shop-smtp, auth: [ { user: shop, password: correct-horse } ] }'],
      extra: 'limits: { submissionConnectionsPerClient: 3, inboundConnectionsPerClient: 2, commandTimeout: 2s, minDataRate: 1000, maxCommandsPerConnection: 50, maxRefusedRecipients: 5 }',
    }),
  });

  it('one address holds at most its share of submission connections; another address still sends', async () => {
    const held = [connect(w.mg.submission.port), connect(w.mg.submission.port), connect(w.mg.submission.port)];
    await until(() => held.every((c) => c.text.startsWith('220 ')));
    const fourth = connect(w.mg.submission.port);
    await fourth.closed;
    expect(fourth.text).toMatch(/^421 4\.7\.0 Too many connections from your address/);
    // Another address is not affected: a whole message from 127.0.0.2.
    const app = nodemailer.createTransport({ host: '127.0.0.1', port: w.mg.submission.port, localAddress: '127.0.0.2', secure: false, ignoreTLS: true, auth: { user: 'shop', pass: 'correct-horse' } } as nodemailer.TransportOptions);
    await app.sendMail({ from: 'orders@shop.test', to: 'kunde@example.test', subject: 'order', text: 'thanks' });
    // A slot given back is free again.
    held[0]!.socket.destroy();
    await held[0]!.closed;
    await new Promise((r) => setTimeout(r, 100));
    const again = connect(w.mg.submission.port);
    await until(() => again.text.length > 0);
    expect(again.text).toMatch(/^220 /);
    for (const c of [...held, again]) c.socket.destroy();
    // One log line for the address, not one per refused connection.
    expect(w.mg.logs.filter((l) => l.msg === 'SMTP connection refused: this address holds its share of connections' && l.listener === 'submission')).toHaveLength(1);
  });

  it('the inbound MX gives one address its own share too', async () => {
    const held = [connect(w.mg.inbound.port), connect(w.mg.inbound.port)];
    await until(() => held.every((c) => c.text.startsWith('220 ')));
    const third = connect(w.mg.inbound.port);
    await third.closed;
    expect(third.text).toMatch(/^421 4\.7\.0 Too many connections from your address/);
    const other = connect(w.mg.inbound.port, '127.0.0.2');
    await until(() => other.text.length > 0);
    expect(other.text).toMatch(/^220 /);
    for (const c of [...held, other]) c.socket.destroy();
  });

  it('a command trickled a byte at a time is cut off after commandTimeout; an idle connection is not', async () => {
    const slow = connect(w.mg.submission.port, '127.0.0.3');
    const idle = connect(w.mg.submission.port, '127.0.0.3');
    await until(() => slow.text.startsWith('220 ') && idle.text.startsWith('220 '));
    const start = Date.now();
    const bytes = 'EHLO slow.example.test';
    let i = 0;
    const timer = setInterval(() => { if (i < bytes.length) slow.socket.write(bytes[i++]!); }, 400);
    const closedAt = await slow.closed;
    clearInterval(timer);
    expect(slow.text).toMatch(/421 4\.4\.2 Command not completed within 2 s/);
    expect(closedAt - start).toBeLessThan(5000);
    // The idle one (no partial command) is still there and answers.
    idle.socket.write('EHLO idle.example.test\r\n');
    await until(() => /250 /.test(idle.text));
    idle.socket.destroy();
  });

  it('DATA slower than minDataRate is ended with 421 and nothing is queued', async () => {
    const d = await openDialogue(w.mg.submission.port, { localAddress: '127.0.0.4' });
    await d.send('EHLO app.test\r\n');
    expect((await d.send(`AUTH PLAIN ${Buffer.from('\0shop\0correct-horse').toString('base64')}\r\n`))[0]).toMatch(/^235/);
    await d.send('MAIL FROM:<orders@shop.test>\r\n');
    await d.send('RCPT TO:<slow@example.test>\r\n');
    expect((await d.send('DATA\r\n'))[0]).toMatch(/^354/);
    const before = w.sink.messages.length;
    const body = 'Subject: slow\r\n\r\n' + 'x'.repeat(200);
    let i = 0;
    const start = Date.now();
    const timer = setInterval(() => { if (i < body.length) d.send(body[i++]!).catch(() => undefined); }, 100);
    await until(() => d.replies.length > 6, 10_000);
    clearInterval(timer);
    expect(d.replies[6]).toMatch(/^421 4\.4\.2 Message data too slow/);
    expect(Date.now() - start).toBeLessThan(6000);
    await new Promise((r) => setTimeout(r, 500));
    expect(w.sink.messages.length).toBe(before);
    expect((await fetch(`${w.mg.adminUrl}/healthz`)).status).toBe(200);
  });

  it('a connection sends at most maxCommandsPerConnection commands', async () => {
    const d = await openDialogue(w.mg.submission.port, { localAddress: '127.0.0.5' });
    const replies = await d.send('NOOP\r\n'.repeat(51), 51);
    expect(replies.slice(0, 50).every((r) => r.startsWith('250'))).toBe(true);
    expect(replies[50]).toMatch(/^421 4\.7\.0 Too many commands/);
    await d.close();
  });

  it('a command line ending in a bare LF is refused and the connection closed', async () => {
    const c = connect(w.mg.submission.port, '127.0.0.6');
    await until(() => c.text.startsWith('220 '));
    c.socket.write('EHLO lf.example.test\n');
    await c.closed;
    expect(c.text).toMatch(/421 5\.5\.2 Bare LF/);
    expect(c.text).not.toMatch(/250[ -]/);
  });

  it('refused RCPTs end the session at maxRefusedRecipients, logged once with the count (submission and inbound)', async () => {
    for (const [listener, port] of [['submission', w.mg.submission.port], ['inbound', w.mg.inbound.port]] as const) {
      const d = await openDialogue(port, { localAddress: '127.0.0.7' });
      await d.send('EHLO guesser.test\r\n');
      await d.send('MAIL FROM:<guesser@evil.test>\r\n');
      const replies: string[] = [];
      for (let n = 0; n < 5; n++) replies.push((await d.send(`RCPT TO:<victim${n}@example.test>\r\n`))[0]!);
      expect(replies.slice(0, 4).every((r) => r.startsWith('554 5.7.1'))).toBe(true);
      expect(replies[4]).toMatch(/^421 4\.7\.0 Too many refused recipients/);
      await expect(d.send('RCPT TO:<victim9@example.test>\r\n')).rejects.toThrow(/closed/);
      const line = await w.mg.waitForLog((l) => l.msg === 'SMTP session: recipients refused' && l.listener === listener);
      expect(line).toMatchObject({ refused: 5, first: 'victim0@example.test', ended: true, remote: '127.0.0.7' });
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(w.mg.logs.filter((l) => l.msg === 'SMTP session: recipients refused')).toHaveLength(2);
    expect(w.mg.logs.some((l) => typeof l.msg === 'string' && l.msg.includes('relay denied'))).toBe(false);
  });
});
