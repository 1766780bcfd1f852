// system: the relay's own name, sender, bounce domain, DKIM key, upstream, SPF, VERP secret.
import { z } from 'zod';
import { parseCidr } from '../formats.js';
import { dnsName, domain, hostname, mailbox, nonEmpty, secret, selector, stringFormat } from './primitives.js';

export const systemSchema = z.strictObject({
  hostname: hostname.optional(),
  sender: mailbox,
  bounceDomain: domain,
  dkim: z.strictObject({ domain, selector, ...secret('privateKey') }).optional(),
  upstream: nonEmpty.default('direct'),
  unsubscribeUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  ...secret('verpSecret'),
  spf: z.strictObject({
    include: dnsName.optional(),
    ip4: z.array(stringFormat(parseCidr).transform((c) => c.text)).optional(),
    ip6: z.array(stringFormat(parseCidr).transform((c) => c.text)).optional(),
  }).optional(),
});

