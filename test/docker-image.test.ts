// The container image's files, read without a Docker engine: the Dockerfile's shape (two stages on the
// official Node 20 image, ports) and compose.yaml's services (the compose plugin that could check it,
// `docker compose config`, is not in Debian 12, whose docker-compose 1.29 rejects compose.yaml's `name:`).
// The image itself is built and run in test/container/docker.test.ts.
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoRoot } from './helpers/mailgate-process.js';

const dockerfile = await fs.readFile(path.join(repoRoot, 'docker/Dockerfile'), 'utf8');

describe('docker image', () => {
  // The non-root user, the volume and the health check are checked by running the image (test/container/docker.test.ts).
  it('builds in two stages on the official Node 20 image, with production dependencies only, exposing its three ports', () => {
    expect(dockerfile).toMatch(/^ARG BASE=node:20-bookworm-slim$/m);
    expect(dockerfile.match(/^FROM \$\{BASE\}/gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^EXPOSE 2525 2526 8025$/m);
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
