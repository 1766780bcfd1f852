// Pure parts of the queue: retry policy, reply parsing, line-ending canonicalisation.
import { PassThrough, Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { applyAttempt, expire, retryDelay } from '../src/queue/retry.js';
import { judgeError, parseReply } from '../src/delivery/reply.js';
import { CanonicalStream } from '../src/queue/canonical-stream.js';
import { pipeInto } from '../src/queue/pipe-into.js';
import { isValidAddress } from '../src/config/formats.js';
import type { MessageRecord } from '../src/store/records.js';
import type { RecipientResult } from '../src/queue/delivery-result.js';

const MIN = 60_000;
const policy = { retrySchedule: [MIN, 5 * MIN, 15 * MIN], maxAge: 60 * MIN };

function record(to: string[], over: Partial<MessageRecord> = {}): MessageRecord {
  return {
    id: 'M1', tenant: 't', createdAt: 0, dueAt: 0, attempts: 0, envelope: { from: 'a@x.test', to },
    recipients: to.map((address) => ({ address, status: 'queued', attempts: 0, updatedAt: 0 })),
    size: 10, body: { kind: 'segment', segment: 1, offset: 0, length: 10 }, source: { kind: 'smtp' }, state: 'queued', ...over,
  };
}
const res = (recipient: string, code: number, outcome: RecipientResult['outcome']): RecipientResult =>
  ({ recipient, outcome, reply: { code, text: 't' }, upstream: 'up' });

describe('retry policy', () => {
  it('walks the schedule, repeats its last step, and jitters by ±10%', () => {
    expect(retryDelay(1, policy.retrySchedule, () => 0.5)).toBe(MIN);
    expect(retryDelay(2, policy.retrySchedule, () => 0.5)).toBe(5 * MIN);
    expect(retryDelay(9, policy.retrySchedule, () => 0.5)).toBe(15 * MIN);
    expect(retryDelay(1, policy.retrySchedule, () => 0)).toBe(0.9 * MIN);
    expect(retryDelay(1, policy.retrySchedule, () => 1)).toBe(1.1 * MIN);
  });

  it('keeps each recipient apart: delivered, failed and deferred in one attempt', () => {
    const { record: r, events } = applyAttempt(record(['a@x', 'b@x', 'c@x']), [res('a@x', 250, 'delivered'), res('b@x', 550, 'failed'), res('c@x', 451, 'deferred')], 1000, policy, () => 0.5);
    expect(r.recipients.map((x) => x.status)).toEqual(['delivered', 'failed', 'deferred']);
    expect(events.map((e) => e.type)).toEqual(['delivered', 'failed', 'deferred']);
    expect(r.state).toBe('queued');
    expect(r.dueAt).toBe(1000 + MIN);
    expect(r.attempts).toBe(1);
  });

  it('is done when no recipient is pending', () => {
    const { record: r } = applyAttempt(record(['a@x']), [res('a@x', 250, 'delivered')], 5, policy);
    expect(r.state).toBe('done');
    expect(r.dueAt).toBe(0);
  });

  it('never schedules past maxAge, and a deferral at maxAge expires', () => {
    const late = applyAttempt(record(['a@x'], { attempts: 3 }), [res('a@x', 451, 'deferred')], 55 * MIN, policy, () => 0.5);
    expect(late.record.dueAt).toBe(60 * MIN);
    const expired = applyAttempt(late.record, [res('a@x', 451, 'deferred')], 60 * MIN, policy);
    expect(expired.record.state).toBe('done');
    expect(expired.events[0]).toMatchObject({ type: 'expired', code: 'MESSAGE_EXPIRED', reply: { code: 451 } });
  });

  it('expire() fails only the pending recipients, keeping their last reply', () => {
    const rec = record(['a@x', 'b@x']);
    rec.recipients[0]!.status = 'delivered';
    rec.recipients[1]!.lastReply = { code: 421, text: 'try later' };
    const { record: r, events } = expire(rec, 99);
    expect(r.recipients.map((x) => x.status)).toEqual(['delivered', 'failed']);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ recipient: 'b@x', reply: { code: 421 } });
  });
});

describe('SMTP replies', () => {
  it('splits code, enhanced code and text, joining multi-line replies', () => {
    expect(parseReply('550 5.1.1 <x@y>: Recipient address rejected')).toEqual({ code: 550, enhanced: '5.1.1', text: '<x@y>: Recipient address rejected' });
    expect(parseReply('452-4.2.2 The email account that you tried to reach is over quota.\r\n452 4.2.2 Please direct the recipient to https://support.example'))
      .toEqual({ code: 452, enhanced: '4.2.2', text: 'The email account that you tried to reach is over quota. Please direct the recipient to https://support.example' });
    expect(parseReply('250 OK id=1abc')).toEqual({ code: 250, text: 'OK id=1abc' });
  });

  it('defers network, TLS and upstream-auth problems instead of failing the recipient', () => {
    // "Too many recipients" is temporary even from a legacy server answering 552 (RFC 5321 4.5.3.1.10).
    expect(judgeError(Object.assign(new Error('x'), { responseCode: 552, response: '552 5.5.3 Too many recipients', command: 'RCPT TO' }), 'up')).toMatchObject({ outcome: 'deferred', code: 'UPSTREAM_DEFERRED' });
    expect(judgeError(Object.assign(new Error('x'), { responseCode: 550, response: '550 Too many recipients for this message', command: 'RCPT TO' }), 'up')).toMatchObject({ outcome: 'deferred' });
    expect(judgeError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ESOCKET' }), 'up')).toMatchObject({ outcome: 'deferred', code: 'UPSTREAM_UNREACHABLE' });
    expect(judgeError(Object.assign(new Error('Invalid login'), { code: 'EAUTH', responseCode: 535, response: '535 5.7.8 Error: authentication failed' }), 'up'))
      .toMatchObject({ outcome: 'deferred', code: 'UPSTREAM_AUTH_FAILED', reply: { code: 535, enhanced: '5.7.8' } });
    expect(judgeError(Object.assign(new Error('x'), { code: 'EMESSAGE', responseCode: 554, response: '554 5.7.1 Spam message rejected' }), 'up'))
      .toMatchObject({ outcome: 'failed', code: 'UPSTREAM_REJECTED' });
  });
});

async function canonical(chunks: string[]): Promise<{ out: string; stream: CanonicalStream }> {
  const stream = new CanonicalStream();
  const parts: Buffer[] = [];
  Readable.from(chunks.map((c) => Buffer.from(c, 'latin1'))).pipe(stream);
  for await (const c of stream) parts.push(c as Buffer);
  return { out: Buffer.concat(parts).toString('latin1'), stream };
}

describe('canonical line endings', () => {
  it('breaks lines over 998 octets: header lines folded, body lines split, never a CRLF or a UTF-8 character, across chunks', async () => {
    const longHeader = `X-Long: ${'h'.repeat(2500)}`;
    const longBody = 'b'.repeat(2100);
    const exact = 'e'.repeat(998);
    const utf8 = Buffer.from(`${'u'.repeat(997)}äx`, 'utf8').toString('latin1');
    const msg = `Subject: s\r\n${longHeader}\r\n\r\n${longBody}\r\n${exact}\r\n${utf8}\r\n`;
    // Split into odd chunks, one of them between a CR and its LF.
    const at = msg.indexOf(exact) + 998 + 1;
    const { out } = await canonical([msg.slice(0, 700), msg.slice(700, 3000), msg.slice(3000, at), msg.slice(at)]);
    const lines = out.split('\r\n');
    expect(lines.every((l) => Buffer.byteLength(l, 'latin1') <= 998)).toBe(true);
    expect(out).not.toMatch(/\r(?!\n)|(?<!\r)\n/);
    const [head, body] = [out.slice(0, out.indexOf('\r\n\r\n')), out.slice(out.indexOf('\r\n\r\n') + 4)];
    // Unfolding the header gives the value back with a space at each fold; the body loses nothing but gains line breaks.
    expect(head.replace(/\r\n /g, '')).toBe(`Subject: s\r\n${longHeader}`);
    expect(body.split('\r\n').slice(0, 3).join('')).toBe(longBody);
    expect(body).toContain(`\r\n${exact}\r\n`);
    // The 2-byte ä is kept whole on the next line.
    expect(Buffer.from(body.split('\r\n').slice(4, 6).join('\n'), 'latin1').toString('utf8')).toBe(`${'u'.repeat(997)}\näx`);
  });

  it('turns bare LF and bare CR into CRLF, including across chunk boundaries', async () => {
    expect((await canonical(['a\nb\rc\r\nd'])).out).toBe('a\r\nb\r\nc\r\nd');
    expect((await canonical(['a\r', '\nb\r', 'c\r'])).out).toBe('a\r\nb\r\nc\r\n');
    expect((await canonical(['\n.\n'])).out).toBe('\r\n.\r\n');
  });

  it('gives what one pass over the whole text gives, for 2,000 generated mixes of CR, LF and CRLF cut at random places', async () => {
    let seed = 5;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const pieces = ['\r', '\n', '\r\n', 'a', 'bc', '.', ' ', '\r\r', '\n\n'];
    for (let n = 0; n < 2000; n++) {
      const text = Array.from({ length: Math.floor(random() * 30) }, () => pieces[Math.floor(random() * pieces.length)]).join('');
      const chunks: string[] = [];
      for (let at = 0; at < text.length;) {
        const size = 1 + Math.floor(random() * 5);
        chunks.push(text.slice(at, at + size));
        at += size;
      }
      expect((await canonical(chunks)).out, JSON.stringify(chunks)).toBe(text.replace(/\r\n|\r|\n/g, '\r\n'));
    }
  });

  it('leaves a CRLF message byte for byte the same and counts its bytes', async () => {
    const msg = 'Subject: x\r\n\r\nbody\r\n';
    const { out, stream } = await canonical([msg.slice(0, 7), msg.slice(7)]);
    expect(out).toBe(msg);
    expect(stream.bytes).toBe(msg.length);
  });

  it('finds Message-ID and Subject in folded headers', async () => {
    const { stream } = await canonical(['Subject: Your\r\n order\r\nmessage-id:\r\n <abc@shop>\r\n\r\nMessage-ID: <not-this>\r\n']);
    expect(stream.headers()).toEqual({ subject: 'Your order', messageId: '<abc@shop>' });
  });
});

describe('a body piped into the queue', () => {
  const sink = (opts: { failAt?: number } = {}) => {
    const got: Buffer[] = [];
    let n = 0;
    const w = new Writable({ write(chunk: Buffer, _e, cb) { n++; if (opts.failAt === n) return cb(new Error('disk said no')); got.push(chunk); cb(); } });
    return { w, got };
  };

  it('resolves once the writable has everything', async () => {
    const { w, got } = sink();
    let finishedFirst = false;
    w.on('finish', () => { finishedFirst = true; });
    await pipeInto(Readable.from([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]), w);
    expect(finishedFirst).toBe(true);
    expect(Buffer.concat(got).toString()).toBe('abc');
    // an error the source emits after its end has a listener (an unhandled one would end the process)
    const late = new PassThrough();
    const done = pipeInto(late, sink().w);
    late.end('x');
    await done;
    const seen: unknown[] = [];
    process.once('uncaughtException', (e) => seen.push(e));
    late.emit('error', new Error('torn down later'));
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toEqual([]);
  });

  it('rejects and destroys both when the source fails or closes early, and when the writable fails', async () => {
    const src = new PassThrough();
    const { w } = sink();
    const p = pipeInto(src, w);
    src.write('part');
    src.destroy(new Error('client went away'));
    await expect(p).rejects.toThrow('client went away');
    expect(w.destroyed).toBe(true);

    const early = new PassThrough();
    const w2 = sink().w;
    const p2 = pipeInto(early, w2);
    early.write('part');
    early.destroy();
    await expect(p2).rejects.toThrow(/premature close/i);
    expect(w2.destroyed).toBe(true);

    const src3 = new PassThrough();
    const p3 = pipeInto(src3, sink({ failAt: 2 }).w);
    src3.write('one');
    src3.write('two');
    await expect(p3).rejects.toThrow('disk said no');
    expect(src3.destroyed).toBe(true);
  });
});

describe('envelope addresses', () => {
  it('accepts ordinary and UTF-8 addresses and refuses junk', () => {
    for (const a of ['buyer@example.com', 'käufer@bücher.example', 'a+tag@sub.example.co.uk']) expect(isValidAddress(a), a).toBe(true);
    for (const a of ['x@[127.0.0.1]', 'x@[foo]', '', 'no-at', '@example.com', 'a@', 'a b@example.com', 'a@example', 'a@-bad-.com', `${'x'.repeat(65)}@example.com`, 'a@exa\r\nmple.com']) {
      expect(isValidAddress(a), a).toBe(false);
    }
  });
});

describe('error codes at the edges', () => {
  it('a submission error keeps its meaning over SMTP and HTTP', async () => {
    const { smtpReplyFor, httpStatusFor } = await import('../src/error-codes.js');
    expect(smtpReplyFor('TOO_MANY_RECIPIENTS', 'too many recipients (limit 100)')).toEqual([452, '4.5.3 too many recipients (limit 100)']);
    expect(smtpReplyFor('INVALID_RECIPIENT', 'invalid recipient address: x')).toEqual([553, '5.1.3 invalid recipient address: x']);
    expect(smtpReplyFor('BODY_GONE', 'gone')).toEqual([550, '5.5.0 gone']);
    expect([httpStatusFor('NOT_FOUND'), httpStatusFor('BODY_GONE'), httpStatusFor('QUOTA_EXCEEDED'), httpStatusFor('READ_ONLY')]).toEqual([404, 410, 429, 409]);
  });
});
