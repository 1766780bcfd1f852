// Pure parts of the identity step: VERP addresses, header splitting, mailbox formatting, the decision.
import { describe, expect, it } from 'vitest';
import { parseVerp, verpAddress } from '../src/identity/verp.js';
import { fieldValue, splitHeader } from '../src/header-fields.js';
import { decideIdentity, formatMailbox, type IdentityInput } from '../src/identity/sender-policy.js';
import { suggestDomain } from '../src/queue/domain-typo.js';

const secret = Buffer.alloc(32, 1);

describe('VERP', () => {
  it('round-trips message id and recipient index, case-insensitively', () => {
    const a = verpAddress(secret, '0MWT8RVZBB3585400001', 3, 'bounces.relay.test');
    expect(a).toMatch(/^b-0mwt8rvzbb3585400001-3-[0-9a-z]{10}@bounces\.relay\.test$/);
    expect(parseVerp(secret, a, 'bounces.relay.test')).toEqual({ msgId: '0MWT8RVZBB3585400001', index: 3 });
    expect(parseVerp(secret, a.toUpperCase(), 'bounces.relay.test')).toEqual({ msgId: '0MWT8RVZBB3585400001', index: 3 });
  });

  it('ignores forged or foreign addresses', () => {
    const a = verpAddress(secret, '0MWT8RVZBB3585400001', 3, 'bounces.relay.test');
    expect(parseVerp(secret, a.replace('-3-', '-4-'), 'bounces.relay.test')).toBeUndefined();
    expect(parseVerp(Buffer.alloc(32, 2), a, 'bounces.relay.test')).toBeUndefined();
    expect(parseVerp(secret, a, 'other.test')).toBeUndefined();
    expect(parseVerp(secret, 'postmaster@bounces.relay.test', 'bounces.relay.test')).toBeUndefined();
  });
});

describe('headers', () => {
  it('keeps folded fields whole and finds the body', () => {
    const { fields, bodyOffset, hasBody } = splitHeader(Buffer.from('Subject: a\r\n  b\r\nFrom: x@y.test\r\n\r\nbody'));
    expect(fields.map((f) => f.key)).toEqual(['subject', 'from']);
    expect(fieldValue(fields[0]!)).toBe('a  b');
    expect(bodyOffset).toBe(35);
    expect(hasBody).toBe(true);
  });
});

describe('mailbox formatting', () => {
  it('quotes specials, encodes non-ASCII and drops line breaks', () => {
    expect(formatMailbox('Demo Shop', 'n@r.test')).toBe('Demo Shop <n@r.test>');
    expect(formatMailbox('Shop, Inc. "Best"', 'n@r.test')).toBe('"Shop, Inc. \\"Best\\"" <n@r.test>');
    expect(formatMailbox('Магазин', 'n@r.test')).toBe('=?UTF-8?Q?=D0=9C=D0=B0=D0=B3=D0=B0=D0=B7=D0=B8?= =?UTF-8?Q?=D0=BD?= <n@r.test>');
    expect(formatMailbox('Evil\r\nBcc: x@y', 'n@r.test')).toBe('"Evil Bcc: x@y" <n@r.test>');
    expect(formatMailbox(undefined, 'n@r.test')).toBe('<n@r.test>');
  });
});

describe('identity decision', () => {
  const input: IdentityInput = {
    tenant: { id: 't', name: 'Demo Shop', domains: ['shop.test', 'gmail.com'] },
    verified: { 'shop.test': [{ domain: 'shop.test', selector: 's', privateKey: 'k' }], 'gmail.com': [{ domain: 'gmail.com', selector: 's', privateKey: 'k' }] },
    unverifiedReasons: {},
    system: { sender: { address: 'noreply@relay.test' }, hostname: 'relay.test' },
  };
  const head = (from: string) => splitHeader(Buffer.from(`From: ${from}\r\n\r\n`)).fields;

  it('own domain only when verified and not free-mail, even if a tenant lists a free-mail domain', () => {
    expect(decideIdentity(head('a@shop.test'), input)).toMatchObject({ mode: 'own-domain', idDomain: 'shop.test' });
    expect(decideIdentity(head('a@gmail.com'), input)).toMatchObject({ mode: 'system-sender', reason: 'gmail.com is a free-mail domain, which cannot authorise other senders', replyTo: 'a@gmail.com' });
    expect(decideIdentity(head('a@other.test'), input)).toMatchObject({ mode: 'system-sender', from: 'Demo Shop <noreply@relay.test>', idDomain: 'relay.test' });
  });
});

describe('recipient domain typos', () => {
  it('suggests the major provider one edit away, and nothing for real or unrelated domains', () => {
    expect(suggestDomain('htmail.com')).toBe('hotmail.com');
    expect(suggestDomain('gmial.com')).toBe('gmail.com');
    expect(suggestDomain('yandx.ru')).toBe('yandex.ru');
    expect(suggestDomain('gmail.co')).toBe('gmail.com');
    expect(suggestDomain('GMAIL.COM')).toBeUndefined();
    expect(suggestDomain('shop.example')).toBeUndefined();
    expect(suggestDomain('mail.ru')).toBeUndefined();
  });
});
