// The one reader of a message's header block (CRLF): a list of raw fields, split off the body, look
// up, add, serialize. Raw bytes are kept (latin1 round-trips every byte), so untouched fields go out
// exactly as they came. Pure; imports nothing.

export interface HeaderField {
  /** Lower-case field name. */
  key: string;
  /** The whole field, folded lines included, ending in CRLF. */
  raw: string;
}

export interface SplitMessage {
  fields: HeaderField[];
  /** Byte offset where the body starts (after the blank line), or the message length when there is none. */
  bodyOffset: number;
  /** False when no blank line was found: the message is all header. */
  hasBody: boolean;
}

/** Splits a canonical (CRLF) message head into fields. `head` must contain the whole header block. */
export function splitHeader(head: Buffer): SplitMessage {
  const end = head.indexOf('\r\n\r\n');
  const startsBlank = head.subarray(0, 2).toString('latin1') === '\r\n';
  const blockEnd = startsBlank ? 0 : end >= 0 ? end + 2 : head.length;
  const bodyOffset = startsBlank ? 2 : end >= 0 ? end + 4 : head.length;
  const text = head.subarray(0, blockEnd).toString('latin1');
  const fields: HeaderField[] = [];
  for (const line of text.split(/(?<=\r\n)/)) {
    if (line === '') continue;
    if ((line.startsWith(' ') || line.startsWith('\t')) && fields.length > 0) {
      fields[fields.length - 1]!.raw += line;
      continue;
    }
    const colon = line.indexOf(':');
    const key = (colon > 0 ? line.slice(0, colon) : line).trim().toLowerCase();
    fields.push({ key, raw: line.endsWith('\r\n') ? line : `${line}\r\n` });
  }
  return { fields, bodyOffset, hasBody: startsBlank || end >= 0 };
}

/** The unfolded value of a field (latin1 text, so 8-bit bytes survive), without the name. */
export function fieldValue(field: HeaderField): string {
  const colon = field.raw.indexOf(':');
  return field.raw.slice(colon + 1).replace(/\r\n(?=[ \t])/g, '').replace(/\r\n$/, '').trim();
}

export function findField(fields: HeaderField[], key: string): HeaderField | undefined {
  return fields.find((f) => f.key === key);
}

/** A header field line from a name and a value; CR and LF in the value are replaced, so no value can start a new field. */
export function makeField(name: string, value: string): HeaderField {
  const clean = value.replace(/[\r\n]+/g, ' ');
  return { key: name.toLowerCase(), raw: `${name}: ${clean}\r\n` };
}

export function serializeHeader(fields: HeaderField[]): Buffer {
  return Buffer.from(`${fields.map((f) => f.raw).join('')}\r\n`, 'latin1');
}
