// The container image, built from docker/Dockerfile and run for real with the README's commands ("Docker"):
// healthy through its own HEALTHCHECK, relaying to a sink on the host, running as its non-root user with the
// queue in the data volume, and a message deferred before the container was replaced delivered by the new one.
// The engine runs the container on the host's network, so the sink and every listener stay on 127.0.0.1.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sinkUpstream, testConfig } from '../helpers/config.js';
import { freePort } from '../helpers/free-port.js';
import { redactSecrets, repoRoot } from '../helpers/mailgate-process.js';
import { getHeader, startSink, type Sink } from '../helpers/smtp-sink.js';
import { makeTempDir, removeDir } from '../helpers/tmp.js';
import { baseImage, docker, dockerOk, releaseDockerEngine, run, tail, useDockerEngine } from './docker-engine.js';
import { commandLines, readmeSection, shellBlocks } from './readme-commands.js';

interface Names {
  image: string;
  container: string;
  volume: string;
  /** The config directory as `chgrp`/`chmod` name it, and as the bind mount's source (absolute). */
  configDir: string;
  configMount: string;
}

/** The README's commands, with the names given; the README shows them with the operator's names (see the first test). */
function commands(n: Names) {
  return {
    build: `docker build -f docker/Dockerfile -t ${n.image} .`,
    readableByImage: `chgrp -R 10025 ${n.configDir} && chmod -R g+rX,o-rwx ${n.configDir}`,
    run:
      `docker run -d --name ${n.container} --restart unless-stopped --stop-timeout 30 --network host ` +
      `-v "${n.configMount}:/etc/mailgate:ro" -v ${n.volume}:/var/lib/mailgate ${n.image}`,
    remove: `docker stop ${n.container} && docker rm ${n.container}`,
  };
}
const operatorNames: Names = { image: 'mailgate', container: 'mailgate', volume: 'mailgate-data', configDir: 'docker/config', configMount: '$PWD/docker/config' };

const engine = await useDockerEngine();
const skipped = engine.ok ? '' : ` (skipped: ${engine.reason})`;
if (!engine.ok) console.warn(`docker image test skipped: ${engine.reason}`);

const sh = (command: string, timeoutMs = 60_000) => run('sh', ['-c', command], { cwd: repoRoot, timeoutMs, env: { DOCKER_BUILDKIT: '0' } });
async function shOk(command: string, timeoutMs?: number): Promise<string> {
  const r = await sh(command, timeoutMs);
  if (r.code !== 0) throw new Error(`${command} exited ${r.code}\n${tail(r.stderr || r.stdout)}`);
  return r.stdout.trim();
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!engine.ok)(`docker image: built and run as the README says${skipped}`, () => {
  const id = `${process.pid}-${Date.now().toString(36)}`;
  let dir: string;
  let names: Names;
  let sink: Sink;
  let deferring = false;
  const ports = { submission: 0, inbound: 0, admin: 0 };

  beforeAll(async () => {
    dir = await makeTempDir('mg-docker-');
    await fs.mkdir(path.join(dir, 'config'));
    const configDir = path.join(dir, 'config');
    // One tag for every run, kept: the next build reuses its layers (npm ci) while package-lock.json is unchanged.
    names = { image: 'mailgate-test/mailgate:latest', container: `mailgate-test-${id}`, volume: `mailgate-test-data-${id}`, configDir, configMount: configDir };
    sink = await startSink({ dataReply: () => (deferring ? { code: 451, message: '4.3.0 Try again later' } : undefined) });
    for (const k of ['submission', 'inbound', 'admin'] as const) ports[k] = await freePort();
    // The README's "edit docker/config/mailgate.yaml" step: the data volume, listeners on the host's loopback
    // (the container shares the host's network), the sink as upstream, a quick retry.
    const config = testConfig({
      dataDir: '/var/lib/mailgate',
      upstreams: [sinkUpstream('sink', sink.port)],
      systemUpstream: 'sink',
      tenants: ['{ id: shop, name: Shop, auth: [ { user: shop, password: shop-password } ] }'],
      extra: 'queue: { retrySchedule: [2s] }',
    }).replace('listen: { submission: 127.0.0.1:0, inbound: 127.0.0.1:0, admin: 127.0.0.1:0 }', `listen: { submission: 127.0.0.1:${ports.submission}, inbound: 127.0.0.1:${ports.inbound}, admin: 127.0.0.1:${ports.admin} }`);
    await fs.writeFile(path.join(configDir, 'mailgate.yaml'), config, { mode: 0o600 });
    await shOk(commands(names).readableByImage);
  }, 60_000);

  afterAll(async () => {
    await docker(['rm', '-f', names.container]);
    await docker(['volume', 'rm', '-f', names.volume]);
    await sink?.close();
    if (dir) await removeDir(dir);
    await releaseDockerEngine();
  }, 120_000);

  const send = (subject: string, text: string) =>
    nodemailer
      .createTransport({ host: '127.0.0.1', port: ports.submission, secure: false, ignoreTLS: true, auth: { user: 'shop', pass: 'shop-password' } })
      .sendMail({ from: 'orders@shop.test', to: 'buyer@example.com', subject, text });

  /** Waits until the image's HEALTHCHECK reports healthy (it runs every 10 s); fails at once if the container stopped. */
  async function healthy(): Promise<void> {
    for (let i = 0; i < 90; i++) {
      const [status, health] = (await dockerOk(['inspect', '-f', '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}', names.container])).split(' ');
      if (health === 'healthy') return;
      if (status !== 'running') break;
      await sleep(1000);
    }
    const logs = await docker(['logs', '--tail', '30', names.container]);
    throw new Error(`container not healthy\n${redactSecrets(logs.stdout + logs.stderr)}`);
  }

  /** Host paths of the files in the data volume. */
  async function volumeFiles(): Promise<string[]> {
    const root = await dockerOk(['volume', 'inspect', '-f', '{{.Mountpoint}}', names.volume]);
    return (await fs.readdir(root, { recursive: true })).map((f) => path.join(root, f));
  }

  it("the README's Docker section shows the commands this test runs", () => {
    const shown = shellBlocks(readmeSection('Docker')).flatMap(commandLines);
    const wanted = Object.values(commands(operatorNames));
    expect(wanted.filter((c) => !shown.includes(c))).toEqual([]);
  });

  it('builds, starts healthy, relays to the host as the non-root user, with the queue in the data volume', async () => {
    const base = await baseImage();
    const previous = (await docker(['image', 'inspect', '-f', '{{.Id}}', names.image])).stdout.trim();
    let started = Date.now();
    // Build on the host's network (this engine has no bridge), from the stand-in base where no registry is
    // reachable; a failed step's container is removed too.
    await shOk(commands(names).build.replace('docker build ', `docker build --network host --force-rm --build-arg BASE=${base} `), 600_000);
    const buildSeconds = (Date.now() - started) / 1000;
    // The image this build replaced (an older source) is of no further use.
    if (previous && previous !== (await dockerOk(['image', 'inspect', '-f', '{{.Id}}', names.image]))) await docker(['image', 'rm', previous]);
    const size = Number(await dockerOk(['image', 'inspect', '-f', '{{.Size}}', names.image]));
    console.log(`docker image: built in ${buildSeconds.toFixed(0)} s from ${base}; ${(size / 1e6).toFixed(0)} MB`);

    started = Date.now();
    await shOk(commands(names).run);
    await healthy();
    console.log(`docker image: healthy ${((Date.now() - started) / 1000).toFixed(0)} s after docker run`);

    await send('through the container', 'hello from the image');
    const [msg] = await sink.waitFor(1, 20_000);
    expect(getHeader(msg!.headers, 'Subject')).toBe('through the container');
    expect(msg!.to).toEqual(['buyer@example.com']);

    // The server process (the container's PID 1, seen from the host) runs as the image's user, uid 10025.
    const pid = await dockerOk(['inspect', '-f', '{{.State.Pid}}', names.container]);
    const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
    expect(/^Uid:\s+(.*)$/m.exec(status)![1]!.split(/\s+/)).toEqual(['10025', '10025', '10025', '10025']);
    expect(await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).toContain('dist/cli.js\0serve');
    expect(await dockerOk(['image', 'inspect', '-f', '{{.Config.User}}', names.image])).toBe('mailgate');

    // What mailgate keeps is in the volume, owned by that user.
    const files = await volumeFiles();
    expect(files.some((f) => f.endsWith('/spool'))).toBe(true);
    expect(files.some((f) => f.endsWith('/db'))).toBe(true);
    for (const f of files) expect((await fs.stat(f)).uid, f).toBe(10025);
  }, 900_000);

  it('keeps a deferred message in the volume across a stop and a new container, which delivers it', async () => {
    deferring = true;
    const marker = createHash('sha256').update(id).digest('hex').slice(0, 24);
    await send('deferred, then delivered', `queued across containers ${marker}`);
    for (let i = 0; sink.rejected.length === 0; i++) {
      if (i > 200) throw new Error('the sink saw no delivery attempt');
      await sleep(100);
    }
    // The body is in the volume's spool on the host.
    const spooled = await Promise.all((await volumeFiles()).filter((f) => f.includes('/spool/')).map((f) => fs.readFile(f).catch(() => Buffer.alloc(0))));
    expect(spooled.some((b) => b.includes(marker))).toBe(true);

    // Stop (SIGTERM, then mailgate's shutdownGrace of 3 s at most) and remove the container, as an upgrade does.
    const [stop, remove] = commands(names).remove.split(' && ');
    const stopping = Date.now();
    await shOk(stop!);
    expect(Date.now() - stopping).toBeLessThan(25_000);
    expect(await dockerOk(['inspect', '-f', '{{.State.ExitCode}}', names.container])).toBe('0');
    await shOk(remove!);
    expect(sink.messages).toHaveLength(1);

    deferring = false;
    await shOk(commands(names).run);
    await healthy();
    const msgs = await sink.waitFor(2, 30_000);
    expect(getHeader(msgs[1]!.headers, 'Subject')).toBe('deferred, then delivered');
    expect(msgs[1]!.raw.toString()).toContain(marker);
  }, 300_000);
});
