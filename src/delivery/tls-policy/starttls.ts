// STARTTLS under a policy (MTA-STS or DANE), done by mailgate itself before nodemailer gets the
// connection: read the greeting, EHLO, STARTTLS, the TLS handshake, then judge the server's
// certificate against the policy (peer-check.ts) — Node's TLS only lets a client see the
// certificate chain after the handshake, and nodemailer keeps its TLS socket to itself. A session
// that satisfies the policy is handed to nodemailer as already secured, with the greeting put back
// to be read again (nodemailer then says EHLO over TLS). A session that does not: in enforce mode
// the connection is closed and a TlsPolicyError raised (the delivery is deferred with its reason);
// in testing mode the session goes on as it can (over the unverified TLS, or in the clear when
// STARTTLS is missing) and only the failure is reported. Every session's result goes to `report`.
// Imports: node net/tls/crypto, peer-check.ts.
import { X509Certificate } from 'node:crypto';
import type net from 'node:net';
import tls from 'node:tls';
import { checkPeer, type PeerCheck, type PeerFailure, type PeerView, type TlsFailureType } from './peer-check.js';

export interface PolicySession {
  check: PeerCheck;
  /** false: testing mode (deliver anyway, report the failure). */
  enforce: boolean;
  /** What the policy asks, the head of the reason: "MTA-STS policy of example.com requires TLS with a valid certificate for mx.example.com". */
  demand: string;
  /** The name mailgate gives in EHLO. */
  ehloName: string;
  /** CAs to verify against (system's plus extra); undefined: Node's defaults. */
  secureContext?: tls.SecureContext;
  timeoutMs: number;
  /** Called once per session with its result. */
  report(result: { ok: true } | { ok: false; failure: PeerFailure }): void;
}

/** A delivery the policy forbids; nodemailer passes it through as the transaction's error (its `code` replaced). */
export class TlsPolicyError extends Error {
  constructor(message: string, readonly policyFailure: TlsFailureType) {
    super(message);
  }
}

/** The reason an operator reads: "<what the policy asks>: <what was wrong>". */
export function policyReason(session: Pick<PolicySession, 'demand'>, failure: PeerFailure): string {
  return `${session.demand}: ${failure.detail}`;
}

export interface NegotiatedSocket {
  connection: net.Socket;
  /** True: TLS is up, nodemailer must not try STARTTLS again. */
  secured: boolean;
}

/** Runs the greeting, EHLO and STARTTLS on `plain` (just connected) and judges the peer. */
export async function negotiatePolicyTls(plain: net.Socket, session: PolicySession): Promise<NegotiatedSocket> {
  const reader = new ReplyReader(plain, session.timeoutMs);
  const refuse = (failure: PeerFailure): never => {
    session.report({ ok: false, failure });
    plain.destroy();
    throw new TlsPolicyError(policyReason(session, failure), failure.type);
  };
  try {
    const greeting = await reader.next();
    // A refusal at greeting is the server's answer, not a TLS matter: nodemailer reads and reports it.
    if (greeting.code !== 220) return { connection: reader.release(greeting.raw), secured: false };
    plain.write(`EHLO ${session.ehloName}\r\n`);
    const ehlo = await reader.next();
    const offered = ehlo.code === 250 && ehlo.lines.slice(1).some((l) => /^STARTTLS\b/i.test(l));
    const starttls = offered ? (plain.write('STARTTLS\r\n'), await reader.next()) : undefined;
    if (!starttls || starttls.code !== 220) {
      const failure: PeerFailure = { type: 'starttls-not-supported', detail: starttls ? `the server refused STARTTLS (${starttls.code} ${starttls.text})` : 'the server does not offer STARTTLS' };
      if (session.enforce) {
        plain.end('QUIT\r\n');
        return refuse(failure);
      }
      session.report({ ok: false, failure });
      // Testing mode: the session goes on in the clear; nodemailer reads the greeting and says EHLO again.
      return { connection: reader.release(greeting.raw), secured: false };
    }
    reader.release();
    const secure = await handshake(plain, session);
    const failure = checkPeer(session.check, peerView(secure), Date.now());
    if (failure && session.enforce) {
      secure.destroy();
      return refuse(failure);
    }
    session.report(failure ? { ok: false, failure } : { ok: true });
    secure.unshift(greeting.raw);
    return { connection: secure, secured: true };
  } catch (err) {
    if (err instanceof TlsPolicyError) throw err;
    plain.destroy();
    const failure: PeerFailure = { type: 'validation-failure', detail: `the TLS session failed (${(err as Error).message})` };
    if (session.enforce) return refuse(failure);
    session.report({ ok: false, failure });
    throw err;
  }
}

function handshake(plain: net.Socket, session: PolicySession): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tls.connect({
      socket: plain,
      servername: session.check.hostname,
      rejectUnauthorized: false,
      // The name is checked by checkPeer, so `authorized` says only whether the chain is trusted.
      checkServerIdentity: () => undefined,
      ...(session.secureContext ? { secureContext: session.secureContext } : {}),
    });
    const timer = setTimeout(() => secure.destroy(new Error(`no TLS handshake within ${session.timeoutMs} ms`)), session.timeoutMs);
    secure.once('secureConnect', () => {
      clearTimeout(timer);
      secure.off('error', fail);
      resolve(secure);
    });
    const fail = (err: Error) => {
      clearTimeout(timer);
      reject(err);
    };
    secure.once('error', fail);
  });
}

/** The chain the server sent, leaf first, and Node's verdict on it. */
function peerView(secure: tls.TLSSocket): PeerView {
  const chain: X509Certificate[] = [];
  let cert: tls.DetailedPeerCertificate | undefined = secure.getPeerCertificate(true);
  const seen = new Set<string>();
  while (cert?.raw && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    chain.push(new X509Certificate(cert.raw));
    cert = cert.issuerCertificate;
  }
  const error = secure.authorizationError as unknown as string | Error | null;
  return { chain, authorized: secure.authorized, ...(error ? { authorizationError: typeof error === 'string' ? error : String((error as { code?: string }).code ?? error.message) } : {}) };
}

interface Reply {
  code: number;
  text: string;
  lines: string[];
  raw: Buffer;
}

/** Reads SMTP replies from a socket in paused mode, so what it has not consumed can be handed on. */
class ReplyReader {
  private buffer = Buffer.alloc(0);
  private waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void } | undefined;
  private failed: Error | undefined;
  private readonly onReadable = () => this.pump();
  private readonly onEnd = () => this.fail(new Error('the server closed the connection'));
  private readonly onError = (err: Error) => this.fail(err);
  private readonly onTimeout = () => {
    this.fail(new Error(`no answer within ${this.timeoutMs} ms`));
    this.socket.destroy();
  };

  constructor(private readonly socket: net.Socket, private readonly timeoutMs: number) {
    socket.on('readable', this.onReadable);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.setTimeout(timeoutMs, this.onTimeout);
  }

  next(): Promise<Reply> {
    return new Promise((resolve, reject) => {
      if (this.failed) return reject(this.failed);
      this.waiting = { resolve, reject };
      this.pump();
    });
  }

  /** Stops reading; `replay` (and anything read but not consumed) is put back for the next reader. */
  release(replay?: Buffer): net.Socket {
    this.socket.off('readable', this.onReadable);
    this.socket.off('end', this.onEnd);
    this.socket.off('error', this.onError);
    this.socket.setTimeout(0);
    this.socket.off('timeout', this.onTimeout);
    const rest = Buffer.concat([replay ?? Buffer.alloc(0), this.buffer]);
    if (rest.length > 0) this.socket.unshift(rest);
    return this.socket;
  }

  private fail(err: Error): void {
    this.failed ??= err;
    this.waiting?.reject(err);
    this.waiting = undefined;
  }

  private pump(): void {
    if (!this.waiting) return;
    let chunk: Buffer | null;
    while ((chunk = this.socket.read() as Buffer | null) !== null) this.buffer = Buffer.concat([this.buffer, chunk]);
    const reply = this.take();
    if (reply) {
      const w = this.waiting;
      this.waiting = undefined;
      w.resolve(reply);
    } else if (this.buffer.length > 64 * 1024) this.fail(new Error('the server\'s reply is too long'));
  }

  /** One complete reply off the buffer ("250-…" lines up to the "250 …" one), if there is one. */
  private take(): Reply | undefined {
    let start = 0;
    const lines: string[] = [];
    for (;;) {
      const end = this.buffer.indexOf('\n', start);
      if (end < 0) return undefined;
      const line = this.buffer.subarray(start, end).toString('utf8').replace(/\r$/, '');
      start = end + 1;
      lines.push(line);
      if (!/^\d{3}-/.test(line)) break;
    }
    const raw = Buffer.from(this.buffer.subarray(0, start));
    this.buffer = this.buffer.subarray(start);
    const last = lines[lines.length - 1]!;
    return { code: Number(last.slice(0, 3)) || 0, text: last.slice(4), lines: lines.map((l) => l.slice(4)), raw };
  }
}
