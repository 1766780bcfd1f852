// `npm start`'s build step (scripts/build-if-stale.mjs, issue 20): compiles on the first start, skips
// the compiler while src/ is unchanged, and compiles again after a source file changes. Run on a
// two-file project in a temp dir that borrows the repository's TypeScript.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from './helpers/mailgate-process.js';
import { makeTempDir, removeDir } from './helpers/tmp.js';

describe('npm start builds only when the sources changed', () => {
  let dir: string;
  const run = () => spawnSync(process.execPath, [path.join(dir, 'scripts', 'build-if-stale.mjs')], { cwd: dir, encoding: 'utf8' });

  beforeAll(async () => {
    dir = await makeTempDir('mg-startbuild-');
    mkdirSync(path.join(dir, 'scripts'));
    mkdirSync(path.join(dir, 'src'));
    copyFileSync(path.join(repoRoot, 'scripts', 'build-if-stale.mjs'), path.join(dir, 'scripts', 'build-if-stale.mjs'));
    symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
    writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', outDir: 'dist', rootDir: 'src', strict: true, skipLibCheck: true, types: [] }, include: ['src/**/*.ts'] }));
    writeFileSync(path.join(dir, 'src', 'cli.ts'), 'export const answer: number = 42;\n');
  });
  afterAll(() => removeDir(dir));

  it('compiles the first time, not the second, and again after an edit', () => {
    const first = run();
    expect(first.status).toBe(0);
    expect(first.stderr).toContain('building mailgate (the first start takes a while)');
    expect(existsSync(path.join(dir, 'dist', 'cli.js'))).toBe(true);

    const second = run();
    expect(second.status).toBe(0);
    expect(second.stderr).toBe('');

    const later = new Date(Date.now() + 2000);
    writeFileSync(path.join(dir, 'src', 'cli.ts'), 'export const answer: number = 43;\n');
    utimesSync(path.join(dir, 'src', 'cli.ts'), later, later);
    const third = run();
    expect(third.stderr).toContain('sources changed: rebuilding mailgate');
    expect(spawnSync(process.execPath, ['--input-type=module', '-e', `import('${path.join(dir, 'dist', 'cli.js')}').then((m) => console.log(m.answer))`], { encoding: 'utf8' }).stdout.trim()).toBe('43');
  }, 120_000);

  it('a compile error stops npm start with the compiler\'s status', () => {
    const later = new Date(Date.now() + 4000);
    writeFileSync(path.join(dir, 'src', 'cli.ts'), 'export const answer: number = "not a number";\n');
    utimesSync(path.join(dir, 'src', 'cli.ts'), later, later);
    const r = run();
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('TS2322');
  }, 60_000);
});
