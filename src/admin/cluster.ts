// Admin API: the cluster as an operator sees it — this node, the store it uses, every node with the
// age of its last heartbeat, and the leases this node holds (GET /cluster, `mailgate status`; admin/metrics.ts shows it in /metrics).
import type { FastifyInstance } from 'fastify';
import type { ClusterPort } from '../store/ports.js';
import type { DrainResult } from '../queue/drain.js';

export interface ClusterStatus {
  node: string;
  engine: string;
  nodes: Array<{ id: string; name: string; startedAt: number; heartbeatAt: number; heartbeatAgeSeconds: number }>;
  leases: Record<string, boolean>;
}

export async function clusterStatus(cluster: ClusterPort, engine: string, leases: ReadonlyMap<string, { readonly held: boolean }>, now = Date.now()): Promise<ClusterStatus> {
  const nodes = await cluster.nodes();
  return {
    node: cluster.node,
    engine,
    nodes: nodes.map((n) => ({ ...n, heartbeatAgeSeconds: Math.max(0, Math.round((now - n.heartbeatAt) / 100) / 10) })),
    leases: Object.fromEntries([...leases].map(([name, gate]) => [name, gate.held])),
  };
}

export function registerClusterRoutes(api: FastifyInstance, deps: { cluster: () => Promise<ClusterStatus>; drain: (graceMs: number) => Promise<DrainResult> }): void {
  api.get('/cluster', async () => deps.cluster());
  // Answers when the node is drained (after at most the grace period and the hand-over); the process then stops.
  api.post('/node/drain', {
    schema: { body: { type: ['object', 'null'], additionalProperties: false, properties: { graceSeconds: { type: 'integer', minimum: 0, maximum: 3600, default: 60 } } } },
  }, async (req) => deps.drain(((req.body as { graceSeconds?: number } | null)?.graceSeconds ?? 60) * 1000));
}
