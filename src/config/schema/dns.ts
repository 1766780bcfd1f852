// dns: the resolvers to ask.
import { z } from 'zod';
import { parseDnsServer } from '../formats.js';
import { stringFormat } from './primitives.js';

export const dnsSchema = z.strictObject({ servers: z.array(stringFormat(parseDnsServer)).default([]) });

