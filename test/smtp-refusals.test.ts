// Recipients refused at SMTP time for their syntax reach the shop's error log (issue 19, seed 001:
// "invalid characters in the address" is an error the merchant sees): the app still gets its 501/553,
// the error log gets RECIPIENT_SYNTAX with what was refused, at most once per address a minute. An
// RFC 5321 path with a comment is refused, never delivered to the address without it.
import { describe, expect, it } from 'vitest';
import { testConfig, sinkUpstream } from './helpers/config.js';
import { openDialogue } from './helpers/smtp-dialogue.js';
import { useMailgate } from './helpers/use-mailgate.js';
import { recipientSyntaxProblem, shownAddress } from '../src/smtp/refusals.js';
import { rcptPath } from '../src/smtp/unparsable-recipients.js';

interface ErrorEvent { type: string; code?: string; recipient: string; detail?: string; reply?: { code: number; enhanced?: string } }

describe('recipients refused at RCPT for their syntax', () => {
  const w = useMailgate({
    prefix: 'mg-refusals-',
    sinks: [{}],
    config: ({ dir, sinks }) => testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('shop-smtp', sinks[0]!.port)],
      tenants: [
        '{ id: shop, name: Shop, upstream: shop-smtp, auth: [ { user: shop, password: correct-horse } ] }',
        '{ id: other, name: Other, upstream: shop-smtp, auth: [ { user: other, password: other-horse } ] }',
      ],
    }),
  });
  const errors = async (tenant: string) =>
    ((await (await w.api(`/errors?tenant=${tenant}`)).json()) as { events: ErrorEvent[] }).events.filter((e) => e.code === 'RECIPIENT_SYNTAX');
  /** The entries once there are `n` (written just after the reply), then a moment more to catch extra ones. */
  const settled = async (tenant: string, n: number) => {
    for (let i = 0; i < 50 && (await errors(tenant)).length < n; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 200));
    return errors(tenant);
  };

  /** One session as `user`: the replies to MAIL FROM and each RCPT, then DATA when a recipient was taken. */
  async function session(user: string, pass: string, rcpts: string[]): Promise<string[]> {
    const d = await openDialogue(w.mg.submission.port);
    await d.send('EHLO app.test\r\n');
    expect((await d.send(`AUTH PLAIN ${Buffer.from(`\0${user}\0${pass}`).toString('base64')}\r\n`))[0]).toMatch(/^235/);
    const replies = [(await d.send('MAIL FROM:<orders@shop.test>\r\n'))[0]!];
    for (const r of rcpts) replies.push((await d.send(`RCPT TO:<${r}>\r\n`))[0]!);
    if (replies.slice(1).some((r) => r.startsWith('250'))) {
      expect((await d.send('DATA\r\n'))[0]).toMatch(/^354/);
      replies.push((await d.send('Subject: order\r\n\r\nthanks\r\n.\r\n'))[0]!);
    }
    await d.close();
    return replies;
  }

  it('a path with a comment is refused with 501 5.1.3 (never delivered without the comment) and is in the error log once', async () => {
    const replies = await session('shop', 'correct-horse', ['anna(x)@kunde.test', 'ben@kunde.test', 'anna(x)@kunde.test']);
    expect(replies[1]).toMatch(/^501 5\.1\.3 /);
    expect(replies[2]).toMatch(/^250/);
    expect(replies[3]).toMatch(/^501 5\.1\.3 /);
    expect(replies[4]).toMatch(/^250 /);
    const [m] = await w.sink.waitFor(1);
    expect(m!.to).toEqual(['ben@kunde.test']);

    const entries = await settled('shop', 1);
    expect(entries).toHaveLength(1); // the same address twice within a minute: one entry
    expect(entries[0]).toMatchObject({ type: 'refused', recipient: 'anna(x)@kunde.test', reply: { code: 501, enhanced: '5.1.3' } });
    expect(entries[0]!.detail).toContain('<anna(x)@kunde.test>');
    expect(await errors('other')).toEqual([]);
  });

  it('an address mailgate cannot use gets 553 5.1.3 and an entry for its own tenant only', async () => {
    const replies = await session('other', 'other-horse', ['"quoted"@kunde.test', 'back\\slash@kunde.test']);
    expect(replies.slice(1)).toEqual([expect.stringMatching(/^553 5\.1\.3 /), expect.stringMatching(/^553 5\.1\.3 /)]);
    const entries = await settled('other', 2);
    expect(entries.map((e) => e.recipient).sort()).toEqual(['"quoted"@kunde.test', 'back\\slash@kunde.test']);
    expect(entries.every((e) => e.reply?.code === 553)).toBe(true);
    expect(await errors('shop')).toHaveLength(1);
  });

  it('a path smtp-server\'s own parser refuses (a space, a domain that is no host name) gets 553 5.1.3 and an entry too', async () => {
    const replies = await session('other', 'other-horse', ['a b@kunde.test', 'x@-bad-.example', 'x@bad_domain.example', 'ok@kunde.test']);
    expect(replies.slice(1, 4)).toEqual([expect.stringMatching(/^553 5\.1\.3 /), expect.stringMatching(/^553 5\.1\.3 /), expect.stringMatching(/^553 5\.1\.3 /)]);
    expect(replies[4]).toMatch(/^250/);
    expect(replies[5]).toMatch(/^250 /);
    const entries = await settled('other', 5);
    expect(entries.map((e) => e.recipient)).toEqual(expect.arrayContaining(['a b@kunde.test', 'x@-bad-.example', 'x@bad_domain.example']));
    expect(entries.find((e) => e.recipient === 'a b@kunde.test')?.reply).toMatchObject({ code: 553, enhanced: '5.1.3' });
  });

  it('finds the path of an RCPT command smtp-server could not parse', () => {
    expect(rcptPath('RCPT TO:<a b@kunde.test>')).toBe('a b@kunde.test');
    expect(rcptPath('rcpt to: <x@-bad-.example> NOTIFY=NEVER')).toBe('x@-bad-.example');
    expect(rcptPath('RCPT TO:plain@kunde.test SIZE=1')).toBe('plain@kunde.test');
    expect(rcptPath('RCPT TO:<>')).toBeUndefined();
    expect(rcptPath('MAIL FROM:<a@b.test>')).toBeUndefined();
  });

  it('shows at most 200 characters, control characters replaced; the syntax rule by itself', () => {
    expect(shownAddress(`${'a'.repeat(300)}@kunde.test`)).toBe(`${'a'.repeat(200)}…`);
    expect(shownAddress('a\u0007b\u2028c@kunde.test')).toBe('a?b?c@kunde.test');
    expect(recipientSyntaxProblem('anna(comment)@kunde.test')?.code).toBe(501);
    expect(recipientSyntaxProblem('anna@(comment)kunde.test')?.code).toBe(501);
    expect(recipientSyntaxProblem('anna@kunde')?.code).toBe(553);
    expect(recipientSyntaxProblem('anna.schmidt+shop@kunde.test')).toBeUndefined();
  });
});
