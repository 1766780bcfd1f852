// Admin API: the cluster as an operator sees it — this node, the store it uses, every node with the
// age of its last heartbeat, and the leases this node holds (GET /cluster, `mailgate status`, /metrics).
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

const label = (v: string) => v.replace(/[\\"\n]/g, '_');

/** The cluster in Prometheus text. */
export function clusterMetrics(s: ClusterStatus): string {
  return `${[
    '# HELP mailgate_node_info This node (its id) and the store it uses.',
    '# TYPE mailgate_node_info gauge',
    `mailgate_node_info{node="${label(s.node)}",engine="${label(s.engine)}"} 1`,
    '# HELP mailgate_cluster_heartbeat_age_seconds Seconds since each node of the cluster last wrote its heartbeat.',
    '# TYPE mailgate_cluster_heartbeat_age_seconds gauge',
    ...s.nodes.map((n) => `mailgate_cluster_heartbeat_age_seconds{node="${label(n.id)}"} ${n.heartbeatAgeSeconds}`),
    '# HELP mailgate_lease_held 1 when this node holds the lease of that work (one node at a time runs it).',
    '# TYPE mailgate_lease_held gauge',
    ...Object.entries(s.leases).map(([name, held]) => `mailgate_lease_held{lease="${label(name)}"} ${held ? 1 : 0}`),
  ].join('\n')}\n`;
}

export function registerClusterRoutes(api: FastifyInstance, deps: { cluster: () => Promise<ClusterStatus>; drain: (graceMs: number) => Promise<DrainResult> }): void {
  api.get('/cluster', async () => deps.cluster());
  // Answers when the node is drained (after at most the grace period and the hand-over); the process then stops.
  api.post('/node/drain', {
    schema: { body: { type: ['object', 'null'], additionalProperties: false, properties: { graceSeconds: { type: 'integer', minimum: 0, maximum: 3600, default: 60 } } } },
  }, async (req) => deps.drain(((req.body as { graceSeconds?: number } | null)?.graceSeconds ?? 60) * 1000));
}
