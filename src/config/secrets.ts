// Secrets in the config: each secret field may be given inline (k), from a file (kFile, relative to
// the config's directory) or from an environment variable (kEnv) — exactly one of them. Values are
// never put into an issue message. DKIM keys are checked to be usable PEM keys.
import { createPrivateKey } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { errorCode, type Path } from './errors.js';

export interface SecretSources {
  /** Directory that …File paths resolve against. */
  baseDir: string;
  /** Where …Env secrets are looked up. */
  env: NodeJS.ProcessEnv;
}

export type Issue = (at: Path, message: string) => void;

export interface ResolvedSecret {
  value: string;
  /** Path of the form that supplied it (…, …File or …Env), where follow-up issues belong. */
  at: Path;
}

export function readSecret(obj: Record<string, unknown>, key: string, at: Path, opts: SecretSources, issue: Issue): ResolvedSecret | undefined {
  const forms = [key, `${key}File`, `${key}Env`];
  const given = forms.filter((f) => obj[f] !== undefined);
  if (given.length !== 1) {
    issue(
      [...at, key],
      given.length === 0
        ? `is required (give one of ${forms.join(', ')})`
        : `give only one of ${given.join(', ')}`,
    );
    return undefined;
  }
  const form = given[0]!;
  const formAt = [...at, form];
  const fail = (message: string): undefined => {
    issue(formAt, message);
  };
  const raw = obj[form] as string;
  let value: string;
  if (form === key) {
    value = raw;
    if (value === '') return fail('must not be empty');
  } else if (form.endsWith('File')) {
    const file = path.resolve(opts.baseDir, raw);
    try {
      value = fs.readFileSync(file, 'utf8').replace(/[\r\n]+$/, '');
    } catch (err) {
      return fail(`cannot read ${file} (${errorCode(err)})`);
    }
    if (value === '') return fail(`${file} is empty`);
  } else {
    const env = opts.env[raw];
    if (env === undefined) return fail(`environment variable ${raw} is not set`);
    if (env === '') return fail(`environment variable ${raw} is empty`);
    value = env;
  }
  return { value, at: formAt };
}

/** A DKIM private key: a secret that must be PEM, RSA of 2048 bits or more, or Ed25519. */
export function readPrivateKey(obj: Record<string, unknown>, at: Path, opts: SecretSources, issue: Issue): string | undefined {
  const s = readSecret(obj, 'privateKey', at, opts, issue);
  if (!s) return undefined;
  let key;
  try {
    key = createPrivateKey(s.value);
  } catch {
    issue(s.at, 'is not a PEM private key');
    return undefined;
  }
  const type = key.asymmetricKeyType;
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (type === 'rsa' && bits < 2048) {
    issue(s.at, `is a ${bits}-bit RSA key; DKIM keys must have at least 2048 bits (mailgate dkim generate makes one)`);
    return undefined;
  }
  if (type !== 'rsa' && type !== 'ed25519') {
    issue(s.at, `is a ${type ?? 'unknown'} key; DKIM keys must be rsa or ed25519`);
    return undefined;
  }
  return s.value;
}
