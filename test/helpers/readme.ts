// Reads README.md the way the README test needs it: its fenced blocks (with the info string that
// marks a shell block as an example a test runs, or as not run and why), its headings with the
// anchors GitHub gives them, its table of contents and its in-page links. Pure: text in, data out.

/** A fenced code block. `line` is the 1-based line of its opening fence. */
export interface Fence {
  line: number;
  /** The whole info string after the backticks, e.g. "sh example" or "sh no-run: needs systemd". */
  info: string;
  /** Its first word: the language GitHub highlights ("" for none). */
  lang: string;
  /** The rest of the info string ("example", "no-run: …", or ""). */
  mark: string;
  /** The lines between the fences, joined with "\n". */
  text: string;
  /** 1-based line of the closing fence. */
  endLine: number;
  /** The heading (## or deeper) the block is under; undefined before the first. */
  section?: Heading;
}

export interface Heading {
  line: number;
  level: number;
  text: string;
  /** The anchor GitHub makes for it ("#" not included), unique in the document. */
  anchor: string;
}

export interface Readme {
  fences: Fence[];
  headings: Heading[];
}

/** Shell languages: a block in one of these must be marked as an example or as not run. */
export const SHELL_LANGS = new Set(['sh', 'bash', 'shell', 'zsh', 'console']);

/** GitHub's heading anchor (github-slugger): lower case, punctuation dropped, spaces to hyphens. */
export function githubSlug(text: string): string {
  return text
    .replace(/`/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

export function parseReadme(source: string): Readme {
  const lines = source.split('\n');
  const fences: Fence[] = [];
  const headings: Heading[] = [];
  const seen = new Map<string, number>();
  let open: { line: number; marker: string; info: string; body: string[] } | undefined;
  let section: Heading | undefined;
  lines.forEach((raw, i) => {
    const fence = /^ {0,3}(`{3,}|~{3,})\s*(.*)$/.exec(raw);
    if (open) {
      if (fence && fence[1]![0] === open.marker[0] && fence[1]!.length >= open.marker.length && fence[2] === '') {
        const [lang = '', ...rest] = open.info.split(/\s+/);
        fences.push({ line: open.line, info: open.info, lang, mark: rest.join(' '), text: open.body.join('\n'), endLine: i + 1, ...(section ? { section } : {}) });
        open = undefined;
      } else {
        open.body.push(raw);
      }
      return;
    }
    if (fence) {
      open = { line: i + 1, marker: fence[1]!, info: fence[2]!.trim(), body: [] };
      return;
    }
    const h = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(raw);
    if (!h) return;
    const base = githubSlug(h[2]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    const heading = { line: i + 1, level: h[1]!.length, text: h[2]!, anchor: n === 0 ? base : `${base}-${n}` };
    headings.push(heading);
    if (heading.level >= 2) section = heading;
  });
  if (open) throw new Error(`README.md: the code block opened on line ${open.line} is never closed`);
  return { fences, headings };
}

export interface TocEntry {
  line: number;
  level: number;
  text: string;
  anchor: string;
}

/**
 * The table of contents: the list after the line "**Contents**", one `- [Text](#anchor)` a line,
 * two spaces of indent per level below ##.
 */
export function tableOfContents(source: string): TocEntry[] {
  const lines = source.split('\n');
  const start = lines.findIndex((l) => l.trim() === '**Contents**');
  if (start < 0) return [];
  const out: TocEntry[] = [];
  for (let i = start + 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.trim() === '') {
      if (out.length > 0) break;
      continue;
    }
    const m = /^( *)- \[(.+)\]\(#([^)]+)\)$/.exec(l);
    if (!m) throw new Error(`README.md line ${i + 1}: not a table-of-contents entry ("- [Heading](#anchor)"): ${l}`);
    out.push({ line: i + 1, level: 2 + m[1]!.length / 2, text: m[2]!, anchor: m[3]! });
  }
  return out;
}

/** Every in-page link target `](#anchor)` outside code blocks, with its line. */
export function inPageLinks(source: string): Array<{ line: number; anchor: string }> {
  const out: Array<{ line: number; anchor: string }> = [];
  let inFence = false;
  source.split('\n').forEach((l, i) => {
    if (/^ {0,3}(`{3,}|~{3,})/.test(l)) inFence = !inFence;
    if (inFence) return;
    for (const m of l.matchAll(/\]\(#([^)\s]+)\)/g)) out.push({ line: i + 1, anchor: m[1]! });
  });
  return out;
}
