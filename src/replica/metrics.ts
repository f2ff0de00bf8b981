/**
 * The replica's Prometheus metrics and its /metrics + /health endpoint. Counters are fed by the
 * shell from the state machine's `reject` and `event` outputs; gauges are read when scraped.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { PeerStats } from '../net/transport.ts';

export interface ReplicaGauges {
  readonly view: number;
  readonly active: boolean;
  readonly lastExecuted: number;
  readonly lastStable: number;
  readonly blockNumber: number;
  readonly peers: readonly PeerStats[];
}

export class ReplicaMetrics {
  readonly registry = new Registry();
  readonly rejected: Counter<'reason'>;
  readonly committed: Counter<'path'>;
  readonly viewChanges: Counter;
  readonly undecodable: Counter;

  constructor(read: () => ReplicaGauges) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'bulwark_process_' });
    this.rejected = new Counter({ name: 'bulwark_consensus_rejected_total', help: 'Inputs refused, by reason', labelNames: ['reason'], registers });
    this.committed = new Counter({ name: 'bulwark_consensus_committed_total', help: 'Sequence numbers committed, by path', labelNames: ['path'], registers });
    this.viewChanges = new Counter({ name: 'bulwark_consensus_view_changes_total', help: 'View changes started', registers });
    this.undecodable = new Counter({ name: 'bulwark_net_undecodable_frames_total', help: 'Frames that did not decode', registers });
    const gauge = (name: string, help: string, value: (g: ReplicaGauges) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(value(read()));
        },
      });
    gauge('bulwark_consensus_view', 'Current view', (g) => g.view);
    gauge('bulwark_consensus_view_active', '1 when the view is active, 0 during a view change', (g) => (g.active ? 1 : 0));
    gauge('bulwark_consensus_last_executed', 'Last executed sequence number', (g) => g.lastExecuted);
    gauge('bulwark_consensus_last_stable', 'Last stable checkpoint', (g) => g.lastStable);
    gauge('bulwark_chain_block_number', 'Head block number', (g) => g.blockNumber);
    const peer = (name: string, help: string, field: keyof Omit<PeerStats, 'peer'>) =>
      new Gauge({
        name,
        help,
        labelNames: ['peer'],
        registers,
        collect() {
          for (const p of read().peers) this.set({ peer: String(p.peer) }, Number(p[field]));
        },
      });
    peer('bulwark_net_peer_connected', 'Link up (1) or down (0)', 'connected');
    peer('bulwark_net_frames_sent', 'Frames sent to the peer', 'framesSent');
    peer('bulwark_net_frames_received', 'Frames received from the peer', 'framesReceived');
    peer('bulwark_net_bytes_sent', 'Bytes sent to the peer', 'bytesSent');
    peer('bulwark_net_bytes_received', 'Bytes received from the peer', 'bytesReceived');
    peer('bulwark_net_frames_dropped', 'Frames refused because the queue was full', 'framesDropped');
    peer('bulwark_net_errors', 'Link errors', 'errors');
    peer('bulwark_net_reconnects', 'Reconnects', 'reconnects');
  }
}

/** GET /metrics (Prometheus text) and GET /health (JSON); everything else 404. */
export async function serveMetrics(
  metrics: ReplicaMetrics,
  health: () => Record<string, unknown>,
  listen: { host: string; port: number },
): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    } else if (req.method === 'GET' && req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(health()));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  return server;
}
