// The admin token of a config that lists none: `serve` adds the token generated in the data
// directory (admin/generated-token.ts) to the running config, and on the very first start prints
// the console's address and the token once, as one plain line on stdout (never in the JSON log).
// `mailgate admin token [--rotate]` prints or replaces it later; a running server is told to reload.
import fs from 'node:fs/promises';
import type { Config } from '../config/types.js';
import { ensureGeneratedToken, readGeneratedTokenSync, rotateGeneratedToken } from '../admin/generated-token.js';
import { runtimeInfoPath, type RuntimeInfo } from '../runtime-info.js';
import { OperatorError } from './commands.js';

/** The name the generated token carries among the admin tokens (as a config token's `name`). */
export const GENERATED_TOKEN_NAME = 'generated';

export interface GeneratedToken {
  token: string;
  file: string;
  /** Made by this start (the first): print it. */
  created: boolean;
}

/** `config` with the generated token as its one admin token when admin.tokens is empty; the config as it is otherwise. */
export async function withAdminToken(config: Config): Promise<{ config: Config; generated?: GeneratedToken }> {
  if (config.admin.tokens.length > 0) return { config };
  const generated = await ensureGeneratedToken(config.dataDir);
  return { config: { ...config, admin: { ...config.admin, tokens: [{ name: GENERATED_TOKEN_NAME, token: generated.token }] } }, generated };
}

/** The console's address for a person on this machine: a wildcard listen address becomes loopback. Pure. */
export function consoleUrl(adminAddress: string): string {
  const local = adminAddress.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:');
  return `http://${local}/`;
}

/** The one line printed on the first start. Pure. */
export function firstStartLine(url: string, generated: GeneratedToken): string {
  return `mailgate is ready: open the console at ${url} and sign in with the admin token ${generated.token} `
    + `(kept in ${generated.file}; shown only this once, \`mailgate admin token\` prints it again)\n`;
}

async function runningPid(dataDir: string): Promise<number | undefined> {
  try {
    return (JSON.parse(await fs.readFile(runtimeInfoPath(dataDir), 'utf8')) as RuntimeInfo).pid;
  } catch {
    return undefined;
  }
}

/** `mailgate admin token [--rotate]`: prints the generated admin token, or replaces it and tells a running mailgate. */
export async function adminTokenCommand(config: Config, file: string, args: string[], rotate: boolean, out: (line: string) => void): Promise<void> {
  if (args[0] !== 'token' || args.length > 1) throw new OperatorError('usage: mailgate admin token [--rotate] [--config FILE]', 2);
  if (config.admin.tokens.length > 0) {
    throw new OperatorError(`${file} lists its admin tokens (admin.tokens: ${config.admin.tokens.map((t) => t.name).join(', ')}); mailgate generates none. Use one of those`, 2);
  }
  if (!rotate) {
    const token = readGeneratedTokenSync(config.dataDir);
    if (!token) throw new OperatorError(`no admin token yet: mailgate makes one on its first start (in ${config.dataDir}); run \`mailgate admin token --rotate\` to make one now`, 1);
    return out(token);
  }
  const { token, file: tokenFile } = await rotateGeneratedToken(config.dataDir);
  out(token);
  const pid = await runningPid(config.dataDir);
  let told = false;
  if (pid) {
    try {
      process.kill(pid, 'SIGHUP');
      told = true;
    } catch {
      // not running any more: the new token applies at the next start
    }
  }
  process.stderr.write(`new admin token written to ${tokenFile}; ${told ? `the running mailgate (pid ${pid}) was told to reload: within a moment it takes the new token and refuses the old one` : 'mailgate takes it when it starts'}\n`);
}
