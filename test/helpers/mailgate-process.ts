// Runs the built CLI (dist/cli.js) as a child process, the way an operator does, and reads its
// pino JSON log lines from stdout. Build first (`npm run build`; `npm test` does).
//
//   const dir = await makeTempDir('mg-');
//   const configFile = await writeConfig(dir, `dataDir: ${dir}/data\nlisten: { submission: 127.0.0.1:0, ... }\n...`);
//   const mg = await startMailgate({ configFile });
//   ... talk SMTP to mg.submission.port ...
//   expect(await mg.kill()).toBe(0);
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file lives in test/helpers/). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built CLI the helpers run. */
export const cliPath = path.join(repoRoot, 'dist', 'cli.js');

export type LogLine = Record<string, unknown>;

export interface HostPort {
  host: string;
  port: number;
}

export interface MailgateProcess {
  child: ChildProcess;
  pid: number;
  submission: HostPort;
  inbound: HostPort;
  admin: HostPort;
  /** "http://host:port" of the admin API. */
  adminUrl: string;
  /** Every stdout line that parsed as a JSON object, in order (the ready line included). */
  logs: LogLine[];
  /** Raw stdout / stderr text received so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** Exit code once the process has exited (null when it died of a signal), undefined while it runs. */
  readonly exitCode: number | null | undefined;
  /**
   * Sends `signal` (default SIGTERM) and resolves with the exit code (null if killed by a signal).
   * Escalates to SIGKILL after `forceAfterMs` (default 15 s). Safe to call again or after exit.
   */
  kill(signal?: NodeJS.Signals, forceAfterMs?: number): Promise<number | null>;
  /** Resolves with the first log line (past or future) matching `pred`; rejects after timeoutMs (default 10 s) or on exit. */
  waitForLog(pred: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Resolves with the exit code once the process exits on its own. */
  exited(): Promise<number | null>;
}

export interface StartMailgateOptions {
  configFile: string;
  /** Extra environment, merged over process.env. */
  env?: NodeJS.ProcessEnv;
  /** Working directory; default the repository root (as `npm start`). */
  cwd?: string;
  /** Readiness deadline; default 20 s. */
  readyTimeoutMs?: number;
  /** Script to run instead of dist/cli.js (for testing this helper). */
  cliPath?: string;
  /** Extra CLI arguments after `serve --config FILE`. */
  args?: string[];
}

/** Writes `yamlText` to DIR/mailgate.yaml and returns the file's path. */
export async function writeConfig(dir: string, yamlText: string): Promise<string> {
  const file = path.join(dir, 'mailgate.yaml');
  await writeFile(file, yamlText, 'utf8');
  return file;
}

/** Parses "127.0.0.1:2525" or "[::1]:2525". */
export function parseHostPort(value: unknown, field: string): HostPort {
  if (typeof value !== 'string') throw new Error(`ready line: field "${field}" is not a "host:port" string: ${JSON.stringify(value)}`);
  const i = value.lastIndexOf(':');
  const port = Number(value.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`ready line: field "${field}" is not a "host:port" string: ${JSON.stringify(value)}`);
  }
  return { host: value.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port };
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort: never leave a server running after the test process exits.
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

interface LogWaiter {
  pred: (line: LogLine) => boolean;
  resolve: (line: LogLine) => void;
  reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
}

/** Output quoted in a failure message: secrets a server may print (the first start's admin token, bearer tokens) masked. */
export function redactSecrets(text: string): string {
  return text.replace(/(admin token )[0-9a-f]{64}/g, '$1[redacted]').replace(/(Bearer )[^\s"']+/gi, '$1[redacted]');
}

function tail(text: string, max = 4000): string {
  return redactSecrets(text.length > max ? '…' + text.slice(-max) : text);
}

export function startMailgate(opts: StartMailgateOptions): Promise<MailgateProcess> {
  const script = opts.cliPath ?? cliPath;
  if (!existsSync(script)) {
    return Promise.reject(new Error(`${script} does not exist: run \`npm run build\` first`));
  }
  const child = spawn(process.execPath, [script, 'serve', '--config', opts.configFile, ...(opts.args ?? [])], {
    cwd: opts.cwd ?? repoRoot,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  installExitHook();

  const logs: LogLine[] = [];
  let stdout = '';
  let stderr = '';
  let partial = '';
  let exitCode: number | null | undefined;
  let exitSignal: NodeJS.Signals | null = null;
  const waiters = new Set<LogWaiter>();
  const exitListeners: ((code: number | null) => void)[] = [];

  const onLine = (line: string): void => {
    const trimmed = line.trim();
    if (!trimmed.startsWith('{')) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      return;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return;
    const entry = parsed as LogLine;
    logs.push(entry);
    for (const w of waiters) {
      let hit = false;
      try {
        hit = w.pred(entry);
      } catch {
        hit = false;
      }
      if (hit) {
        if (w.timer) clearTimeout(w.timer);
        waiters.delete(w);
        w.resolve(entry);
      }
    }
  };

  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    stdout += chunk;
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      onLine(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
  });

  const describe = (): string =>
    `exit code ${String(exitCode)}${exitSignal ? ` (signal ${exitSignal})` : ''}\n--- stderr ---\n${tail(stderr)}\n--- stdout ---\n${tail(stdout)}`;

  const exitPromise = new Promise<number | null>((resolve) => {
    // 'close' (not 'exit') so that all of stdout/stderr has been read.
    child.once('close', (code, signal) => {
      if (partial) onLine(partial);
      partial = '';
      exitCode = code;
      exitSignal = signal;
      live.delete(child);
      for (const w of waiters) {
        if (w.timer) clearTimeout(w.timer);
        w.reject(new Error(`mailgate exited before the awaited log line: ${describe()}`));
      }
      waiters.clear();
      for (const l of exitListeners) l(code);
      resolve(code);
    });
  });
  child.once('error', (err) => {
    stderr += `\n[spawn error] ${err.message}`;
  });

  const waitForLog = (pred: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> => {
    const seen = logs.find((l) => {
      try {
        return pred(l);
      } catch {
        return false;
      }
    });
    if (seen) return Promise.resolve(seen);
    if (exitCode !== undefined) return Promise.reject(new Error(`mailgate has exited: ${describe()}`));
    return new Promise<LogLine>((resolve, reject) => {
      const w: LogWaiter = { pred, resolve, reject };
      if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
        w.timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`no matching mailgate log line within ${timeoutMs} ms\n--- stderr ---\n${tail(stderr)}\n--- stdout ---\n${tail(stdout)}`));
        }, timeoutMs);
      }
      waiters.add(w);
    });
  };

  let killing: Promise<number | null> | undefined;
  const kill = (signal: NodeJS.Signals = 'SIGTERM', forceAfterMs = 15_000): Promise<number | null> => {
    if (exitCode !== undefined) return Promise.resolve(exitCode);
    if (killing) return killing;
    child.kill(signal);
    const force = setTimeout(() => child.kill('SIGKILL'), forceAfterMs);
    killing = exitPromise.finally(() => clearTimeout(force));
    return killing;
  };

  const readyTimeoutMs = opts.readyTimeoutMs ?? 20_000;
  return waitForLog((l) => l.msg === 'mailgate ready', readyTimeoutMs).then(
    (ready) => {
      let submission: HostPort, inbound: HostPort, admin: HostPort;
      try {
        submission = parseHostPort(ready.submission, 'submission');
        inbound = parseHostPort(ready.inbound, 'inbound');
        admin = parseHostPort(ready.admin, 'admin');
      } catch (err) {
        return kill('SIGKILL').then(() => {
          throw new Error(`${(err as Error).message}\nready line: ${JSON.stringify(ready)}`);
        });
      }
      const adminHost = admin.host.includes(':') ? `[${admin.host}]` : admin.host;
      const proc: MailgateProcess = {
        child,
        pid: child.pid!,
        submission,
        inbound,
        admin,
        adminUrl: `http://${adminHost}:${admin.port}`,
        logs,
        get stdout() {
          return stdout;
        },
        get stderr() {
          return stderr;
        },
        get exitCode() {
          return exitCode;
        },
        kill,
        waitForLog,
        exited: () => exitPromise,
      };
      return proc;
    },
    (err: Error) =>
      kill('SIGKILL', 1000).then(() => {
        throw new Error(`mailgate did not become ready: ${err.message}`);
      }),
  );
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/cli.js ...args` to completion (e.g. `check-config --config FILE`). Killed after timeoutMs (default 20 s). */
export function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; cliPath?: string } = {},
): Promise<CliResult> {
  const script = opts.cliPath ?? cliPath;
  if (!existsSync(script)) {
    return Promise.reject(new Error(`${script} does not exist: run \`npm run build\` first`));
  }
  return new Promise<CliResult>((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd: opts.cwd ?? repoRoot,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    installExitHook();
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      live.delete(child);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
