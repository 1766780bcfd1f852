// Operator commands of the `mailgate` CLI that act on a running server through its admin API:
// queue (list, flush, retry, delete), show (one message and its source), suppression (list, add,
// remove), tenants list. Plain text for
// people (like `postqueue -p`), `--json` for scripts. Exit codes: 0 done, 1 failed, 2 usage, 3 not running.
import fs from 'node:fs/promises';
import type { Config } from '../config/types.js';
import { runtimeInfoPath, type RuntimeInfo } from '../runtime-info.js';
import { readGeneratedTokenSync } from '../admin/generated-token.js';

export class OperatorError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

export interface AdminClient {
  /** `json` is the parsed body when the answer is JSON; `text` the body as it came. A Buffer body is sent as text/csv. */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }>;
}

/** Where the running server's admin API is: runtime.json in the data dir, else the configured address. */
export async function adminAddress(config: Config): Promise<string> {
  try {
    const info = JSON.parse(await fs.readFile(runtimeInfoPath(config.dataDir), 'utf8')) as RuntimeInfo;
    if (info.admin) return info.admin;
  } catch {
    // not written (server not running, or older) or unreadable: fall back to the configured address
  }
  const { host, port } = config.listen.admin;
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * The admin token the CLI uses: --token, else $MAILGATE_TOKEN, else the first of admin.tokens, else
 * the token mailgate generated in the data directory (when the config has none).
 */
export function adminBearer(config: Config, token: string | undefined): string | undefined {
  return token ?? process.env.MAILGATE_TOKEN ?? config.admin.tokens[0]?.token ?? readGeneratedTokenSync(config.dataDir);
}

/**
 * A client of the running server's admin API. Without any token the call is still made, so that a
 * stopped mailgate is reported as "not running" (exit 3) before the missing token (exit 2).
 */
export async function adminClient(config: Config, token: string | undefined): Promise<AdminClient> {
  const bearer = adminBearer(config, token);
  const base = `http://${await adminAddress(config)}/api/v1`;
  return {
    async call(method, path, body) {
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, {
          method, headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...(body !== undefined ? { 'content-type': Buffer.isBuffer(body) ? 'text/csv' : 'application/json' } : {}) },
          ...(body !== undefined ? { body: Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body) } : {}),
        });
      } catch {
        throw new OperatorError(`mailgate is not running (no admin API at ${base})`, 3);
      }
      if (!bearer && res.status === 401) throw new OperatorError('no admin token: pass --token, set MAILGATE_TOKEN, or add one to admin.tokens', 2);
      // As sent: res.text() would drop a byte order mark (the CSV export's, for spreadsheets).
      const text = Buffer.from(await res.arrayBuffer()).toString('utf8');
      const isJson = (res.headers.get('content-type') ?? '').includes('json');
      return { status: res.status, json: text && isJson ? JSON.parse(text) : null, text };
    },
  };
}

type Out = (line: string) => void;

function fail(status: number, json: unknown): never {
  const msg = (json as { message?: string } | null)?.message ?? `admin API answered ${status}`;
  throw new OperatorError(msg, 1);
}

interface QueueEntry {
  id: string; tenant: string; from: string; size: number; createdAt: number; ageSeconds: number; attempts: number; held: { since: number; by: string } | null;
  pending: Array<{ address: string; status: string; lastReply: { code: number; enhanced?: string; text: string } | null }>;
}

function age(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

/** A queue id as typed by a person (any case, spaces around): upper-cased, or a usage error that says what one looks like. Pure. */
export function queueId(typed: string): string {
  const id = typed.trim().toUpperCase();
  if (!/^[0-9A-Z]{20}$/.test(id)) throw new OperatorError(`"${typed}" is not a queue id: a queue id is 20 letters and digits, as \`mailgate queue\` lists them`, 2);
  return id;
}

/** `mailgate queue [flush | retry ID | delete ID | hold ID | release ID | release-all TENANT]`. */
export async function queueCommand(client: AdminClient, args: string[], json: boolean, out: Out): Promise<void> {
  const [sub] = args;
  if (!sub || sub === 'list') {
    const { status, json: body } = await client.call('GET', '/queue');
    if (status !== 200) fail(status, body);
    const messages = (body as { messages: QueueEntry[] }).messages;
    if (json) return out(JSON.stringify(messages));
    if (messages.length === 0) return out('mail queue is empty');
    out(`${'Queue ID'.padEnd(21)} ${'Size'.padStart(8)} ${'Age'.padStart(5)} ${'Tries'.padStart(5)}  Tenant / Sender / Recipients`);
    for (const m of messages) {
      out(`${m.id.padEnd(21)} ${String(m.size).padStart(8)} ${age(m.ageSeconds).padStart(5)} ${String(m.attempts).padStart(5)}  ${m.tenant}  ${m.from || '<>'}${m.held ? '  (held)' : ''}`);
      for (const p of m.pending) {
        if (p.lastReply) out(`${' '.repeat(44)}(${p.lastReply.code}${p.lastReply.enhanced ? ` ${p.lastReply.enhanced}` : ''} ${p.lastReply.text})`);
        out(`${' '.repeat(44)}${p.address}`);
      }
    }
    return out(`-- ${messages.length} message(s), ${messages.reduce((n, m) => n + m.size, 0)} bytes`);
  }
  if (sub === 'flush') {
    const { status, json: body } = await client.call('POST', '/queue/flush');
    if (status !== 200) fail(status, body);
    return out(json ? JSON.stringify(body) : `${(body as { flushed: number }).flushed} message(s) due now`);
  }
  if ((sub === 'retry' || sub === 'delete') && args.length === 2) {
    const id = queueId(args[1]!);
    const { status, json: body } = sub === 'retry' ? await client.call('POST', `/queue/${encodeURIComponent(id)}/retry`) : await client.call('DELETE', `/queue/${encodeURIComponent(id)}`);
    if (status !== 200) fail(status, body);
    if (json) return out(JSON.stringify(body));
    return out(sub === 'retry' ? `${id}: ${(body as { status: string }).status}` : `${id}: deleted; not delivered to ${(body as { failed: string[] }).failed.join(', ')}`);
  }
  if ((sub === 'hold' || sub === 'release') && args.length === 2) {
    const id = queueId(args[1]!);
    const { status, json: body } = await client.call('POST', `/queue/${encodeURIComponent(id)}/${sub}`);
    if (status !== 200) fail(status, body);
    return out(json ? JSON.stringify(body) : `${id}: ${(body as { status: string }).status}`);
  }
  if (sub === 'release-all' && args.length === 2) {
    const tenant = args[1]!;
    const { status, json: body } = await client.call('POST', `/queue/release?tenant=${encodeURIComponent(tenant)}`);
    if (status !== 200) fail(status, body);
    return out(json ? JSON.stringify(body) : `${(body as { released: number }).released} held message(s) of ${tenant} released`);
  }
  throw new OperatorError('usage: mailgate queue [list | flush | retry ID | delete ID | hold ID | release ID | release-all TENANT]', 2);
}

interface SuppressionEntry { address: string; class: string; reason: string; time: number; source: string }

/** `mailgate suppression list|add|remove TENANT [ADDRESS] [--reason R]`, `export TENANT`, `import TENANT FILE [--dry-run]`. */
export async function suppressionCommand(client: AdminClient, args: string[], opts: { reason?: string | undefined; dryRun: boolean }, json: boolean, out: Out): Promise<void> {
  const [sub, tenant, address] = args;
  const { reason } = opts;
  if (sub === 'export' && tenant) {
    const { status, json: body, text } = await client.call('GET', `/suppression/export?tenant=${encodeURIComponent(tenant)}`);
    if (status !== 200) fail(status, body);
    // Byte for byte as the API sends it (BOM, CRLF): out() ends the last line with its \n.
    return out(text.replace(/\n$/, ''));
  }
  if (sub === 'import' && tenant && address) {
    let data: Buffer;
    try {
      data = await fs.readFile(address);
    } catch (err) {
      throw new OperatorError(`cannot read ${address}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 1);
    }
    const q = `tenant=${encodeURIComponent(tenant)}&dryRun=${opts.dryRun}${reason ? `&reason=${encodeURIComponent(reason)}` : ''}`;
    const { status, json: body } = await client.call('POST', `/suppression/import?${q}`, data);
    if (status !== 200) fail(status, body);
    if (json) return out(JSON.stringify(body));
    const r = body as { rows: number; added?: number; wouldAdd?: number; alreadySuppressed: number; duplicates: number; rejectedCount: number; rejected: Array<{ line: number; value: string; why: string }> };
    out(`${r.rows} row(s): ${opts.dryRun ? `would add ${r.wouldAdd}` : `added ${r.added}`}, ${r.alreadySuppressed} already suppressed, ${r.duplicates} duplicate(s), ${r.rejectedCount} rejected`);
    for (const x of r.rejected) out(`  line ${x.line}: ${x.value || '(empty)'}: ${x.why}`);
    return;
  }
  if (sub === 'list' && tenant) {
    const { status, json: body } = await client.call('GET', `/suppression?tenant=${encodeURIComponent(tenant)}${address ? `&address=${encodeURIComponent(address)}` : ''}`);
    if (status !== 200) fail(status, body);
    const entries = (body as { entries: SuppressionEntry[] }).entries;
    if (json) return out(JSON.stringify(entries));
    if (entries.length === 0) return out(`no suppressed addresses for ${tenant}`);
    for (const e of entries) out(`${e.address}  ${e.class}/${e.reason}  ${new Date(e.time).toISOString()}  (${e.source})`);
    return;
  }
  if (sub === 'add' && tenant && address) {
    const { status, json: body } = await client.call('POST', '/suppression', { tenant, address, ...(reason ? { reason } : {}) });
    if (status !== 201 && status !== 200) fail(status, body);
    const kept = body as { reason: string; time: number };
    return out(json ? JSON.stringify(body) : status === 201 ? `${address} suppressed for ${tenant}` : `${address} is suppressed for ${tenant} already (since ${new Date(kept.time).toISOString()}: ${kept.reason}); its entry is kept`);
  }
  if (sub === 'remove' && tenant && address) {
    const { status, json: body } = await client.call('DELETE', `/suppression/${encodeURIComponent(tenant)}/${encodeURIComponent(address)}`);
    if (status !== 204) fail(status, body);
    return out(json ? JSON.stringify({ removed: address, tenant }) : `${address} removed from ${tenant}'s suppression list`);
  }
  throw new OperatorError('usage: mailgate suppression list TENANT [ADDRESS] | add TENANT ADDRESS [--reason R] | remove TENANT ADDRESS | export TENANT | import TENANT FILE [--dry-run] [--reason R]', 2);
}

/** `mailgate tenants list`. */
export async function tenantsCommand(client: AdminClient, args: string[], json: boolean, out: Out): Promise<void> {
  if (args[0] && args[0] !== 'list') throw new OperatorError('usage: mailgate tenants list', 2);
  const { status, json: body } = await client.call('GET', '/tenants');
  if (status !== 200) fail(status, body);
  const tenants = (body as { tenants: Array<{ id: string; name: string; source: string; effectiveUpstream: string; credentials: unknown[]; domains: Array<{ domain: string; check: { verified: boolean } | null }> }> }).tenants;
  if (json) return out(JSON.stringify(tenants));
  for (const t of tenants) {
    const domains = t.domains.map((d) => `${d.domain}${d.check?.verified ? '' : ' (unverified)'}`).join(', ') || '-';
    out(`${t.id.padEnd(16)} ${t.name.padEnd(24)} ${t.source.padEnd(6)} upstream=${t.effectiveUpstream} logins=${t.credentials.length} domains=${domains}`);
  }
}

/** `mailgate status`: this node, its store, and every node of the cluster with its last heartbeat. */
export async function statusCommand(client: AdminClient, json: boolean, out: Out): Promise<void> {
  const { status, json: body } = await client.call('GET', '/cluster');
  if (status !== 200) fail(status, body);
  if (json) return out(JSON.stringify(body));
  const s = body as { node: string; engine: string; nodes: Array<{ id: string; name: string; heartbeatAgeSeconds: number }>; leases: Record<string, boolean> };
  out(`node ${s.node} (store: ${s.engine === 'postgres' ? 'PostgreSQL, shared' : 'LevelDB, this node only'})`);
  const held = Object.entries(s.leases).filter(([, h]) => h).map(([n]) => n);
  out(`runs here: ${held.length > 0 ? held.join(', ') : 'no one-node-at-a-time work (another node has it)'}`);
  out(`${'Node'.padEnd(32)} ${'Host'.padEnd(24)} Last heartbeat`);
  for (const n of s.nodes) out(`${n.id.padEnd(32)} ${n.name.padEnd(24)} ${n.heartbeatAgeSeconds}s ago${n.id === s.node ? '  (this node)' : n.heartbeatAgeSeconds > 30 ? '  (not heard from)' : ''}`);
}

/** `mailgate node drain [--grace SECONDS]`: waits until the node is drained; it exits then. */
export async function nodeCommand(client: AdminClient, args: string[], grace: string | undefined, json: boolean, out: Out): Promise<void> {
  const seconds = grace === undefined ? 60 : Number(grace);
  if (args[0] !== 'drain' || !Number.isInteger(seconds) || seconds < 0 || seconds > 3600) throw new OperatorError('usage: mailgate node drain [--grace SECONDS (0-3600, default 60)]', 2);
  const { status, json: body } = await client.call('POST', '/node/drain', { graceSeconds: seconds });
  if (status !== 200) fail(status, body);
  if (json) return out(JSON.stringify(body));
  const r = body as { delivered: number; handedOver: number; kept: number; seconds: number };
  out(`drained in ${r.seconds}s: ${r.delivered} delivered, ${r.handedOver} handed over to the other nodes` + (r.kept > 0 ? `, ${r.kept} kept in this node's data directory for its next start` : ''));
  out('the node is stopping; it no longer accepts mail');
}

interface ShownMessage {
  id: string; tenant: string; createdAt: number; state: string; subject: string | null; messageId: string | null; reference: string | null;
  envelope: { from: string; to: string[] }; contentKeptUntil: number | null;
  recipients: Array<{ address: string; status: string; lastReply: { code: number; enhanced?: string; text: string } | null; outcome?: { reason?: string; diagnostic?: string } }>;
}

/** `mailgate show ID [--json]`: a message's envelope and recipients' states, then its source as the app sent it (like postcat). */
export async function showCommand(client: AdminClient, args: string[], json: boolean, out: Out): Promise<void> {
  if (args.length !== 1) throw new OperatorError('usage: mailgate show QUEUE-ID', 2);
  const id = queueId(args[0]!);
  const { status, json: body } = await client.call('GET', `/messages/${encodeURIComponent(id)}`);
  if (status !== 200) fail(status, body);
  const m = body as ShownMessage;
  if (json) return out(JSON.stringify(m));
  out(`*** ENVELOPE ***`);
  out(`queue id: ${m.id}  tenant: ${m.tenant}  created: ${new Date(m.createdAt).toISOString()}  (${m.state})`);
  out(`sender: ${m.envelope.from || '<>'}`);
  for (const r of m.recipients) {
    const why = r.outcome?.diagnostic ?? r.outcome?.reason ?? (r.lastReply ? `${r.lastReply.code}${r.lastReply.enhanced ? ` ${r.lastReply.enhanced}` : ''} ${r.lastReply.text}` : '');
    out(`recipient: ${r.address}  ${r.status}${why ? `  (${why})` : ''}`);
  }
  if (m.messageId) out(`message-id: ${m.messageId}`);
  if (m.reference) out(`reference: ${m.reference}`);
  const raw = await client.call('GET', `/messages/${encodeURIComponent(id)}/raw`);
  if (raw.status !== 200) {
    out(`*** CONTENT ***`);
    return out(`(${(raw.json as { message?: string } | null)?.message ?? `admin API answered ${raw.status}`})`);
  }
  out(`*** CONTENT (kept until ${m.contentKeptUntil ? new Date(m.contentKeptUntil).toISOString() : 'delivered'}) ***`);
  out(raw.text.replace(/\r\n/g, '\n').replace(/\n$/, ''));
}
