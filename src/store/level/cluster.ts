// A LevelDB store has one node: it holds every lease, and nothing changes behind its back.
import os from 'node:os';
import type { ClusterNode, ClusterPort } from '../ports.js';

export class SingleNode implements ClusterPort {
  private readonly startedAt = Date.now();

  constructor(readonly node: string) {}

  async nodes(): Promise<ClusterNode[]> {
    return [{ id: this.node, name: os.hostname(), startedAt: this.startedAt, heartbeatAt: Date.now() }];
  }

  async leave(): Promise<void> {}

  async lease(): Promise<boolean> {
    return true;
  }

  async release(): Promise<void> {}

  onChange(): void {}

  async sharedSecret(): Promise<string | undefined> {
    return undefined;
  }
}
