// `npm run eval:bounces`: the bounce parser against a labelled set of real bounces (by default
// ../shared/bounce-dev; --dir=DIR or BOUNCE_DEV=DIR for another). Skips when the set is absent.
// Prints class+recipient, recipient recall, false suppression, a confusion matrix, a table per
// format family, the rows it gets wrong, whether LF / CRLF / CR copies agree, messages/s and peak RSS.
// Grades exactly what `mailgate bounces parse --json` prints (recordsOf), with the set's rules:
// soft and policy are one group ("do not suppress"), as is a hard verdict that does not suppress.
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseBounce } from '../../src/bounces/parse.js';
import { recordsOf } from '../../src/bounces/cli.js';
import { repoRoot } from '../helpers/mailgate-process.js';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const dir = path.resolve(arg('dir') ?? process.env.BOUNCE_DEV ?? path.join(repoRoot, '..', 'shared', 'bounce-dev'));
const showWrong = !process.argv.includes('--quiet');
const UNDISCLOSED = 'undisclosed-recipient-in-headers@libsisimai.org.invalid';

interface Row { file: string; recipient: string; class: string; reason: string; status: string }
type Rec = Record<string, unknown> & { recipient?: string; class: string; reason?: string; suppress: boolean; diagnostic?: string | null };

if (!fs.existsSync(path.join(dir, 'labels.tsv'))) {
  console.log(`eval:bounces: no labelled set at ${dir} (labels.tsv missing): skipped`);
  process.exit(0);
}

const rows: Row[] = fs.readFileSync(path.join(dir, 'labels.tsv'), 'utf8').split('\n').slice(1).filter(Boolean).map((l) => {
  const [file, recipient, cls, reason, status] = l.split('\t');
  return { file: file!, recipient: recipient!.toLowerCase(), class: cls!, reason: reason!, status: status ?? '' };
});
const files = ['bsd', 'dos', 'mac'].flatMap((d) => (fs.existsSync(path.join(dir, d)) ? fs.readdirSync(path.join(dir, d)).filter((f) => f.endsWith('.eml')).map((f) => `${d}/${f}`) : []));

const output = new Map<string, Rec[]>();
let crashes = 0;
for (const f of files) {
  try {
    output.set(f, recordsOf(await parseBounce(fs.readFileSync(path.join(dir, f)))) as Rec[]);
  } catch (err) {
    crashes++;
    output.set(f, []);
    console.log(`CRASH ${f}: ${(err as Error).stack}`);
  }
}

/** The group a record counts as: soft and policy (and a hard verdict that does not suppress) are one. */
const group = (r: Rec) => (r.class === 'soft' || r.class === 'policy' || (r.class === 'hard' && !r.suppress) ? 'soft/policy' : r.class);
const rowGroup = (c: string) => (c === 'soft' || c === 'policy' ? 'soft/policy' : c);
const SUPPRESSING_ROW = new Set(['hard', 'complaint']);
const ACTIONABLE = new Set(['hard', 'soft', 'policy', 'complaint']);

interface Graded { row: Row; got: string; ok: boolean; found: boolean; falseSuppression: boolean; recs: Rec[] }
const graded: Graded[] = rows.map((row) => {
  const all = output.get(row.file) ?? [];
  const actual = all.filter((r) => r.recipient || (row.recipient === UNDISCLOSED && r.class !== 'none'));
  if (row.class === 'none') {
    const bad = actual.filter((r) => ACTIONABLE.has(r.class) || r.suppress);
    return { row, got: bad.length ? [...new Set(bad.map(group))].join('+') : 'none', ok: bad.length === 0, found: true, falseSuppression: bad.some((r) => r.suppress), recs: all };
  }
  const recs = row.recipient === UNDISCLOSED ? actual : actual.filter((r) => r.recipient!.toLowerCase() === row.recipient);
  const groups = [...new Set(recs.map(group))];
  const got = recs.length === 0 ? 'missing' : groups.join('+');
  const ok = recs.length > 0 && groups.length === 1 && groups[0] === rowGroup(row.class);
  return { row, got, ok, found: recs.length > 0, falseSuppression: !SUPPRESSING_ROW.has(row.class) && recs.some((r) => r.suppress), recs };
});

const pct = (n: number, d: number) => (d === 0 ? '-' : `${((100 * n) / d).toFixed(1)} %`);
const correct = graded.filter((g) => g.ok).length;
const nonSuppressing = graded.filter((g) => !SUPPRESSING_ROW.has(g.row.class));
const falseSupp = graded.filter((g) => g.falseSuppression);
const withRecipient = graded.filter((g) => g.row.class !== 'none');
console.log(`bounce set: ${dir}`);
console.log(`files ${files.length}, labelled rows ${rows.length}, crashes ${crashes}`);
console.log(`class+recipient     ${correct}/${rows.length}  ${pct(correct, rows.length)}`);
console.log(`recipient recall    ${withRecipient.filter((g) => g.found).length}/${withRecipient.length}  ${pct(withRecipient.filter((g) => g.found).length, withRecipient.length)}`);
console.log(`false suppression   ${falseSupp.length}/${nonSuppressing.length}  ${pct(falseSupp.length, nonSuppressing.length)} of rows that must not suppress`);
const hardRows = graded.filter((g) => g.row.class === 'hard');
console.log(`hard found          ${hardRows.filter((g) => g.ok).length}/${hardRows.length}`);

// Confusion matrix: labelled group (rows) against what was reported (columns).
const labels = ['hard', 'soft/policy', 'complaint', 'report', 'auto-reply', 'none'];
const cols = [...new Set(graded.map((g) => g.got))].sort();
console.log(`\nconfusion (rows: label, columns: reported)\n${['label'.padEnd(12), ...cols.map((c) => c.padStart(12))].join('')}`);
for (const l of labels) {
  const mine = graded.filter((g) => rowGroup(g.row.class) === l);
  if (mine.length) console.log([l.padEnd(12), ...cols.map((c) => String(mine.filter((g) => g.got === c).length).padStart(12))].join(''));
}

// Per family: the file name without its number.
const family = (f: string) => path.basename(f).replace(/-\d+\.eml$/, '');
const fams = new Map<string, { n: number; ok: number; fs: number }>();
for (const g of graded) {
  const e = fams.get(family(g.row.file)) ?? { n: 0, ok: 0, fs: 0 };
  e.n++;
  if (g.ok) e.ok++;
  if (g.falseSuppression) e.fs++;
  fams.set(family(g.row.file), e);
}
console.log('\nper family (rows, right, false suppressions)');
for (const [f, e] of [...fams].sort((a, b) => a[1].ok / a[1].n - b[1].ok / b[1].n || b[1].n - a[1].n)) console.log(`  ${f.padEnd(28)} ${String(e.n).padStart(3)} ${String(e.ok).padStart(4)} ${e.fs ? `  ${e.fs} FALSE SUPPRESSION` : ''}`);

// Line ends: dos/ and mac/ copies must give the same records as bsd/.
const strip = (recs: Rec[]) => JSON.stringify(recs.map(({ diagnostic: _d, ...r }) => r));
const mismatched = files.filter((f) => !f.startsWith('bsd/') && output.has(`bsd/${path.basename(f)}`) && strip(output.get(f)!) !== strip(output.get(`bsd/${path.basename(f)}`)!));
console.log(`\nLF / CRLF / CR copies that disagree: ${mismatched.length}${mismatched.length ? ` (${mismatched.join(', ')})` : ''}`);

if (showWrong) {
  console.log('\nwrong rows');
  for (const g of graded.filter((x) => !x.ok)) {
    const r = g.recs.filter((x) => g.row.recipient === UNDISCLOSED || x.recipient?.toLowerCase() === g.row.recipient)[0] ?? g.recs[0];
    console.log(`  ${g.row.file} ${g.row.recipient} want ${g.row.class}/${g.row.reason} ${g.row.status} got ${g.got}${r ? ` [${r.class}/${r.reason}${r.suppress ? ' SUPPRESS' : ''} ${r.recipient ?? ''}]` : ''}${g.falseSuppression ? ' FALSE-SUPPRESSION' : ''}`);
    if (r?.diagnostic) console.log(`      ${String(r.diagnostic).slice(0, 220)}`);
  }
}

// Speed: every file, several rounds, in this one process.
const bodies = files.map((f) => fs.readFileSync(path.join(dir, f)));
const rounds = Number(arg('rounds') ?? 5);
let peak = process.memoryUsage().rss;
const t0 = performance.now();
for (let i = 0; i < rounds; i++) for (const b of bodies) {
  await parseBounce(b);
  peak = Math.max(peak, process.memoryUsage().rss);
}
const secs = (performance.now() - t0) / 1000;
console.log(`\nspeed: ${Math.round((rounds * bodies.length) / secs)} msgs/s (${rounds} rounds of ${bodies.length}), peak RSS ${Math.round(peak / 1048576)} MB`);
