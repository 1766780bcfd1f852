// The failure classifier on the wordings MTAs and providers use (status, reply code, text).
import { describe, expect, it } from 'vitest';
import { classifyFailure } from '../src/bounces/classify.js';

const cases: Array<[string, { status?: string; replyCode?: number; action?: string; diagnostic: string }, string, string]> = [
  ['postfix unknown user', { status: '5.1.1', diagnostic: '550 5.1.1 <a@b.example>: Recipient address rejected: User unknown in local recipient table' }, 'hard', 'user-unknown'],
  ['exchange resolver', { status: '5.1.10', diagnostic: "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup" }, 'hard', 'user-unknown'],
  ['gmail does not exist', { replyCode: 550, diagnostic: "550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address" }, 'hard', 'user-unknown'],
  ['german unknown', { replyCode: 550, diagnostic: '550 Requested action not taken: mailbox unavailable / Empfänger unbekannt' }, 'hard', 'user-unknown'],
  ['russian unknown', { replyCode: 550, diagnostic: '550 Message was not accepted -- invalid mailbox. Такого ящика нет / нет такого пользователя' }, 'hard', 'user-unknown'],
  ['no such domain', { status: '5.4.4', diagnostic: 'Host or domain name not found. Name service error for name=exmaple.com type=AAAA: Host not found' }, 'hard', 'host-unknown'],
  ['disabled', { replyCode: 550, diagnostic: '550 5.2.1 The email account that you tried to reach is disabled.' }, 'hard', 'mailbox-disabled'],
  ['quota 5xx', { status: '5.2.2', diagnostic: '552 5.2.2 The email account that you tried to reach is over quota.' }, 'soft', 'mailbox-full'],
  ['quota russian', { replyCode: 550, diagnostic: '550 Mailbox is full / Ящик переполнен' }, 'soft', 'mailbox-full'],
  ['greylist', { replyCode: 451, diagnostic: '451 4.7.1 <a@b.example>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/b.example.html' }, 'soft', 'greylisted'],
  ['rate', { replyCode: 450, diagnostic: '450 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered.' }, 'soft', 'rate-limited'],
  ['4xx unknown user is temporary', { replyCode: 450, diagnostic: '450 4.1.1 <a@b.example>: Recipient address rejected: unverified address: mailbox unavailable' }, 'soft', 'temporary'],
  ['expired', { status: '4.4.7', action: 'failed', diagnostic: 'delivery temporarily suspended: connect to mx.example.net[192.0.2.9]:25: Connection timed out' }, 'soft', 'expired'],
  ['too large', { status: '5.3.4', diagnostic: '552 5.3.4 Message size exceeds fixed limit' }, 'soft', 'message-too-large'],
  ['spamhaus', { replyCode: 554, diagnostic: '554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using zen.spamhaus.org' }, 'policy', 'blacklisted'],
  ['outlook banned ip', { replyCode: 550, diagnostic: '550 5.7.1 Unfortunately, messages from [192.0.2.10] weren\'t sent. Please contact your Internet service provider since part of their network is on our block list (S3150).' }, 'policy', 'blacklisted'],
  ['gmail dmarc', { status: '5.7.26', diagnostic: '550-5.7.26 This mail is unauthenticated, which poses a security risk to the sender and Gmail users' }, 'policy', 'auth-failed'],
  ['microsoft dmarc', { status: '5.7.509', diagnostic: '550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification and has a DMARC policy of reject.' }, 'policy', 'auth-failed'],
  ['spam content', { replyCode: 554, diagnostic: '554 5.7.1 Message rejected as spam by Content Filtering.' }, 'policy', 'spam-blocked'],
  ['relay', { replyCode: 554, diagnostic: '554 5.7.1 <a@b.example>: Relay access denied' }, 'policy', 'relay-denied'],
  ['bare 5xx', { replyCode: 550, diagnostic: '550 Administrative prohibition' }, 'hard', 'hard-other'],
  ['bare 4xx', { replyCode: 421, diagnostic: '421 Service not available, closing transmission channel' }, 'soft', 'temporary'],
  ['delayed DSN', { status: '4.4.1', action: 'delayed', diagnostic: 'connect to mx.example.org[192.0.2.4]:25: Connection refused' }, 'soft', 'temporary'],
];

describe('classifyFailure', () => {
  for (const [name, input, cls, reason] of cases) {
    it(name, () => expect(classifyFailure(input)).toEqual({ class: cls, reason }));
  }
});
