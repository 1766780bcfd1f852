// The systemd unit, run for real: a Debian 12 machine with Node 20 and systemd as PID 1 (a container,
// systemd-host.Dockerfile) on the host's network, where the README's systemd section is run as written —
// user, /opt/mailgate built from this checkout, /etc/mailgate, the unit — then mail relayed through the
// service to a sink on the host, a tenant added by `systemctl reload`, a clean `systemctl stop`, and the
// unit's hardening seen in effect on the running service. `systemd-analyze security` is reported.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sinkUpstream, testConfig } from '../helpers/config.js';
import { freePort } from '../helpers/free-port.js';
import { redactSecrets, repoRoot } from '../helpers/mailgate-process.js';
import { getHeader, startSink, type Sink } from '../helpers/smtp-sink.js';
import { baseImage, docker, dockerOk, releaseDockerEngine, tail, useDockerEngine } from './docker-engine.js';
import { readmeSection, shellBlocks } from './readme-commands.js';

const engine = await useDockerEngine();
const skipped = engine.ok ? '' : ` (skipped: ${engine.reason})`;
if (!engine.ok) console.warn(`systemd unit test skipped: ${engine.reason}`);

const image = 'mailgate-test/systemd-host:latest';
const checkout = '/src/mailgate';

describe.skipIf(!engine.ok)(`systemd unit: installed and run as the README says${skipped}`, () => {
  const machine = `mailgate-test-systemd-${process.pid}-${Date.now().toString(36)}`;
  let sink: Sink;
  const ports = { submission: 0, inbound: 0, admin: 0 };
  const blocks = shellBlocks(readmeSection('systemd'));
  const block = (command: string) => {
    const found = blocks.find((b) => b.includes(command));
    if (!found) throw new Error(`README "systemd" has no block with \`${command}\``);
    return found;
  };

  /** Runs a script as root in the machine (bash -e); fails with its output when it exits non-zero. */
  async function onMachine(script: string, opts: { cwd?: string; input?: string; timeoutMs?: number } = {}): Promise<string> {
    const r = await docker(['exec', ...(opts.input !== undefined ? ['-i'] : []), '-w', opts.cwd ?? '/', machine, 'bash', '-euo', 'pipefail', '-c', script], { timeoutMs: opts.timeoutMs ?? 120_000, input: opts.input });
    if (r.code !== 0) throw new Error(`on the machine, exit ${r.code}:\n${script}\n--- output ---\n${redactSecrets(tail(r.stdout + r.stderr, 40))}`);
    return r.stdout;
  }

  const config = (tenants: string[]) =>
    testConfig({ dataDir: '/var/lib/mailgate', upstreams: [sinkUpstream('sink', sink.port)], systemUpstream: 'sink', tenants }).replace(
      'listen: { submission: 127.0.0.1:0, inbound: 127.0.0.1:0, admin: 127.0.0.1:0 }',
      `listen: { submission: 127.0.0.1:${ports.submission}, inbound: 127.0.0.1:${ports.inbound}, admin: 127.0.0.1:${ports.admin} }`,
    );
  const shop = '{ id: shop, name: Shop, auth: [ { user: shop, password: shop-password } ] }';
  const second = '{ id: second, name: Second, auth: [ { user: second, password: second-password } ] }';
  /** "Edit /etc/mailgate/mailgate.yaml": the file keeps the owner and mode the README's install gave it. */
  const editConfig = (text: string) => onMachine('cat > /etc/mailgate/mailgate.yaml', { input: text });

  const send = (user: string, subject: string) =>
    nodemailer
      .createTransport({ host: '127.0.0.1', port: ports.submission, secure: false, ignoreTLS: true, auth: { user, pass: `${user}-password` } })
      .sendMail({ from: 'orders@shop.test', to: 'buyer@example.com', subject, text: 'through systemd' });
  const mainPid = async () => (await onMachine('systemctl show -p MainPID --value mailgate')).trim();

  beforeAll(async () => {
    sink = await startSink();
    for (const k of ['submission', 'inbound', 'admin'] as const) ports[k] = await freePort();
    const base = await baseImage();
    const started = Date.now();
    await dockerOk(['build', '--network', 'host', '--force-rm', '--build-arg', `BASE=${base}`, '-f', 'systemd-host.Dockerfile', '-t', image, '.'], { timeoutMs: 600_000, cwd: path.dirname(fileURLToPath(import.meta.url)) });
    console.log(`systemd machine image: built in ${((Date.now() - started) / 1000).toFixed(0)} s from ${base}`);
    // systemd as PID 1 needs to mount and make namespaces (the unit's hardening is built from them): every
    // capability but CAP_SYS_RESOURCE, which this sandbox's own bounding set lacks (so --privileged fails
    // here: "unable to apply caps: operation not permitted"). Its own cgroup namespace; the checkout read-only;
    // the host's npm cache, so the README's `npm ci` fetches little.
    const npmCache = execFileSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8' }).trim();
    await dockerOk([
      'run', '-d', '--name', machine, '--network', 'host', '--cgroupns', 'private',
      '--cap-add', 'ALL', '--cap-drop', 'SYS_RESOURCE', '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined',
      '--tmpfs', '/run', '--tmpfs', '/run/lock', '-v', `${repoRoot}:${checkout}:ro`, '-v', `${npmCache}:/root/.npm`, image,
    ]);
    // systemctl answers once the manager is up; --wait then waits for the boot to finish.
    let state = '';
    for (let i = 0; i < 60 && !['running', 'degraded'].includes(state); i++) {
      state = (await docker(['exec', machine, 'systemctl', 'is-system-running', '--wait'], { timeoutMs: 60_000 })).stdout.trim();
      if (state === '') await new Promise((r) => setTimeout(r, 500));
    }
    if (state !== 'running') {
      const failed = await docker(['exec', machine, 'systemctl', '--failed', '--no-pager']);
      throw new Error(`systemd in the machine is "${state}"\n${failed.stdout}${failed.stderr}`);
    }
  }, 900_000);

  afterAll(async () => {
    await docker(['stop', '-t', '30', machine], { timeoutMs: 60_000 });
    await docker(['rm', '-f', machine]);
    await sink?.close();
    await releaseDockerEngine();
  }, 120_000);

  it('installs as the README says, starts, relays mail, and runs hardened', async () => {
    let started = Date.now();
    await onMachine(block('useradd --system'), { cwd: checkout, timeoutMs: 600_000 });
    console.log(`systemd: README install (npm ci, build, prune) took ${((Date.now() - started) / 1000).toFixed(0)} s`);
    await editConfig(config([shop]));
    expect(await onMachine(block('mg check-config'))).toContain('/etc/mailgate/mailgate.yaml: ok');

    // The README's start block, with this machine's admin port, and the log read once instead of followed.
    const start = block('systemctl enable --now mailgate');
    expect(start).toContain('journalctl -u mailgate -f');
    started = Date.now();
    const out = await onMachine(start.replaceAll('127.0.0.1:8025', `127.0.0.1:${ports.admin}`).replace('journalctl -u mailgate -f', 'journalctl -u mailgate --no-pager'));
    console.log(`systemd: mailgate healthy ${((Date.now() - started) / 1000).toFixed(1)} s after systemctl enable --now`);
    expect(out).toMatch(/Active: active \(running\)/);
    expect(out).toContain('"msg":"mailgate ready"');
    expect(out).toContain('{"status":"ok"');

    await send('shop', 'through the unit');
    const [msg] = await sink.waitFor(1, 20_000);
    expect(getHeader(msg!.headers, 'Subject')).toBe('through the unit');

    // The hardening is in effect on the running service: its user, only CAP_NET_BIND_SERVICE, no new
    // privileges, the file system read-only but for /var/lib/mailgate, nothing it writes readable by others.
    const pid = await mainPid();
    const status = await onMachine(`cat /proc/${pid}/status`);
    const uid = (await onMachine('id -u mailgate')).trim();
    expect(/^Uid:\s+(.*)$/m.exec(status)![1]!.split(/\s+/)).toEqual([uid, uid, uid, uid]);
    expect(/^CapBnd:\s+(\S+)$/m.exec(status)![1]).toBe('0000000000000400');
    expect(/^CapEff:\s+(\S+)$/m.exec(status)![1]).toBe('0000000000000400');
    expect(/^NoNewPrivs:\s+(\d)$/m.exec(status)![1]).toBe('1');
    const mounts = (await onMachine(`cat /proc/${pid}/mountinfo`)).split('\n').map((l) => l.split(' '));
    const options = (mountPoint: string) => mounts.find((m) => m[4] === mountPoint)?.[5]?.split(',');
    expect(options('/')).toContain('ro');
    expect(options('/var/lib/mailgate')).toContain('rw');
    expect(await onMachine('find /var/lib/mailgate -perm /o=rwx')).toBe('');
    expect(await onMachine('find /var/lib/mailgate/spool -type f | wc -l')).not.toBe('0\n');
  }, 900_000);

  it('systemctl reload applies a new tenant without a restart', async () => {
    const pid = await mainPid();
    await expect(send('second', 'before the reload')).rejects.toMatchObject({ responseCode: 535 });
    await editConfig(config([shop, second]));
    const reload = block('systemctl reload mailgate').split('\n').find((l) => l.startsWith('systemctl reload mailgate'))!;
    await onMachine(reload);
    await expect.poll(async () => (await onMachine('journalctl -u mailgate --no-pager -o cat')).includes('configuration reloaded'), { timeout: 10_000 }).toBe(true);
    await send('second', 'after the reload');
    const msgs = await sink.waitFor(2, 20_000);
    expect(getHeader(msgs[1]!.headers, 'Subject')).toBe('after the reload');
    expect(await mainPid()).toBe(pid);
  }, 120_000);

  it('systemctl stop ends it cleanly within the unit\'s stop timeout', async () => {
    const stop = block('systemctl stop mailgate').split('\n').find((l) => l.startsWith('systemctl stop mailgate'))!;
    const started = Date.now();
    await onMachine(stop, { timeoutMs: 60_000 });
    const seconds = (Date.now() - started) / 1000;
    console.log(`systemd: systemctl stop took ${seconds.toFixed(1)} s`);
    expect(seconds).toBeLessThan(30);
    const props = await onMachine('systemctl show -p ActiveState -p Result -p ExecMainStatus mailgate');
    expect(props.split('\n').filter(Boolean).sort()).toEqual(['ActiveState=inactive', 'ExecMainStatus=0', 'Result=success']);
  }, 120_000);

  it('is rated "OK" by systemd-analyze security', async () => {
    const report = (await docker(['exec', machine, 'systemd-analyze', 'security', '--no-pager', 'mailgate'])).stdout;
    const overall = /Overall exposure level for mailgate\.service: (\d+\.\d+) (\S+)/.exec(report);
    expect(overall, report).not.toBeNull();
    console.log(`systemd-analyze security mailgate: ${overall![1]} ${overall![2]}`);
    // 6.0 MEDIUM before the unit's kernel, device, namespace, system call and socket restrictions; 1.7 with them.
    expect(Number(overall![1])).toBeLessThanOrEqual(2.0);
  }, 60_000);
});
