// The bounce fixture corpus (test/fixtures/bounces/, written from the formats MTAs and providers
// are documented to produce): every message against its expected kind and per-recipient class,
// reason, status.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBounce } from '../src/bounces/parse.js';
import { verdictFor } from '../src/bounces/verdict.js';
import { repoRoot } from './helpers/mailgate-process.js';

interface Expected {
  file: string;
  mta: string;
  kind: string;
  recipients: Array<{ recipient: string; class: string; reason: string; status?: string }>;
  note: string;
}

const root = path.join(repoRoot, 'test/fixtures/bounces');
/** Two tables: the first corpus, and a second one written independently (extended/). */
const corpora = [root, path.join(root, 'extended')].map((dir) => ({ dir, table: JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected[] }));

describe('bounce corpus', () => {
  it('has at least 60 messages in each table, every file listed and every listed file present', () => {
    for (const { dir, table } of corpora) {
      const files = fs.readdirSync(dir).filter((f) => f.endsWith('.eml')).sort();
      expect(files.length).toBeGreaterThanOrEqual(60);
      expect(table.map((e) => e.file).sort()).toEqual(files);
    }
  });

  for (const { dir, table } of corpora) for (const e of table) {
    it(`${path.relative(root, path.join(dir, e.file))} (${e.mta}: ${e.note})`, async () => {
      const report = await parseBounce(fs.readFileSync(path.join(dir, e.file)));
      const got = report.recipients.map((r) => ({ recipient: r.recipient, class: r.class, reason: r.reason, ...(e.recipients.find((x) => x.recipient === r.recipient)?.status ? { status: r.status } : {}) }));
      expect(got).toEqual(e.recipients);
      if (e.kind === 'none') expect(report.kind).toBe('none');
    });
  }
});

/**
 * Formats written from products' own documentation and message templates (documented/, see its README),
 * judged as the relay acts: the right recipients, and for each whether it suppresses (hard, complaint)
 * or not (soft and policy alike; the fine reason is a judgement the table records but does not assert).
 */
describe('bounce corpus: documented formats', () => {
  const dir = path.join(root, 'documented');
  const table = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected[];
  const acts = (cls: string, suppress: boolean) => (suppress ? 'suppress' : ['auto-reply', 'report', 'none'].includes(cls) ? cls : 'keep');

  it('lists every file', () => {
    expect(table.map((e) => e.file).sort()).toEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.eml')).sort());
  });
  for (const e of table) {
    it(`documented/${e.file} (${e.mta})`, async () => {
      const report = await parseBounce(fs.readFileSync(path.join(dir, e.file)));
      expect(report.recipients.map((r) => [r.recipient, acts(r.class, verdictFor(r).suppress)])).toEqual(
        e.recipients.map((r) => [r.recipient, acts(r.class, r.class === 'hard' || r.class === 'complaint')]),
      );
    });
  }
});
