// `mailgate bounces parse FILE...`: what mailgate makes of bounce messages, one JSON line per
// bounced recipient (or one "none" line). Reads files, mbox files and standard input ("-" or no
// file); a file that cannot be read or parsed gets a line with an "error", never a crash, and an
// unreadable one is counted so that the command exits non-zero.
import fs from 'node:fs/promises';
import { parseBounce, type BounceReport } from './parse.js';
import { verdictFor } from './verdict.js';

/** The JSON records `bounces parse` prints for one message: one per bounced recipient, or one "none". */
export function recordsOf(report: BounceReport): Array<Record<string, unknown>> {
  if (report.recipients.length === 0) return [{ class: 'none', kind: report.kind, suppress: false }];
  return report.recipients.map((r) => ({
    recipient: r.recipient, class: r.class, reason: r.reason, suppress: verdictFor(r).suppress, status: r.status ?? null, action: r.action ?? null,
    replyCode: r.replyCode ?? null, command: r.command ?? null, remoteMta: r.remoteMta ?? null, diagnostic: r.diagnostic ?? null, feedbackType: r.feedbackType ?? null,
    kind: report.kind, messageId: report.original.messageId ?? null,
  }));
}

/** Splits an mbox ("From " separator lines, ">From " unescaped); a plain message comes back whole. */
export function splitMbox(data: Buffer): Buffer[] {
  const text = data.toString('latin1');
  if (!text.startsWith('From ')) return [data];
  return text
    .split(/(?:^|\r?\n|\r)From [^\r\n]*(?:\r?\n|\r)/)
    .filter((m) => m.trim().length > 0)
    .map((m) => Buffer.from(m.replace(/^>(>*From )/gm, '$1'), 'latin1'));
}

async function readInput(file: string): Promise<Buffer> {
  if (file !== '-') return fs.readFile(file);
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Writes the records of every input; `unreadable` counts the inputs that could not be read (missing files). */
export async function parseFiles(files: string[], write: (line: string) => void): Promise<{ unreadable: number }> {
  let unreadable = 0;
  for (const file of files.length > 0 ? files : ['-']) {
    let data: Buffer;
    try {
      data = await readInput(file);
    } catch (err) {
      write(JSON.stringify({ file, error: `cannot read: ${(err as Error).message}` }));
      unreadable++;
      continue;
    }
    if (data.toString('latin1').trim().length === 0) {
      write(JSON.stringify({ file, error: 'empty input' }));
      continue;
    }
    const messages = splitMbox(data);
    for (const [i, msg] of messages.entries()) {
      const name = messages.length > 1 ? `${file}#${i + 1}` : file;
      try {
        for (const record of recordsOf(await parseBounce(msg))) write(JSON.stringify({ file: name, ...record }));
      } catch (err) {
        write(JSON.stringify({ file: name, error: `cannot parse: ${(err as Error).message}` }));
      }
    }
  }
  return { unreadable };
}
