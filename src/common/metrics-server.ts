/**
 * The /metrics (Prometheus text) and /health (JSON) endpoint every node serves on its own port;
 * everything else is 404.
 */
import { createServer, type Server } from 'node:http';
import { Gauge, type Registry } from 'prom-client';
import type { PeerStats } from '../net/transport.ts';

export async function serveMetrics(
  registry: Registry,
  health: () => Record<string, unknown>,
  listen: { readonly host: string; readonly port: number },
): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
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

/**
 * Gauges whose values come from one snapshot of the node, taken once per scrape (not once per
 * gauge: a snapshot may walk the pool or ask the transport).
 */
export function registerSnapshotGauges<T>(registry: Registry, read: () => T, defs: readonly (readonly [name: string, help: string, value: (t: T) => number])[]): void {
  let snapshot: T | undefined;
  let takenAt = -Infinity;
  const current = (): T => {
    const now = performance.now();
    if (snapshot === undefined || now - takenAt > 100) {
      snapshot = read();
      takenAt = now;
    }
    return snapshot;
  };
  for (const [name, help, value] of defs) {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(value(current()));
      },
    });
  }
}

/** One gauge per link counter, labelled by peer, read from the transport when scraped. */
export function registerPeerGauges(registry: Registry, peers: () => readonly PeerStats[]): void {
  const peer = (name: string, help: string, field: keyof Omit<PeerStats, 'peer'>) =>
    new Gauge({
      name,
      help,
      labelNames: ['peer'],
      registers: [registry],
      collect() {
        for (const p of peers()) this.set({ peer: String(p.peer) }, Number(p[field]));
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
