// DKIM signatures made by mailgate, checked by an independent verifier (dkimpy) that fetches the
// public keys from a real DNS server on 127.0.0.1.
import { generateKeyPairSync } from 'node:crypto';
import { Readable } from 'node:stream';
import { dkimVerify } from './helpers/dkim-verify.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyHash, signatures } from '../src/identity/dkim.js';
import { dkimRecord } from '../src/identity/dns-records.js';
import { serializeHeader, splitHeader } from '../src/header-fields.js';
import type { DkimKeyRef } from '../src/identity/sender-policy.js';
import { startDnsServer, type DnsServer } from './helpers/dns-server.js';

const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const edKey = generateKeyPairSync('ed25519').privateKey;
const rsa: DkimKeyRef = { domain: 'shop.test', selector: 'r1', privateKey: rsaKey.export({ type: 'pkcs8', format: 'pem' }) as string };
const ed: DkimKeyRef = { domain: 'shop.test', selector: 'e1', privateKey: edKey.export({ type: 'pkcs8', format: 'pem' }) as string };

/** Signs a canonical message the way delivery does: hash the body (streamed), prepend the signatures. */
async function signed(message: string, signers: DkimKeyRef[], stream = false): Promise<Buffer> {
  const buf = Buffer.from(message, 'utf8');
  const { fields, bodyOffset } = splitHeader(buf);
  const body = buf.subarray(bodyOffset);
  const bh = await bodyHash(stream ? Readable.from([body.subarray(0, 7), body.subarray(7)]) : body);
  const sigs = await signatures(fields, bh, signers, new Date());
  return Buffer.concat([Buffer.from(sigs.join(''), 'latin1'), serializeHeader(fields), body]);
}

const MESSAGES: Record<string, string> = {
  plain: 'From: Shop <orders@shop.test>\r\nTo: buyer@example.test\r\nSubject: Order 1\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@shop.test>\r\n\r\nThank you.\r\n',
  utf8: 'From: =?UTF-8?Q?B=C3=BCcher?= <orders@shop.test>\r\nTo: käufer@example.test\r\nSubject: Bestätigung\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße aus Köln — 你好\r\n\r\n\r\n',
  multipart: [
    'From: orders@shop.test', 'To: buyer@example.test', 'Subject: Ticket', 'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"', '', '--b1', 'Content-Type: text/plain; charset=us-ascii', '', 'Your ticket is attached.',
    '--b1', 'Content-Type: application/pdf; name="ticket.pdf"', 'Content-Transfer-Encoding: base64', 'Content-Disposition: attachment; filename="ticket.pdf"', '',
    Buffer.alloc(3000, 7).toString('base64').replace(/(.{76})/g, '$1\r\n'), '--b1--', '',
  ].join('\r\n'),
  folded: 'From:   "Odd  Spacing"\t<orders@shop.test>  \r\nTo: a@example.test,\r\n   b@example.test\r\nSubject:\tfolded\r\n\tsubject   line \r\nX-Other: not signed\r\n\r\nbody  with   spaces  \t\r\ntrailing blank lines follow\r\n\r\n\r\n',
};

describe('DKIM signatures verify with an independent verifier', () => {
  let dns: DnsServer;
  beforeAll(async () => {
    dns = await startDnsServer({ 'r1._domainkey.shop.test': { TXT: [dkimRecord(rsaKey)] }, 'e1._domainkey.shop.test': { TXT: [dkimRecord(edKey)] } });
  });
  afterAll(async () => { await dns?.close(); });

  for (const [name, message] of Object.entries(MESSAGES)) {
    it(`${name} message, rsa-sha256 and ed25519-sha256 together`, async () => {
      const out = await signed(message, [rsa, ed], name === 'multipart');
      const { code, results } = await dkimVerify(dns.port, out);
      expect(results.map((r) => [r.a, r.ok, r.error])).toEqual([['rsa-sha256', true, null], ['ed25519-sha256', true, null]]);
      expect(code).toBe(0);
      expect(results[0]!.h.split(':').filter((h) => h === 'from')).toHaveLength(2); // From over-signed
    });
  }

  it('a changed body or an added From header breaks the signature', async () => {
    const out = (await signed(MESSAGES.plain!, [rsa])).toString('latin1');
    expect((await dkimVerify(dns.port, Buffer.from(out.replace('Thank you.', 'Thank you!'), 'latin1'))).results[0]!.ok).toBe(false);
    expect((await dkimVerify(dns.port, Buffer.from(out.replace('Subject:', 'From: evil@evil.test\r\nSubject:'), 'latin1'))).results[0]!.ok).toBe(false);
  });

  it("signs the same on libuv's pool as on the calling thread (rsa and ed25519 are deterministic)", async () => {
    const { fields, bodyOffset } = splitHeader(Buffer.from(MESSAGES.plain!, 'utf8'));
    const bh = await bodyHash(Buffer.from(MESSAGES.plain!, 'utf8').subarray(bodyOffset));
    const at = new Date('2026-11-23T10:00:00Z');
    const onPool = await signatures(fields, bh, [rsa, ed], at, 'pool');
    expect(onPool).toHaveLength(2);
    expect(onPool).toEqual(await signatures(fields, bh, [rsa, ed], at, 'caller'));
  });
});
