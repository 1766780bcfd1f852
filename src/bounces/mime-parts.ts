// A small, tolerant MIME walker for reports: headers, the leaves of a message with their bodies
// transfer-decoded to bytes, and text in its declared charset (libmime: the decoder mailparser is
// built on, ISO-2022-JP included). Bounces are often broken: a boundary that the body does not use,
// a missing closing delimiter, 8-bit headers, bare CR or LF. Every loop is bounded (parts, depth,
// header lines), and input is a latin1 string (one char per byte) with LF line ends. Pure.
import libmime from 'libmime';
import charsets from 'libmime/lib/charset.js';

export type HeaderMap = Map<string, string[]>;

export interface MimePart {
  /** Lower-case media type ("message/delivery-status"). */
  type: string;
  /** Content-Type parameters (charset, boundary, report-type). */
  params: Record<string, string>;
  headers: HeaderMap;
  /** The body, transfer encoding undone. */
  body: Buffer;
}

const MAX_PARTS = 200;
const MAX_DEPTH = 8;
const MAX_HEADER_LINES = 1000;

/** Splits "headers\n\nbody" (LF text). */
export function splitHead(raw: string): { head: string; body: string } {
  if (raw.startsWith('\n')) return { head: '', body: raw.slice(1) };
  const i = raw.indexOf('\n\n');
  return i < 0 ? { head: raw, body: '' } : { head: raw.slice(0, i), body: raw.slice(i + 2) };
}

/** Header fields by lower-case name, values unfolded (raw bytes as latin1; see headerText). */
export function parseHeaders(head: string): HeaderMap {
  const map: HeaderMap = new Map();
  let name: string | undefined;
  let value = '';
  const flush = () => {
    if (name === undefined) return;
    const list = map.get(name);
    if (list) list.push(value.trim());
    else map.set(name, [value.trim()]);
  };
  let lines = 0;
  for (const line of head.split('\n')) {
    if (++lines > MAX_HEADER_LINES) break;
    if ((line.startsWith(' ') || line.startsWith('\t')) && name !== undefined) {
      if (value.length < 16_384) value += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0 || colon > 76 || !/^[!-9;-~]+$/.test(line.slice(0, colon).trimEnd())) {
      // A continuation that lost its indent ("boundary=…" on a line of its own): keep it with its field.
      if (name !== undefined && line.trim() && value.length < 16_384) value += ` ${line.trim()}`;
      continue;
    }
    flush();
    name = line.slice(0, colon).trimEnd().toLowerCase();
    value = line.slice(colon + 1);
  }
  flush();
  return map;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes as text: the declared charset, else UTF-8 when valid, ISO-2022-JP when it has its escapes, else latin1. */
export function decodeText(bytes: Buffer, charset?: string): string {
  if (charset && !/^(us-)?ascii$|^utf-?8$/i.test(charset)) {
    try {
      return charsets.decode(bytes, charset);
    } catch {
      // An unknown charset: guess below.
    }
  }
  try {
    return utf8.decode(bytes);
  } catch {
    if (bytes.includes('\x1b$B') || bytes.includes('\x1b$@')) return charsets.decode(bytes, 'ISO-2022-JP');
    return bytes.toString('latin1');
  }
}

/** A header value as text: 8-bit bytes as UTF-8 when they are, encoded words decoded. */
export function headerText(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const text = /[\x80-\xff]/.test(value) ? decodeText(Buffer.from(value, 'latin1')) : value;
  if (!text.includes('=?')) return text;
  try {
    return libmime.decodeWords(text);
  } catch {
    return text;
  }
}

export function contentType(headers: HeaderMap): { type: string; params: Record<string, string> } {
  const raw = headers.get('content-type')?.[0];
  if (!raw) return { type: 'text/plain', params: {} };
  try {
    const parsed = libmime.parseHeaderValue(raw.slice(0, 2000));
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(parsed.params)) if (typeof v === 'string') params[k.toLowerCase()] = v;
    return { type: parsed.value.toLowerCase().trim() || 'text/plain', params };
  } catch {
    return { type: raw.split(';')[0]!.trim().toLowerCase() || 'text/plain', params: {} };
  }
}

function decodeQuotedPrintable(body: string): Buffer {
  return Buffer.from(body.replace(/=[ \t]*\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
}

function decodeBody(body: string, encoding: string | undefined): Buffer {
  const enc = (encoding ?? '').trim().toLowerCase();
  if (enc === 'base64') return Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  if (enc === 'quoted-printable') return decodeQuotedPrintable(body);
  return Buffer.from(body, 'latin1');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The delimiter lines of a multipart body: the declared boundary, or, when the body does not use it, the one it does use. */
function delimiterFor(body: string, declared: string | undefined): string | undefined {
  if (declared && body.includes(`--${declared}`)) return declared;
  // A boundary the header got wrong (or lost): a "--token" line that recurs.
  const seen = new Map<string, number>();
  for (const m of body.matchAll(/^--(\S{5,70}?)(?:--)?[ \t]*$/gm)) {
    const n = (seen.get(m[1]!) ?? 0) + 1;
    if (n >= 2) return m[1]!;
    seen.set(m[1]!, n);
    if (seen.size > 50) break;
  }
  return undefined;
}

/** Every leaf part of a message (LF text, latin1), depth-first; message/* parts are leaves too. */
export function mimeParts(raw: string): MimePart[] {
  const out: MimePart[] = [];
  const walk = (text: string, depth: number, inherited?: HeaderMap) => {
    if (out.length >= MAX_PARTS) return;
    const { head, body } = splitHead(text);
    const headers = inherited ?? parseHeaders(head);
    const { type, params } = contentType(headers);
    if (type.startsWith('multipart/') && depth < MAX_DEPTH) {
      const boundary = delimiterFor(body, params.boundary);
      if (boundary) {
        const esc = escapeRegExp(boundary);
        // Up to the closing delimiter (the epilogue is not a part); without one, to the end.
        const close = body.search(new RegExp(`(?:^|\\n)--${esc}--`));
        const pieces = (close >= 0 ? body.slice(0, close) : body).split(new RegExp(`(?:^|\\n)--${esc}[ \\t]*(?=\\n|$)`));
        for (const piece of pieces.slice(1)) {
          if (piece.trim().length > 0) walk(piece.replace(/^\n/, ''), depth + 1);
          if (out.length >= MAX_PARTS) return;
        }
        return;
      }
    }
    out.push({ type, params, headers, body: decodeBody(body, headers.get('content-transfer-encoding')?.[0]) });
  };
  walk(raw, 0);
  return out;
}
