// tls: the key and certificate for STARTTLS and SMTPS.
import { z } from 'zod';
import { secret } from './primitives.js';

export const tlsSchema = z.strictObject({ ...secret('key'), ...secret('cert') });

