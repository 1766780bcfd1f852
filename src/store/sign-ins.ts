// The web console's sign-in log: when each API token last signed in (for the "new since" counters).
import type { Sublevel } from './level.js';

export class ConsoleSignIns {
  constructor(private readonly db: Sublevel) {}

  async get(tokenHash: string): Promise<number | undefined> {
    return (await this.db.get(tokenHash)) as number | undefined;
  }

  set(tokenHash: string, time: number): Promise<void> {
    return this.db.put(tokenHash, time);
  }
}
