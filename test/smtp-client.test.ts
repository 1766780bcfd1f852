// One SMTP transaction with several recipients against a real sink: each recipient gets the
// upstream's own answer, matched by the address as it went on the wire (IDN in punycode).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { sendTransaction, type SmtpTransport } from '../src/delivery/smtp-client.js';
import { startSink, type Sink } from './helpers/smtp-sink.js';

describe('sendTransaction', () => {
  let sink: Sink;
  let transport: SmtpTransport;
  beforeAll(async () => {
    sink = await startSink({ rcptReply: (r) => (r.startsWith('nobody@') ? { code: 550, message: '5.1.1 User unknown' } : r.startsWith('later@') ? { code: 450, message: '4.2.0 Greylisted' } : undefined) });
    transport = nodemailer.createTransport({ host: "127.0.0.1", port: sink.port, secure: false, ignoreTLS: true }) as unknown as SmtpTransport;
  });
  afterAll(async () => {
    transport.close();
    await sink.close();
  });

  it('fails a rejected internationalised recipient and delivers the others of the same transaction', async () => {
    const results = await sendTransaction(transport, { from: 'a@shop.test', to: ['nobody@müller.example', 'max@müller.example', 'later@example.test'] }, Buffer.from('Subject: x\r\n\r\nx\r\n'), 'up');
    expect(results.map((r) => [r.recipient, r.outcome, r.reply.code])).toEqual([
      ['nobody@müller.example', 'failed', 550],
      ['max@müller.example', 'delivered', 250],
      ['later@example.test', 'deferred', 450],
    ]);
    expect(sink.messages.at(-1)!.to).toEqual(['max@müller.example']);
  });
});
