// Warnings about a valid config that will not work well: no admin token, no DKIM key for the system
// sender, a host name that is a placeholder or this machine's short name, DANE without a resolver on
// this host. Said by `mailgate
// check-config`, at start in the log, and on the console's overview for admins, next to the
// tracking and sender-domain warnings (admin/setup-warnings.ts gathers them all). Pure.
import type { Config } from './types.js';

/** Domains that stand for "put yours here": relay.example.net, shop.example, example.com, … */
export function isPlaceholderDomain(domain: string): boolean {
  return /(^|\.)(example|invalid|test|localhost)$|(^|\.)example\.(com|net|org)$/i.test(domain);
}

/** A host name with at least one dot and no placeholder: what other mail servers can look up. */
function hostnameWarning(hostname: string): string | undefined {
  if (!hostname.includes('.')) {
    return `system.hostname is "${hostname}", this machine's short name (the default), not a full domain name: set system.hostname to the relay's public name (e.g. relay.yourshop.com, the name its IP address's PTR record gives). Until then mailgate greets other servers as "${hostname}" and tells shops to publish "include:_spf.${hostname}" in SPF`;
  }
  if (isPlaceholderDomain(hostname)) {
    return `system.hostname is "${hostname}", a placeholder: set system.hostname to the relay's public name (e.g. relay.yourshop.com, the name its IP address's PTR record gives)`;
  }
  return undefined;
}

const domainOf = (address: string) => address.slice(address.lastIndexOf('@') + 1);

export interface ConfigFacts {
  /** The admin token mailgate generated because admin.tokens is empty (where it is kept), if any. */
  generatedTokenFile?: string;
}

/** The config's own warnings, each one sentence saying what to set. */
export function configWarnings(config: Config, facts: ConfigFacts = {}): string[] {
  const out: string[] = [];
  if (facts.generatedTokenFile) {
    out.push(`no admin token in the config (admin.tokens): mailgate uses the one it generated in ${facts.generatedTokenFile}; \`mailgate admin token\` prints it`);
  } else if (config.admin.tokens.length === 0) {
    out.push('no admin token in the config (admin.tokens): mailgate makes one in the data directory on its first start and prints it once; `mailgate admin token` prints it later');
  }
  const hostname = hostnameWarning(config.system.hostname);
  if (hostname) out.push(hostname);
  const placeholders = [
    ['system.sender.address', domainOf(config.system.sender.address), 'receiving servers refuse mail from a domain that does not exist'],
    ['system.bounceDomain', config.system.bounceDomain, 'bounces and complaints sent to it never arrive'],
  ] as const;
  for (const [key, domain, effect] of placeholders) {
    if (isPlaceholderDomain(domain)) out.push(`${key} uses "${domain}", a placeholder: set it to a domain of yours (${effect})`);
  }
  const local = config.dns.servers.length > 0 && config.dns.servers.every((s) => /^(127\.|\[?::1\]?(:|$)|localhost)/.test(s));
  for (const u of config.upstreams) {
    if (u.type === 'mx' && u.dane && !local) {
      out.push(`upstream "${u.name}" checks DANE, which trusts the DNSSEC flag of the resolvers in dns.servers (${config.dns.servers.length > 0 ? config.dns.servers.join(', ') : 'none: the system\'s'}); that flag can be forged between them and mailgate: run a validating resolver on this host (unbound, 127.0.0.1) and list it in dns.servers`);
    }
  }
  if (!config.system.dkim) {
    out.push(`no DKIM key for the system sender (system.dkim): mail sent as ${config.system.sender.address} is not signed and often lands in spam; create one with \`mailgate dkim generate --domain ${domainOf(config.system.sender.address)} --selector mg1\`, publish the printed records and add system.dkim`);
  }
  return out;
}
