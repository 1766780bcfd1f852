// A throwaway PostgreSQL server for tests: Debian's postgresql binaries, initdb into a temp dir,
// run as the postgres user (when the tests run as root) on a free 127.0.0.1 port, removed after.
// `database()` makes a fresh empty database per suite or test. Without PostgreSQL installed the
// suites skip — except in CI, where .ci/run installs it and a missing server is a failure.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './free-port.js';
import { makeTempDir, removeDir } from './tmp.js';

function findBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a)) : [];
  return versions[0] ? path.join(root, versions[0], 'bin') : undefined;
}

const bin = findBin();
/** True when the server binaries are here (or CI, which must have them). */
export const hasPostgres = bin !== undefined || process.env.CI === 'true';
export const noPostgresReason = 'PostgreSQL is not installed (apt-get install postgresql); .ci/run installs it';

export interface TestPostgres {
  host: string;
  port: number;
  /** The superuser's URL for a database. */
  url(database?: string): string;
  /** A new empty database; resolves with its URL. */
  database(prefix?: string): Promise<string>;
  /** Runs SQL as the superuser in `database`. */
  sql(database: string, text: string, values?: unknown[]): Promise<pg.QueryResult>;
  /** Stops the server (an outage) and starts it again on the same port with the same data. */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

const asRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL binary, as the postgres user when we are root (the server refuses to run as root). */
function run(cmd: string, args: string[]): void {
  const file = path.join(bin!, cmd);
  if (asRoot) execFileSync('runuser', ['-u', 'postgres', '--', file, ...args], { stdio: 'pipe' });
  else execFileSync(file, args, { stdio: 'pipe' });
}

let counter = 0;

/** `fsync: true` for benchmarks (durable as in production); tests run without it. */
export async function startPostgres(opts: { fsync?: boolean } = {}): Promise<TestPostgres> {
  if (!bin) throw new Error(noPostgresReason);
  const dir = await makeTempDir('mg-pg-');
  const data = path.join(dir, 'data');
  const sock = path.join(dir, 'sock');
  fs.mkdirSync(sock);
  if (asRoot) {
    const { uid, gid } = JSON.parse(execFileSync('python3', ['-c', 'import pwd,json;p=pwd.getpwnam("postgres");print(json.dumps({"uid":p.pw_uid,"gid":p.pw_gid}))']).toString()) as { uid: number; gid: number };
    for (const p of [dir, sock]) fs.chownSync(p, uid, gid);
  }
  run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  const log = path.join(dir, 'server.log');
  // fsync off for tests: these servers live for one run; synchronous_commit stays on as in production.
  const durability = opts.fsync ? '' : ' -c fsync=off -c full_page_writes=off';
  const serverOpts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${sock}${durability} -c max_connections=200 -c shared_buffers=128MB`;
  try {
    run('pg_ctl', ['-D', data, '-o', serverOpts, '-l', log, '-w', '-t', '60', 'start']);
  } catch (err) {
    const tail = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').slice(-2000) : '';
    throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${tail}`);
  }
  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const sql = async (database: string, text: string, values: unknown[] = []) => {
    const client = new pg.Client({ connectionString: url(database) });
    await client.connect();
    try {
      return await client.query(text, values);
    } finally {
      await client.end();
    }
  };
  let stopped = false;
  return {
    host: '127.0.0.1',
    port,
    url,
    sql,
    async database(prefix = 'mg') {
      const name = `${prefix.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${process.pid}_${++counter}`;
      await sql('postgres', `create database ${name}`);
      return url(name);
    },
    pause() {
      run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
    },
    resume() {
      run('pg_ctl', ['-D', data, '-o', serverOpts, '-l', log, '-w', '-t', '60', 'start']);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already gone
      }
      await removeDir(dir);
    },
  };
}
