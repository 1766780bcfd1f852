// Turns what an upstream said (or how the connection failed) into an SmtpReply and an outcome:
// 2xx delivered, 4xx and network errors deferred, 5xx failed. Pure functions.
import type { SmtpReply } from '../store/records.js';
import type { Outcome, RecipientResult } from '../queue/delivery-result.js';
import { classifyFailure } from '../bounces/classify.js';

/** Splits "550 5.1.1 <x@y>: Recipient address rejected" into code, enhanced code and text. Multi-line replies are joined. */
export function parseReply(response: string, fallbackCode = 0): SmtpReply {
  const lines = response.split(/\r?\n/).filter((l) => l.length > 0);
  let code = fallbackCode;
  let enhanced: string | undefined;
  const texts: string[] = [];
  for (const line of lines) {
    const m = /^([2-5]\d\d)(?:[ -]|$)(?:([245]\.\d{1,3}\.\d{1,3})(?: |$))?(.*)$/.exec(line);
    if (m) {
      code = Number(m[1]);
      enhanced ??= m[2];
      texts.push(m[3]!);
    } else {
      texts.push(line);
    }
  }
  return { code, ...(enhanced ? { enhanced } : {}), text: texts.join(' ').trim() };
}

/** nodemailer's command name as the stage of the transaction. */
export function commandOf(command: string | undefined): SmtpReply['command'] {
  const c = (command ?? '').toUpperCase();
  if (c.startsWith('RCPT')) return 'RCPT';
  if (c.startsWith('MAIL')) return 'MAIL';
  if (c.startsWith('DATA') || c === 'BDAT') return 'DATA';
  if (c.startsWith('AUTH')) return 'AUTH';
  if (c === 'EHLO' || c === 'HELO' || c === 'LHLO' || c === 'STARTTLS') return 'HELO';
  if (c === 'CONN' || c === 'GREETING') return 'CONN';
  return undefined;
}

/** A result with the bounce classifier's verdict on its reply (refusals only). */
export function withVerdict(r: RecipientResult): RecipientResult {
  if (r.outcome === 'delivered') return r;
  const c = classifyFailure({ replyCode: r.reply.code, diagnostic: r.reply.text, ...(r.reply.enhanced ? { status: r.reply.enhanced } : {}), ...(r.reply.command ? { command: r.reply.command } : {}) });
  return { ...r, class: c.class, reason: c.reason };
}

export function outcomeOf(code: number): Outcome {
  if (code >= 200 && code < 300) return 'delivered';
  if (code >= 500 && code < 600) return 'failed';
  return 'deferred';
}

/**
 * The outcome of a refusal: as its code says, except "too many recipients" (x.5.3), which RFC 5321
 * §4.5.3.1.10 asks clients to treat as temporary even when a legacy server answers it with 552.
 */
export function refusalOutcome(reply: SmtpReply): Outcome {
  if (reply.code >= 500 && (reply.enhanced === '5.5.3' || /too many recipients/i.test(reply.text))) return 'deferred';
  return outcomeOf(reply.code);
}

/** The shape of errors nodemailer's SMTP connection raises. */
export interface SmtpClientError extends Error {
  code?: string;
  response?: string;
  responseCode?: number;
  recipient?: string;
  /** The command the server answered ("RCPT TO", "DATA", "MAIL FROM", "CONN", "AUTH PLAIN", …). */
  command?: string;
  rejectedErrors?: SmtpClientError[];
  rejected?: string[];
  /** Set on a TlsPolicyError: the RFC 8460 result type of the session a TLS policy refused. */
  policyFailure?: string;
  /** Set on a PrivateTargetError (security/public-lookup.ts): a shop's own server resolved inside the network. */
  privateTarget?: boolean;
}

export interface ErrorVerdict {
  reply: SmtpReply;
  outcome: Outcome;
  code: string;
}

/**
 * Judges an error that ended a whole transaction. Only a real 5xx from the server fails
 * recipients; authentication, TLS and network problems are our side's or the path's fault
 * and defer, so a fixed upstream setting still delivers the mail.
 */
export function judgeError(err: SmtpClientError, where: string): ErrorVerdict {
  // A session an MTA-STS or DANE policy forbids (tls-policy/starttls.ts): the message says which and why.
  if (err.policyFailure) return { reply: { code: 451, enhanced: '4.7.5', text: err.message }, outcome: 'deferred', code: 'TLS_POLICY_FAILED' };
  if (err.responseCode && err.response) {
    const command = commandOf(err.command);
    const reply = { ...parseReply(err.response, err.responseCode), ...(command ? { command } : {}) };
    if (err.code === 'EAUTH') {
      return { reply, outcome: 'deferred', code: 'UPSTREAM_AUTH_FAILED' };
    }
    const outcome = refusalOutcome(reply);
    return { reply, outcome, code: outcome === 'failed' ? 'UPSTREAM_REJECTED' : 'UPSTREAM_DEFERRED' };
  }
  if (err.code === 'PRIVATE_TARGET' || err.privateTarget) {
    return { reply: { code: 451, enhanced: '4.4.1', text: `${where}: ${err.message}` }, outcome: 'deferred', code: 'UPSTREAM_PRIVATE_ADDRESS' };
  }
  const tls = err.code === 'ETLS' || /tls|certificate|ssl/i.test(err.message);
  return {
    reply: { code: 451, enhanced: tls ? '4.7.5' : '4.4.1', text: `${where}: ${err.message}` },
    outcome: 'deferred',
    code: tls ? 'UPSTREAM_TLS_FAILED' : 'UPSTREAM_UNREACHABLE',
  };
}
