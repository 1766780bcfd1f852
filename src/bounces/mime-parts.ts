// A small MIME walker for the machine-readable parts of reports (message/delivery-status,
// message/feedback-report, the returned message), which mailparser folds into its text output.
// Tolerant: a missing closing boundary or a broken header still yields the parts it can find.

export interface MimePart {
  contentType: string;
  headers: string;
  /** Decoded body (base64 / quoted-printable undone), as latin1-safe text. */
  body: string;
}

function header(block: string, name: string): string | undefined {
  return new RegExp(`^${name}:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, 'im').exec(block)?.[1]?.replace(/\r?\n[ \t]+/g, ' ').trim();
}

function decode(body: string, encoding: string | undefined): string {
  const enc = (encoding ?? '').toLowerCase();
  if (enc === 'base64') return Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64').toString('utf8');
  if (enc === 'quoted-printable') {
    const bytes = Buffer.from(body.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
    return bytes.toString('utf8');
  }
  return Buffer.from(body, 'latin1').toString('utf8');
}

/** Every leaf part of a (CRLF) message, depth-first; message/* parts are not descended into. */
export function mimeParts(raw: string, depth = 0): MimePart[] {
  const split = /\r?\n\r?\n/.exec(raw);
  const headers = split ? raw.slice(0, split.index) : raw;
  const body = split ? raw.slice(split.index + split[0].length) : '';
  const ctype = header(headers, 'Content-Type') ?? 'text/plain';
  const type = ctype.split(';')[0]!.trim().toLowerCase();
  const boundary = /boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(ctype);
  if (type.startsWith('multipart/') && boundary && depth < 5) {
    const b = (boundary[1] ?? boundary[2])!;
    const esc = b.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const pieces = body.split(new RegExp(`(?:^|\\r?\\n)--${esc}(?:--)?[ \\t]*(?=\\r?\\n|$)`));
    return pieces.slice(1).filter((p) => p.trim().length > 0).flatMap((p) => mimeParts(p.replace(/^\r?\n/, ''), depth + 1));
  }
  return [{ contentType: type, headers, body: decode(body, header(headers, 'Content-Transfer-Encoding')) }];
}
