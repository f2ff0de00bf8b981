/**
 * The transport's Prometheus gauges, read when scraped: one per link counter labelled by peer, and
 * the transport's refusals and penalties. Registered by each node's metrics (`replica/metrics.ts`,
 * `client/metrics.ts`), served by `common/metrics-server.ts`.
 */
import { Gauge, type Registry } from 'prom-client';
import type { PeerStats } from './transport.ts';

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
