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
/** What the transport counted that belongs to no single link's stats (`TlsTransport.counters()`). */
export interface TransportCounterView {
  readonly refused: Readonly<Record<string, number>>;
  readonly introductionsRefused: Readonly<Record<string, number>>;
  readonly pending: number;
  readonly penalties: Readonly<Record<number, Readonly<Record<string, number>>>>;
  readonly receivePauses: Readonly<Record<number, { readonly rate: number; readonly consumer: number }>>;
}

/**
 * The transport's refusals and penalties as gauges (they are cumulative counts read when scraped):
 * connections refused by reason, introductions refused by reason, unauthenticated connections
 * pending, penalties per peer and reason, and reads paused per peer and cause.
 */
export function registerTransportGauges(registry: Registry, counters: () => TransportCounterView): void {
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge, c: TransportCounterView) => void) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        fill(this, counters());
      },
    });
  gauge('bulwark_net_connections_refused', 'Connections refused, by reason', ['reason'], (g, c) => {
    for (const [reason, n] of Object.entries(c.refused)) g.set({ reason }, n);
  });
  gauge('bulwark_net_introductions_refused', 'TLS introductions refused, by reason', ['reason'], (g, c) => {
    for (const [reason, n] of Object.entries(c.introductionsRefused)) g.set({ reason }, n);
  });
  gauge('bulwark_net_pending_connections', 'Inbound connections not yet authenticated', [], (g, c) => g.set(c.pending));
  gauge('bulwark_net_peer_penalties', 'Penalties given to a peer, by reason', ['peer', 'reason'], (g, c) => {
    for (const [peer, byReason] of Object.entries(c.penalties)) for (const [reason, n] of Object.entries(byReason)) g.set({ peer, reason }, n);
  });
  gauge('bulwark_net_receive_pauses', 'Times reading from a peer was paused, by cause (its byte rate, or this node not ready)', ['peer', 'cause'], (g, c) => {
    for (const [peer, p] of Object.entries(c.receivePauses)) {
      g.set({ peer, cause: 'rate' }, p.rate);
      g.set({ peer, cause: 'consumer' }, p.consumer);
    }
  });
}

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
