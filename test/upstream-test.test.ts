// Seed 000's "send a test e-mail and show the receiving server's answer", against real sinks:
// a working upstream, one that refuses the login, and one that is down.
import { describe, expect, it } from 'vitest';
import { startSink } from './helpers/smtp-sink.js';
import { useMailgate } from './helpers/use-mailgate.js';
import { ADMIN_TOKEN, testConfig } from './helpers/config.js';

interface Result { ok: boolean; server: string; reply?: { code: number; enhanced?: string; text: string }; error?: string; dialogue: string[] }

describe('upstream test e-mail', () => {
  const w = useMailgate({
    prefix: 'mg-uptest-',
    sinks: [{}, { auth: { user: 'shop', password: 'right-password' } }],
    config: async ({ dir, sinks: [good, locked] }) => {
      const probe = await startSink();
      const downPort = probe.port;
      await probe.close();
      return testConfig({
        dataDir: `${dir}/data`,
        upstreams: [
          `{ name: good, host: 127.0.0.1, port: ${good.port}, tls: none }`,
          `{ name: wrongpass, host: 127.0.0.1, port: ${locked.port}, tls: none, auth: { user: shop, password: wrong-password-123 } }`,
          `{ name: down, host: 127.0.0.1, port: ${downPort}, tls: none }`,
        ],
        tenants: ['{ id: shop, name: Shop, networks: [ 127.0.0.9/32 ] }'],
      });
    },
  });
  const test = async (name: string, to = 'admin@shop.test'): Promise<{ status: number; body: Result }> => {
    const res = await fetch(`${w.mg.adminUrl}/api/v1/upstreams/${name}/test`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ to }) });
    return { status: res.status, body: (await res.json()) as Result };
  };

  it('delivers a test message and returns the dialogue and the 250', async () => {
    const { status, body } = await test('good');
    expect(status).toBe(200);
    expect(body).toMatchObject({ ok: true, reply: { code: 250 } });
    expect(body.dialogue.some((l) => /^S: 220 /.test(l))).toBe(true);
    expect(body.dialogue.some((l) => /^C: MAIL FROM:<noreply@relay\.test>/.test(l))).toBe(true);
    const [msg] = await w.sink.waitFor(1); // the good upstream's
    expect(msg!.to).toEqual(['admin@shop.test']);
  });

  it("shows the server's exact answer when the login is refused, without revealing the password", async () => {
    const { body } = await test('wrongpass');
    expect(body.ok).toBe(false);
    expect(body.reply?.code).toBe(535);
    expect(body.dialogue.some((l) => l.startsWith('S: 535'))).toBe(true);
    const all = JSON.stringify(body);
    expect(all).not.toContain('wrong-password-123');
    expect(all).not.toContain(Buffer.from('\0shop\0wrong-password-123').toString('base64'));
  });

  it('says why when the server cannot be reached, and 404 for an unknown upstream', async () => {
    const { body } = await test('down');
    expect(body.ok).toBe(false);
    expect(body.error).toMatch(/ECONNREFUSED/);
    expect((await test('nope')).status).toBe(404);
  });
});
