// The bounce parser on the formats of common MTAs and providers (written from how each is
// documented to word its bounces), plus line-ending variants: one recipient each, class, reason, status.
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBounce } from '../src/bounces/parse.js';
import { parseFiles, splitMbox } from '../src/bounces/cli.js';
import { repoRoot } from './helpers/mailgate-process.js';

const dir = path.join(repoRoot, 'test/fixtures/bounce-samples');
const expected: Record<string, [string, string, string, string | undefined, string]> = {
  'exim.eml': ['anna.schmidt@example.org', 'hard', 'user-unknown', '5.1.1', 'non-standard'],
  'qmail.eml': ['ivan@example.com', 'soft', 'mailbox-full', '5.2.2', 'non-standard'],
  'sendmail.eml': ['bob@example.net', 'hard', 'host-unknown', '5.1.2', 'non-standard'],
  'exchange.eml': ['petra@contoso.com', 'hard', 'user-unknown', '5.1.10', 'non-standard'],
  // Gmail's "Address not found" headline without the remote's code or command: Gmail writes it for filters too.
  'gmail.eml': ['zzz.nobody@gmail.com', 'soft', 'filtered', undefined, 'non-standard'],
  'ooo.eml': ['klaus@example.de', 'auto-reply', 'out-of-office', undefined, 'auto-reply'],
  'yandex.eml': ['nikolay@yandex.ru', 'soft', 'mailbox-full', '5.2.2', 'non-standard'],
  'gmx.eml': ['lisa.m@web.de', 'hard', 'user-unknown', undefined, 'non-standard'],
  'mailru.eml': ['olga1985@mail.ru', 'hard', 'user-unknown', undefined, 'non-standard'],
  'yahoo.eml': ['jane.doe77@yahoo.com', 'hard', 'user-unknown', undefined, 'non-standard'],
  // "mailbox unavailable" with a generic 5.5.0 and no SMTP command: not proof that the address is gone.
  'o365.eml': ['max.m@outlook.com', 'soft', 'filtered', '5.5.0', 'dsn'],
  'courier.eml': ['paul@example.org', 'soft', 'mailbox-full', '5.0.0', 'dsn'],
};

describe('bounce formats', () => {
  for (const [file, [recipient, cls, reason, status, kind]] of Object.entries(expected)) {
    it(file, async () => {
      const raw = await fs.readFile(path.join(dir, file));
      for (const variant of [raw, Buffer.from(raw.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1'), Buffer.from(raw.toString('latin1').replace(/\r?\n/g, '\r'), 'latin1')]) {
        const report = await parseBounce(variant);
        expect(report.kind).toBe(kind);
        expect(report.recipients).toHaveLength(1);
        expect(report.recipients[0]).toMatchObject({ recipient, class: cls, reason, ...(status ? { status } : {}) });
      }
    });
  }

  it('a multi-recipient DSN gives each recipient its own verdict; an ordinary reply is none', async () => {
    const dsn = [
      'From: MAILER-DAEMON@mx.example.com', 'To: b-x@bounces.relay.test', 'Subject: Delivery Status Notification', 'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="X"', '', '--X', 'Content-Type: text/plain', '', 'see below', '',
      '--X', 'Content-Type: message/delivery-status', '', 'Reporting-MTA: dns; mx.example.com', '',
      'Final-Recipient: rfc822; a@example.com', 'Action: failed', 'Status: 5.1.1', 'Diagnostic-Code: smtp; 550 5.1.1 No such user', '',
      'Final-Recipient: rfc822; b@example.com', 'Action: delayed', 'Status: 4.2.2', 'Diagnostic-Code: smtp; 452 4.2.2 Mailbox full', '',
      'Final-Recipient: rfc822; c@example.com', 'Action: delivered', 'Status: 2.0.0', '', '--X--', '',
    ].join('\r\n');
    const r = await parseBounce(Buffer.from(dsn));
    expect(r.recipients.map((x) => [x.recipient, x.class, x.reason, x.status, x.action])).toEqual([
      ['a@example.com', 'hard', 'user-unknown', '5.1.1', 'failed'],
      ['b@example.com', 'soft', 'mailbox-full', '4.2.2', 'delayed'],
    ]);
    const reply = await parseBounce(Buffer.from('From: Anna <anna@example.com>\r\nTo: orders@shop.test\r\nSubject: Re: your order\r\n\r\nThanks, when will it ship?\r\n'));
    expect(reply.kind).toBe('none');
  });

  it('an ARF complaint names the complaining recipient and feedback type', async () => {
    const arf = [
      'From: feedback@fbl.mail.example', 'To: fbl@bounces.relay.test', 'Subject: complaint', 'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=feedback-report; boundary="F"', '', '--F', 'Content-Type: text/plain', '', 'This is an email abuse report', '',
      '--F', 'Content-Type: message/feedback-report', '', 'Feedback-Type: abuse', 'User-Agent: ExampleFBL/1.0', 'Version: 1', 'Original-Rcpt-To: <buyer@mail.example>', 'Source-IP: 192.0.2.10', '',
      '--F', 'Content-Type: message/rfc822', '', 'Message-ID: <orig-5@shop.test>', 'To: buyer@mail.example', 'Subject: offer', '', 'x', '--F--', '',
    ].join('\r\n');
    const r = await parseBounce(Buffer.from(arf));
    expect(r.kind).toBe('arf');
    expect(r.recipients).toEqual([expect.objectContaining({ recipient: 'buyer@mail.example', class: 'complaint', reason: 'abuse', feedbackType: 'abuse' })]);
    expect(r.original.messageId).toBe('<orig-5@shop.test>');
  });

  it('bounces parse reads mbox files and reports unreadable and empty input without failing', async () => {
    const mbox = Buffer.concat([Buffer.from('From MAILER-DAEMON Mon Nov 23 10:00:00 2026\n'), await fs.readFile(path.join(dir, 'qmail.eml')), Buffer.from('\nFrom someone Mon Nov 23 10:00:01 2026\n'), await fs.readFile(path.join(dir, 'ooo.eml'))]);
    expect(splitMbox(mbox)).toHaveLength(2);
    const lines: string[] = [];
    const tmp = path.join(repoRoot, 'test/fixtures/bounce-samples');
    await parseFiles([path.join(tmp, 'gmx.eml'), '/nonexistent/file.eml'], (l) => lines.push(l));
    expect(JSON.parse(lines[0]!)).toMatchObject({ recipient: 'lisa.m@web.de', class: 'hard', reason: 'user-unknown' });
    expect(JSON.parse(lines[1]!)).toMatchObject({ file: '/nonexistent/file.eml', error: expect.stringMatching(/^cannot read/) });
  });
});
