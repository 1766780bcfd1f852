// The README's shell commands of one "Run" subsection (Docker, systemd), as the container tests run or
// compare them: the README says exactly what these tests do.
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/mailgate-process.js';

/** The text of the README section headed `### <title>`, up to the next heading of level 3 or above. */
export function readmeSection(title: string): string {
  const lines = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8').split('\n');
  const start = lines.indexOf(`### ${title}`);
  if (start < 0) throw new Error(`README.md has no "### ${title}" section`);
  let fenced = false;
  let end = start + 1;
  for (; end < lines.length; end++) {
    if (lines[end]!.startsWith('```')) fenced = !fenced;
    else if (!fenced && /^#{1,3} /.test(lines[end]!)) break;
  }
  return lines.slice(start, end).join('\n');
}

/** The ```sh blocks of a section, in order (with or without the README's "example"/"no-run: why" mark). */
export function shellBlocks(section: string): string[] {
  return [...section.matchAll(/```sh(?: [^\n]*)?\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** One command per line: continuation lines joined, comments and blank lines dropped, runs of spaces made one. */
export function commandLines(block: string): string[] {
  return block
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').replace(/\s+/g, ' ').trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}
