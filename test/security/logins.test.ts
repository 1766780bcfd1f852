// Security findings 7 and 8 (issue 21), and the TLS suites of 9. SMTP AUTH failures are limited per
// user, per address and per (user, address) pair (security/login-throttle.ts): a spray over many
// addresses against one user stops, someone else's guessing does not lock a user out, and the
// right password from a throttled address is accepted for a user who logged in from there. With
// TLS configured, AUTH is neither advertised nor taken before STARTTLS, and no TLS_RSA_* (non
// forward-secret) suite is offered. Against running mailgates on loopback (127.0.0.x addresses).
import tls from 'node:tls';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, sinkUpstream, testConfig } from '../helpers/config.js';
import { startMailgate, writeConfig, type MailgateProcess } from '../helpers/mailgate-process.js';
import { openDialogue } from '../helpers/smtp-dialogue.js';
import { selfSignedCert } from '../helpers/tls-cert.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';
import { useMailgate } from '../helpers/use-mailgate.js';
import { AuthFailureAlarm } from '../../src/security/login-throttle.js';

/** One AUTH PLAIN attempt from `from`: the reply's code. */
async function auth(port: number, from: string, user: string, pass: string): Promise<string> {
  const d = await openDialogue(port, { localAddress: from });
  await d.send('EHLO app.test\r\n');
  const [reply] = await d.send(`AUTH PLAIN ${Buffer.from(`\0${user}\0${pass}`).toString('base64')}\r\n`);
  await d.close();
  return reply!.slice(0, 3);
}

describe('AUTH failure limits per user, per address and per pair', () => {
  const w = useMailgate({
    prefix: 'mg-logins-',
    sinks: [{}],
    config: ({ dir, sinks }) => testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('shop-smtp', sinks[0]!.port)],
      tenants: [
        '{ id: shop, name: Shop, upstream: shop-smtp, auth: [ { user: shop, password: correct-horse } ] }',
        '{ id: other, name: Other, upstream: shop-smtp, auth: [ { user: other, password: other-horse } ] }',
      ],
      extra: 'limits: { authFailuresPerUser: 6, authFailuresPerClient: 8 }',
    }),
  });

  it('a spray over many addresses against one user stops at the user limit; the user from its own address still logs in', async () => {
    const port = w.mg.submission.port;
    // The shop's app logs in from its usual address first.
    expect(await auth(port, '127.0.1.1', 'shop', 'correct-horse')).toBe('235');
    // Twelve addresses, one guess each: under every per-address limit.
    const replies: string[] = [];
    for (let i = 10; i < 22; i++) replies.push(await auth(port, `127.0.1.${i}`, 'shop', `guess-${i}`));
    expect(replies.slice(0, 6)).toEqual(Array(6).fill('535'));
    expect(replies.slice(6)).toEqual(Array(6).fill('454'));
    // Not even the right password helps from a new address while the user is under attack…
    expect(await auth(port, '127.0.1.30', 'shop', 'correct-horse')).toBe('454');
    // …but the app's own address is not locked out by someone else's guessing.
    expect(await auth(port, '127.0.1.1', 'shop', 'correct-horse')).toBe('235');
    await w.mg.waitForLog((l) => l.msg === 'authentication refused: too many failures for this user' && l.user === 'shop');
  });

  it('the right password from a throttled address is accepted for a user that logged in from there; strangers are refused', async () => {
    const port = w.mg.submission.port;
    const office = '127.0.2.1';
    expect(await auth(port, office, 'other', 'other-horse')).toBe('235');
    // Someone in the same office (one NAT address) sprays over eight user names.
    for (let i = 0; i < 8; i++) expect(await auth(port, office, `nobody${i}`, 'password1')).toBe('535');
    expect(await auth(port, office, 'nobody9', 'password1')).toBe('454');
    expect(await auth(port, office, 'other', 'other-horse')).toBe('235');
  });

  it('the failing pair backs off on its own: ten failures of a user from one address in a minute', async () => {
    const port = w.mg.submission.port;
    expect(await auth(port, '127.0.3.1', 'other', 'other-horse')).toBe('235');
    expect(await auth(port, '127.0.3.2', 'other', 'other-horse')).toBe('235');
    for (let i = 0; i < 10; i++) expect(await auth(port, '127.0.3.1', 'other', `typo${i}`)).toBe('535');
    expect(await auth(port, '127.0.3.1', 'other', 'other-horse')).toBe('454');
    // The same user from another address it has logged in from is not affected.
    expect(await auth(port, '127.0.3.2', 'other', 'other-horse')).toBe('235');
    await w.mg.waitForLog((l) => l.msg === 'authentication refused: too many failures for this user from this address' && l.remote === '127.0.3.1');
  });
});

describe('with TLS: AUTH only after STARTTLS, forward-secret suites only', () => {
  let dir: string;
  let mg: MailgateProcess;
  beforeAll(async () => {
    dir = await makeTempDir('mg-logins-tls-');
    const { keyFile, certFile } = selfSignedCert(dir);
    const cfg = await writeConfig(dir, testConfig({
      dataDir: `${dir}/data`,
      tenants: ['{ id: one, name: One, auth: [ { user: one, password: one-password } ] }'],
      extra: `tls: { keyFile: ${keyFile}, certFile: ${certFile} }`,
    }).replace('admin: 127.0.0.1:0 }', 'admin: 127.0.0.1:0, submissions: 127.0.0.1:0 }'));
    mg = await startMailgate({ configFile: cfg });
  });
  afterAll(async () => {
    await mg?.kill();
    await removeDir(dir);
  });

  it('does not advertise AUTH before STARTTLS, and refuses it there', async () => {
    const d = await openDialogue(mg.submission.port);
    const [ehlo] = await d.send('EHLO client.test\r\n');
    expect(ehlo).toContain('STARTTLS');
    expect(ehlo).not.toMatch(/AUTH/);
    const [reply] = await d.send(`AUTH PLAIN ${Buffer.from('\0one\0one-password').toString('base64')}\r\n`);
    expect(reply).toMatch(/^5\d\d /);
    await d.close();
  });

  it('advertises and takes AUTH after STARTTLS', async () => {
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: mg.submission.port, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: 'one', pass: 'one-password' } });
    await expect(t.verify()).resolves.toBe(true);
  });

  it('offers no TLS_RSA_* (non forward-secret) suite in TLS 1.2, and nothing below TLS 1.2', async () => {
    const hello = (options: tls.ConnectionOptions) => new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: Number(String(mg.logs.find((l) => l.msg === 'mailgate ready')!.submissions).split(':').pop()), rejectUnauthorized: false, ...options });
      s.on('secureConnect', () => { resolve(s.getCipher().standardName); s.destroy(); });
      s.on('error', (err) => resolve(`refused: ${err.message}`));
    });
    expect(await hello({ maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA:AES256-SHA' })).toMatch(/^refused/);
    expect(await hello({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' })).toBe('TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256');
    expect(await hello({ minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' })).toMatch(/^refused/);
  });
});

describe('the login alarm (failed logins over all users and addresses)', () => {
  const w = useMailgate({
    prefix: 'mg-login-alarm-',
    config: ({ dir }) => testConfig({
      dataDir: `${dir}/data`,
      tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, password: correct-horse } ] }'],
      extra: 'limits: { authFailureAlarm: 15, authFailuresPerUser: 1000, authFailuresPerClient: 1000 }',
    }),
  });
  const operatorEntries = async () => ((await (await w.api('/errors?tenant=.operator')).json()) as { events: Array<{ code: string; detail: string; advice?: string }> }).events;

  it('goes off once when a spray reaches the threshold: an operator entry in the error log, a log line and the metrics', async () => {
    const port = w.mg.submission.port;
    // Four user names from five addresses, 14 failures: below the alarm.
    for (let i = 0; i < 14; i++) expect(await auth(port, `127.0.4.${1 + (i % 5)}`, `user${i % 4}`, 'password1')).toBe('535');
    expect(await operatorEntries()).toEqual([]);
    expect(await (await fetch(`${w.mg.adminUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text()).toMatch(/^mailgate_smtp_auth_alarm 0$/m);
    // The 15th sets it off; ten more do not make a second entry.
    for (let i = 14; i < 25; i++) expect(await auth(port, `127.0.4.${1 + (i % 5)}`, `user${i % 4}`, 'password1')).toBe('535');
    await w.mg.waitForLog((l) => l.msg === 'login alarm: many failed SMTP logins' && l.failures === 15);
    let entries = await operatorEntries();
    for (let i = 0; entries.length === 0 && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      entries = await operatorEntries();
    }
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ code: 'AUTH_FAILURE_ALARM', advice: expect.stringMatching(/guess/) });
    expect(entries[0]!.detail).toMatch(/^15 failed SMTP logins in the last 10 minutes, from 5 address\(es\) against 4 user name\(s\)/);
    const metrics = await (await fetch(`${w.mg.adminUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    expect(metrics).toMatch(/^mailgate_smtp_auth_failures_total\{result="failed"\} 25$/m);
    expect(metrics).toMatch(/^mailgate_smtp_auth_alarms_total 1$/m);
    expect(metrics).toMatch(/^mailgate_smtp_auth_alarm 1$/m);
    // The real user is not affected by the alarm itself.
    expect(await auth(port, '127.0.4.9', 'shop', 'correct-horse')).toBe('235');
  });
});

describe('AuthFailureAlarm', () => {
  it('goes off at the threshold, stays quiet while on, and goes off again only after the window has calmed down', () => {
    let now = 1_000_000;
    const alarm = new AuthFailureAlarm(10, 10 * 60_000, () => now);
    const reports = () => Array.from({ length: 12 }, (_, i) => alarm.note('failed', `u${i % 3}`, '192.0.2.1')).filter(Boolean);
    expect(reports()).toHaveLength(1);
    expect(alarm.active()).toBe(true);
    now += 5 * 60_000;
    expect(reports()).toHaveLength(0); // still on: 24 in the window
    now += 11 * 60_000; // the window has emptied
    expect(alarm.active()).toBe(false);
    const again = reports();
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({ failures: 10, users: 3, addresses: 1, topAddress: { name: '192.0.2.1', count: 10 } });
    expect(alarm.totals).toEqual({ failed: 36, throttled: 0, alarms: 2 });
    expect(new AuthFailureAlarm(0).note('failed', 'x', '192.0.2.1')).toBeUndefined();
  });
});
