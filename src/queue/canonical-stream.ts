// Line-ending canonicalisation of incoming message bodies, and a light header scan.
// Every bare LF or bare CR becomes CRLF before the body reaches the spool, so what we relay can
// never be split into two messages by an upstream that treats "\n.\n" as end of data (SMTP
// smuggling), and DKIM later signs exactly what is sent. Lines longer than RFC 5322's 998 octets
// are broken as Postfix does (header lines folded with CRLF SP, body lines with CRLF), so a
// strict upstream does not refuse them.
import { Transform, type TransformCallback } from 'node:stream';
import libmime from 'libmime';
import { fieldValue, findField, splitHeader } from '../header-fields.js';

const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n');
/** Header bytes kept for the scan; headers beyond this are still relayed, just not scanned. */
const HEADER_SCAN_LIMIT = 64 * 1024;
/** RFC 5322 §2.1.1: at most 998 octets per line, excluding the CRLF. */
export const MAX_LINE = 998;
const FOLD = Buffer.from('\r\n ');

export interface ScannedHeaders {
  messageId?: string;
  subject?: string;
  /** The shop's own reference: X-Order-Id, else X-Reference. */
  reference?: string;
  /** X-Mailgate-Category, set by the app. */
  category?: string;
  /** The display names of the To header ("Anna Schmidt, Bob"), for support staff's search by name. */
  toNames?: string;
}

/** The display names of an address list, addresses and quotes left out. Pure. */
export function displayNames(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const names = value.replace(/<[^>]*>/g, ' ').replace(/[^\s,;"]+@[^\s,;"]+/g, ' ').replace(/["()]/g, ' ')
    .split(/[,;]/).map((n) => n.replace(/\s+/g, ' ').trim()).filter((n) => n.length > 0);
  return names.length > 0 ? names.join(', ').slice(0, 200) : undefined;
}

export class CanonicalStream extends Transform {
  private lastWasCR = false;
  private headerBytes: Buffer[] = [];
  private headerLength = 0;
  private headerDone = false;
  /** Octets of the current line so far (for the 998 limit), and whether it is still in the header. */
  private lineLength = 0;
  private inHeader = true;
  private lastByte = 0;
  /** Bytes emitted (after canonicalisation). */
  bytes = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const out = this.wrapLongLines(this.canonicalise(chunk));
    this.bytes += out.length;
    if (!this.headerDone) this.collectHeader(out);
    done(null, out);
  }

  override _flush(done: TransformCallback): void {
    if (this.lastWasCR) {
      this.push(Buffer.from('\n'));
      this.bytes += 1;
    }
    done();
  }

  /** Message-ID and Subject from the header block, unfolded (undefined when absent). */
  headers(): ScannedHeaders {
    const { fields } = splitHeader(Buffer.concat(this.headerBytes));
    const field = (name: string): string | undefined => {
      const f = findField(fields, name.toLowerCase());
      return f ? fieldValue(f) : undefined;
    };
    const utf8 = (v: string | undefined) => (v ? Buffer.from(v, 'latin1').toString('utf8').slice(0, 998) : undefined);
    return {
      messageId: utf8(field('Message-ID')),
      subject: utf8(field('Subject')),
      // An app (or nodemailer) may MIME-encode a non-ASCII reference; it is indexed as the shop wrote it.
      reference: decodeWords(utf8(field('X-Order-Id') ?? field('X-Reference')))?.slice(0, 200),
      category: field('X-Mailgate-Category')?.slice(0, 64),
      toNames: displayNames(decodeWords(utf8(field('To')))),
    };
  }

  private canonicalise(chunk: Buffer): Buffer {
    let parts: Buffer[] | undefined;
    let start = 0;
    let i = 0;
    if (this.lastWasCR) {
      // The previous chunk ended with CR: a leading LF completes it; anything else means it was bare.
      if (chunk[0] !== LF) {
        parts = [Buffer.from('\n')];
      }
      this.lastWasCR = false;
      if (chunk[0] === LF) {
        i = 1;
      }
    }
    // Only the line ends are visited, found by native searches (a 1 MB body has some 14,000 of them,
    // not a million bytes to look at one by one); each search goes on from where the last one of its
    // kind stopped, so a body with LF only (no CR at all) is still read once.
    let cr = chunk.indexOf(CR, i);
    let lf = chunk.indexOf(LF, i);
    while (cr !== -1 || lf !== -1) {
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        if (cr + 1 === chunk.length) {
          this.lastWasCR = true; // decided with the next chunk (or at flush)
          break;
        }
        if (chunk[cr + 1] === LF) {
          i = cr + 2;
          lf = chunk.indexOf(LF, i);
        } else {
          (parts ??= []).push(chunk.subarray(start, cr + 1), Buffer.from('\n'));
          start = i = cr + 1;
        }
        cr = chunk.indexOf(CR, i);
      } else {
        // An LF without its CR.
        (parts ??= []).push(chunk.subarray(start, lf), CRLF);
        start = i = lf + 1;
        lf = chunk.indexOf(LF, i);
      }
    }
    if (!parts) return chunk;
    parts.push(chunk.subarray(start));
    return Buffer.concat(parts);
  }

  /** Breaks lines over MAX_LINE octets; input is canonical (CR only directly before LF). */
  private wrapLongLines(chunk: Buffer): Buffer {
    let parts: Buffer[] | undefined;
    let start = 0;
    let pos = 0;
    while (pos < chunk.length) {
      const lf = chunk.indexOf(LF, pos);
      const end = lf === -1 ? chunk.length : lf;
      while (this.lineLength + (end - pos) > MAX_LINE) {
        let at = pos + (MAX_LINE - this.lineLength);
        // The line ends right here with its CRLF (or its CR ended the previous chunk).
        if (at < pos || chunk[at] === CR) break;
        // Not inside a UTF-8 sequence (continuation bytes are 10xxxxxx).
        let b = at;
        while (b > pos && (chunk[b]! & 0xc0) === 0x80) b--;
        if (b > pos) at = b;
        (parts ??= []).push(chunk.subarray(start, at), this.inHeader ? FOLD : CRLF);
        start = at;
        pos = at;
        this.lineLength = this.inHeader ? 1 : 0;
      }
      if (lf === -1) {
        this.lineLength += end - pos;
        break;
      }
      const crBefore = lf > 0 ? chunk[lf - 1] === CR : this.lastByte === CR;
      if (this.inHeader && this.lineLength + (lf - pos) - (crBefore ? 1 : 0) === 0) this.inHeader = false; // the empty line ends the header
      this.lineLength = 0;
      pos = lf + 1;
    }
    if (chunk.length > 0) this.lastByte = chunk[chunk.length - 1]!;
    if (!parts) return chunk;
    parts.push(chunk.subarray(start));
    return Buffer.concat(parts);
  }

  private collectHeader(out: Buffer): void {
    const room = HEADER_SCAN_LIMIT - this.headerLength;
    const piece = out.subarray(0, room);
    this.headerBytes.push(piece);
    this.headerLength += piece.length;
    if (this.headerLength >= HEADER_SCAN_LIMIT || piece.includes('\r\n\r\n')) this.headerDone = true;
  }
}

function decodeWords(v: string | undefined): string | undefined {
  if (v === undefined || !v.includes('=?')) return v;
  try {
    return libmime.decodeWords(v);
  } catch {
    return v;
  }
}
