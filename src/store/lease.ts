// A gate in front of work that must run on one node at a time: true while this node holds the named
// lease. It renews the lease when a third of its time has passed, so a holder that stops (crash,
// kill -9, network) loses it within ttlMs and another node's next try takes it. And the timer that
// runs such work now and then (retention, TLS reports) while the gate says so.
import type { ClusterPort } from './ports.js';

export const LEASE_TTL_MS = 15_000;

export interface LeaseGate {
  (): Promise<boolean>;
  /** Whether this node held the lease at the last ask. */
  readonly held: boolean;
}

export function leaseGate(cluster: ClusterPort, name: string, ttlMs = LEASE_TTL_MS, now: () => number = Date.now): LeaseGate {
  let held = false;
  let renewedAt = 0;
  let asking: Promise<boolean> | undefined;
  const gate = () => {
    if (held && now() - renewedAt < ttlMs / 3) return Promise.resolve(true);
    asking ??= cluster.lease(name, ttlMs).then(
      (ok) => {
        held = ok;
        renewedAt = now();
        return ok;
      },
      () => {
        // The database is away: do not assume the lease (another node may have it by now).
        held = false;
        return false;
      },
    ).finally(() => {
      asking = undefined;
    });
    return asking;
  };
  return Object.defineProperty(gate, 'held', { get: () => held }) as LeaseGate;
}

/** The leases one node asks for, by the name of the work (for /metrics and `mailgate status`). */
export class Leases {
  private readonly gates = new Map<string, LeaseGate>();

  constructor(private readonly cluster: ClusterPort) {}

  gate(name: string): LeaseGate {
    let g = this.gates.get(name);
    if (!g) this.gates.set(name, (g = leaseGate(this.cluster, name)));
    return g;
  }

  get all(): ReadonlyMap<string, LeaseGate> {
    return this.gates;
  }
}

/**
 * Runs `work` `firstAfterMs` after start(), then every `everyMs`, each time only if `mayRun` (a lease
 * gate) says this node is the one; a run still going is not started twice, and its failure goes to
 * `failed`. stop() waits for the run in progress.
 */
export class LeasedSchedule {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(private readonly work: () => Promise<unknown>, private readonly failed: (err: Error) => void) {}

  start(mayRun: () => Promise<boolean>, firstAfterMs: number, everyMs: number): void {
    const tick = () => {
      this.running ??= mayRun().then((ok) => (ok ? this.work() : undefined))
        .catch(this.failed)
        .finally(() => { this.running = undefined; });
    };
    this.timer = setTimeout(() => {
      tick();
      this.timer = setInterval(tick, everyMs);
      this.timer.unref();
    }, firstAfterMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    clearInterval(this.timer);
    await this.running;
  }
}
