// The container image, checked without a Docker engine (none runs on this machine): the Dockerfile's
// shape (multi-stage, non-root, volume, ports), and its start command and HEALTHCHECK run as written
// against a real mailgate started from them.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoRoot, startMailgate, writeConfig, type MailgateProcess } from './helpers/mailgate-process.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';
import { testConfig } from './helpers/config.js';

const dockerfile = await fs.readFile(path.join(repoRoot, 'docker/Dockerfile'), 'utf8');
/** The JSON array after an instruction (exec form), e.g. CMD ["node", …]. */
function execForm(instruction: RegExp): string[] {
  const m = instruction.exec(dockerfile.replace(/\\\n\s*/g, ' '));
  if (!m) throw new Error(`no ${instruction} in the Dockerfile`);
  return JSON.parse(m[1]!) as string[];
}

function run(cmd: string[], cwd: string): Promise<number> {
  return new Promise((resolve) => execFile(cmd[0] === 'node' ? process.execPath : cmd[0]!, cmd.slice(1), { cwd, timeout: 10_000 }, (err) => resolve(err ? Number(err.code ?? 1) : 0)));
}

describe('docker image', () => {
  let dir: string | undefined;
  let mg: MailgateProcess | undefined;
  afterAll(async () => {
    await mg?.kill();
    if (dir) await removeDir(dir);
  });

  it('is multi-stage, runs as a non-root user with the data directory as a volume', () => {
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^USER mailgate$/m);
    expect(dockerfile).toMatch(/useradd --uid 10025/);
    expect(dockerfile).toMatch(/^VOLUME \["\/var\/lib\/mailgate"\]$/m);
    expect(dockerfile).toMatch(/^EXPOSE 2525 2526 8025$/m);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
  });

  it("starts with the image's command and reports healthy through its HEALTHCHECK, unhealthy once stopped", async () => {
    dir = await makeTempDir('mg-image-');
    const cmd = execForm(/^CMD (\[.*\])$/m);
    expect(cmd.slice(0, 6)).toEqual(['node', '--max-semi-space-size=4', '--max-old-space-size=512', 'dist/cli.js', 'serve', '--config']);
    const health = execForm(/^HEALTHCHECK .*? CMD (\[.*\])$/m);
    // The image's config path and admin port, replaced by this test's (the command is otherwise as written).
    const configFile = await writeConfig(dir, testConfig({ dataDir: `${dir}/data`, tenants: ['{ id: x, name: X, networks: [ 10.9.9.9/32 ] }'] }));
    expect(cmd[6]).toBe('/etc/mailgate/mailgate.yaml');
    mg = await startMailgate({ configFile, cliPath: path.join(repoRoot, cmd[3]!) });
    const probe = health.map((a) => a.replace('127.0.0.1:8025', `${mg!.admin.host}:${mg!.admin.port}`));
    expect(probe.join(' ')).toContain('/healthz');
    expect(await run(probe, repoRoot)).toBe(0);
    expect(await mg.kill()).toBe(0);
    mg = undefined;
    expect(await run(probe, repoRoot)).not.toBe(0);
  });

  it('compose: one node by default; the cluster profile is PostgreSQL and two nodes, each with its own data volume', async () => {
    const compose = parse(await fs.readFile(path.join(repoRoot, 'docker/compose.yaml'), 'utf8'), { merge: true }) as {
      services: Record<string, { profiles?: string[]; volumes?: string[]; environment?: Record<string, string>; depends_on?: Record<string, unknown>; ports?: string[] }>;
      volumes: Record<string, unknown>;
    };
    expect(compose.services.mailgate!.profiles).toBeUndefined();
    const cluster = Object.entries(compose.services).filter(([, s]) => s.profiles?.includes('cluster')).map(([n]) => n).sort();
    expect(cluster).toEqual(['mailgate-a', 'mailgate-b', 'postgres']);
    const a = compose.services['mailgate-a']!;
    const b = compose.services['mailgate-b']!;
    const dataOf = (s: typeof a) => s.volumes!.find((v) => v.endsWith(':/var/lib/mailgate'))!.split(':')[0];
    expect(dataOf(a)).not.toBe(dataOf(b));
    expect(Object.keys(compose.volumes)).toEqual(expect.arrayContaining([dataOf(a), dataOf(b)]));
    for (const n of [a, b]) {
      expect(n.environment!.MAILGATE_STORE_URL).toMatch(/^postgres:\/\/mailgate:\$\{MAILGATE_DB_PASSWORD:-\}@postgres:5432\/mailgate$/);
      expect(n.depends_on).toHaveProperty('postgres');
      expect(n.ports!.filter((p) => p.endsWith(':8025')).every((p) => p.startsWith('127.0.0.1:'))).toBe(true);
    }
    // the single-node service and node A publish the same host ports: the cluster is started by naming its services
    expect(await fs.readFile(path.join(repoRoot, 'docker/compose.yaml'), 'utf8')).toMatch(/docker compose --profile cluster up -d --build postgres mailgate-a mailgate-b/);
  });
});
