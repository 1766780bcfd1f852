// listen: where the SMTP and admin listeners bind.
import { z } from 'zod';
import { parseListenAddress } from '../formats.js';
import { formatted } from './primitives.js';

export const listenSchema = z.strictObject({
  submission: formatted(parseListenAddress).prefault('127.0.0.1:2525'),
  inbound: formatted(parseListenAddress).prefault('127.0.0.1:2526'),
  admin: formatted(parseListenAddress).prefault('127.0.0.1:8025'),
  /** Submission over implicit TLS (SMTPS, port 465 in production); only with `tls`. */
  submissions: formatted(parseListenAddress).optional(),
});

