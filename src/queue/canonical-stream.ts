// Line-ending canonicalisation of incoming message bodies, and a light header scan.
// Every bare LF or bare CR becomes CRLF before the body reaches the spool, so what we relay can
// never be split into two messages by an upstream that treats "\n.\n" as end of data (SMTP
// smuggling), and DKIM later signs exactly what is sent.
import { Transform, type TransformCallback } from 'node:stream';

const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n');
/** Header bytes kept for the scan; headers beyond this are still relayed, just not scanned. */
const HEADER_SCAN_LIMIT = 64 * 1024;

export interface ScannedHeaders {
  messageId?: string;
  subject?: string;
  /** The shop's own reference: X-Order-Id, else X-Reference. */
  reference?: string;
  /** X-Mailgate-Category, set by the app. */
  category?: string;
}

export class CanonicalStream extends Transform {
  private lastWasCR = false;
  private headerBytes: Buffer[] = [];
  private headerLength = 0;
  private headerDone = false;
  /** Bytes emitted (after canonicalisation). */
  bytes = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const out = this.canonicalise(chunk);
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
    const text = Buffer.concat(this.headerBytes).toString('latin1');
    const end = text.indexOf('\r\n\r\n');
    const block = (end >= 0 ? text.slice(0, end) : text).replace(/\r\n[ \t]+/g, ' ');
    const field = (name: string): string | undefined => {
      const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(block);
      return m ? m[1]!.trim() : undefined;
    };
    const utf8 = (v: string | undefined) => (v ? Buffer.from(v, 'latin1').toString('utf8').slice(0, 998) : undefined);
    return {
      messageId: utf8(field('Message-ID')),
      subject: utf8(field('Subject')),
      reference: utf8(field('X-Order-Id') ?? field('X-Reference'))?.slice(0, 200),
      category: field('X-Mailgate-Category')?.slice(0, 64),
    };
  }

  private canonicalise(chunk: Buffer): Buffer {
    // Fast path: no CR or LF that is not part of a CRLF pair.
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
    for (; i < chunk.length; i++) {
      const c = chunk[i];
      if (c === CR) {
        if (i + 1 === chunk.length) {
          this.lastWasCR = true; // decided with the next chunk (or at flush)
        } else if (chunk[i + 1] === LF) {
          i++;
        } else {
          (parts ??= []).push(chunk.subarray(start, i + 1), Buffer.from('\n'));
          start = i + 1;
        }
      } else if (c === LF) {
        (parts ??= []).push(chunk.subarray(start, i), CRLF);
        start = i + 1;
      }
    }
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
