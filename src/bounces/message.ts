// One received message as the bounce reader sees it: decoded headers, the leaf parts, the
// notification's readable text (text parts in their charsets, HTML reduced to text), the
// machine-readable report parts and the returned original's header fields. Line ends are LF
// whatever the input used (CRLF, LF or CR only), so all three read the same. Pure.
import { findAddresses } from './addresses.js';
import { contentType, decodeText, headerText, mimeParts, parseHeaders, splitHead, type HeaderMap, type MimePart } from './mime-parts.js';

export interface MailView {
  headers: HeaderMap;
  /** First value of a header, decoded (encoded words, 8-bit UTF-8). */
  header(name: string): string | undefined;
  subject: string;
  /** The address in From:, lower case. */
  from?: string;
  /** The addresses in To:, lower case. */
  to: string[];
  parts: MimePart[];
  /** The notification's readable text: text parts (HTML as text when there is no plain part), LF line ends. */
  text: string;
  /** Header fields of the returned original message (attached, or inline in the text). */
  original?: HeaderMap;
  /** The media type of the whole message. */
  type: string;
  /** report-type of a multipart/report. */
  reportType?: string;
}

/** Message types that carry (the headers of) the returned original. */
export const ORIGINAL_TYPES = new Set(['message/rfc822', 'text/rfc822-headers', 'text/rfc822-header', 'message/global', 'message/global-headers', 'message/rfc822-headers', 'message/partial']);

/** A body as text, in the part's charset. */
export function partText(part: MimePart): string {
  return decodeText(part.body, part.params.charset).replace(/\r\n?/g, '\n');
}

/** HTML reduced to its text: enough to read a bounce that came as HTML only. */
export function htmlText(html: string): string {
  return html
    .replace(/<(style|script|head)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<br\s*\/?>|<\/(p|div|tr|li|h\d|table|blockquote)\s*>/gi, '\n')
    .replace(/<[^>]{0,2000}>/g, '')
    .replace(/&nbsp;/gi, ' ').replace(/&lt;/gi, '<').replace(/&gt;/gi, '>').replace(/&quot;/gi, '"').replace(/&#39;|&apos;/gi, "'")
    .replace(/&#(\d{1,6});/g, (_, n: string) => String.fromCodePoint(Math.min(Number(n), 0x10ffff)))
    .replace(/&amp;/gi, '&')
    .replace(/[ \t]+\n/g, '\n');
}

function lowerAddresses(value: string | undefined, limit: number): string[] {
  return value ? findAddresses(value, limit).map((a) => a.address.toLowerCase()) : [];
}

/** Reads a raw message (any line ends). Never throws. */
export function readMail(raw: Buffer): MailView {
  const text = raw.toString('latin1').replace(/\r\n?/g, '\n');
  const { head } = splitHead(text);
  const headers = parseHeaders(head);
  const { type, params } = contentType(headers);
  const parts = mimeParts(text);
  const readable: string[] = [];
  const html: string[] = [];
  let original: HeaderMap | undefined;
  for (const part of parts) {
    const disposition = part.headers.get('content-disposition')?.[0] ?? '';
    if (part.type === 'text/plain' || part.type === 'text' || (part.type.startsWith('text/') && !part.type.includes('html') && !ORIGINAL_TYPES.has(part.type) && !/^text\/(csv|calendar|x-vcard|vcard)/.test(part.type))) {
      // A text attachment that is itself a mail (some MTAs attach the original as text/plain) is the original.
      const t = partText(part);
      if (/^attachment/i.test(disposition) && /^(received|return-path|from|message-id|date|to|subject|mime-version):/im.test(t.slice(0, 200)) && readable.length > 0) {
        original ??= parseHeaders(splitHead(t).head);
        continue;
      }
      readable.push(t);
    } else if (part.type === 'text/html') {
      html.push(htmlText(partText(part)));
    } else if (ORIGINAL_TYPES.has(part.type) && !original) {
      original = parseHeaders(splitHead(decodeText(part.body).replace(/\r\n?/g, '\n')).head);
    }
  }
  const view: MailView = {
    headers,
    header: (name) => headerText(headers.get(name.toLowerCase())?.[0]),
    subject: (headerText(headers.get('subject')?.[0]) ?? '').replace(/\s+/g, ' ').trim(),
    to: lowerAddresses(headerText(headers.get('to')?.[0]), 50),
    parts,
    text: (readable.length > 0 ? readable : html).join('\n'),
    type,
    ...(params['report-type'] ? { reportType: params['report-type'].toLowerCase() } : {}),
    ...(original ? { original } : {}),
  };
  const from = lowerAddresses(view.header('from'), 1)[0];
  if (from) view.from = from;
  return view;
}

/** A header of the returned original (first value, decoded). */
export function originalHeader(view: MailView, name: string): string | undefined {
  return headerText(view.original?.get(name)?.[0]);
}
