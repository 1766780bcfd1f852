// `npm start`'s build step: compiles src/ into dist/ only when a source file (or the TypeScript
// config, or package.json) changed since the last build this script made, so a start after the first
// takes no compile time. The stamp is dist/.built (its mtime = when that build finished); tsc runs
// incrementally (dist/.tsbuildinfo), so a rebuild compiles only what changed.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stamp = path.join(root, 'dist', '.built');

/** The newest modification time (ms) of the files under `dir`. */
function newest(dir) {
  let latest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    latest = Math.max(latest, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return latest;
}

const sourcesChanged = Math.max(newest(path.join(root, 'src')), ...['tsconfig.json', 'package.json'].map((f) => statSync(path.join(root, f)).mtimeMs));
const builtAt = existsSync(stamp) && existsSync(path.join(root, 'dist', 'cli.js')) ? statSync(stamp).mtimeMs : 0;

if (sourcesChanged >= builtAt) {
  process.stderr.write(builtAt === 0 ? 'building mailgate (the first start takes a while)...\n' : 'sources changed: rebuilding mailgate...\n');
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json', '--incremental', '--tsBuildInfoFile', 'dist/.tsbuildinfo'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
}
