// The DKIM "relaxed" body hash (RFC 6376 §3.4.4) over a body whose lines all end in CRLF — what the
// spool holds, since every bare CR and LF became CRLF on the way in (queue/canonical-stream.ts).
// Whole runs of lines that need no change (no tab, no double space, no space before CRLF: the usual
// base64 or quoted-printable body) go to the hash as they are, found by three native byte searches
// per chunk instead of a JavaScript loop per byte; only chunks that need it are rewritten. Trailing empty
// lines are held back until non-empty content follows, and dropped at the end. Pure but for the hash.
import { createHash, type Hash } from 'node:crypto';

const CRLF = Buffer.from('\r\n');
const TAB = 0x09;
const TWO_SPACES = Buffer.from('  ');
const SPACE_CRLF = Buffer.from(' \r\n');

/** Whether relaxed canonicalisation would change these CRLF-terminated lines: three native scans, no string. */
function needsChange(data: Buffer): boolean {
  return data.indexOf(TAB) >= 0 || data.indexOf(TWO_SPACES) >= 0 || data.indexOf(SPACE_CRLF) >= 0;
}

export class RelaxedBodyHash {
  private readonly hash: Hash;
  /** The last, incomplete line of the previous chunk. */
  private partial: Buffer | undefined;
  /** Empty lines seen but not yet hashed (they count only if content follows). */
  private heldEmptyLines = 0;

  constructor(algorithm = 'sha256') {
    this.hash = createHash(algorithm);
  }

  update(chunk: Buffer): void {
    let data = this.partial ? Buffer.concat([this.partial, chunk]) : chunk;
    this.partial = undefined;
    const lastLf = data.lastIndexOf(0x0a);
    if (lastLf < data.length - 1) {
      // Keep the incomplete last line for the next chunk (a copy: the caller may reuse its buffer).
      this.partial = Buffer.from(data.subarray(lastLf + 1));
      data = data.subarray(0, lastLf + 1);
    }
    if (data.length > 0) this.lines(data);
  }

  /** The base64 (or `encoding`) digest; the hasher is finished after it. */
  digest(encoding: 'base64' | 'hex' = 'base64'): string {
    if (this.partial && this.partial.length > 0) {
      // A last line without CRLF, then the CRLF RFC 6376 adds to a non-empty body. As mailauth and
      // dkimpy read it: a single trailing space stays (the rule strips WSP before a CRLF, and there
      // was none), runs of WSP are reduced and then stripped at the end.
      const raw = this.partial.toString('latin1');
      const line = /\t| {2}/.test(raw) ? relax(raw).replace(/ $/, '') : raw;
      this.partial = undefined;
      if (line.length > 0) {
        this.releaseHeld();
        this.hash.update(Buffer.from(line, 'latin1'));
        this.hash.update(CRLF);
      }
    }
    return this.hash.digest(encoding);
  }

  /** Empty lines held back count after all: content follows them. */
  private releaseHeld(): void {
    for (; this.heldEmptyLines > 0; this.heldEmptyLines--) this.hash.update(CRLF);
  }

  /** Complete lines (the buffer ends with CRLF). */
  private lines(data: Buffer): void {
    const canonical = needsChange(data) ? Buffer.from(relax(data.toString('latin1')).replace(/ \r\n/g, '\r\n'), 'latin1') : data;
    // The run of empty lines at the end is held back; the rest (with any earlier held lines first) is hashed.
    let end = canonical.length;
    while (end >= 2 && canonical[end - 1] === 0x0a && canonical[end - 2] === 0x0d && (end === 2 || canonical[end - 3] === 0x0a)) end -= 2;
    if (end > 0) {
      this.releaseHeld();
      this.hash.update(end === canonical.length ? canonical : canonical.subarray(0, end));
    }
    this.heldEmptyLines += (canonical.length - end) / 2;
  }
}

/** Runs of spaces and tabs become one space. */
function relax(text: string): string {
  return text.replace(/[ \t]+/g, ' ');
}

/** The relaxed/sha256 body hash of a whole body, base64. */
export function relaxedBodyHash(body: Buffer): string {
  const h = new RelaxedBodyHash();
  h.update(body);
  return h.digest();
}
