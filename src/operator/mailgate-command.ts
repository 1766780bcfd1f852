// The `mailgate` command (all but `bounces parse`, see src/cli.ts): serve, check-config, history,
// queue, suppression, tenants, backup, restore, dkim.
// Exit codes: 0 ok, 1 runtime error, 2 usage or invalid config, 3 mailgate not running (operator commands).
import { parseArgs } from 'node:util';
import { createLogger } from '../log-lines.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { TRACKING_SCHEMAS } from '../tracking/plugged.js';
import type { Config } from '../config/types.js';
import fs from 'node:fs/promises';
import { isHostname } from '../config/formats.js';
import { generateDkimKey, zoneTxt } from '../identity/dkim-keys.js';
import { parseFiles } from '../bounces/cli.js';
import type { startMailgate } from '../main.js';
import { adminAddress, adminBearer, adminClient, OperatorError, nodeCommand, queueCommand, showCommand, statusCommand, suppressionCommand, tenantsCommand } from './commands.js';
import { EventLog } from '../store/event-log.js';
import { migrateStore, openRestoreTarget, openStore } from '../store/open.js';
import { restoreBackup, writeBackup } from '../backup/backup.js';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import path from 'node:path';
import { ShipmentStore } from '../store/shipments.js';
import { trackingSetupWarnings } from '../tracking/problems.js';
import type { TrackingRecords } from '../tracking/shipments.js';
import { CARRIERS } from '../tracking/types.js';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { QueueEvent } from '../store/records.js';
import { commandHelp, defaultConfigFile, USAGE } from './usage.js';
import { setupWarnings } from '../admin/setup-warnings.js';
import { generatedTokenPath } from '../admin/generated-token.js';
import { checkSenderDomains } from '../identity/domain-warnings.js';
import { dnsResolver } from '../delivery/mx.js';
import { adminTokenCommand, consoleUrl, firstStartLine, withAdminToken } from './first-start.js';
import { keepDataDirPrivate } from './data-dir.js';
import { replyText } from '../console/reply-text.js';


function readConfig(file: string): Config {
  try {
    return loadConfig(file, process.env, TRACKING_SCHEMAS);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${file}: invalid configuration\n${err.issues.map((i) => `  ${i}`).join('\n')}\n`);
      process.exit(2);
    }
    throw err;
  }
}

async function serve(file: string): Promise<void> {
  const read = readConfig(file);
  const opened = await keepDataDirPrivate(read.dataDir);
  const { config, generated } = await withAdminToken(read);
  const log = createLogger({ level: config.logLevel, format: config.logFormat });
  if (opened) {
    log.warn({ dataDir: config.dataDir, mode: opened.was, ...(opened.failed ? { err: opened.failed } : { now: opened.now }) },
      opened.failed ? 'the data directory can be read by other users of this machine and could not be closed to them: chmod o-rwx it' : 'the data directory could be read by other users of this machine; it is closed to them now');
  }
  let running: Awaited<ReturnType<typeof startMailgate>>;
  try {
    // Loaded here, not at the top: the other commands (backup, restore, queue, …) start without the server's code.
    const { startMailgate: start } = await import('../main.js');
    running = await start(config, log, { onDrained: () => shutdown('drained'), ...(generated ? { generatedTokenFile: generated.file } : {}) });
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'mailgate could not start');
    log.flush();
    process.exit(1);
  }
  // The first start's one line with the console address and the token; never in the log.
  if (generated?.created) process.stdout.write(firstStartLine(consoleUrl(running.addresses.admin), generated));
  const shutdown = (signal: string) => {
    log.info({ signal }, 'signal received');
    running.stop().then(
      () => { log.flush(); process.exit(0); },
      (err: Error) => { log.error({ err: err.message }, 'unclean shutdown'); log.flush(); process.exit(1); },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  // SIGHUP: re-read the file; tenants, upstreams, admin tokens and log level change at once, the rest needs a restart.
  process.on('SIGHUP', () => {
    let next: Config;
    try {
      next = loadConfig(file, process.env, TRACKING_SCHEMAS);
    } catch (err) {
      log.error({ issues: err instanceof ConfigError ? err.issues : [(err as Error).message] }, 'SIGHUP: configuration not reloaded, the file is invalid; the running configuration stays');
      return;
    }
    // A config without admin tokens keeps using the generated one (re-read: `admin token --rotate` may have replaced it).
    withAdminToken(next).then(({ config: withToken }) => running.reload(withToken)).then(
      ({ applied, needsRestart }) => log.info({ applied, needsRestart }, needsRestart.length > 0 ? `configuration reloaded; changes to ${needsRestart.join(', ')} need a restart` : 'configuration reloaded'),
      (err: Error & { issues?: string[] }) => log.error({ issues: err.issues ?? [err.message] }, 'SIGHUP: configuration not reloaded; the running configuration stays'),
    );
  });
  process.on('unhandledRejection', (reason) => log.error({ err: String(reason) }, 'unhandled rejection'));
}

/**
 * Validates the file (exit 2 when invalid), then prints the setup warnings (admin/setup-warnings.ts):
 * the config's own, sender domains without their DNS records (checked now), and tracking codes of a
 * carrier the file has no account for. The store is read when it can be without side effects (a
 * stopped mailgate's LevelDB); a running mailgate, or a PostgreSQL cluster, says the same in its
 * start-up log and on the console.
 */
async function checkConfig(file: string): Promise<void> {
  const config = readConfig(file);
  let trackingWarnings: string[] = [];
  const hasStore = config.store.engine === 'level' && existsSync(path.join(config.dataDir, 'db'));
  if (hasStore) {
    try {
      const store = await openStore(config.dataDir, config.store);
      try {
        trackingWarnings = await trackingSetupWarnings(new ShipmentStore<TrackingRecords>(store, CARRIERS), new Set(Object.keys(config.tracking.carriers)));
      } finally {
        await store.close();
      }
    } catch (err) {
      const code = (err as { code?: string }).code;
      process.stderr.write(code === 'STORE_LOCKED'
        ? 'note: mailgate is running and holds the store; its log and the console\'s Tracking page show tracking problems\n'
        : `note: the store could not be read (${(err as Error).message}); stored tracking codes were not checked\n`);
    }
  }
  const tokenFile = generatedTokenPath(config.dataDir);
  const warnings = setupWarnings(config, {
    ...(config.admin.tokens.length === 0 && existsSync(tokenFile) ? { generatedTokenFile: tokenFile } : {}),
    domainProblems: await checkSenderDomains(config, dnsResolver(config.dns.servers)),
    trackingWarnings,
  });
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
  process.stdout.write(`${file}: ok${warnings.length > 0 ? ` (${warnings.length} warning${warnings.length === 1 ? '' : 's'})` : ''}\n`);
}

/** One event as a `history` line: time, type, message, tenant, recipient, upstream, the error code (or -) and the reply. */
function formatEvent(e: QueueEvent): string {
  return [new Date(e.time).toISOString(), e.type.padEnd(9), e.msgId, e.tenant, e.recipient, e.upstream ?? '-', e.code ?? '-', replyText(e.reply)].join('  ').trimEnd();
}

/** host:port of the running server's admin API: from its runtime.json, else from the config. */
async function history(file: string, address: string, json: boolean, token?: string): Promise<void> {
  const config = readConfig(file);
  let events: QueueEvent[];
  try {
    const store = await openStore(config.dataDir, config.store);
    try {
      events = await new EventLog(store).byRecipient(address);
    } finally {
      await store.close();
    }
  } catch (err) {
    if ((err as { code?: string }).code !== 'STORE_LOCKED') throw err;
    // mailgate is running and holds the store: ask its admin API instead.
    const bearer = adminBearer(config, token);
    if (!bearer) throw new Error('the store is in use by a running mailgate; pass --token or set MAILGATE_TOKEN to query its admin API');
    const admin = await adminAddress(config);
    const res = await fetch(`http://${admin}/api/v1/events?recipient=${encodeURIComponent(address)}&limit=1000`, {
      headers: { authorization: `Bearer ${bearer}` },
    });
    if (!res.ok) throw new Error(`admin API answered ${res.status}`);
    events = ((await res.json()) as { events: QueueEvent[] }).events;
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(events)}\n`);
  } else if (events.length === 0) {
    process.stdout.write(`no mail to ${address} in the event log\n`);
  } else {
    process.stdout.write(`${events.map(formatEvent).join('\n')}\n`);
  }
}

/** From the store when mailgate is stopped, else from the running server's admin API (same snapshot format). */
async function backup(config: Config, out: string, token?: string): Promise<void> {
  let store;
  try {
    store = await openStore(config.dataDir, config.store);
  } catch (err) {
    if ((err as { code?: string }).code !== 'STORE_LOCKED') throw err;
  }
  if (store) {
    try {
      if (!store.snapshot) throw new Error(`the ${store.engine} store is backed up with its own tools`);
      await writeBackup({ snapshot: store.snapshot, dataDir: config.dataDir }, out);
    } finally {
      await store.close();
    }
  } else {
    const bearer = adminBearer(config, token);
    if (!bearer) throw new Error('mailgate is running; pass --token or set MAILGATE_TOKEN to back up through its admin API');
    const res = await fetch(`http://${await adminAddress(config)}/api/v1/backup`, { headers: { authorization: `Bearer ${bearer}` } });
    if (!res.ok || !res.body) throw new Error(`admin API answered ${res.status}`);
    await pipeline(Readable.fromWeb(res.body as never), createWriteStream(out, { flags: 'wx', mode: 0o600 }));
  }
  process.stdout.write(`backup written to ${out}\n`);
}

async function restore(config: Config, file: string): Promise<void> {
  // restoreBackup refuses a data directory that has a database, which also covers a running server's.
  const { entries, files } = await restoreBackup(createReadStream(file), config.dataDir, openRestoreTarget);
  process.stdout.write(`restored ${entries} database entries and ${files} files into ${config.dataDir}\n`);
}

async function dkimGenerate(domain: string, selector: string, type: string, dir: string, configFile: string | undefined, json: boolean): Promise<void> {
  if (type !== 'rsa' && type !== 'ed25519') {
    process.stderr.write(`--type must be rsa or ed25519, not "${type}"\n`);
    process.exit(2);
  }
  if (!isHostname(domain) || !/^[a-z0-9][a-z0-9._-]*$/i.test(selector)) {
    process.stderr.write('--domain must be a domain name and --selector letters, digits, ".", "-" or "_"\n');
    process.exit(2);
  }
  const spf = configFile ? readConfig(configFile).system.spf : { include: '_spf.<your relay hostname>' };
  const key = await generateDkimKey({ domain: domain.toLowerCase(), selector, type, dir, spf });
  if (json) {
    process.stdout.write(`${JSON.stringify({ file: key.file, records: key.records })}\n`);
    return;
  }
  process.stdout.write(`private key written to ${key.file} (mode 0600)\n\nPublish these DNS records:\n\n`);
  for (const r of key.records) process.stdout.write(`; ${r.purpose}\n${r.name}. IN TXT ${zoneTxt(r.value)}\n\n`);
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      json: { type: 'boolean', default: false },
      token: { type: 'string' },
      domain: { type: 'string' },
      selector: { type: 'string' },
      type: { type: 'string' },
      dir: { type: 'string' },
      reason: { type: 'string' },
      grace: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      out: { type: 'string', short: 'o' },
      rotate: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...rest] = positionals;
  const file = values.config ?? defaultConfigFile();
  if (values.help || !command) {
    process.stdout.write(command ? commandHelp(command) : USAGE);
    process.exit(command || values.help ? 0 : 2);
  }
  switch (command) {
    case 'serve':
      return serve(file);
    case 'check-config':
      return checkConfig(file);
    case 'history':
      if (!rest[0]) {
        process.stderr.write(USAGE);
        process.exit(2);
      }
      return history(file, rest[0], values.json ?? false, values.token);
    case 'queue':
    case 'show':
    case 'suppression':
    case 'status':
    case 'node':
    case 'tenants': {
      const client = await adminClient(readConfig(file), values.token);
      const out = (line: string) => process.stdout.write(`${line}\n`);
      if (command === 'queue') return queueCommand(client, rest, values.json ?? false, out);
      if (command === 'show') return showCommand(client, rest, values.json ?? false, out);
      if (command === 'suppression') return suppressionCommand(client, rest, { reason: values.reason, dryRun: values['dry-run'] ?? false }, values.json ?? false, out);
      if (command === 'status') return statusCommand(client, values.json ?? false, out);
      if (command === 'node') return nodeCommand(client, rest, values.grace, values.json ?? false, out);
      return tenantsCommand(client, rest, values.json ?? false, out);
    }
    case 'backup':
      if (!values.out) {
        process.stderr.write(`backup needs --out FILE\n${USAGE}`);
        process.exit(2);
      }
      return backup(readConfig(file), values.out, values.token);
    case 'restore':
      if (!rest[0]) {
        process.stderr.write(`restore needs a backup FILE\n${USAGE}`);
        process.exit(2);
      }
      return restore(readConfig(file), rest[0]);
    case 'store':
      if (rest[0] !== 'migrate') {
        process.stderr.write(USAGE);
        process.exit(2);
      }
      process.stdout.write(`${await migrateStore(readConfig(file).store)}\n`);
      return;
    case 'bounces':
      if (rest[0] !== 'parse') {
        process.stderr.write(USAGE);
        process.exit(2);
      }
      if ((await parseFiles(rest.slice(1), (line) => process.stdout.write(`${line}\n`))).unreadable > 0) process.exitCode = 1;
      return;
    case 'admin':
      return adminTokenCommand(readConfig(file), file, rest, values.rotate ?? false, (line) => process.stdout.write(`${line}\n`));
    case 'dkim':
      if (rest[0] !== 'generate' || !values.domain || !values.selector) {
        process.stderr.write(USAGE);
        process.exit(2);
      }
      return dkimGenerate(values.domain, values.selector, values.type ?? 'rsa', values.dir ?? 'config/keys', values.config, values.json ?? false);
    default:
      process.stderr.write(`unknown command "${command}"\n${USAGE}`);
      process.exit(2);
  }
}

main(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`mailgate: ${err.message}\n`);
  process.exit(err instanceof OperatorError ? err.exitCode : 1);
});
