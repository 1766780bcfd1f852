// The failure classifier on the wordings MTAs and providers use (status, reply code, SMTP command,
// text), and on the rules that keep a good customer from being suppressed.
import { describe, expect, it } from 'vitest';
import { classifyFailure, commandInText, type FailureInput } from '../src/bounces/classify.js';
import { verdictFor } from '../src/bounces/verdict.js';

const cases: Array<[string, FailureInput, string, string]> = [
  ['postfix unknown user', { status: '5.1.1', diagnostic: '550 5.1.1 <a@b.example>: Recipient address rejected: User unknown in local recipient table' }, 'hard', 'user-unknown'],
  ['exchange resolver', { status: '5.1.10', diagnostic: '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup' }, 'hard', 'user-unknown'],
  ['gmail does not exist (code only in the text)', { replyCode: 550, diagnostic: "550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address" }, 'hard', 'user-unknown'],
  ['german unknown at RCPT', { replyCode: 550, command: 'RCPT', diagnostic: '550 Requested action not taken: mailbox unavailable / Empfänger unbekannt' }, 'hard', 'user-unknown'],
  ['russian unknown at RCPT', { replyCode: 550, command: 'RCPT', diagnostic: '550 Message was not accepted -- invalid mailbox. Такого ящика нет / нет такого пользователя' }, 'hard', 'user-unknown'],
  ['unknown user without saying when: a filter may say so', { replyCode: 550, diagnostic: '550 Unknown user kijitora@example.jp' }, 'soft', 'filtered'],
  ['unknown user after DATA: a content filter', { replyCode: 550, command: 'DATA', diagnostic: '550 <x@ezweb.example>: User unknown' }, 'soft', 'filtered'],
  ['a directory lookup is authoritative', { diagnostic: 'User some.name (x@example.jp) not listed in Domino Directory' }, 'hard', 'user-unknown'],
  ['bad address syntax', { status: '5.1.3', diagnostic: '501 5.1.3 Bad recipient address syntax' }, 'hard', 'bad-address'],
  ['no such domain', { status: '5.4.4', diagnostic: 'Host or domain name not found. Name service error for name=exmaple.com type=AAAA: Host not found' }, 'hard', 'host-unknown'],
  ['dns trouble is not an unknown domain', { status: '4.4.3', diagnostic: 'Name service error for domain example.com: Host not found, try again' }, 'soft', 'network'],
  ['null MX', { replyCode: 556, status: '5.1.10', diagnostic: '556 5.1.10 Recipient address has null MX' }, 'hard', 'domain-accepts-no-mail'],
  ['null MX, mailgate\'s own DNS answer', { replyCode: 556, status: '5.1.10', diagnostic: 'domain nullmx.test does not accept mail (null MX)' }, 'hard', 'domain-accepts-no-mail'],
  ['null MX, postfix smarthost', { status: '5.1.10', command: 'RCPT', diagnostic: '550 5.1.10 <anna@nullmx.test>: Recipient address rejected: Domain nullmx.test does not accept mail (nullMX)' }, 'hard', 'domain-accepts-no-mail'],
  ['disabled accounts come back', { replyCode: 550, diagnostic: '550 5.2.1 The email account that you tried to reach is disabled.' }, 'soft', 'suspended'],
  ['locked account', { status: '5.7.1', command: 'RCPT', diagnostic: '550 5.7.1 <k@example.com>: Recipient address rejected: User k@example.com temporary locked. Please try again later!' }, 'soft', 'suspended'],
  ['quota 5xx', { status: '5.2.2', diagnostic: '552 5.2.2 The email account that you tried to reach is over quota.' }, 'soft', 'mailbox-full'],
  ['quota russian', { replyCode: 550, diagnostic: '550 Mailbox is full / Ящик переполнен' }, 'soft', 'mailbox-full'],
  ['greylist', { replyCode: 451, diagnostic: '451 4.7.1 <a@b.example>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/b.example.html' }, 'soft', 'greylisted'],
  ['rate', { replyCode: 450, diagnostic: '450 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered.' }, 'soft', 'rate-limited'],
  ['4xx unknown user is temporary', { replyCode: 450, command: 'RCPT', diagnostic: '450 4.1.1 <a@b.example>: Recipient address rejected: unverified address: mailbox unavailable' }, 'soft', 'temporary'],
  ['gave up after a transient unknown user', { status: '4.1.1', action: 'failed', command: 'RCPT', diagnostic: '450 4.1.1 <k@example.org>: Recipient address rejected: User unknown in virtual alias table' }, 'hard', 'user-unknown'],
  ['expired', { status: '4.4.7', action: 'failed', diagnostic: 'delivery temporarily suspended: connect to mx.example.net[192.0.2.9]:25: Connection timed out' }, 'soft', 'expired'],
  ['gave up on a network error', { status: '4.4.1', action: 'failed', diagnostic: 'connect to mx.example.net[192.0.2.9]:25: Connection refused' }, 'soft', 'expired'],
  ['too large', { status: '5.3.4', diagnostic: '552 5.3.4 Message size exceeds fixed limit' }, 'soft', 'too-large'],
  ['spamhaus', { replyCode: 554, diagnostic: '554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using zen.spamhaus.org' }, 'policy', 'blocked'],
  ['outlook banned ip', { replyCode: 550, diagnostic: "550 5.7.1 Unfortunately, messages from [192.0.2.10] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150)." }, 'policy', 'blocked'],
  ['no reverse DNS', { replyCode: 550, diagnostic: '550 5.7.25 [192.0.2.10] The IP address sending this message does not have a PTR record setup' }, 'policy', 'blocked'],
  ['gmail dmarc', { status: '5.7.26', diagnostic: '550-5.7.26 This mail is unauthenticated, which poses a security risk to the sender and Gmail users' }, 'policy', 'auth-failed'],
  ['microsoft dmarc', { status: '5.7.509', diagnostic: '550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification and has a DMARC policy of reject.' }, 'policy', 'auth-failed'],
  ['spam content', { replyCode: 554, diagnostic: '554 5.7.1 Message rejected as spam by Content Filtering.' }, 'policy', 'spam-content'],
  ['virus', { replyCode: 554, diagnostic: '554 5.7.1 Virus found in message: Eicar-Test-Signature' }, 'policy', 'virus'],
  ['relay', { replyCode: 554, diagnostic: '554 5.7.1 <a@b.example>: Relay access denied' }, 'policy', 'relay-denied'],
  ['policy wording', { replyCode: 550, diagnostic: '550 Administrative prohibition' }, 'policy', 'policy'],
  ['bare 5xx', { replyCode: 550, diagnostic: '550 Rejected' }, 'hard', 'other'],
  ['bare 4xx', { replyCode: 451, diagnostic: '451 Try later' }, 'soft', 'temporary'],
  ['a warning is never final', { status: '4.4.1', action: 'delayed', diagnostic: 'connect to mx.example.org[192.0.2.4]:25: Connection refused' }, 'soft', 'delayed'],
  ['a warning keeps a mailbox reason', { status: '4.2.2', action: 'delayed', diagnostic: '452 4.2.2 Mailbox full' }, 'soft', 'mailbox-full'],
  ['a warning about an unknown user', { status: '5.1.1', warning: true, diagnostic: '550 5.1.1 User unknown' }, 'soft', 'delayed'],
  ['sender refused after MAIL FROM', { replyCode: 550, command: 'MAIL', diagnostic: '550 5.1.7 No such domain neko.example.com.' }, 'policy', 'sender-rejected'],
  ['sender address rejected', { status: '5.1.8', diagnostic: '501 5.1.8 Sender address rejected: Domain not found' }, 'policy', 'sender-rejected'],
  ['refused at connection', { replyCode: 554, command: 'CONN', diagnostic: '554 5.7.1 [C14] Missing reverse DNS for 203.0.113.2' }, 'policy', 'blocked'],
  ['an address that contains a reason word says nothing', { status: '5.1.1', command: 'RCPT', diagnostic: '550 5.1.1 <filtered@example.net>: User unknown; see https://example.net/reason/#filtered' }, 'hard', 'user-unknown'],
  ['a success is nothing', { status: '2.1.5', action: 'delivered', diagnostic: '250 2.1.5 Ok' }, 'none', 'delivered'],
];

describe('classifyFailure', () => {
  for (const [name, input, cls, reason] of cases) {
    it(name, () => expect(classifyFailure(input)).toEqual({ class: cls, reason }));
  }
});

describe('verdictFor: what suppresses', () => {
  it('suppresses a hard bounce about the address and a complaint, and nothing else at once', () => {
    expect(verdictFor({ class: 'hard', reason: 'user-unknown' })).toEqual({ suppress: true, countsTowardsSuppression: false });
    expect(verdictFor({ class: 'hard', reason: 'host-unknown' }).suppress).toBe(true);
    expect(verdictFor({ class: 'hard', reason: 'domain-accepts-no-mail' }).suppress).toBe(true); // a refusal naming the address: that one address
    expect(verdictFor({ class: 'complaint', reason: 'abuse' }).suppress).toBe(true);
    expect(verdictFor({ class: 'hard', reason: 'other' })).toEqual({ suppress: false, countsTowardsSuppression: false });
    expect(verdictFor({ class: 'policy', reason: 'blocked' }).suppress).toBe(false);
    expect(verdictFor({ class: 'report', reason: 'auth-failure' }).suppress).toBe(false);
    expect(verdictFor({ class: 'soft', reason: 'mailbox-full' })).toEqual({ suppress: false, countsTowardsSuppression: true });
    expect(verdictFor({ class: 'soft', reason: 'suspended' }).countsTowardsSuppression).toBe(true);
    expect(verdictFor({ class: 'soft', reason: 'rate-limited' }).countsTowardsSuppression).toBe(false);
  });
});

describe('commandInText', () => {
  const cases: Array<[string, string | undefined]> = [
    ['550 5.1.1 <a@b>... User Unknown (in reply to RCPT TO\n    command)', 'RCPT'],
    ['host mx.example.net [192.0.2.1]\n    SMTP error from remote mail server after end of data:\n    550 rejected', 'DATA'],
    ['SMTP error from remote mail server after MAIL FROM:<s@example.jp> SIZE=1543:', 'MAIL'],
    ['mail-inbound.example.net [192.0.2.25] did not like our RCPT TO:\n550 5.2.2 full', 'RCPT'],
    ['192.0.2.135 does not like recipient.\nRemote host said: 550 no', 'RCPT'],
    ['Connected to 192.0.2.225 but sender was rejected.', 'MAIL'],
    ['52.101.68.24 failed after I sent the message.', 'DATA'],
    ['... while talking to mx.example.org.:\n>>> RCPT To:<a@example.org>\n<<< 550 5.1.1 User unknown', 'RCPT'],
    ['SMTP error from remote server for TEXT command, host: smtp-in.orange.fr reason: 550 5.2.0', 'DATA'],
    ['host smtpz4.laposte.net[194.117.213.1] refused to talk to me: 421 4.2.1 Service refuse', 'CONN'],
    ['550 5.1.1 User unknown', undefined],
  ];
  for (const [text, want] of cases) it(JSON.stringify(text.slice(0, 60)), () => expect(commandInText(text)).toBe(want));
});

describe('never suppress on a refusal of the sender', () => {
  const senderSide: Array<[string, FailureInput]> = [
    ['sender domain does not exist', { replyCode: 550, command: 'RCPT', diagnostic: '550 Sender domain does not exist' }],
    ['domain of sender address', { replyCode: 553, diagnostic: '553 5.1.8 <shop@example.invalid>: Domain of sender address shop@example.invalid does not exist' }],
    ['mail from a domain the server will not take', { replyCode: 550, command: 'RCPT', diagnostic: '550 This domain does not accept mail from your IP address' }],
  ];
  for (const [name, input] of senderSide) it(name, () => expect(verdictFor(classifyFailure(input)).suppress).toBe(false));
});
