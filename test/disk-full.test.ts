// Disk full: on a small tmpfs data directory, mail is refused with 452 4.3.1 once free space drops
// below limits.minFreeSpace (on the submission and the inbound listener), nothing crashes, and mail
// is accepted again once space is freed.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { isDiskFull } from '../src/queue/disk-space.js';
import { startSink, type Sink } from './helpers/smtp-sink.js';
import { startMailgate, writeConfig, type MailgateProcess } from './helpers/mailgate-process.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';
import { sinkUpstream, testConfig } from './helpers/config.js';

/** A 48 MiB tmpfs, when this machine lets us mount one (root in CI); undefined otherwise. */
function mountTmpfs(at: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m,mode=0755', 'tmpfs', at], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const dir = await makeTempDir('mg-diskfull-');
const data = path.join(dir, 'data');
await fs.mkdir(data);
const mounted = mountTmpfs(data);
afterAll(async () => {
  if (!mounted) await removeDir(dir);
});

describe.skipIf(!mounted)('disk full (tmpfs data directory)', () => {
  let sink: Sink;
  let mg: MailgateProcess;
  const send = (i: number) => nodemailer.createTransport({ host: mg.submission.host, port: mg.submission.port, secure: false, ignoreTLS: true, auth: { user: 'shop', pass: 'shop-password' } })
    .sendMail({ from: 'orders@shop.test', to: `buyer${i}@example.com`, subject: `m${i}`, text: 'x'.repeat(10_000) });
  /** A report to the bounce domain's postmaster, from the null sender, on the inbound listener. */
  const sendInbound = (i: number) => nodemailer.createTransport({ host: mg.inbound.host, port: mg.inbound.port, secure: false, ignoreTLS: true })
    .sendMail({ envelope: { from: '', to: ['postmaster@bounces.relay.test'] }, raw: `From: MAILER-DAEMON@mx.example.com\r\nSubject: report ${i}\r\n\r\n${'x'.repeat(10_000)}\r\n` });

  beforeAll(async () => {
    sink = await startSink();
    mg = await startMailgate({ configFile: await writeConfig(dir, testConfig({
      dataDir: data, upstreams: [sinkUpstream('up', sink.port)], systemUpstream: 'up',
      tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, password: shop-password } ] }'],
      extra: 'limits: { maxMessageSize: 1MB, minFreeSpace: 12MB }',
    })) });
  });
  afterAll(async () => {
    await mg?.kill();
    await sink?.close();
    try {
      execFileSync('umount', [data], { stdio: 'ignore' });
    } catch { /* already gone */ }
    await removeDir(dir);
  });

  it('answers 452 4.3.1 on submission and inbound while the disk is nearly full and accepts again once space is freed', async () => {
    await send(1);
    await sink.waitFor(1);
    const { bavail, bsize } = await fs.statfs(data);
    // Leave 6 MB: under the 12 MB minimum.
    await fs.writeFile(path.join(data, 'filler'), Buffer.alloc(Math.max(0, bavail * bsize - 6 * 1024 * 1024)));
    await new Promise((r) => setTimeout(r, 1100));
    await expect(send(2)).rejects.toMatchObject({ responseCode: 452, response: expect.stringMatching(/4\.3\.1 Insufficient system storage/) });
    await expect(sendInbound(2)).rejects.toMatchObject({ command: 'MAIL FROM', responseCode: 452, response: expect.stringMatching(/4\.3\.1 Insufficient system storage/) });
    await mg.waitForLog((l) => /nearly full/.test(String(l.msg)));
    expect((await fetch(`${mg.adminUrl}/healthz`)).status).toBe(200);
    expect(mg.exitCode).toBeUndefined();

    await fs.rm(path.join(data, 'filler'));
    await new Promise((r) => setTimeout(r, 1100));
    await send(3);
    const got = await sink.waitFor(2);
    expect(got.map((m) => m.to[0])).toEqual(['buyer1@example.com', 'buyer3@example.com']);
    expect((await sendInbound(3)).response).toMatch(/^250 2\.0\.0 Ok: queued as /);
  });
});

describe('disk-full errors', () => {
  it('are recognised by code and inside LevelDB IO errors', () => {
    expect(isDiskFull(Object.assign(new Error('write'), { code: 'ENOSPC' }))).toBe(true);
    expect(isDiskFull(Object.assign(new Error('Database failed to write'), { code: 'LEVEL_IO_ERROR', cause: new Error('IO error: /x/000005.log: No space left on device') }))).toBe(true);
    expect(isDiskFull(Object.assign(new Error('nope'), { code: 'EACCES' }))).toBe(false);
  });
});
