import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseCidr, parseDuration, parseListenAddress, parseSize } from '../src/config/formats.js';
import { ConfigError, loadConfig, parseConfig } from '../src/config/load.js';
import { TRACKING_SCHEMAS } from '../src/tracking/plugged.js';
import { hashPassword, verifyPassword } from '../src/config/password.js';
import type { Config } from '../src/config/types.js';
import { fingerprints } from './helpers/config.js';

// Test-only self-signed certificate (CN=localhost) and its key; never used outside this file.
const TLS_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgiy4QXGCIbHilLNO3
363Li6kTh3IeBwvl+CmYQfYdflGhRANCAAQMjbW+gD7szDyXr/qDBY3jDAu0gu4J
d8BPrjJrQfnG6tcPY+2dNba/D5EmQEKvHxoOTSO/RxSa/4Td4KiKEhob
-----END PRIVATE KEY-----
`;
const TLS_CERT = `-----BEGIN CERTIFICATE-----
MIIBfzCCASWgAwIBAgIUWtsR+SyysteDeJ17EmDZbs8AdXYwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMzExMjQwMloYDzIxMjYxMDMw
MTEyNDAyWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQMjbW+gD7szDyXr/qDBY3jDAu0gu4Jd8BPrjJrQfnG6tcPY+2dNba/
D5EmQEKvHxoOTSO/RxSa/4Td4KiKEhobo1MwUTAdBgNVHQ4EFgQUOD02RMORldIa
r48HemSr3a0R+MEwHwYDVR0jBBgwFoAUOD02RMORldIar48HemSr3a0R+MEwDwYD
VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEAsJlvhFAg25NyGa3XyMhH
4fKk2g+oe/Lk7Q24POojZR4CIDoBuYNGNoUfH5s0Bv2MYlsvzzYlyudhlAGiJzbq
7n1t
-----END CERTIFICATE-----
`;

const DKIM_KEY = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailgate-config-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

type Doc = Record<string, unknown>;

/** The smallest valid config; tests override parts of it. */
function base(extra: Doc = {}): Doc {
  return {
    system: { sender: { address: 'noreply@relay.example.net' }, bounceDomain: 'bounces.relay.example.net' },
    ...extra,
  };
}

function tenant(extra: Doc = {}): Doc {
  return { id: 'shop', name: 'Shop', networks: ['10.0.0.0/24'], ...extra };
}

function parse(doc: Doc | string, env: NodeJS.ProcessEnv = {}): Config {
  return parseConfig(typeof doc === 'string' ? doc : stringify(doc), { baseDir: dir, env, plugged: TRACKING_SCHEMAS });
}

function issuesOf(doc: Doc | string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parse(doc, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toBe(e.issues.join('\n'));
    return e.issues;
  }
  throw new Error('expected a ConfigError');
}

function writeTemp(name: string, contents: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, contents);
  return file;
}

describe('default config', () => {
  it('config/mailgate.yaml loads with no edits', async () => {
    const config = loadConfig('config/mailgate.yaml', {});
    expect(config.dataDir).toBe(path.resolve(process.cwd(), 'data'));
    expect(config.logLevel).toBe('info');
    expect(config.listen).toEqual({
      submission: { host: '127.0.0.1', port: 2525 },
      inbound: { host: '127.0.0.1', port: 2526 },
      admin: { host: '127.0.0.1', port: 8025 },
    });
    expect(config.tls).toBeUndefined();
    expect(config.limits).toEqual({
      maxMessageSize: 26214400, maxRecipients: 100, idleTimeout: 300_000, maxConnections: 500, bounceParseTimeout: 5000,
      submissionConnectionsPerClient: 20, inboundConnectionsPerClient: 10, commandTimeout: 30_000, minDataRate: 500,
      maxRefusedRecipients: 20, maxCommandsPerConnection: 10_000, authFailuresPerUser: 10, authFailuresPerClient: 30, authFailureAlarm: 100,
    });
    expect(config.queue).toEqual({
      retrySchedule: [60_000, 300_000, 900_000, 3_600_000, 14_400_000],
      maxAge: 3 * 86_400_000,
      concurrency: 100,
      deliveryThread: true,
      returnPath: 'recipient',
    });
    expect(config.system).toMatchObject({
      hostname: os.hostname(),
      sender: { address: 'noreply@relay.example.net' },
      bounceDomain: 'bounces.relay.example.net',
      upstream: 'direct',
    });
    // Names only: a failure must not print a token someone put into the shipped file.
    expect(config.admin.tokens.map((t) => t.name)).toEqual([]);
    expect(config.upstreams).toEqual([
      { name: 'direct', type: 'mx', port: 25, maxConnections: 10, requireTls: false, allowPrivateAddresses: false, mtaSts: true, dane: false, source: 'config' },
    ]);
    expect(config.tenants).toHaveLength(1);
    const demo = config.tenants[0]!;
    expect(demo).toMatchObject({
      id: 'demo',
      name: 'Demo Shop',
      networks: ['127.0.0.2/32'],
      from: { address: 'orders@demo-shop.example', name: 'Demo Shop' },
      domains: [],
      source: 'config',
    });
    expect(demo.auth).toHaveLength(1);
    expect(demo.auth[0]!.user).toBe('demo');
    expect(JSON.stringify(demo)).not.toContain('demo-password');
    expect(await verifyPassword(demo.auth[0]!, 'demo', 'demo-password')).toBe(true);
    expect(await verifyPassword(demo.auth[0]!, 'demo', 'wrong')).toBe(false);
    expect(config.shutdownGrace).toBe(10_000);
  });

  it('config/examples/full.yaml is structurally valid (only missing files and variables)', () => {
    const issues = issuesOf(fs.readFileSync('config/examples/full.yaml', 'utf8'));
    expect(issues.length).toBeGreaterThan(0);
    for (const issue of issues) expect(issue).toMatch(/: (cannot read \/\S+ \(ENOENT\)|environment variable \w+ is not set)$/);
  });

  it('applies defaults to a minimal config and adds the implicit direct upstream', () => {
    const config = parse(base());
    expect(config.dataDir).toBe(path.join(dir, 'data'));
    expect(config.dns.servers).toEqual([]);
    expect(config.tenants).toEqual([]);
    expect(config.upstreams).toEqual([
      { name: 'direct', type: 'mx', port: 25, maxConnections: 10, requireTls: false, allowPrivateAddresses: false, mtaSts: true, dane: false, source: 'config' },
    ]);
    expect(config.system.hostname).toBe(os.hostname());
    expect(config.system.upstream).toBe('direct');
  });

  it('treats an empty section (children commented out) as defaults', () => {
    const yaml = 'listen:\nlimits:\ntls:\nadmin:\ntenants:\nsystem:\n  sender: { address: a@relay.example }\n  bounceDomain: b.relay.example\n';
    const config = parse(yaml);
    expect(config.listen.submission).toEqual({ host: '127.0.0.1', port: 2525 });
    expect(config.limits.maxRecipients).toBe(100);
    expect(config.tls).toBeUndefined();
    expect(config.admin.tokens).toEqual([]);
    expect(config.tenants).toEqual([]);
  });

  it('reports a missing file with its absolute path', () => {
    const missing = path.join(dir, 'nope.yaml');
    expect(() => loadConfig(missing)).toThrow(`config: cannot read ${missing} (ENOENT)`);
  });
});

describe('formats', () => {
  it('parses durations: ms-style strings and numbers of seconds', () => {
    const config = parse(
      base({ queue: { retrySchedule: ['30s', 90, '1.5h', '2d'], maxAge: 3600 }, limits: { idleTimeout: '45s' }, shutdownGrace: 0 }),
    );
    expect(config.queue.retrySchedule).toEqual([30_000, 90_000, 5_400_000, 172_800_000]);
    expect(config.queue.maxAge).toBe(3_600_000);
    expect(config.limits.idleTimeout).toBe(45_000);
    expect(config.shutdownGrace).toBe(0);
    expect(parseDuration('5m')).toEqual({ ok: true, value: 300_000 });
    expect(parseDuration('20')).toEqual({ ok: true, value: 20_000 });
    expect(parseDuration('soon').ok).toBe(false);
    expect(parseDuration(-1).ok).toBe(false);
  });

  it('parses sizes in bytes or with KB/MB/GB (powers of 1024)', () => {
    expect(parse(base({ limits: { maxMessageSize: '25MB' } })).limits.maxMessageSize).toBe(26214400);
    expect(parse(base({ limits: { maxMessageSize: '512KB' } })).limits.maxMessageSize).toBe(524288);
    expect(parse(base({ limits: { maxMessageSize: '1GB' } })).limits.maxMessageSize).toBe(1073741824);
    expect(parse(base({ limits: { maxMessageSize: 1000 } })).limits.maxMessageSize).toBe(1000);
    expect(issuesOf(base({ limits: { maxMessageSize: '99999GB' } }))).toEqual(['limits.maxMessageSize: must be at most 1GB (receiving servers take far less: most 25–50 MB)']);
    expect(parseSize('10 mb')).toEqual({ ok: true, value: 10 * 1024 * 1024 });
    expect(parseSize('25XB').ok).toBe(false);
    expect(parseSize(0).ok).toBe(false);
  });

  it('parses listen addresses, including port 0', () => {
    const config = parse(base({ listen: { submission: ':0', inbound: '[::1]:2526', admin: 8080 } }));
    expect(config.listen).toEqual({
      submission: { host: '127.0.0.1', port: 0 },
      inbound: { host: '::1', port: 2526 },
      admin: { host: '127.0.0.1', port: 8080 },
    });
    expect(parseListenAddress('0.0.0.0:587')).toEqual({ ok: true, value: { host: '0.0.0.0', port: 587 } });
    expect(parseListenAddress('localhost:25')).toEqual({ ok: true, value: { host: 'localhost', port: 25 } });
    expect(parseListenAddress('::1:25').ok).toBe(false);
    expect(parseListenAddress('127.0.0.1:70000').ok).toBe(false);
  });

  it('parses DNS servers and CIDRs', () => {
    expect(parse(base({ dns: { servers: ['127.0.0.1:5353', '::1', '[::1]:53'] } })).dns.servers).toEqual([
      '127.0.0.1:5353',
      '::1',
      '[::1]:53',
    ]);
    expect(parseCidr('10.1.2.3').ok && parseCidr('10.1.2.3')).toMatchObject({ value: { text: '10.1.2.3/32' } });
    const a = parseCidr('2001:db8::1/64');
    const b = parseCidr('2001:0db8:0:0::/64');
    expect(a.ok && b.ok && a.value.networkKey === b.value.networkKey).toBe(true);
  });

  it('derives the smtp upstream port from tls and keeps the declared direct upstream', () => {
    const config = parse(
      base({
        upstreams: [
          { name: 'direct', type: 'mx', port: 2500, requireTls: true },
          { name: 'lab', type: 'mx', allowPrivateAddresses: true },
          { name: 'a', host: 'smtp.a.example' },
          { name: 'b', host: 'smtp.b.example', tls: 'implicit', tlsVerify: false, maxConnections: 3 },
          { name: 'c', type: 'smtp', host: '127.0.0.1', tls: 'none' },
        ],
      }),
    );
    expect(config.upstreams).toEqual([
      { name: 'direct', type: 'mx', port: 2500, maxConnections: 10, requireTls: true, allowPrivateAddresses: false, mtaSts: true, dane: false, source: 'config' },
      { name: 'lab', type: 'mx', port: 25, maxConnections: 10, requireTls: false, allowPrivateAddresses: true, mtaSts: true, dane: false, source: 'config' },
      { name: 'a', type: 'smtp', host: 'smtp.a.example', port: 587, tls: 'starttls', tlsVerify: true, maxConnections: 10, source: 'config' },
      { name: 'b', type: 'smtp', host: 'smtp.b.example', port: 465, tls: 'implicit', tlsVerify: false, maxConnections: 3, source: 'config' },
      { name: 'c', type: 'smtp', host: '127.0.0.1', port: 25, tls: 'none', tlsVerify: true, maxConnections: 10, source: 'config' },
    ]);
  });
});

describe('validation issues', () => {
  it('unknown upstream references', () => {
    expect(issuesOf(base({ tenants: [tenant({ upstream: 'x' })] }))).toEqual(['tenants[0].upstream: unknown upstream "x"']);
    const doc = base();
    (doc.system as Doc).upstream = 'x';
    expect(issuesOf(doc)).toEqual(['system.upstream: unknown upstream "x"']);
    // The implicit direct upstream and declared ones are known.
    expect(parse(base({ upstreams: [{ name: 'x', host: 'smtp.example' }], tenants: [tenant({ upstream: 'x' }), tenant({ id: 'b', networks: ['10.1.0.0/16'], upstream: 'direct' })] })).tenants).toHaveLength(2);
  });

  it('an implicit-TLS submission listener needs tls', () => {
    expect(issuesOf(base({ listen: { submissions: '0.0.0.0:465' } }))).toEqual(['listen.submissions: needs tls (a key and certificate) for implicit TLS']);
  });

  it('per-login and per-network upstreams and senders', () => {
    const doc = base({
      upstreams: [{ name: 'brand', host: 'smtp.brand.example' }],
      tenants: [tenant({
        auth: [{ user: 'a', password: 'pw-a', upstream: 'brand', from: { address: 'tickets@brand.example', name: 'Brand' } }, { user: 'b', password: 'pw-b', upstream: 'nope' }],
        networks: ['10.0.0.0/24', { cidr: '10.0.0.7/32', upstream: 'brand' }, { cidr: '10.0.1.0/24', upstream: 'gone', from: { address: 'not an address' } }],
      })],
    });
    expect(issuesOf(doc)).toEqual([
      'tenants[0].networks[2].from.address: invalid e-mail address "not an address"',
      'tenants[0].auth[1].upstream: unknown upstream "nope"',
    ]);
    ((doc.tenants as Doc[])[0]!.auth as Doc[])[1]!.upstream = 'direct';
    (((doc.tenants as Doc[])[0]!.networks as unknown[]).pop());
    const t = parse(doc).tenants[0]!;
    expect(t.auth.map((c) => [c.user, c.upstream, c.from?.address])).toEqual([['a', 'brand', 'tickets@brand.example'], ['b', 'direct', undefined]]);
    expect(t.networks).toEqual(['10.0.0.0/24', '10.0.0.7/32']);
    expect(t.networkSenders).toEqual([{ cidr: '10.0.0.7/32', upstream: 'brand' }]);
  });

  it('duplicate upstream names, tenant ids, SMTP users and networks', () => {
    expect(issuesOf(base({ upstreams: [{ name: 'a', type: 'mx' }, { name: 'a', host: 'smtp.example' }] }))).toEqual([
      'upstreams[1].name: upstream "a" is already declared at upstreams[0]',
    ]);
    expect(issuesOf(base({ tenants: [tenant(), tenant({ networks: ['10.9.0.0/16'] })] }))).toEqual([
      'tenants[1].id: tenant id "shop" is already used at tenants[0]',
    ]);
    expect(
      issuesOf(
        base({
          tenants: [
            tenant({ auth: [{ user: 'u1', password: 'p' }] }),
            tenant({ id: 'b', networks: [], auth: [{ user: 'u2', password: 'p' }, { user: 'u1', password: 'q' }] }),
          ],
        }),
      ),
    ).toEqual(['tenants[1].auth[1].user: SMTP user "u1" is already defined at tenants[0].auth[0]']);
    expect(
      issuesOf(base({ tenants: [tenant({ networks: ['127.0.0.2/32'] }), tenant({ id: 'b', networks: ['10.2.0.0/16', '127.0.0.2'] })] })),
    ).toEqual(['tenants[1].networks[1]: network 127.0.0.2/32 is already assigned at tenants[0].networks[0]']);
    expect(issuesOf(base({ tenants: [tenant({ networks: ['10.0.0.0/8', '10.1.2.3/8'] })] }))).toEqual([
      'tenants[0].networks[1]: network 10.1.2.3/8 is already assigned at tenants[0].networks[0]',
    ]);
  });

  it('invalid CIDRs', () => {
    expect(issuesOf(base({ tenants: [tenant({ networks: ['10.0.0.0/33', '300.1.1.1/8', 'fe80::/129', 'nonsense'] })] }))).toEqual([
      'tenants[0].networks[0]: invalid CIDR "10.0.0.0/33": prefix must be a whole number from 0 to 32',
      'tenants[0].networks[1]: invalid CIDR "300.1.1.1/8": "300.1.1.1" is not an IP address',
      'tenants[0].networks[2]: invalid CIDR "fe80::/129": prefix must be a whole number from 0 to 128',
      'tenants[0].networks[3]: invalid CIDR "nonsense": "nonsense" is not an IP address',
    ]);
  });

  it('refuses a tenant network wider than one shop\'s servers (an open relay), and takes private ranges whole', () => {
    // IPv6 networks over the IPv4-mapped range (::ffff:0:0/96) match IPv4 clients: judged as the IPv4 network they stand for.
    const wide = ['0.0.0.0/0', '::/0', '8.0.0.0/8', '1.2.0.0/15', '2001:db8::/31', '10.0.0.0/7', '192.168.0.0/15', '::ffff:0.0.0.0/96', '::ffff:0:0/96', '::/32', '::/64', '::/80', '::ffff:8.0.0.0/104'];
    const issues = issuesOf(base({ tenants: [tenant({ networks: wide })] }));
    expect(issues).toHaveLength(wide.length);
    expect(issues[0]).toBe('tenants[0].networks[0]: network "0.0.0.0/0" is too wide: every client in it could send as this tenant without a password (an open relay). Give the addresses of the shop\'s own servers: at most a /16 of public IPv4 addresses (a /32 for IPv6), or a private range');
    const fine = ['1.2.0.0/16', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '127.0.0.0/8', 'fd00::/8', 'fe80::/10', '2001:db8::/32', '203.0.113.7', '::ffff:10.0.0.0/104', '::ffff:203.0.113.0/120', '::1'];
    expect(parse(base({ tenants: [tenant({ networks: fine })] })).tenants[0]!.networks).toHaveLength(fine.length);
  });

  it('invalid e-mail addresses and hostnames', () => {
    const issues = issuesOf({
      system: { hostname: 'bad_host!', sender: { address: 'not-an-address' }, bounceDomain: 'bounces..example' },
      tenants: [tenant({ from: { address: 'shop@' } })],
    });
    expect(issues).toEqual([
      'system.hostname: "bad_host!" is not a valid hostname',
      'system.sender.address: invalid e-mail address "not-an-address"',
      'system.bounceDomain: "bounces..example" is not a valid domain name',
      'tenants[0].from.address: invalid e-mail address "shop@"',
    ]);
  });

  it('a tenant needs auth or networks', () => {
    expect(issuesOf(base({ tenants: [tenant({ networks: [] })] }))).toEqual(['tenants[0]: needs auth or networks']);
    expect(issuesOf(base({ tenants: [{ id: 'x', name: 'X' }] }))).toEqual(['tenants[0]: needs auth or networks']);
  });

  it('unknown keys, missing and mistyped values, bad enums', () => {
    expect(
      issuesOf({
        sytem: {},
        listen: { submision: 2525 },
        limits: { maxRecipients: 'many', maxConnections: 0 },
        logLevel: 'loud',
        tenants: [tenant({ nmae: 'x', id: 'Shop' })],
        upstreams: [{ name: 'u', type: 'lmtp' }, { name: 'v' }, { name: 'w', host: 'h.example', tls: 'ssl' }],
      }),
    ).toEqual([
      'sytem: unknown key',
      'logLevel: must be one of: fatal, error, warn, info, debug, trace, silent',
      'listen.submision: unknown key',
      'limits.maxRecipients: expected a number, got text',
      'limits.maxConnections: must be at least 1',
      'system: is required',
      'upstreams[0].type: must be one of: smtp, mx',
      'upstreams[1].host: is required',
      'upstreams[2].tls: must be one of: none, starttls, implicit',
      'tenants[0].id: must be 1-64 characters of a-z, 0-9, "-" and "_"',
      'tenants[0].nmae: unknown key',
    ]);
    expect(issuesOf({ system: { bounceDomain: 'b.example' } })).toEqual(['system.sender: is required']);
    expect(issuesOf('- a\n- b\n')).toEqual(['config: expected a mapping at the top level, got a list']);
  });

  it('listeners on the same address, bad listen values, durations and sizes', () => {
    expect(
      issuesOf(
        base({
          listen: { submission: 2525, inbound: '127.0.0.1:2525', admin: '::1:80' },
          limits: { maxMessageSize: '25 parsecs', idleTimeout: 'forever' },
          queue: { retrySchedule: ['1m', 'later'], maxAge: -5 },
        }),
      ),
    ).toEqual([
      'listen.admin: must be "host:port", "[ipv6]:port", ":port" or a port number; write IPv6 addresses in brackets, e.g. "[::1]:2525"',
      'limits.maxMessageSize: invalid size "25 parsecs" (use e.g. 26214400, "512KB", "25MB", "1GB")',
      'limits.idleTimeout: invalid duration "forever" (use e.g. "30s", "5m", "3d" or a number of seconds)',
      'queue.retrySchedule[1]: invalid duration "later" (use e.g. "30s", "5m", "3d" or a number of seconds)',
      'queue.maxAge: must be a non-negative number of seconds',
    ]);
    expect(issuesOf(base({ listen: { submission: 2525, inbound: '127.0.0.1:2525' } }))).toEqual([
      'listen.inbound: same address as listen.submission',
    ]);
    // Port 0 (any free port) never collides.
    expect(parse(base({ listen: { submission: 0, inbound: 0, admin: 0 } })).listen.admin.port).toBe(0);
  });

  it('collects issues from every section at once', () => {
    const issues = issuesOf({
      system: { sender: { address: 'x' }, bounceDomain: 'b.example', upstream: 'nope' },
      upstreams: [{ name: 'a', host: 'h.example', port: 'x' }],
      tenants: [
        tenant({ upstream: 'a' }),
        tenant({ id: 'b', upstream: 'zzz', networks: ['10.0.0.0/24'] }),
        tenant({ id: 'c', upstream: 'yyy', networks: ['10.3.0.0/16'], from: { address: 'bad' } }),
      ],
    });
    expect(issues).toEqual([
      'system.sender.address: invalid e-mail address "x"',
      'upstreams[0].port: expected a number, got text',
      'system.upstream: unknown upstream "nope"',
      'tenants[1].upstream: unknown upstream "zzz"',
      'tenants[1].networks[0]: network 10.0.0.0/24 is already assigned at tenants[0].networks[0]',
      'tenants[2].upstream: unknown upstream "yyy"',
      'tenants[2].from.address: invalid e-mail address "bad"',
    ]);
  });

  it('YAML syntax errors name the line and column without quoting the source', () => {
    const issues = issuesOf('system:\n  sender: { address: a@b.example\ntenants:\n  - auth: [{ user: u, password: "hunter2-secret }]\n');
    expect(issues.length).toBeGreaterThan(0);
    for (const issue of issues) {
      expect(issue).toMatch(/^config: YAML syntax error at line \d+, column \d+: /);
      expect(issue).not.toContain('hunter2');
    }
    expect(issuesOf('a: 1\na: 2\n')).toEqual(['config: YAML syntax error at line 2, column 1: Map keys must be unique']);
  });
});

describe('secure delivery (MTA-STS, DANE, TLS reports)', () => {
  it('defaults: MTA-STS followed, DANE off, reports off and named after the system', () => {
    const config = parse(base({ system: { hostname: 'relay.example.net', sender: { address: 'noreply@relay.example.net' }, bounceDomain: 'bounces.relay.example.net' } }));
    expect(config.upstreams.find((u) => u.name === 'direct')).toMatchObject({ type: 'mx', mtaSts: true, dane: false });
    expect(config.secureDelivery).toEqual({
      mtaStsPort: 443,
      tlsReports: { enabled: false, organization: 'relay.example.net', contact: 'noreply@relay.example.net', timeout: 30_000, allowPrivateTargets: false },
    });
  });

  it('reads the extra CA file and the switches; says clearly what is wrong', () => {
    fs.writeFileSync(path.join(dir, 'ca.pem'), TLS_CERT);
    fs.writeFileSync(path.join(dir, 'not-a-cert.pem'), 'hello\n');
    const config = parse(base({
      upstreams: [{ name: 'direct', type: 'mx', mtaSts: false, dane: true }],
      secureDelivery: { caFile: 'ca.pem', mtaStsPort: 8443, tlsReports: { enabled: true, organization: 'Example Relay', contact: 'tlsrpt@relay.example.net', timeout: '10s' } },
    }));
    expect(config.upstreams[0]).toMatchObject({ mtaSts: false, dane: true });
    expect(config.secureDelivery).toMatchObject({ ca: TLS_CERT.trim(), mtaStsPort: 8443, tlsReports: { enabled: true, organization: 'Example Relay', contact: 'tlsrpt@relay.example.net', timeout: 10_000 } });
    expect(issuesOf(base({
      upstreams: [{ name: 'direct', type: 'mx', mtaSts: 'yes', dane: 1 }],
      secureDelivery: { caFile: 'not-a-cert.pem', mtaStsPort: 0, tlsReports: { enabled: true, contact: 'not an address', send: true } },
    }))).toEqual([
      'secureDelivery.mtaStsPort: must be at least 1',
      'secureDelivery.tlsReports.contact: invalid e-mail address "not an address"',
      'secureDelivery.tlsReports.send: unknown key',
      'upstreams[0].mtaSts: expected true or false, got text',
      'upstreams[0].dane: expected true or false, got a number',
    ]);
    expect(issuesOf(base({ secureDelivery: { caFile: 'not-a-cert.pem' } }))).toEqual(['secureDelivery.caFile: not-a-cert.pem holds no PEM certificate']);
    expect(issuesOf(base({ secureDelivery: { caFile: 'missing.pem' } }))).toEqual(['secureDelivery.caFile: cannot read missing.pem (ENOENT)']);
  });
});

describe('secrets', () => {
  it('reads inline, …File and …Env forms; files lose their trailing newline', async () => {
    const tokenFile = writeTemp('admin.token', 'file-token-0123456789\n');
    const keyFile = writeTemp('dkim.key', DKIM_KEY);
    writeTemp('tls.key', TLS_KEY);
    writeTemp('a.pass', 'a-pass\n');
    const config = parse(
      base({
        system: {
          sender: { address: 'noreply@relay.example.net' },
          bounceDomain: 'bounces.relay.example.net',
          dkim: { domain: 'Relay.Example.NET', selector: 'mg1', privateKeyFile: keyFile },
        },
        tls: { keyFile: 'tls.key', certEnv: 'TLS_CERT' },
        admin: {
          tokens: [
            { name: 'file', tokenFile: tokenFile },
            { name: 'env', tokenEnv: 'ADMIN_TOKEN' },
            { name: 'inline', token: 'inline-token-0123456789' },
          ],
        },
        upstreams: [{ name: 'shop-smtp', host: 'smtp.shop.example', auth: { user: 'shop', passwordEnv: 'SHOP_SMTP_PASS' } }],
        tenants: [
          tenant({
            auth: [
              { user: 'a', passwordFile: 'a.pass' },
              { user: 'b', passwordEnv: 'B_PASS' },
            ],
            domains: [{ domain: 'shop.example', dkim: { selector: 'mg1', privateKeyEnv: 'DKIM_KEY' } }, { domain: 'other.example' }],
          }),
        ],
      }),
      { ADMIN_TOKEN: 'env-token-0123456789', SHOP_SMTP_PASS: 'upstream-pass', B_PASS: 'b-pass', DKIM_KEY, TLS_CERT },
    );
    // Compared as fingerprints, so that a failure prints no token.
    expect(fingerprints(config.admin.tokens)).toEqual(fingerprints([
      { name: 'file', token: 'file-token-0123456789' },
      { name: 'env', token: 'env-token-0123456789' },
      { name: 'inline', token: 'inline-token-0123456789' },
    ]));
    expect(config.system.dkim).toEqual({ domain: 'relay.example.net', selector: 'mg1', privateKey: DKIM_KEY.trimEnd() });
    expect(config.tls?.key.toString()).toBe(TLS_KEY.trimEnd());
    expect(config.tls?.cert.toString()).toBe(TLS_CERT);
    expect(config.upstreams[0]).toMatchObject({ auth: { user: 'shop', password: 'upstream-pass' } });
    const t = config.tenants[0]!;
    expect(t.domains).toEqual([
      { domain: 'shop.example', dkim: [{ selector: 'mg1', privateKey: DKIM_KEY }] },
      { domain: 'other.example', dkim: [] },
    ]);
    expect(t.auth.map((c) => c.user)).toEqual(['a', 'b']);
    expect(await verifyPassword(t.auth[0]!, 'a', 'a-pass')).toBe(true);
    expect(await verifyPassword(t.auth[1]!, 'b', 'b-pass')).toBe(true);
  });

  it('resolves relative …File paths against baseDir', async () => {
    writeTemp('rel.pass', 'rel-secret\r\n');
    const config = parse(base({ tenants: [tenant({ auth: [{ user: 'rel', passwordFile: 'rel.pass' }] })] }));
    expect(await verifyPassword(config.tenants[0]!.auth[0]!, 'rel', 'rel-secret')).toBe(true);
  });

  it('reports unreadable files and unset variables at the form used', () => {
    const missing = path.join(dir, 'missing.pass');
    expect(
      issuesOf(
        base({
          tenants: [tenant({ auth: [{ user: 'a', passwordFile: 'missing.pass' }, { user: 'b', passwordEnv: 'SHOP_SMTP_PASS' }] })],
          admin: { tokens: [{ name: 'ops', tokenEnv: 'EMPTY' }] },
        }),
        { EMPTY: '' },
      ),
    ).toEqual([
      'admin.tokens[0].tokenEnv: environment variable EMPTY is empty',
      `tenants[0].auth[0].passwordFile: cannot read ${missing} (ENOENT)`,
      'tenants[0].auth[1].passwordEnv: environment variable SHOP_SMTP_PASS is not set',
    ]);
  });

  it('requires exactly one form of each secret', () => {
    expect(
      issuesOf(
        base({
          tls: { key: TLS_KEY },
          upstreams: [{ name: 'u', host: 'h.example', auth: { user: 'x' } }],
          tenants: [tenant({ auth: [{ user: 'a', password: 'p', passwordEnv: 'P' }] })],
        }),
        { P: 'p' },
      ),
    ).toEqual([
      'tls.cert: is required (give one of cert, certFile, certEnv)',
      'upstreams[0].auth.password: is required (give one of password, passwordFile, passwordEnv)',
      'tenants[0].auth[0].password: give only one of password, passwordEnv',
    ]);
  });

  it('never puts secret values into error messages', () => {
    const secretValue = 'SuperSecret-do-not-print';
    const shortToken = writeTemp('short.token', 'tiny-secret\n');
    const badKey = writeTemp('bad.key', `${secretValue}\n`);
    const issues = issuesOf(
      {
        system: {
          sender: { address: 'noreply@relay.example.net' },
          bounceDomain: 'bounces.relay.example.net',
          dkim: { domain: 'relay.example.net', selector: 'mg1', privateKey: secretValue },
        },
        tls: { keyEnv: 'TLS_KEY', certEnv: 'TLS_KEY' },
        admin: { tokens: [{ name: 'a', tokenFile: shortToken }, { name: 'b', token: 'tiny-inline' }, { name: 'c', tokenEnv: 'T' }] },
        upstreams: [{ name: 'u', host: 'h.example', auth: { user: 'x', password: 12345 } }],
        tenants: [tenant({ domains: [{ domain: 'shop.example', dkim: { selector: 's', privateKeyFile: badKey } }] })],
      },
      { TLS_KEY: secretValue, T: 'tiny-env' },
    );
    expect(issues).toEqual([
      'tls.keyEnv: is not a PEM private key',
      'tls.certEnv: is not a PEM certificate',
      'system.dkim.privateKey: is not a PEM private key',
      'admin.tokens[0].tokenFile: must be at least 16 characters',
      'admin.tokens[1].token: must be at least 16 characters',
      'admin.tokens[2].tokenEnv: must be at least 16 characters',
      'upstreams[0].auth.password: expected text, got a number',
      'tenants[0].domains[0].dkim.privateKeyFile: is not a PEM private key',
    ]);
    const text = issues.join('\n');
    for (const s of [secretValue, 'tiny-secret', 'tiny-inline', 'tiny-env', '12345']) expect(text).not.toContain(s);
  });
});

describe('passwords', () => {
  it('hashes with a random salt and verifies in constant time', async () => {
    const a = hashPassword('pw');
    const b = hashPassword('pw');
    expect(a.passwordHash).toHaveLength(32);
    expect(a.passwordSalt).toHaveLength(16);
    expect(a.passwordHash.equals(b.passwordHash)).toBe(false);
    expect(await verifyPassword(a, 'u', 'pw')).toBe(true);
    expect(await verifyPassword(a, 'u', 'pw')).toBe(true); // from the cache
    expect(await verifyPassword(a, 'u', 'pW')).toBe(false);
    expect(await verifyPassword(b, 'u', 'pw')).toBe(true);
    expect(await verifyPassword(b, 'u', 'other')).toBe(false);
  });

  it('serves repeated successful verifications from the cache', async () => {
    const cred = hashPassword('cached-pw');
    const t0 = performance.now();
    expect(await verifyPassword(cred, 'c', 'cached-pw')).toBe(true);
    const first = performance.now() - t0;
    const t1 = performance.now();
    for (let i = 0; i < 20; i++) expect(await verifyPassword(cred, 'c', 'cached-pw')).toBe(true);
    const twenty = performance.now() - t1;
    expect(twenty).toBeLessThan(first * 2);
  });
});

describe('DKIM keys in the config', () => {
  it('refuses RSA keys under 2048 bits and non-DKIM key types', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const yaml = (key: string) => `system: { sender: { address: a@relay.test }, bounceDomain: b.relay.test, dkim: { domain: relay.test, selector: s, privateKeyEnv: K } }\ntenants: [ { id: t, name: T, networks: [ 10.0.0.1 ] } ]\n`;
    expect(() => parseConfig(yaml(small), { baseDir: '/', env: { K: small } })).toThrow('system.dkim.privateKeyEnv: is a 1024-bit RSA key; DKIM keys must have at least 2048 bits');
    expect(() => parseConfig(yaml(ec), { baseDir: '/', env: { K: ec } })).toThrow('system.dkim.privateKeyEnv: is a ec key; DKIM keys must be rsa or ed25519');
  });
});

describe('VERP secret', () => {
  it('comes from the config (here an environment variable) and must be long enough', () => {
    const yaml = `system: { sender: { address: a@relay.test }, bounceDomain: b.relay.test, verpSecretEnv: VS }\ntenants: [ { id: t, name: T, networks: [ 10.0.0.1 ] } ]\n`;
    expect(parseConfig(yaml, { baseDir: '/', env: { VS: 'a-long-enough-verp-secret' } }).system.verpSecret).toBe('a-long-enough-verp-secret');
    expect(() => parseConfig(yaml, { baseDir: '/', env: { VS: 'short' } })).toThrow('system.verpSecret: must be at least 16 characters');
  });
});

describe('tracking section', () => {
  it('defaults: no carriers, no gateways, 4 checks a day, 60 days', () => {
    const t = parse(base()).tracking;
    expect(t).toEqual({ checksPerDay: 4, maxAgeMs: 60 * 86_400_000, firstCheckDelayMs: 60_000, batchSize: 100, carriers: {}, phoneGateways: [] });
  });

  it('reads carrier and gateway secrets from env and files, defaults the carrier URLs', () => {
    fs.writeFileSync(path.join(dir, 'twilio.token'), 'tw-secret\n');
    const t = parse(base({ tracking: {
      carriers: { 'russian-post': { login: 'shop', passwordEnv: 'RP' }, dhl: { apiKey: 'dhl-key', timeout: '5s' } },
      phoneGateways: [
        { name: 'sms', type: 'twilio', accountSid: 'AC1', authTokenFile: 'twilio.token' },
        { name: 'bridge', type: 'webhook', url: 'https://bridge.example/send', token: 'b-token' },
      ],
    } }), { RP: 'rp-secret' }).tracking;
    expect(t.carriers['russian-post']).toMatchObject({ url: 'https://tracking.russianpost.ru/rtm34', login: 'shop', password: 'rp-secret', timeoutMs: 10_000, concurrency: 4 });
    expect(t.carriers.dhl).toMatchObject({ url: 'https://api-eu.dhl.com', apiKey: 'dhl-key', timeoutMs: 5000 });
    expect(t.phoneGateways).toEqual([
      { type: 'twilio', name: 'sms', accountSid: 'AC1', authToken: 'tw-secret', timeoutMs: 10_000 },
      { type: 'webhook', name: 'bridge', url: 'https://bridge.example/send', token: 'b-token', timeoutMs: 10_000 },
    ]);
  });

  it('names the key of every tracking problem', () => {
    const issues = issuesOf(base({ tracking: {
      checksPerDay: 0,
      carriers: { 'russian-post': { login: 'shop' }, fedex: {} },
      phoneGateways: [
        { name: 'sms', type: 'smsc' },
        { name: 'a', type: 'webhook', url: 'ftp://x' },
        { name: 'b', type: 'webhook', url: 'https://x.example' },
        { name: 'b', type: 'webhook', url: 'https://y.example' },
      ],
    } }));
    expect(issues).toEqual(expect.arrayContaining([
      expect.stringMatching(/^tracking\.checksPerDay: /),
      'tracking.carriers.fedex: unknown carrier (known: russian-post, dhl)',
      'tracking.phoneGateways[0].type: must be twilio or webhook',
      expect.stringMatching(/^tracking\.phoneGateways\[1\]\.url: must be an http\(s\) URL/),
      expect.stringMatching(/^tracking\.phoneGateways\[3\]\.name: phone gateway "b" is already defined at tracking\.phoneGateways\[2\]/),
    ]));
  });

  it('knows carriers and gateway types only from what tracking plugs in', () => {
    const doc = stringify(base({ tracking: { carriers: { dhl: { apiKey: 'k' } }, phoneGateways: [{ name: 'sms', type: 'twilio', accountSid: 'AC1', authToken: 't' }] } }));
    let issues: string[] = [];
    try {
      parseConfig(doc, { baseDir: dir, env: {} });
    } catch (err) {
      issues = (err as ConfigError).issues;
    }
    expect(issues).toEqual(expect.arrayContaining(['tracking.carriers.dhl: unknown carrier (known: none)', expect.stringMatching(/^tracking\.phoneGateways\[0\]\.type: must be a known gateway type/)]));
    expect(parseConfig(doc, { baseDir: dir, env: {}, plugged: TRACKING_SCHEMAS }).tracking.carriers).toEqual({ dhl: { url: 'https://api-eu.dhl.com', apiKey: 'k', timeoutMs: 10_000, concurrency: 4 } });
  });

  it('reports a secret given with the wrong type or in two forms once, at its key', () => {
    const issues = issuesOf(base({ tracking: { carriers: { dhl: { apiKey: 'k', apiKeyEnv: 'K' }, 'russian-post': { login: 'x', passwordFile: 42 } } } }));
    expect(issues.filter((i) => i.startsWith('tracking.carriers.'))).toEqual([
      'tracking.carriers.dhl.apiKey: give only one of apiKey, apiKeyEnv',
      'tracking.carriers.russian-post.passwordFile: expected a string, got a number',
    ]);
  });

  it('requires the Russian Post password', () => {
    expect(issuesOf(base({ tracking: { carriers: { 'russian-post': { login: 'shop' } } } })))
      .toContain('tracking.carriers.russian-post.password: is required (give one of password, passwordFile, passwordEnv)');
  });
});

describe('tenant claims (one rule for the file and the API)', () => {
  it('compares networks as networks and domains without case', async () => {
    const { TenantClaims } = await import('../src/config/tenant-claims.js');
    const claims = TenantClaims.ofTenants([{ id: 'a', auth: [{ user: 'shop-a' }], networks: ['10.0.0.0/8'], domains: [{ domain: 'shop.example' }] }] as never);
    expect(claims.owner('network', '10.0.0.1/8')).toBe('a');
    expect(claims.owner('network', '10.0.0.0/16')).toBeUndefined();
    expect(claims.owner('domain', 'SHOP.example')).toBe('a');
    expect(claims.owner('user', 'shop-a')).toBe('a');
    expect(claims.claim('network', '10.1.2.3/8', 'b')).toBe('a');
    expect(claims.claim('id', 'a', 'a')).toBeUndefined();
  });
});
