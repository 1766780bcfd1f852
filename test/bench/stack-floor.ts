// The floor of the chosen stack, for the race (race.sh): smtp-server receiving, nodemailer (pooled)
// sending on to the harness's sink, nothing else — no spool, no fsync, no records, no header work.
// With --sign, one RSA-2048 signature per message (async crypto.sign, as mailgate does). Its CPU per
// message is the least any relay built from these parts can spend; mailgate's is measured against it.
//
//   node --import tsx test/bench/stack-floor.ts [--port 2550] [--sink 2600] [--sign KEYFILE]
import { createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net, { type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { greetWithoutDelay } from '../../src/smtp/greeting.js';

const { values } = parseArgs({ options: { port: { type: 'string', default: '2550' }, sink: { type: 'string', default: '2600' }, sign: { type: 'string' } } });
const sinkPort = Number(values.sink);
const key: KeyObject | undefined = values.sign === undefined ? undefined
  : values.sign === '' ? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey : createPrivateKey(readFileSync(values.sign));

const transport = nodemailer.createTransport({
  pool: true, host: '127.0.0.1', port: sinkPort, maxConnections: 20, maxMessages: Infinity, secure: false, ignoreTLS: true,
  getSocket: (_opts, cb) => {
    const s = net.connect(sinkPort, '127.0.0.1');
    s.setNoDelay(true);
    s.once('connect', () => cb(null, { connection: s }));
  },
});

const signature = (data: Buffer) => new Promise<Buffer>((resolve, reject) => sign('sha256', data, key!, (err, sig) => (err ? reject(err) : resolve(sig))));

const server = new SMTPServer({
  authOptional: true, disabledCommands: ['AUTH', 'STARTTLS'], logger: false, disableReverseLookup: true, size: 30 * 1024 * 1024,
  onData(stream, session, callback) {
    const envelope = { from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address) };
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      void (async () => {
        const raw = Buffer.concat(chunks);
        const head = key ? Buffer.from(`DKIM-Signature: b=${(await signature(raw.subarray(0, 600))).toString('base64')}\r\n`) : Buffer.alloc(0);
        callback(null, 'queued');
        transport.sendMail({ envelope, raw: Buffer.concat([head, raw]) }).catch((err: Error) => console.error(err.message));
      })();
    });
  },
});
greetWithoutDelay(server);
(server as unknown as { server: net.Server }).server.on('connection', (s: Socket) => s.setNoDelay(true));
server.listen(Number(values.port), '127.0.0.1', () => console.log(`stack floor ready on 127.0.0.1:${values.port}${key ? ' (signing)' : ''}`));
