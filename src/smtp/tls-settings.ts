// The TLS settings of mailgate's SMTP listeners (STARTTLS on submission and inbound, SMTPS): TLS
// 1.2 and 1.3 only, and for TLS 1.2 only forward-secret AEAD suites (Mozilla's "intermediate"
// list: ECDHE/DHE with AES-GCM or ChaCha20), so no `TLS_RSA_*` key exchange is offered. TLS 1.3's
// suites are all forward secret. Pure.
import type { TlsConfig } from '../config/types.js';

export const FORWARD_SECRET_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
  'DHE-RSA-AES128-GCM-SHA256', 'DHE-RSA-AES256-GCM-SHA384',
].join(':');

/** The smtp-server options for `tls`. */
export function serverTlsOptions(tls: TlsConfig): { key: Buffer; cert: Buffer; minVersion: 'TLSv1.2'; ciphers: string; honorCipherOrder: true } {
  return { key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2', ciphers: FORWARD_SECRET_CIPHERS, honorCipherOrder: true };
}
