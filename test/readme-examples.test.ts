// README.md that runs: every shell block is marked either as an example (```sh example) or as not
// run with the reason (```sh no-run: why); the examples run here, with bash (set -euo pipefail), in
// document order, against a real mailgate, so none can rot. Also the table of contents (every ## and
// ### heading, with GitHub's anchors) and every in-page link.
//
// The world is what the examples assume: the shops demo (login demo / demo-password, sender domain
// your-shop.example, optional notice categories) and newshop (on hold), the upstream shop-smtp, the
// admin token mailgate makes on its first start, recipients' mail servers (a loopback SMTP sink behind
// a loopback DNS server; example.net greylists), and some mail the shops' apps sent before. `mailgate`
// on PATH is `node dist/cli.js` run in an installation directory of its own per section, whose
// config/mailgate.local.yaml is this config; `curl` on PATH is the real curl, quiet, recording each
// answer, and failing (exit 22) on an HTTP status of 400 or more (a pasted example that gets 401 fails).
// TOKEN and TENANT_TOKEN are set as the README tells the reader to set them. Names the README uses for
// the reader's own things are replaced by the test's (SUBSTITUTIONS below). Files a reader brings
// (a bounce, a CSV) are in the directory (READER_FILES).
//
// Within a section the blocks run in one bash, so a variable set by one is there for the next; before
// each section the queue settles (nothing due or in delivery), as it would between a reader's steps. An
// expected answer written under a curl (`# 201 {"id":…}`) is checked: the status, and that the keys
// shown are in the JSON answer. An output block right after an example must share the words of its
// first line with what the example printed. Failures show the block, its line and its output with
// the admin token, tokens and passwords masked.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { startDnsServer, type DnsServer } from './helpers/dns-server.js';
import { sinkUpstream, testConfig } from './helpers/config.js';
import { cliPath, repoRoot, startMailgate, writeConfig, type MailgateProcess } from './helpers/mailgate-process.js';
import { SHELL_LANGS, inPageLinks, parseReadme, tableOfContents, type Fence, type Heading } from './helpers/readme.js';
import { getHeader, startSink, type Sink } from './helpers/smtp-sink.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';
import { startReceiver } from './helpers/webhook-receiver.js';

const README = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
const readme = parseReadme(README);
const shellBlocks = readme.fences.filter((f) => SHELL_LANGS.has(f.lang));
const examples = shellBlocks.filter((f) => f.mark === 'example');

describe('README.md: its shell blocks, contents and links', () => {
  it('marks every shell block as an example that runs or as not run, with the reason', () => {
    const unmarked = shellBlocks
      .filter((f) => f.mark !== 'example' && !/^no-run: \S.{8,}/.test(f.mark))
      .map((f) => `line ${f.line}: \`\`\`${f.info}`);
    expect(unmarked, 'mark each as ```sh example (run by test/readme-examples.test.ts) or ```sh no-run: <why it cannot run in a test>').toEqual([]);
    expect(examples.length).toBeGreaterThan(20);
  });

  it('has a table of contents listing every ## and ### heading, in order, with GitHub\'s anchors', () => {
    const toc = tableOfContents(README).map(({ level, text, anchor }) => ({ level, text, anchor }));
    const headings = readme.headings.filter((h) => h.level === 2 || h.level === 3).map(({ level, text, anchor }) => ({ level, text, anchor }));
    expect(headings.length).toBeGreaterThan(20);
    expect(toc).toEqual(headings);
  });

  it('links within the page only to headings that exist', () => {
    const anchors = new Set(readme.headings.map((h) => h.anchor));
    expect(inPageLinks(README).filter((l) => !anchors.has(l.anchor)).map((l) => `line ${l.line}: #${l.anchor}`)).toEqual([]);
  });
});

/** Files a reader has at hand when running the examples: a bounce they received, CSVs from their systems. */
const READER_FILES: Record<string, string> = {
  'bounce.eml': readFileSync(path.join(repoRoot, 'test/fixtures/bounces/001-postfix-user-unknown.eml'), 'utf8'),
  'old-provider.csv': 'email;reason\nold-buyer@example.com;hard bounce at the old provider\nnot-an-address;\n',
  'orders.csv': 'Трек-номер;ФИО;E-mail;Телефон;Номер заказа;Сумма заказа\n80082345678902;Anna Schmidt;anna@example.com;+49 30 1234567;A-1002;990\n',
};

const ADMIN_PORT_URL = 'http://127.0.0.1:8025';

/** The tools the examples use; without them the examples are skipped — except in CI, where .ci/run installs them. */
const TOOLS = ['bash', 'curl', 'jq', 'swaks'];
const missingTools = TOOLS.filter((t) => spawnSync('bash', ['-c', `command -v ${t}`]).status !== 0);
const canRun = missingTools.length === 0 || process.env.CI === 'true';
if (!canRun) process.stderr.write(`README examples skipped: ${missingTools.join(', ')} not installed (apt install ${missingTools.join(' ')})\n`);

describe.runIf(canRun)('README.md examples, run against a running mailgate', () => {
  let dir: string;
  let configFile: string;
  let sink: Sink;
  let dns: DnsServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let mg: MailgateProcess;
  let tenantToken: string;
  let binDir: string;

  const adminToken = () => readFileSync(path.join(dir, 'data', 'admin.token'), 'utf8').trim();
  const api = (p: string, init: { method?: string; body?: unknown; token?: string } = {}) => fetch(`${mg.adminUrl}/api/v1${p}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${init.token ?? adminToken()}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });

  /** Every secret the world knows of, for masking output quoted in a failure. */
  const secrets = (): string[] => [adminToken(), tenantToken, 'demo-password', 'newshop-password'].filter(Boolean);
  const redact = (text: string): string => {
    let out = text;
    for (const s of secrets()) out = out.split(s).join('[redacted]');
    return out
      .replace(/\b[0-9a-f]{64}\b/g, '[redacted]')
      .replace(/\b(mgt|whsec)_[A-Za-z0-9_-]+/g, '$1_[redacted]')
      .replace(/"(password|token|secret)"\s*:\s*"[^"]*"/g, '"$1":"[redacted]"')
      .replace(/(Bearer )\S+/gi, '$1[redacted]');
  };

  beforeAll(async () => {
    dir = await makeTempDir('mg-readme-');
    sink = await startSink({
      rcptReply: (rcpt) => (rcpt.endsWith('@example.net') ? { code: 451, message: '4.7.1 Greylisted, please try again later' } : undefined),
    });
    receiver = await startReceiver();
    const mx = { MX: [{ preference: 10, exchange: 'mx.sink.test' }] };
    dns = await startDnsServer({
      'mx.sink.test': { A: ['127.0.0.1'] },
      ...Object.fromEntries(['example.com', 'example.net', 'hotmail.com', 'demo-shop.example', 'your-shop.example', 'shop2.example'].map((d) => [d, mx])),
    });
    const key = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' });
    writeFileSync(path.join(dir, 'your-shop.example.mg1.key'), key, { mode: 0o600 });
    configFile = await writeConfig(dir, testConfig({
      dataDir: `${dir}/data`,
      adminToken: false,
      admin: 'allowPrivateTenantUpstreams: true',
      upstreams: [`{ name: direct, type: mx, port: ${sink.port}, allowPrivateAddresses: true }`, sinkUpstream('shop-smtp', sink.port)],
      tenants: [
        '{ id: demo, name: Demo Shop, auth: [ { user: demo, password: demo-password } ], from: { address: orders@demo-shop.example, name: Demo Shop },'
          + ` domains: [ { domain: your-shop.example, dkim: { selector: mg1, privateKeyFile: ${dir}/your-shop.example.mg1.key } } ],`
          + ' categories: { payment-received: optional, refund-done: optional, payment-details: mandatory } }',
        '{ id: newshop, name: New Shop, hold: true, auth: [ { user: newshop, password: newshop-password } ] }',
      ],
      extra: [
        `dns: { servers: [ "${dns.address}" ] }`,
        'queue: { retrySchedule: [1h] }',
        'webhooks: { allowPrivateTargets: true }',
        `tracking: { phoneGateways: [ { name: sms, type: webhook, url: "${receiver.url}" } ] }`,
      ].join('\n'),
    }));
    mg = await startMailgate({ configFile });

    // `mailgate` and `curl` for the examples.
    const realCurl = execFileSync('bash', ['-c', 'command -v curl'], { encoding: 'utf8' }).trim();
    binDir = path.join(dir, 'bin');
    mkdirSync(binDir);
    writeFileSync(path.join(binDir, 'mailgate'), `#!/bin/sh\nexec "${process.execPath}" "${cliPath}" "$@"\n`);
    writeFileSync(path.join(binDir, 'curl'), [
      '#!/bin/bash',
      '# The README test\'s curl: the real one, quiet but for errors; records each answer\'s status and body',
      '# in $README_CURL_LOG and fails (exit 22) on an HTTP status of 400 or more.',
      `headers=$(mktemp -p "$README_CURL_DIR"); body=$(mktemp -p "$README_CURL_DIR")`,
      `"${realCurl}" -sS -D "$headers" "$@" | tee "$body"`,
      'rc=${PIPESTATUS[0]}',
      'status=$(awk \'/^HTTP\\//{s=$2} END{print s}\' "$headers")',
      'printf \'%s %s\\n\' "${status:-000}" "$body" >> "$README_CURL_LOG"',
      '[ "$rc" -eq 0 ] || exit "$rc"',
      'if [ "${status:-0}" -ge 400 ]; then echo "curl: the server answered HTTP $status" >&2; exit 22; fi',
      '',
    ].join('\n'));
    for (const f of ['mailgate', 'curl']) chmodSync(path.join(binDir, f), 0o755);

    // Mail the shops' apps sent before the reader came along.
    const app = (user: string, pass: string) => nodemailer.createTransport({ host: mg.submission.host, port: mg.submission.port, secure: false, ignoreTLS: true, auth: { user, pass } });
    const demo = app('demo', 'demo-password');
    const from = 'orders@demo-shop.example';
    await demo.sendMail({ from, to: 'user@example.com', subject: 'Your order', text: 'Thank you.' });
    await demo.sendMail({ from, to: '"Anna Schmidt" <buyer@example.com>', subject: 'Order A-1001', text: 'Shipped.', headers: { 'X-Order-Id': 'A-1001' } });
    await demo.sendMail({ from, to: 'buyer@example.com', subject: 'Payment received', text: 'Thanks.', headers: { 'X-Mailgate-Category': 'payment-received' } });
    for (const n of [1, 2]) await demo.sendMail({ from, to: 'buyer@example.net', subject: `Order A-100${n + 2}`, text: 'Greylisted.' });
    await app('newshop', 'newshop-password').sendMail({ from: 'hello@newshop.example', to: 'someone@example.com', subject: 'Hello', text: 'Held.' });
    // The buyer unsubscribes from payment-received (the one-click link in the message).
    const notice = (await sink.waitFor(3)).find((m) => getHeader(m.headers, 'Subject') === 'Payment received');
    const token = /\/unsubscribe\/([^>]+)>/.exec(getHeader(notice?.headers ?? '', 'List-Unsubscribe') ?? '')?.[1];
    expect(token, 'List-Unsubscribe of the payment-received notice').toBeTruthy();
    const unsubscribed = await fetch(`${mg.adminUrl}/unsubscribe/${token}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect(unsubscribed.status).toBe(200);
    // The shop admin's token (README: POST /api/v1/tenants/<tenant>/tokens).
    const created = await api('/tenants/demo/tokens', { method: 'POST', body: { name: 'readme-test' } });
    expect(created.status).toBe(201);
    tenantToken = ((await created.json()) as { token: string }).token;
    await settled();
  }, 60_000);

  afterAll(async () => {
    await mg?.kill();
    await sink?.close();
    await dns?.close();
    await receiver?.close();
    if (dir) await removeDir(dir);
  });

  /** Waits until no message is due or being delivered (the examples before have had their effect). */
  async function settled(): Promise<void> {
    const until = Date.now() + 15_000;
    for (;;) {
      const res = await api('/queue');
      const { messages } = (await res.json()) as { messages: Array<{ held: unknown; nextAttemptAt: number | null; attempts: number }> };
      if (messages.every((m) => m.held || (m.attempts > 0 && (m.nextAttemptAt ?? 0) > Date.now()))) return;
      if (Date.now() > until) throw new Error(`the queue did not settle: ${JSON.stringify(messages)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The reader's own names in the examples, and what stands for them here. */
  const SUBSTITUTIONS = (sectionDir: string): Array<[string, string]> => [
    [ADMIN_PORT_URL, mg.adminUrl],
    ['127.0.0.1:2525', `${mg.submission.host}:${mg.submission.port}`],
    ['/etc/mailgate/mailgate.yaml', configFile],
    ['/etc/mailgate/keys', path.join(sectionDir, 'keys')],
    ['/var/backups/', path.join(sectionDir, 'backups') + '/'],
    ['https://shop.example/mailgate-hook', receiver.url],
    ['mail.shop2.example', '127.0.0.1'],
    ['mail.demo-shop.example', '127.0.0.1'],
  ];

  /** An installation directory for one section: config/ as shipped plus the test's config/mailgate.local.yaml, and the reader's files. */
  function sectionDir(name: string): string {
    const d = path.join(dir, 'sections', name);
    mkdirSync(path.join(d, 'config'), { recursive: true });
    cpSync(path.join(repoRoot, 'config', 'mailgate.yaml'), path.join(d, 'config', 'mailgate.yaml'));
    copyFileSync(configFile, path.join(d, 'config', 'mailgate.local.yaml'));
    for (const sub of ['keys', 'backups', '.curl']) mkdirSync(path.join(d, sub));
    for (const [file, text] of Object.entries(READER_FILES)) writeFileSync(path.join(d, file), text);
    return d;
  }

  const top: Heading = { line: 1, level: 1, text: '(before the first section)', anchor: 'top' };
  const sections = new Map<Heading, Fence[]>();
  for (const f of examples) sections.set(f.section ?? top, [...(sections.get(f.section ?? top) ?? []), f]);

  for (const [heading, blocks] of sections) {
    it(`${heading.text} (README line ${heading.line}): ${blocks.length} example(s)`, async () => {
      await settled();
      const d = sectionDir(heading.anchor || `line-${heading.line}`);
      const curlLog = path.join(d, '.curl', 'log');
      writeFileSync(curlLog, '');
      const subst = (text: string) => SUBSTITUTIONS(d).reduce((t, [from, to]) => t.split(from).join(to), text);
      const script = ['set -euo pipefail', `__mark() { printf '\\n@@block %s@@\\n' "$1"; printf '\\n@@block %s@@\\n' "$1" >&2; printf '@@block %s@@\\n' "$1" >> "$README_CURL_LOG"; }`];
      blocks.forEach((b, i) => script.push(`__mark ${i}`, subst(b.text)));
      script.push(`__mark ${blocks.length}`);

      const env: NodeJS.ProcessEnv = {
        ...process.env, PATH: `${binDir}:${process.env.PATH}`, TOKEN: adminToken(), TENANT_TOKEN: tenantToken,
        README_CURL_LOG: curlLog, README_CURL_DIR: path.join(d, '.curl'),
      };
      delete env.MAILGATE_TOKEN;
      const run = await bash(script.join('\n'), d, env);
      const outs = splitByMarker(run.stdout);
      const errs = splitByMarker(run.stderr);
      const calls = splitByMarker(readFileSync(curlLog, 'utf8'));
      const reached = outs.size > 0 ? Math.max(...outs.keys()) : 0;

      const show = (i: number, why: string) => {
        const b = blocks[i]!;
        return [
          `README.md line ${b.line} (section "${heading.text}"): ${why}`,
          '--- the example ---', b.text,
          '--- its stdout ---', redact((outs.get(i) ?? '').slice(-3000)),
          '--- its stderr ---', redact((errs.get(i) ?? '').slice(-3000)),
        ].join('\n');
      };
      if (run.code !== 0 || reached < blocks.length) {
        const i = Math.min(reached, blocks.length - 1);
        expect.fail(show(i, `exited with status ${run.code}${run.signal ? ` (signal ${run.signal})` : ''}`));
      }

      blocks.forEach((b, i) => {
        // Every curl in the text ran, and the answers shown under them match.
        const expected = curlExpectations(b.text);
        const answered = (calls.get(i) ?? '').split('\n').filter(Boolean).map((l) => {
          const [status, file] = l.split(' ');
          return { status: Number(status), body: readFileSync(file!, 'utf8') };
        });
        if (answered.length !== expected.length) expect.fail(show(i, `${expected.length} curl command(s) in the text, ${answered.length} ran`));
        expected.forEach((e, k) => {
          if (!e) return;
          const got = answered[k]!;
          if (e.status !== undefined && got.status !== e.status) expect.fail(show(i, `the curl on its line ${e.line} answered ${got.status}, the README shows ${e.status}`));
          const missing = missingKeys(e.keys, [got.body]);
          if (missing.length > 0) expect.fail(show(i, `the answer of the curl on its line ${e.line} lacks ${missing.join(', ')} (README shows ${e.text})`));
        });
        // `# {…}` under another command: some JSON line it printed has those keys.
        for (const e of otherExpectations(b.text)) {
          const missing = missingKeys(e.keys, (outs.get(i) ?? '').split('\n'));
          if (missing.length > 0) expect.fail(show(i, `no JSON line printed has ${missing.join(', ')} (README shows ${e.text})`));
        }
        // An output block right after the example.
        const shown = outputShown(b);
        if (shown) {
          const words = shown.split('\n')[0]!.split(/\s+/).filter((w) => /^[A-Za-z]{2,}$/.test(w));
          const out = outs.get(i) ?? '';
          const absent = words.filter((w) => !new RegExp(`\\b${w}\\b`).test(out));
          if (absent.length > 0) expect.fail(show(i, `its output lacks ${absent.join(', ')} of the output the README shows after it`));
        }
      });
    }, 90_000);
  }
});

/** Splits text at the `@@block N@@` markers: N → what came after it. */
function splitByMarker(text: string): Map<number, string> {
  const out = new Map<number, string>();
  const parts = text.split(/\n?@@block (\d+)@@\n/);
  for (let i = 1; i < parts.length; i += 2) out.set(Number(parts[i]), parts[i + 1] ?? '');
  return out;
}

function bash(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 80_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

interface Expectation {
  /** Line within the block (1-based). */
  line: number;
  status?: number;
  keys: string[];
  text: string;
}

/** An answer written as a comment: `# 201 {"id":…}` or `# {"depth":…}`. */
function expectationIn(comment: string, line: number): Expectation | undefined {
  const m = /^#\s*(?:(\d{3})\s+)?(\{.*)$/.exec(comment.trim());
  if (!m) return undefined;
  return { line, ...(m[1] ? { status: Number(m[1]) } : {}), keys: [...m[2]!.matchAll(/"([A-Za-z_][\w-]*)"\s*:/g)].map((k) => k[1]!), text: comment.trim() };
}

/** The block's commands, continuation lines joined, each with its line and trailing comment. */
function commands(text: string): Array<{ line: number; command: string; comment?: string }> {
  const out: Array<{ line: number; command: string; comment?: string }> = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let command = lines[i]!;
    while (command.endsWith('\\') && i + 1 < lines.length) command = command.slice(0, -1) + ' ' + lines[++i]!;
    const trailing = /\s(#\s.*)$/.exec(command);
    out.push({ line: start + 1, command: trailing ? command.slice(0, trailing.index) : command, ...(trailing ? { comment: trailing[1] } : {}) });
  }
  return out;
}

const CURL = /(?:^|[\s|;&(])curl\s/g;
const HAS_CURL = /(?:^|[\s|;&(])curl\s/;

/** One entry per curl in the block, in order: what the README shows it answers, if anything. */
function curlExpectations(text: string): Array<Expectation | undefined> {
  const out: Array<Expectation | undefined> = [];
  const cmds = commands(text);
  cmds.forEach((c, k) => {
    if (c.command.trim().startsWith('#')) return;
    const n = [...c.command.matchAll(CURL)].length;
    if (n === 0) return;
    const next = cmds[k + 1];
    const e = (c.comment ? expectationIn(c.comment, c.line) : undefined) ?? (next && next.command.trim().startsWith('#') ? expectationIn(next.command, next.line) : undefined);
    for (let j = 0; j < n; j++) out.push(j === n - 1 ? e : undefined);
  });
  return out;
}

/** `# {…}` answers shown under commands that are not curl. */
function otherExpectations(text: string): Expectation[] {
  const cmds = commands(text);
  return cmds.flatMap((c, k) => {
    if (!c.command.trim().startsWith('#') || k === 0) return [];
    const prev = cmds[k - 1]!;
    if (prev.command.trim().startsWith('#') || HAS_CURL.test(prev.command)) return [];
    const e = expectationIn(c.command, c.line);
    return e ? [e] : [];
  });
}

/** Keys (at any depth) missing from every JSON text given. */
function missingKeys(keys: string[], jsonTexts: string[]): string[] {
  const keysOf = (v: unknown, into: Set<string>): Set<string> => {
    if (Array.isArray(v)) v.forEach((x) => keysOf(x, into));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) (into.add(k), keysOf(x, into));
    return into;
  };
  let best = keys;
  for (const t of jsonTexts) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(t);
    } catch {
      continue;
    }
    const have = keysOf(parsed, new Set());
    const missing = keys.filter((k) => !have.has(k));
    if (missing.length < best.length) best = missing;
  }
  return best;
}

/** The output block (no language) right after an example, with only blank lines between. */
function outputShown(b: Fence): string | undefined {
  const next = readme.fences[readme.fences.indexOf(b) + 1];
  if (!next || next.lang !== '') return undefined;
  const between = README.split('\n').slice(b.endLine, next.line - 1);
  return between.every((l) => l.trim() === '') ? next.text : undefined;
}
