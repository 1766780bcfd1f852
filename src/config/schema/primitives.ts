// The value formats every section uses (durations, sizes, hostnames, addresses, mailboxes) and the
// three forms of a secret field (inline, …File, …Env). Structure and formats only.
import net from 'node:net';
import { z } from 'zod';
import { type Parsed, isEmailAddress, isHostname, parseDuration } from '../formats.js';

/** A field whose value is parsed by one of the format parsers. */
export function formatted<T>(parse: (value: unknown) => Parsed<T>) {
  return z.unknown().transform((value, ctx): T => {
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message: 'is required' });
      return z.NEVER;
    }
    const result = parse(value);
    if (result.ok) return result.value;
    ctx.addIssue({ code: 'custom', message: result.error });
    return z.NEVER;
  });
}

export function stringFormat<T>(parse: (value: string) => Parsed<T>) {
  return z
    .string()
    .trim()
    .transform((value, ctx): T => {
      const result = parse(value);
      if (result.ok) return result.value;
      ctx.addIssue({ code: 'custom', message: result.error });
      return z.NEVER;
    });
}

export const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });
export const nonEmpty = z.string().trim().min(1);
export const positiveInt = z.int().min(1);
export const port = z.int().min(1).max(65535);
export const duration = formatted(parseDuration);
export const hostname = stringFormat((v) =>
  isHostname(v) ? { ok: true, value: v } : { ok: false, error: `"${v}" is not a valid hostname` },
);
export const domain = stringFormat((v) =>
  isHostname(v) ? { ok: true, value: v.toLowerCase() } : { ok: false, error: `"${v}" is not a valid domain name` },
);
/** A DNS name that may contain "_" labels, as SPF include targets do (_spf.example.net). */
export const dnsName = stringFormat((v) =>
  /^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/i.test(v)
    ? { ok: true, value: v.toLowerCase() }
    : { ok: false, error: `"${v}" is not a valid DNS name` },
);
export const host = stringFormat((v) =>
  isHostname(v) || net.isIP(v) !== 0
    ? { ok: true, value: v }
    : { ok: false, error: `"${v}" is neither a hostname nor an IP address` },
);
export const selector = stringFormat((v) =>
  isHostname(v) ? { ok: true, value: v } : { ok: false, error: `"${v}" is not a valid DKIM selector` },
);
export const emailAddress = stringFormat((v) =>
  isEmailAddress(v) ? { ok: true, value: v } : { ok: false, error: `invalid e-mail address "${v}"` },
);
export const mailbox = z.strictObject({ address: emailAddress, name: nonEmpty.optional() });

export type SecretShape<K extends string> = { [P in K]: z.ZodOptional<z.ZodString> } & {
  [P in `${K}File` | `${K}Env`]: z.ZodOptional<z.ZodString>;
};

/** The three forms of a secret field: inline `k`, `kFile` (path) and `kEnv` (variable name). */
export function secret<K extends string>(key: K): SecretShape<K> {
  return {
    [key]: z.string().optional(),
    [`${key}File`]: nonEmpty.optional(),
    [`${key}Env`]: nonEmpty.optional(),
  } as SecretShape<K>;
}


/** An entry's `timeout` (a duration, ms) as `timeoutMs`, the name the HTTP adapters' options use. */
export function renameTimeout(o: object): Record<string, unknown> {
  const { timeout, ...rest } = o as { timeout: number };
  return { ...rest, timeoutMs: timeout };
}
