// How mailgate talks to an upstream, in nodemailer's terms: TLS mode, certificate checks, login.
// One function for delivery and for the upstream test mail, so a test says what delivery will do.
import type { MxUpstream, SmtpUpstream } from '../config/types.js';

export interface TransportTlsOptions {
  host: string;
  port: number;
  secure: boolean;
  requireTLS: boolean;
  ignoreTLS?: boolean;
  opportunisticTLS?: boolean;
  tls: { rejectUnauthorized: boolean; servername: string };
  auth?: { user: string; pass: string };
}

/** A smarthost: the TLS mode it is configured with, its certificate checked unless tlsVerify is off. */
export function smtpTransportOptions(u: SmtpUpstream): TransportTlsOptions {
  return {
    host: u.host,
    port: u.port,
    secure: u.tls === 'implicit',
    requireTLS: u.tls === 'starttls',
    ignoreTLS: u.tls === 'none',
    tls: { rejectUnauthorized: u.tlsVerify, servername: u.host },
    ...(u.auth ? { auth: { user: u.auth.user, pass: u.auth.password } } : {}),
  };
}

/**
 * A recipient's MX host at `address`: opportunistic STARTTLS (RFC 7435) — encrypt when offered, do not
 * insist on a valid certificate, and carry on in plaintext when STARTTLS fails (Postfix's "may"
 * level) — unless the upstream requires TLS.
 */
export function mxTransportOptions(u: MxUpstream, hostName: string, address: string): TransportTlsOptions {
  return {
    host: address,
    port: u.port,
    secure: false,
    requireTLS: u.requireTls,
    opportunisticTLS: !u.requireTls,
    tls: { rejectUnauthorized: u.requireTls, servername: hostName },
  };
}
