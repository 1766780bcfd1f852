// The Docker engine the container tests use: the one already running, or a dockerd they start themselves and
// stop when the last test file using it is done (the docker and systemd tests run in parallel workers, so
// who uses it is kept as one file per test process under the temp dir). Also the `docker` command runner
// and the stand-in base image (base-image.sh) every container test builds on.
//
// A dockerd started here keeps the host's network untouched: no bridge, no iptables rules. Containers run
// with `--network host` (every address they use is the host's loopback) or `--network none`.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; never rejects (a failure is a non-zero `code`, 127 when it cannot run). */
export function run(cmd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: opts.timeoutMs ?? 60_000, env: { ...process.env, ...opts.env }, cwd: opts.cwd, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : err.code === 'ENOENT' ? 127 : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** `docker ARGS`. Builds use the classic builder: it builds offline from local images and takes `--network host`. */
export function docker(args: string[], opts: { timeoutMs?: number; input?: string; cwd?: string } = {}): Promise<CommandResult> {
  return run('docker', args, { ...opts, env: { DOCKER_BUILDKIT: '0', DOCKER_CLI_HINTS: 'false' } });
}

/** `docker ARGS`, failing with the command's output when it exits non-zero; resolves with its trimmed stdout. */
export async function dockerOk(args: string[], opts: { timeoutMs?: number; input?: string; cwd?: string } = {}): Promise<string> {
  const r = await docker(args, opts);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}\n${tail(r.stderr || r.stdout)}`);
  return r.stdout.trim();
}

export function tail(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

const here = path.dirname(fileURLToPath(import.meta.url));
const state = path.join(tmpdir(), 'mailgate-dockerd');
const users = path.join(state, 'users');
const startedPidFile = path.join(state, 'started-by-tests.pid');
const lockDir = path.join(state, 'lock');

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(state, { recursive: true });
  for (let i = 0; ; i++) {
    try {
      fs.mkdirSync(lockDir);
      break;
    } catch {
      // A lock older than two minutes was left by a test process that died.
      const age = Date.now() - (fs.statSync(lockDir, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 120_000) fs.rmSync(lockDir, { recursive: true, force: true });
      if (i > 1200) throw new Error(`${lockDir} held for two minutes`);
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

const engineAnswers = async () => (await docker(['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 10_000 })).code === 0;

export type EngineState = { ok: true; startedHere: boolean } | { ok: false; reason: string };

/**
 * Makes sure a Docker engine answers, starting dockerd when none does; registers this test process as a user
 * (call releaseDockerEngine() in afterAll). `ok: false` with the reason when dockerd cannot start, or is not
 * installed outside CI.
 */
export async function useDockerEngine(): Promise<EngineState> {
  return withLock(async () => {
    fs.mkdirSync(users, { recursive: true });
    if (await engineAnswers()) {
      fs.writeFileSync(path.join(users, String(process.pid)), '');
      return { ok: true, startedHere: false };
    }
    const dockerd = (await run('sh', ['-c', 'command -v dockerd'])).stdout.trim();
    if (!dockerd) {
      const reason = 'dockerd is not installed (apt-get install docker.io); .ci/run installs it';
      // In CI a missing engine is a missing install step, not a reason to skip.
      if (process.env.CI === 'true') throw new Error(reason);
      return { ok: false, reason };
    }
    const logFile = path.join(state, 'dockerd.log');
    const log = fs.openSync(logFile, 'w');
    const child = spawn(dockerd, ['--bridge=none', '--iptables=false', '--ip6tables=false'], { detached: true, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    child.unref();
    for (let i = 0; i < 60 && child.exitCode === null; i++) {
      if (await engineAnswers()) {
        fs.writeFileSync(startedPidFile, String(child.pid));
        fs.writeFileSync(path.join(users, String(process.pid)), '');
        return { ok: true, startedHere: true };
      }
      await sleep(500);
    }
    if (child.exitCode === null) child.kill('SIGKILL');
    return { ok: false, reason: `dockerd did not start within 30 s; its log ends:\n${tail(fs.readFileSync(logFile, 'utf8'), 15)}` };
  });
}

/** This test process is done with the engine; the last user stops a dockerd the tests started. */
export async function releaseDockerEngine(): Promise<void> {
  await withLock(async () => {
    fs.rmSync(path.join(users, String(process.pid)), { force: true });
    const others = fs.readdirSync(users).filter((pid) => alive(Number(pid)));
    if (others.length > 0 || !fs.existsSync(startedPidFile)) return;
    const pid = Number(fs.readFileSync(startedPidFile, 'utf8'));
    fs.rmSync(startedPidFile, { force: true });
    if (!alive(pid)) return;
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 300 && alive(pid); i++) await sleep(100);
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
}

/**
 * The image docker/Dockerfile's `BASE` should be: the official node:20-bookworm-slim when the engine has it,
 * else the stand-in base-image.sh makes (about a minute the first time, cached in the temp dir after).
 */
export async function baseImage(): Promise<string> {
  const started = Date.now();
  const r = await run('bash', [path.join(here, 'base-image.sh')], { timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`base-image.sh exited ${r.code}\n${tail(r.stderr)}`);
  if (r.stderr.trim()) console.log(`${r.stderr.trim()}\nbase-image.sh: ${((Date.now() - started) / 1000).toFixed(0)} s in all`);
  return r.stdout.trim();
}
