// The fast relaxed body hash (identity/relaxed-body.ts) against mailauth's canonicaliser, the one
// mailgate used before: the same digest for generated CRLF bodies — runs of spaces and tabs, space
// before CRLF, lines of blanks, leading and trailing empty lines, a last line without CRLF, 8-bit
// bytes — cut into chunks at random places (a chunk may end inside a CRLF).
import { describe, expect, it } from 'vitest';
import { dkimBody } from 'mailauth/lib/dkim/body/index.js';
import { RelaxedBodyHash } from '../src/identity/relaxed-body.js';

function mailauthHash(chunks: Buffer[]): string {
  const h = dkimBody('relaxed', 'sha256', false);
  for (const c of chunks) h.update(c);
  return h.digest('base64') as string;
}

function fastHash(chunks: Buffer[]): string {
  const h = new RelaxedBodyHash();
  for (const c of chunks) h.update(c);
  return h.digest();
}

/** A deterministic pseudo-random generator (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ['word', ' ', '  ', '\t', ' \t ', 'Zeile', '\xe4\xf6', '=20', 'QUJD', '.', '-'];

function body(random: () => number): Buffer {
  const lines: string[] = [];
  const n = Math.floor(random() * 40);
  for (let i = 0; i < n; i++) {
    const k = random() < 0.25 ? 0 : Math.floor(random() * 8);
    lines.push(Array.from({ length: k }, () => PIECES[Math.floor(random() * PIECES.length)]).join(''));
  }
  let text = lines.join('\r\n');
  if (random() < 0.7 && text.length > 0) text += '\r\n';
  if (random() < 0.3) text += '\r\n'.repeat(1 + Math.floor(random() * 3));
  if (random() < 0.2) text = '\r\n'.repeat(1 + Math.floor(random() * 2)) + text;
  return Buffer.from(text, 'latin1');
}

function cut(b: Buffer, random: () => number): Buffer[] {
  const chunks: Buffer[] = [];
  let at = 0;
  while (at < b.length) {
    const size = 1 + Math.floor(random() * (random() < 0.5 ? 4 : 64));
    chunks.push(b.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

describe('RelaxedBodyHash', () => {
  it('gives mailauth\'s digest for 3,000 generated bodies in random chunks', () => {
    const random = rng(20261205);
    for (let i = 0; i < 3000; i++) {
      const b = body(random);
      const chunks = cut(b, random);
      expect(fastHash(chunks), JSON.stringify(b.toString('latin1'))).toBe(mailauthHash([b]));
    }
  });

  it('handles the edge cases by name', () => {
    for (const text of ['', '\r\n', '\r\n\r\n', 'a', 'a\r\n', 'a\r\n\r\n\r\n', '  \r\n', 'a  b \r\n \t\r\nc', '\r\n\r\nx\r\n', 'x\r\n   ', 'x \t']) {
      const b = Buffer.from(text, 'latin1');
      expect(fastHash([b]), JSON.stringify(text)).toBe(mailauthHash([b]));
      expect(fastHash([...b].map((byte) => Buffer.from([byte]))), `${JSON.stringify(text)} byte by byte`).toBe(mailauthHash([b]));
    }
  });
});
