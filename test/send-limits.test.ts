// Sending limits per shop and per login, answered at SMTP time: 452 4.7.1 over a rate (the app
// retries later), 452 4.5.3 over the recipients per message, 550 5.7.1 once the month's quota is
// used up. A burst from one login as fast as the app can send: exactly the allowed number goes.
import { describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { sinkUpstream, testConfig } from './helpers/config.js';
import { useMailgate } from './helpers/use-mailgate.js';
import { WindowCounter } from '../src/queue/send-limits.js';

describe('a sliding window of buckets', () => {
  it('counts what happened within the window and forgets what is older', () => {
    const w = new WindowCounter(60_000, 60);
    w.add(1_000);
    w.add(30_500, 2);
    expect(w.sum(59_000)).toBe(3);
    expect(w.sum(61_500)).toBe(2); // the first second's bucket left the window
    expect(w.sum(91_000)).toBe(0);
    w.add(200_000);
    expect(w.sum(200_000)).toBe(1);
  });
});

describe('sending limits', () => {
  const w = useMailgate({
    prefix: 'mg-limits-',
    sinks: [{}],
    config: ({ dir, sinks }) => testConfig({
      dataDir: `${dir}/data`,
      upstreams: [sinkUpstream('up', sinks[0]!.port)],
      tenants: [
        `{ id: shop, name: Shop, upstream: up, limits: { messagesPerMinute: 60, recipientsPerMessage: 2 },
           auth: [ { user: shop, password: shop-password-1 }, { user: newsletter, password: news-password-1, limits: { messagesPerHour: 3 } } ] }`,
        '{ id: small, name: Small, upstream: up, limits: { recipientsPerMonth: 3 }, auth: [ { user: small, password: small-password-1 } ] }',
        '{ id: free, name: Free, upstream: up, auth: [ { user: free, password: free-password-1 } ] }',
      ],
    }),
  });
  const send = (user: string, pass: string, to: string[]) =>
    nodemailer.createTransport({ host: w.mg.submission.host, port: w.mg.submission.port, secure: false, ignoreTLS: true, auth: { user, pass } })
      .sendMail({ from: 'orders@shop.test', to, subject: 'x', text: 'x' })
      .then((info) => ({ ok: true as const, info }), (err: { responseCode?: number; response?: string }) => ({ ok: false as const, code: err.responseCode, response: err.response ?? '' }));

  it('refuses a login over its own hourly limit with 452 4.7.1, while the shop\'s other login still sends', async () => {
    for (let i = 0; i < 3; i++) expect((await send('newsletter', 'news-password-1', ['a@example.com'])).ok).toBe(true);
    const over = await send('newsletter', 'news-password-1', ['a@example.com']);
    expect(over).toMatchObject({ ok: false, code: 452 });
    expect(over.ok ? '' : over.response).toMatch(/4\.7\.1 Sending limit reached for login newsletter: at most 3 messages per hour/);
    expect((await send('shop', 'shop-password-1', ['b@example.com'])).ok).toBe(true);
  });

  it('refuses recipients past the per-message limit with 452 4.5.3 and delivers to the first ones', async () => {
    const r = await send('shop', 'shop-password-1', ['c1@example.com', 'c2@example.com', 'c3@example.com']);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.info.accepted).toEqual(['c1@example.com', 'c2@example.com']);
      expect(r.info.rejected).toEqual(['c3@example.com']);
      expect(String((r.info as { rejectedErrors?: Array<{ response: string }> }).rejectedErrors?.[0]?.response)).toMatch(/452 4\.5\.3 .*at most 2 per message/);
    }
  });

  it('lets exactly the shop\'s per-minute rate through a burst of 100 messages as fast as the app sends them', async () => {
    const results = [];
    for (let i = 0; i < 100; i++) results.push(await send('shop', 'shop-password-1', [`burst${i}@example.com`]));
    const accepted = results.filter((r) => r.ok).length;
    // 60 per minute for the whole shop, all logins together: it already sent 5 within the minute
    // (the tests above: 3 from newsletter, 2 from shop).
    expect(accepted).toBe(55);
    expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.code === 452)).toBe(true);
    // Another shop without limits is not slowed down by it.
    expect((await send('free', 'free-password-1', ['d@example.com'])).ok).toBe(true);
    process.stdout.write(`burst of 100 from one login with messagesPerMinute 60: ${accepted} accepted, ${100 - accepted} refused with 452 4.7.1\n`);
  }, 60_000);

  it('refuses once the month\'s recipients quota is used up, with 550 5.7.1', async () => {
    expect((await send('small', 'small-password-1', ['e1@example.com', 'e2@example.com'])).ok).toBe(true);
    expect((await send('small', 'small-password-1', ['e3@example.com'])).ok).toBe(true);
    const over = await send('small', 'small-password-1', ['e4@example.com']);
    expect(over).toMatchObject({ ok: false, code: 550 });
    expect(over.ok ? '' : over.response).toMatch(/5\.7\.1 Monthly quota of shop small used up: 3 recipients per month/);
  });
});
