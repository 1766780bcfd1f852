// TLS on both sides: STARTTLS on submission (AUTH only after it), and upstreams over STARTTLS,
// implicit TLS and with AUTH. Certificates are made with openssl in a temp dir.
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { startSink, type Sink } from './helpers/smtp-sink.js';
import { startMailgate, writeConfig, type MailgateProcess } from './helpers/mailgate-process.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';
import { testConfig } from './helpers/config.js';
import { openDialogue } from './helpers/smtp-dialogue.js';
import { selfSignedCert } from './helpers/tls-cert.js';

describe('TLS', () => {
  let dir: string;
  let key: Buffer;
  let cert: Buffer;
  let starttlsSink: Sink;
  let implicitSink: Sink;
  let mg: MailgateProcess;

  beforeAll(async () => {
    dir = await makeTempDir('mg-tls-');
    selfSignedCert(dir);
    key = await fs.readFile(path.join(dir, 'key.pem'));
    cert = await fs.readFile(path.join(dir, 'cert.pem'));
    starttlsSink = await startSink({ tls: { key, cert }, auth: { user: 'relay', password: 'upstream-pass' } });
    implicitSink = await startSink({ tls: { key, cert, implicit: true } });
    const cfg = await writeConfig(dir, testConfig({
      dataDir: `${dir}/data`,
      upstreams: [
        `{ name: st, host: 127.0.0.1, port: ${starttlsSink.port}, tls: starttls, tlsVerify: false, auth: { user: relay, passwordEnv: MG_UPSTREAM_PASS } }`,
        `{ name: imp, host: 127.0.0.1, port: ${implicitSink.port}, tls: implicit, tlsVerify: false }`,
      ],
      tenants: [
        '{ id: one, name: One, auth: [ { user: one, password: one-password } ], upstream: st }',
        '{ id: two, name: Two, auth: [ { user: two, password: two-password } ], upstream: imp }',
      ],
      extra: `tls: { keyFile: ${dir}/key.pem, certFile: ${dir}/cert.pem }`,
    }).replace('admin: 127.0.0.1:0 }', 'admin: 127.0.0.1:0, submissions: 127.0.0.1:0 }'));
    mg = await startMailgate({ configFile: cfg, env: { MG_UPSTREAM_PASS: 'upstream-pass' } });
  });
  afterAll(async () => {
    await mg?.kill();
    await starttlsSink?.close();
    await implicitSink?.close();
    await removeDir(dir);
  });

  it('offers STARTTLS and refuses AUTH before it', async () => {
    const d = await openDialogue(mg.submission.port);
    const [ehlo] = await d.send('EHLO client.test\r\n');
    expect(ehlo).toContain('STARTTLS');
    const [auth] = await d.send(`AUTH PLAIN ${Buffer.from('\0one\0one-password').toString('base64')}\r\n`);
    expect(auth).toMatch(/^5\d\d /);
    await d.close();
  });

  it('relays over STARTTLS with upstream AUTH, and over implicit TLS', async () => {
    const send = (user: string, pass: string, to: string) => nodemailer.createTransport({
      host: mg.submission.host, port: mg.submission.port, secure: false, requireTLS: true,
      tls: { rejectUnauthorized: false }, auth: { user, pass },
    }).sendMail({ from: `${user}@shop.test`, to, subject: 'tls', text: 'secret order' });
    await send('one', 'one-password', 'a@example.test');
    await send('two', 'two-password', 'b@example.test');
    const [viaStarttls] = await starttlsSink.waitFor(1);
    const [viaImplicit] = await implicitSink.waitFor(1);
    expect(viaStarttls).toMatchObject({ secure: true, user: 'relay', to: ['a@example.test'] });
    expect(viaImplicit).toMatchObject({ secure: true, to: ['b@example.test'] });
  });

  it('accepts submission over implicit TLS (SMTPS) on the submissions listener, and nothing in clear there', async () => {
    const port = Number(String(mg.logs.find((l) => l.msg === 'mailgate ready')!.submissions).split(':').pop());
    await nodemailer.createTransport({ host: '127.0.0.1', port, secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'one', pass: 'one-password' } })
      .sendMail({ from: 'one@shop.test', to: 'c@example.test', subject: 'smtps', text: 'over 465' });
    await starttlsSink.waitFor(2);
    expect(starttlsSink.messages[1]).toMatchObject({ to: ['c@example.test'] });
    await expect(nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, connectionTimeout: 2000, greetingTimeout: 2000, auth: { user: 'one', pass: 'one-password' } })
      .sendMail({ from: 'one@shop.test', to: 'd@example.test', text: 'clear' })).rejects.toThrow();
  });
});
