// The bounce fixture corpus (test/fixtures/bounces/, written from the formats MTAs and providers
// are documented to produce): every message against its expected kind and per-recipient class,
// reason, status.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBounce } from '../src/bounces/parse.js';
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
