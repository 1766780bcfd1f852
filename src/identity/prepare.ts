// prepare: turns a spooled message into what goes on the wire — sender identity decided and
// applied to the header (From/Reply-To, Bcc removed, Message-ID added, our Received line), then
// DKIM-signed. Reads only the header into memory; the body streams from the spool twice (hash, send).
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import { Readable } from 'node:stream';
import { bodyHash, signatures, type SigningThread } from './dkim.js';
import { fieldValue, findField, makeField, serializeHeader, splitHeader, type HeaderField } from '../header-fields.js';
import { decideIdentity, type IdentityInput, type IdentityPlan } from './sender-policy.js';

/** Header blocks larger than this are not parsed further (the rest is treated as body). */
const MAX_HEAD = 256 * 1024;
/** The first read for the header: most headers end well within it, so a large message is not read twice over. */
const FIRST_HEAD = 16 * 1024;
/** Chunk size of the body streams: fewer, larger reads and writes for big messages (2 × 256 KiB in flight per transaction at most). */
const BODY_CHUNK = 256 * 1024;

export type BodySource =
  | { kind: 'buffer'; data: Uint8Array }
  | { kind: 'file'; path: string; start: number; length: number };

export interface TraceInfo {
  queueId: string;
  /** The MAC tag of the Message-ID we add when the message has none (verp.ts messageIdTag). */
  messageIdTag?: string;
  hostname: string;
  helo?: string;
  ip?: string;
  authenticated: boolean;
  secure: boolean;
  recipient?: string;
  date: number;
}

export interface PreparedMessage {
  plan: IdentityPlan;
  /** The Message-ID we added because the message had none. */
  addedMessageId?: string;
  /** The message as sent, once per transaction (a fresh stream each call for spooled bodies). */
  open(): Readable | Buffer;
}

function rfc5322Date(ms: number): string {
  return new Date(ms).toUTCString().replace('GMT', '+0000');
}

export function receivedField(t: TraceInfo): HeaderField {
  const helo = (t.helo ?? 'unknown').replace(/[^A-Za-z0-9.\-[\]:_]/g, '').slice(0, 255) || 'unknown';
  const proto = `ESMTP${t.secure ? 'S' : ''}${t.authenticated ? 'A' : ''}`;
  const from = t.ip ? `from ${helo} ([${t.ip.replace(/[^0-9a-fA-F.:]/g, '')}])` : `from ${helo}`;
  const rcpt = t.recipient ? `\r\n\tfor <${t.recipient.replace(/[\r\n<>]/g, '')}>` : '';
  return { key: 'received', raw: `Received: ${from}\r\n\tby ${t.hostname} (mailgate) with ${proto} id ${t.queueId}${rcpt}; ${rfc5322Date(t.date)}\r\n` };
}

/** Header fields for mailgate only: never sent on. */
const INTERNAL = new Set(['bcc', 'x-mailgate-category']);

/** Applies an identity plan and trace data to a parsed header; `extra` fields (List-Unsubscribe) replace the app's of the same name. */
export function rewriteHeader(fields: HeaderField[], plan: IdentityPlan, trace: TraceInfo, extra: HeaderField[] = []): HeaderField[] {
  const replaced = new Set(extra.map((f) => f.key));
  const out = fields.filter((f) => !INTERNAL.has(f.key) && !replaced.has(f.key));
  out.push(...extra);
  if (plan.from) {
    const i = out.findIndex((f) => f.key === 'from');
    const field = makeField('From', plan.from);
    if (i >= 0) out.splice(i, 1, field);
    else out.push(field);
    // A second From would let the original sender show through: keep only ours.
    for (let j = out.length - 1; j >= 0; j--) if (out[j]!.key === 'from' && out[j] !== field) out.splice(j, 1);
  }
  if (plan.replyTo && !findField(out, 'reply-to')) {
    const at = out.findIndex((f) => f.key === 'from');
    out.splice(at + 1, 0, makeField('Reply-To', plan.replyTo));
  }
  if (!findField(out, 'message-id')) out.push(makeField('Message-ID', `<${trace.queueId.toLowerCase()}${trace.messageIdTag ? `.${trace.messageIdTag}` : ''}@${plan.idDomain}>`));
  if (!findField(out, 'date')) out.push(makeField('Date', rfc5322Date(trace.date)));
  return [receivedField(trace), ...out];
}

async function readHead(source: BodySource): Promise<Buffer> {
  if (source.kind === 'buffer') return Buffer.from(source.data.buffer, source.data.byteOffset, Math.min(source.data.byteLength, MAX_HEAD));
  const fh = await fs.open(source.path, 'r');
  try {
    const read = async (size: number) => {
      const buf = Buffer.allocUnsafe(Math.min(source.length, size));
      const { bytesRead } = await fh.read(buf, 0, buf.length, source.start);
      return buf.subarray(0, bytesRead);
    };
    const first = await read(FIRST_HEAD);
    // The header ends in the first read (or the message is shorter): done; else read up to MAX_HEAD.
    return first.length < FIRST_HEAD || first.indexOf('\r\n\r\n') >= 0 || first.subarray(0, 2).toString('latin1') === '\r\n' ? first : read(MAX_HEAD);
  } finally {
    await fh.close();
  }
}

function bodyFrom(source: BodySource, offset: number): () => Readable | Buffer {
  if (source.kind === 'buffer') {
    const data = Buffer.from(source.data.buffer, source.data.byteOffset, source.data.byteLength).subarray(offset);
    return () => data;
  }
  const start = source.start + offset;
  const end = source.start + source.length - 1;
  return () => (end < start ? Readable.from([]) : createReadStream(source.path, { start, end, highWaterMark: BODY_CHUNK }));
}

export async function prepareMessage(source: BodySource, identity: IdentityInput, trace: TraceInfo, extra: HeaderField[] = [], signing: SigningThread = 'caller'): Promise<PreparedMessage> {
  const head = await readHead(source);
  const { fields, bodyOffset } = splitHeader(head);
  const plan = decideIdentity(fields, identity);
  const header = rewriteHeader(fields, plan, trace, extra);
  const added = findField(fields, 'message-id') ? undefined : findField(header, 'message-id');
  const body = bodyFrom(source, bodyOffset);
  const sigs = plan.signers.length > 0 ? await signatures(header, await bodyHash(body()), plan.signers, new Date(trace.date), signing) : [];
  const top = Buffer.concat([Buffer.from(sigs.join(''), 'latin1'), serializeHeader(header)]);
  return {
    plan,
    ...(added ? { addedMessageId: fieldValue(added).trim() } : {}),
    open() {
      const b = body();
      if (Buffer.isBuffer(b)) return Buffer.concat([top, b]);
      return Readable.from((async function* () {
        yield top;
        yield* b;
      })());
    },
  };
}
