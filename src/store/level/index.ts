// The LevelDB engine: the embedded default. One process owns the database under <dataDir>/db;
// every port reads its sublevels, and a transaction is one synced LevelDB batch.
import { GroupCommit } from '../group-commit.js';
import type { Store, StoreOp } from '../ports.js';
import { openLevel, type Db, type LevelWrite } from './db.js';
import type { RestoreTarget } from '../ports.js';
import { SingleNode } from './cluster.js';
import { LevelAcrossTenants } from './across-tenants.js';
import { LevelEvents } from './events.js';
import { LevelOptOuts, LevelSoftBounces, LevelSuppression } from './lists.js';
import { LevelMessages } from './messages.js';
import { LevelShipments } from './shipments.js';
import { LevelStats } from './stats.js';
import { LevelTlsReports } from './tls-reports.js';
import { LevelApiTokens, LevelDomainChecks, LevelSignIns, LevelTenants } from './tenants.js';
import { LevelWebhooks } from './webhooks.js';
import { encodeWrites, levelWrites, withStoredRecords, type EncodedWrite } from './write.js';
import type { MessageRecord } from '../records.js';

/**
 * Longer than any writer holds a record between reading and writing it: a delivery attempt (its
 * timeouts), an operator action, a message waiting in the scheduler's ready list for a free lane.
 */
const OUTCOME_WINDOW = 24 * 3600_000;
/** Past this many messages with an outcome in the window, every update is read back (correct, slower). */
const OUTCOME_MEMORY = 50_000;

export async function openLevelStore(dataDir: string, node = 'local'): Promise<Store> {
  const { db, sub } = await openLevel(dataDir);
  const suppression = new LevelSuppression(sub.suppression);
  const [messages, events, shipments] = [new LevelMessages(db, sub), new LevelEvents(db, sub), new LevelShipments(sub)];
  // The writes are already root-level string keys and JSON strings (encodeWrites), so they go straight
  // to classic-level's native batch: abstract-level's public batch() would clone, check and re-encode
  // every operation (~0.9 ms a message at 20 recipients, 120 keys). The public one is the fallback.
  // classic-level honours `sync`; abstract-level's typings do not list it.
  // Only while the database is open: the public batch() refuses a closed one with a clear error.
  const native = (db as unknown as { _batch?: (o: EncodedWrite[], opts: { sync: boolean }) => Promise<void> })._batch;
  const checked = db.batch.bind(db) as unknown as (o: EncodedWrite[], opts: { sync: boolean; valueEncoding: 'utf8' }) => Promise<void>;
  const batch = (o: EncodedWrite[], opts: { sync: boolean; valueEncoding: 'utf8' }) => (native && db.status === 'open' ? native.call(db, o, { sync: opts.sync }) : checked(o, opts));
  const stats = new LevelStats(sub.stats, sub.events);
  // Messages given an outcome (message.outcome) in the last OUTCOME_WINDOW, oldest first: only an
  // update of one of these can have been read before an outcome it does not carry, so only these
  // are read before writing. A record read before a restart is never written after it, so memory is
  // enough; when it would hold more than OUTCOME_MEMORY, every update is read back instead.
  const outcomesWritten = new Map<string, number>();
  const mayHaveNewerOutcome = (id: string) => outcomesWritten.size > OUTCOME_MEMORY || outcomesWritten.has(id);
  const write = async (ops: StoreOp[], sync: boolean) => {
    const writes: LevelWrite[] = [];
    const resolved = await withStoredRecords(ops, (ids) => sub.messages.getMany(ids) as Promise<Array<MessageRecord | undefined>>, mayHaveNewerOutcome);
    const now = Date.now();
    for (const op of ops) {
      if (op.kind !== 'message.outcome') continue;
      outcomesWritten.delete(op.id); // re-inserted last: the map stays in time order
      outcomesWritten.set(op.id, now);
    }
    for (const [id, at] of outcomesWritten) {
      if (at >= now - OUTCOME_WINDOW) break;
      outcomesWritten.delete(id);
    }
    for (const op of resolved) for (const w of levelWrites(sub, op)) writes.push(w);
    const counted = await stats.writes(ops);
    for (const w of counted.writes) writes.push(w);
    try {
      await batch(encodeWrites(writes), { sync, valueEncoding: 'utf8' });
    } catch (err) {
      stats.forget();
      throw err;
    }
    counted.applied();
    for (const op of ops) if (op.kind === 'suppression.add') suppression.applied(op);
  };
  const group = new GroupCommit(write);
  return {
    engine: 'level',
    messages,
    events,
    suppression,
    softBounces: new LevelSoftBounces(sub.softBounces),
    optOuts: new LevelOptOuts(sub.optOuts),
    tenants: new LevelTenants(sub.tenants, sub.upstreams),
    apiTokens: new LevelApiTokens(db, sub.apiTokens),
    webhooks: new LevelWebhooks(db, sub),
    domains: new LevelDomainChecks(sub.domains),
    shipments,
    acrossTenants: new LevelAcrossTenants(sub, { messages, events, suppression, shipments }),
    signIns: new LevelSignIns(sub.consoleSignIns),
    stats,
    tlsReports: new LevelTlsReports(sub.tlsReports),
    cluster: new SingleNode(node),
    commit: (ops, opts) => group.commit(ops, opts),
    idle: () => group.idle(),
    commitStats: group.stats,
    isOpen: () => db.status === 'open',
    snapshot: () => snapshot(db),
    close: async () => {
      await group.idle();
      await db.close();
    },
  };
}

/** Every key and value as stored, from a LevelDB snapshot taken at the first read. */
async function* snapshot(db: Db): AsyncGenerator<[string, string]> {
  const it = db.iterator({ keyEncoding: 'utf8', valueEncoding: 'utf8' });
  try {
    for await (const [k, v] of it) yield [k as string, v as unknown as string];
  } finally {
    await it.close();
  }
}

/** A new LevelDB under `<dataDir>/db` for a restore: entries are written as they were read. */
export async function levelRestoreTarget(dataDir: string): Promise<RestoreTarget> {
  const { db } = await openLevel(dataDir);
  return {
    write: (entries) => db.batch(entries.map(([key, value]) => ({ type: 'put' as const, key, value })), { keyEncoding: 'utf8', valueEncoding: 'utf8' }),
    close: () => db.close(),
  };
}
