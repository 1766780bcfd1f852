// The `mailgate` command's help: the general usage, `serve`'s own help, and which config file a
// command reads when --config is not given (config/mailgate.local.yaml, the operator's own copy, when
// it exists; else the shipped config/mailgate.yaml, which the tests read). Pure but for `exists`.
import { existsSync } from 'node:fs';

/** The operator's own config (git-ignored): read instead of the shipped one when present. */
export const LOCAL_CONFIG = 'config/mailgate.local.yaml';
/** The shipped default config. */
export const SHIPPED_CONFIG = 'config/mailgate.yaml';

/** The config file a command reads without --config. */
export function defaultConfigFile(exists: (file: string) => boolean = existsSync): string {
  return exists(LOCAL_CONFIG) ? LOCAL_CONFIG : SHIPPED_CONFIG;
}

export const USAGE = `usage: mailgate <command> [options]

commands:
  serve          [--config FILE]        run the relay (mailgate serve --help tells more)
  check-config   [--config FILE]        validate a config file and exit; warns about what the setup lacks:
                                        admin token, system DKIM key, a real host name, sender domains' DNS
                                        records, a carrier account for stored tracking codes
  history        --config FILE ADDRESS  what happened to mail for ADDRESS [--json] [--token T]
  queue          [list]                 the queue, like postqueue -p (age, attempts, last reply)   [--json]
  queue flush | retry ID | delete ID    make all / one due now, or give up on one (DELETED_BY_ADMIN)
  queue hold ID | release ID | release-all TENANT   keep a message from delivery, let it go, or all of a shop's
  show           ID                     one message: envelope, each recipient's state, its source as sent [--json]
  suppression    list TENANT [ADDRESS] | add TENANT ADDRESS [--reason R] | remove TENANT ADDRESS
                 export TENANT > FILE.csv | import TENANT FILE.csv [--dry-run] [--reason R]
  tenants list                          tenants with their upstream, logins and sender domains
  status                                this node, its store and the cluster's nodes with their last heartbeat [--json]
  node drain     [--grace SECONDS]      take this node out of service: stop accepting, deliver what is due
                                        within the grace (default 60), hand the rest to the other nodes, exit
  backup         --out FILE             a consistent backup of the data directory (also while running)
  restore        FILE                   restore a backup into an empty data directory (mailgate stopped)
  store migrate  --config FILE          bring the PostgreSQL database to this release's schema (also done at start)
                 (queue, show, suppression and tenants talk to the running server: --config FILE, --token T or MAILGATE_TOKEN)
  bounces parse  [FILE|mbox|-]...       how mailgate reads bounces: one JSON line per bounced recipient
  admin token    [--rotate]             print the admin token mailgate generated (when admin.tokens is empty),
                                        or replace it with a new one
  dkim generate  --domain D --selector S [--type rsa|ed25519] [--dir DIR] [--config FILE]
                                        write a DKIM key (mode 0600) and print the DNS records to publish

Without --config, mailgate reads config/mailgate.local.yaml when it exists, else config/mailgate.yaml.
`;

export const SERVE_USAGE = `usage: mailgate serve [--config FILE]

Runs the relay: the SMTP submission and inbound listeners, the delivery queue, the admin API and
the web console, until SIGTERM or Ctrl-C. SIGHUP re-reads the config file (tenants, upstreams,
admin tokens and log level apply at once; the rest needs a restart).

  --config FILE   the config (default: config/mailgate.local.yaml when it exists, else config/mailgate.yaml)

With no admin.tokens in the config, the first start makes an admin token in the data directory
(admin.token, mode 0600) and prints the console's address and the token once;
\`mailgate admin token\` prints it again, \`mailgate admin token --rotate\` replaces it.
Start-up warnings (no admin token, no system DKIM key, a placeholder host name, ...) go to the log,
as \`mailgate check-config\` prints them.
`;

/** The help for `mailgate COMMAND --help`: serve has its own, the others their lines of the usage. */
export function commandHelp(command: string): string {
  if (command === 'serve') return SERVE_USAGE;
  const lines = USAGE.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`  ${command} `));
  if (at < 0) return USAGE;
  const own = [lines[at]!];
  for (const l of lines.slice(at + 1)) {
    if (!/^ {20,}/.test(l)) break;
    own.push(l);
  }
  return `usage: mailgate ${own.map((l) => l.trim().replace(/\s{2,}/, '  ')).join('\n  ')}\n`;
}
