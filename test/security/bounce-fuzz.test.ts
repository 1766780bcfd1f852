// The bounce reader on generated hostile input: long runs, many '@', deep nesting, many parts, odd
// and unknown charsets, broken encodings, huge header blocks, endless status groups. Each input must
// parse without throwing and well inside the relay's deadline (the bound here is loose on purpose:
// it catches superlinear behaviour, which costs seconds to minutes, not a slow machine).
import { describe, expect, it } from 'vitest';
import { parseBounceSync } from '../../src/bounces/parse.js';

/** A small deterministic PRNG (mulberry32), so a failure names its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HEAD = 'From: MAILER-DAEMON@mx.example.net\r\nTo: postmaster@bounces.relay.test\r\nSubject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n';

type Gen = (r: () => number) => string;
const pick = <T>(r: () => number, xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
const size = (r: () => number, max: number) => 1 + Math.floor(r() * max);

const generators: Record<string, Gen> = {
  'a long run of one character': (r) => `${HEAD}\r\n${pick(r, ['A', '-', '@', '.', ' ', '<', '=', '\t', '5'])!.repeat(size(r, 1_000_000))}\r\n`,
  'alternating address characters': (r) => `${HEAD}\r\n${pick(r, ['a@', 'a.', '@.', 'a-@b.', '<a@b'])!.repeat(size(r, 200_000))}\r\n`,
  'deep multipart nesting': (r) => {
    const depth = size(r, 300);
    let body = 'Final-Recipient: rfc822; x@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n';
    for (let i = depth; i > 0; i--) body = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${body}\r\n--b${i}--\r\n`;
    return `${HEAD}${body}`;
  },
  'many parts': (r) => {
    const n = size(r, 20_000);
    const parts = Array.from({ length: n }, (_, i) => `--B\r\nContent-Type: ${pick(r, ['text/plain', 'message/delivery-status', 'message/rfc822', 'text/html'])}\r\n\r\nFinal-Recipient: rfc822; u${i}@example.org\r\nStatus: 5.1.1\r\n`);
    return `${HEAD}Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n${parts.join('\r\n')}\r\n--B--\r\n`;
  },
  'odd and unknown charsets, broken encodings': (r) => {
    const charset = pick(r, ['x-unknown', 'utf-7', 'iso-2022-jp', 'gb18030', 'koi8-r', '', '"', 'utf-8"; x="', 'ISO-8859-1'.repeat(100)]);
    const enc = pick(r, ['base64', 'quoted-printable', '7bit', 'x-uue', 'base64; x']);
    const junk = Array.from({ length: size(r, 50_000) }, () => String.fromCharCode(Math.floor(r() * 256))).join('');
    return `${HEAD}Content-Type: text/plain; charset=${charset}\r\nContent-Transfer-Encoding: ${enc}\r\nX-Junk: =?${charset}?B?${junk.slice(0, 500)}?=\r\n\r\n${junk}\r\n`;
  },
  'a huge header block': (r) => `${HEAD}${Array.from({ length: size(r, 50_000) }, (_, i) => `X-H${i}: ${'v'.repeat(size(r, 50))}\r\n\t${'w'.repeat(size(r, 50))}`).join('\r\n')}\r\n\r\nbody\r\n`,
  'endless status groups in one block': (r) => `${HEAD}Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n${Array.from({ length: size(r, 100_000) }, (_, i) => `Final-Recipient: rfc822; u${i}@example.org\r\nDiagnostic-Code: smtp; 550 5.1.1 ${'x'.repeat(size(r, 30))}`).join('\r\n')}\r\n--B--\r\n`,
  'a feedback report with endless recipients': (r) => `${HEAD}Content-Type: multipart/report; report-type=feedback-report; boundary="F"\r\n\r\n--F\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: ${'<script>'.repeat(size(r, 100))}\r\n${Array.from({ length: size(r, 50_000) }, (_, i) => `Original-Rcpt-To: u${i}@example.org`).join('\r\n')}\r\n--F--\r\n`,
  'JSON that is not what it says': (r) => `${HEAD}\r\n{"notificationType":"Bounce","bounce":{"bouncedRecipients":[${Array.from({ length: size(r, 20_000) }, (_, i) => `{"emailAddress":"u${i}@example.org","diagnosticCode":"${'\\"'.repeat(size(r, 20))}"}`).join(',')}]${pick(r, ['}}', '', '}'])}\r\n`,
  'line ends of every kind': (r) => `${HEAD}\r\n${Array.from({ length: size(r, 100_000) }, () => pick(r, ['\r', '\n', '\r\n', '\n\r', 'a@b.c ', 'User unknown ', '550 5.1.1 '])).join('')}`,
};

describe('bounce reader on generated hostile input', () => {
  for (const [name, gen] of Object.entries(generators)) {
    it(name, () => {
      for (let seed = 1; seed <= 6; seed++) {
        const raw = Buffer.from(gen(rng(seed * 7919)), 'latin1');
        const t = performance.now();
        const report = parseBounceSync(raw);
        const ms = performance.now() - t;
        expect(report.recipients.length, `seed ${seed}`).toBeLessThanOrEqual(1000);
        expect(ms, `seed ${seed}: ${raw.length} bytes took ${Math.round(ms)} ms`).toBeLessThan(4000);
      }
    }, 120_000);
  }
});
