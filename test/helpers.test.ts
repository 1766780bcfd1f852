// Proves the test helpers themselves: the loopback DNS server works with Node's resolver (c-ares),
// the SMTP sink receives real SMTP, and the process helper reads readiness from log lines.
import { Resolver } from 'node:dns/promises';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsServer, type DnsServer } from './helpers/dns-server.js';
import { runCli, startMailgate, writeConfig } from './helpers/mailgate-process.js';
import { getHeader, startSink } from './helpers/smtp-sink.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';

describe('dns-server', () => {
  let dns: DnsServer;
  let resolver: Resolver;
  const longTxt = 'v=DKIM1; k=rsa; p=' + 'A'.repeat(1400); // > 1232 bytes: truncated over UDP even with EDNS

  beforeAll(async () => {
    dns = await startDnsServer({
      'Shop.Example': {
        MX: [
          { preference: 20, exchange: 'mx2.shop.example' },
          { preference: 10, exchange: 'mx1.shop.example' },
        ],
        TXT: ['v=spf1 ip4:127.0.0.1 -all'],
      },
      'mx1.shop.example': { A: ['127.0.0.1'], AAAA: ['::1'] },
      'mg1._domainkey.shop.example': { TXT: [longTxt] },
      'alias.shop.example': { CNAME: 'mx1.shop.example' },
    });
    resolver = new Resolver({ timeout: 1000, tries: 1 });
    resolver.setServers([dns.address]);
  });
  afterAll(async () => {
    await dns.close();
  });

  it('answers MX, A, AAAA and TXT, names case-insensitive', async () => {
    const mx = await resolver.resolveMx('shop.example');
    expect(mx.sort((a, b) => a.priority - b.priority)).toEqual([
      { priority: 10, exchange: 'mx1.shop.example' },
      { priority: 20, exchange: 'mx2.shop.example' },
    ]);
    expect(await resolver.resolve4('MX1.shop.EXAMPLE')).toEqual(['127.0.0.1']);
    expect(await resolver.resolve6('mx1.shop.example')).toEqual(['::1']);
    expect(await resolver.resolveTxt('shop.example')).toEqual([['v=spf1 ip4:127.0.0.1 -all']]);
    expect(await resolver.resolve4('alias.shop.example')).toEqual(['127.0.0.1']);
  });

  it('serves long TXT records (chunked, over TCP when UDP truncates)', async () => {
    const txt = await resolver.resolveTxt('mg1._domainkey.shop.example');
    expect(txt).toHaveLength(1);
    expect(txt[0]!.length).toBeGreaterThan(1);
    expect(txt[0]!.join('')).toBe(longTxt);
    expect(dns.queries.filter((q) => q.name === 'mg1._domainkey.shop.example').map((q) => q.transport)).toContain('tcp');
  });

  it('NXDOMAIN for unknown names, NODATA for a missing type', async () => {
    await expect(resolver.resolveMx('nowhere.example')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(resolver.resolve4('shop.example')).rejects.toMatchObject({ code: 'ENODATA' });
  });

  it('set() and delete() change the zone at run time', async () => {
    dns.set('new.example', { A: ['127.0.0.9'] });
    expect(await resolver.resolve4('new.example')).toEqual(['127.0.0.9']);
    dns.set('NEW.example', { A: ['127.0.0.10'] });
    expect(await resolver.resolve4('new.example')).toEqual(['127.0.0.10']);
    dns.delete('new.example');
    await expect(resolver.resolve4('new.example')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(dns.queries.some((q) => q.name.toLowerCase() === 'new.example' && q.type === 'A')).toBe(true);
  });
});

describe('smtp-sink', () => {
  it('receives a nodemailer message with the right envelope and body', async () => {
    const sink = await startSink();
    const transport = nodemailer.createTransport({ host: sink.host, port: sink.port, secure: false, ignoreTLS: true });
    try {
      const info = await transport.sendMail({
        envelope: { from: 'bounce+abc@bounces.relay.example.net', to: ['a@x.example', 'b@y.example'] },
        from: 'Shop <orders@shop.example>',
        to: 'a@x.example',
        subject: 'Order 42',
        text: 'Hello\n.leading dot line\nbye',
        messageId: '<m42@shop.example>',
      });
      expect(info.accepted).toEqual(['a@x.example', 'b@y.example']);
      const [msg] = await sink.waitFor(1);
      expect(msg!.from).toBe('bounce+abc@bounces.relay.example.net');
      expect(msg!.to).toEqual(['a@x.example', 'b@y.example']);
      expect(msg!.messageId).toBe('<m42@shop.example>');
      expect(getHeader(msg!.headers, 'subject')).toBe('Order 42');
      const body = msg!.raw.toString('utf8');
      expect(body).toContain('\r\n\r\nHello\r\n.leading dot line\r\nbye');
      expect(msg!.secure).toBe(false);
    } finally {
      transport.close();
      await sink.close();
    }
  });

  it('rejects chosen recipients and messages with the given codes', async () => {
    const sink = await startSink({
      rcptReply: (rcpt) => (rcpt.startsWith('gone@') ? { code: 550, message: '5.1.1 No such user' } : rcpt.startsWith('busy@') ? { code: 451, message: '4.3.0 Try later' } : undefined),
      dataReply: (m) => (m.headers.includes('X-Reject: yes') ? { code: 554, message: '5.7.1 Spam' } : undefined),
    });
    const transport = nodemailer.createTransport({ host: sink.host, port: sink.port, secure: false, ignoreTLS: true });
    try {
      const info = await transport.sendMail({
        envelope: { from: 's@x.example', to: ['ok@x.example', 'gone@x.example', 'busy@x.example'] },
        from: 's@x.example',
        subject: 't',
        text: 'x',
      });
      expect(info.accepted).toEqual(['ok@x.example']);
      expect(info.rejected.sort()).toEqual(['busy@x.example', 'gone@x.example']);
      const { rejectedErrors } = info as { rejectedErrors?: { responseCode?: number }[] };
      const errs = (rejectedErrors ?? []).map((e) => e.responseCode).sort();
      expect(errs).toEqual([451, 550]);
      expect(sink.messages[0]!.to).toEqual(['ok@x.example']);

      await expect(
        transport.sendMail({ from: 's@x.example', to: 'ok@x.example', subject: 't', text: 'x', headers: { 'X-Reject': 'yes' } }),
      ).rejects.toMatchObject({ responseCode: 554 });
      expect(sink.rejected).toHaveLength(1);
      expect(sink.messages).toHaveLength(1);
    } finally {
      transport.close();
      await sink.close();
    }
  });

  it('can be closed with a pooled client connected and restarted on the same port', async () => {
    const first = await startSink();
    const port = first.port;
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, pool: true, maxConnections: 1 });
    try {
      await transport.sendMail({ from: 's@x.example', to: 'r@x.example', subject: '1', text: '1' });
      const t0 = Date.now();
      await first.close();
      expect(Date.now() - t0).toBeLessThan(2000);
      await expect(transport.sendMail({ from: 's@x.example', to: 'r@x.example', subject: '2', text: '2' })).rejects.toThrow();

      const second = await startSink({ port });
      try {
        expect(second.port).toBe(port);
        await transport.sendMail({ from: 's@x.example', to: 'r@x.example', subject: '3', text: '3' });
        const [m] = await second.waitFor(1);
        expect(getHeader(m!.headers, 'Subject')).toBe('3');
        expect(first.messages).toHaveLength(1);
      } finally {
        await second.close();
      }
    } finally {
      transport.close();
    }
  });

  it('waitFor times out with a helpful message', async () => {
    const sink = await startSink();
    try {
      await expect(sink.waitFor(1, 50)).rejects.toThrow(/waited 50 ms for 1 message\(s\), got 0/);
    } finally {
      await sink.close();
    }
  });
});

describe('tmp and mailgate-process helpers', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeTempDir('mailgate-helpers-');
  });
  afterAll(async () => {
    await removeDir(dir);
    expect(existsSync(dir)).toBe(false);
  });

  it('writeConfig writes mailgate.yaml', async () => {
    const file = await writeConfig(dir, 'dataDir: ./data\n');
    expect(file).toBe(path.join(dir, 'mailgate.yaml'));
  });

  it('startMailgate reads readiness and ports from the log, and kill() returns the exit code', async () => {
    // A stand-in for dist/cli.js that behaves like the real server on stdout.
    const fake = path.join(dir, 'fake-cli.mjs');
    await writeFile(
      fake,
      `const args = process.argv.slice(2);
const line = (o) => process.stdout.write(JSON.stringify({ level: 30, time: Date.now(), ...o }) + '\\n');
line({ msg: 'starting', args });
setTimeout(() => line({ level: 40, msg: 'mailgate ready', submission: '127.0.0.1:40001', inbound: '127.0.0.1:40002', admin: '[::1]:40003' }), 50);
process.on('SIGTERM', () => { line({ msg: 'bye' }); process.exit(0); });
setInterval(() => {}, 1000);
`,
    );
    const configFile = await writeConfig(dir, 'x: 1\n');
    const mg = await startMailgate({ configFile, cliPath: fake });
    expect(mg.submission).toEqual({ host: '127.0.0.1', port: 40001 });
    expect(mg.inbound.port).toBe(40002);
    expect(mg.admin).toEqual({ host: '::1', port: 40003 });
    expect(mg.adminUrl).toBe('http://[::1]:40003');
    expect(mg.logs[0]!.args).toEqual(['serve', '--config', configFile]);
    expect(await mg.kill()).toBe(0);
    expect(mg.logs.at(-1)!.msg).toBe('bye');
    expect(await mg.kill()).toBe(0);
  });

  it('startMailgate rejects with the output when the process exits before ready', async () => {
    const fake = path.join(dir, 'fail-cli.mjs');
    await writeFile(fake, `console.error('config error: listen.submission: expected host:port'); process.exit(2);\n`);
    await expect(startMailgate({ configFile: path.join(dir, 'mailgate.yaml'), cliPath: fake })).rejects.toThrow(
      /exit code 2[\s\S]*listen\.submission/,
    );
    const res = await runCli(['check-config'], { cliPath: fake });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('config error');
  });

  it('a failure message quotes the output with the printed admin token masked', async () => {
    const token = 'ab'.repeat(32);
    const fake = path.join(dir, 'token-cli.mjs');
    await writeFile(fake, `console.log('mailgate is ready: open the console at http://127.0.0.1:1/ and sign in with the admin token ${token} (kept in x)'); process.exit(1);\n`);
    const failure = await startMailgate({ configFile: path.join(dir, 'mailgate.yaml'), cliPath: fake }).catch((err: Error) => err.message);
    expect(failure).toContain('admin token [redacted]');
    expect(failure).not.toContain(token);
  });
});
