// The shape of src/: one concern per folder, imports going down the pipeline and towards the store,
// never up, and no cycles. The table below says what each folder owns and what it may import; a
// new import against it, or a cycle between files or folders, fails here.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers/mailgate-process.js';

/** Folder → what it owns, and the folders it may import from (type imports included). '*' = any. */
const RULES: Record<string, { owns: string; mayImport: string[] | '*' }> = {
  types: { owns: 'typings of untyped packages', mayImport: [] },
  config: { owns: 'the config file: YAML, schema, secrets, cross-checks, the Config type', mayImport: ['types'] },
  store: { owns: 'what is kept: record shapes, LevelDB access, event log, suppression, tenants, shipments', mayImport: ['config', 'types'] },
  security: { owns: 'login throttles, private address ranges, the public-only lookup and POST', mayImport: ['config', 'store', 'types'] },
  queue: { owns: 'submit(), the spool, the scheduler, retry policy, submit-time checks', mayImport: ['config', 'store', 'security', 'error-codes', 'header-fields', 'types'] },
  unsubscribe: { owns: 'unsubscribe tokens', mayImport: ['config', 'store', 'types'] },
  tenants: { owns: 'the tenant directory and its rules', mayImport: ['config', 'store', 'queue', 'security', 'smtp', 'types'] },
  smtp: { owns: 'the submission and inbound listeners', mayImport: ['config', 'store', 'queue', 'security', 'unsubscribe', 'error-codes', 'types'] },
  identity: { owns: 'sender identity, DKIM, domain checks, VERP', mayImport: ['config', 'store', 'header-fields', 'types'] },
  bounces: { owns: 'reading bounces, the verdict, suppression on bounces', mayImport: ['config', 'store', 'queue', 'identity', 'types'] },
  delivery: { owns: 'delivery plans, upstreams, MX delivery, the delivery thread, reply classification', mayImport: ['config', 'store', 'queue', 'identity', 'bounces', 'unsubscribe', 'security', 'header-fields', 'log-lines', 'types'] },
  webhooks: { owns: 'webhook subscriptions and deliveries', mayImport: ['config', 'store', 'security', 'types'] },
  tracking: { owns: 'parcels, carriers, phone gateways, buyer notices, reports', mayImport: ['config', 'store', 'queue', 'security', 'types'] },
  backup: { owns: 'backup and restore of the data directory', mayImport: ['config', 'store', 'types'] },
  retention: { owns: 'deleting what is past its retention time', mayImport: ['config', 'store', 'types'] },
  'tls-reports': { owns: 'TLS reports (RFC 8460): the daily report to each recipient domain that asks', mayImport: ['config', 'store', 'security', 'types'] },
  console: { owns: 'the web console (a client of the admin API)', mayImport: ['types'] },
  admin: { owns: 'the admin HTTP API', mayImport: '*' },
  operator: { owns: 'the mailgate command', mayImport: '*' },
  main: { owns: 'wiring: listeners in front of the relay, start, reload and stop', mayImport: '*' },
  relay: { owns: 'wiring: the relay\'s parts, built and connected', mayImport: '*' },
  'log-lines': { owns: 'how log lines look: the logger, JSON or text', mayImport: [] },
  'runtime-info': { owns: 'runtime.json: where the running server listens', mayImport: [] },
  'error-codes': { owns: 'the error codes and what each means in HTTP and SMTP', mayImport: [] },
  'header-fields': { owns: 'the one reader and writer of a header block', mayImport: [] },
  cli: { owns: 'the command entry point', mayImport: '*' },
};

const src = path.join(repoRoot, 'src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

const folderOf = (file: string) => path.relative(src, file).split(path.sep)[0]!.replace(/\.ts$/, '');

interface Edge { from: string; to: string; typeOnly: boolean }

const edges: Edge[] = sourceFiles(src).flatMap((file) => {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s+(type\s+)?[^'";]*?from\s+'(\.[^']+)'|import\('(\.[^']+)'\)/g)].map((m) => ({
    from: file,
    to: path.resolve(path.dirname(file), m[2] ?? m[3]!).replace(/\.js$/, '.ts'),
    typeOnly: Boolean(m[1]),
  }));
});

/** Strongly connected components of more than one node (Tarjan). */
function cycles(nodes: string[], next: (n: string) => string[]): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of next(v)) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) out.push(c.sort());
    }
  };
  for (const n of nodes) if (!idx.has(n)) visit(n);
  return out;
}

describe('architecture', () => {
  it('reads the imports (the check would pass vacuously otherwise)', () => {
    expect(edges.length).toBeGreaterThan(300);
    expect(edges.some((e) => folderOf(e.from) === 'queue' && folderOf(e.to) === 'store')).toBe(true);
  });

  it('every folder under src/ has a rule', () => {
    const folders = new Set(sourceFiles(src).map(folderOf));
    expect([...folders].filter((f) => !RULES[f])).toEqual([]);
  });

  it('imports follow the table: store, config and queue never import upward', () => {
    const wrong = edges
      .filter((e) => folderOf(e.from) !== folderOf(e.to))
      .filter((e) => {
        const allowed = RULES[folderOf(e.from)]?.mayImport;
        return allowed !== '*' && !allowed?.includes(folderOf(e.to));
      })
      .map((e) => `${path.relative(src, e.from)} -> ${path.relative(src, e.to)}`);
    expect(wrong).toEqual([]);
  });

  it('no cycles between folders or between files', () => {
    const folders = [...new Set(edges.flatMap((e) => [folderOf(e.from), folderOf(e.to)]))];
    const folderNext = (f: string) => [...new Set(edges.filter((e) => folderOf(e.from) === f && folderOf(e.to) !== f).map((e) => folderOf(e.to)))];
    expect(cycles(folders, folderNext)).toEqual([]);
    const files = [...new Set(edges.flatMap((e) => [e.from, e.to]))];
    const byFile = new Map<string, string[]>();
    for (const e of edges) byFile.set(e.from, [...(byFile.get(e.from) ?? []), e.to]);
    expect(cycles(files, (f) => byFile.get(f) ?? []).map((c) => c.map((f) => path.relative(src, f)))).toEqual([]);
  });

  it('keeps the composition root to wiring: main.ts and relay.ts stay small', () => {
    for (const [f, most] of [['main.ts', 150], ['relay.ts', 180]] as const) expect(fs.readFileSync(path.join(src, f), 'utf8').split('\n').length, f).toBeLessThanOrEqual(most);
  });

  it('keeps storage engines behind the store ports: only store/open.ts imports an engine', () => {
    const engines = ['level', 'postgres'].map((e) => path.join(src, 'store', e) + path.sep);
    const inEngine = (f: string) => engines.some((e) => f.startsWith(e));
    const offending = edges
      .filter((e) => inEngine(e.to) && !inEngine(e.from) && e.from !== path.join(src, 'store', 'open.ts'))
      .map((e) => `${path.relative(src, e.from)} → ${path.relative(src, e.to)}`);
    expect(offending).toEqual([]);
    // and no engine package outside the engines
    const packages = sourceFiles(src).filter((f) => !inEngine(f) && /from '(level|classic-level|abstract-level|pg)'/.test(fs.readFileSync(f, 'utf8')));
    expect(packages.map((f) => path.relative(src, f))).toEqual([]);
  });
});
