/**
 * The simulated network behind the deterministic simulator: `Transport`s whose frames travel
 * through a scheduler the simulation owns. The link policy (delay, loss, duplication, partitions,
 * one-way links) is a function the simulation supplies, fed by its seeded PRNG, so a run is a pure
 * function of its seed. Frames are copied on send, as a socket would, so no sender can alter a
 * frame after it left.
 */
import type { TransportCounterView } from './metrics.ts';
import type { FrameHandler, NodeId, PeerStats, PeerStatusHandler, Transport } from './transport.ts';

export interface LinkDecision {
  /** Delivery delays in ms, one per copy: [] drops the frame, two entries duplicate it. */
  readonly delays: readonly number[];
}

export interface SimNetworkOptions {
  readonly schedule: (delayMs: number, run: () => void) => void;
  readonly link: (from: NodeId, to: NodeId, frame: Uint8Array) => LinkDecision;
  readonly maxFrameBytes?: number;
  /** Per-endpoint reachability, for partitions that split Twins (two endpoints sharing one id). */
  readonly reachable?: (from: SimTransport, to: SimTransport) => boolean;
}

interface Counters {
  framesSent: number;
  framesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  framesDropped: number;
}

export class SimNetwork {
  readonly #opts: SimNetworkOptions;
  /** Several transports may share an id (Twins); each receives every frame sent to the id. */
  readonly #endpoints = new Map<NodeId, Set<SimTransport>>();

  constructor(opts: SimNetworkOptions) {
    this.#opts = opts;
  }

  transport(self: NodeId, label = String(self)): SimTransport {
    return new SimTransport(self, this, label);
  }

  attach(t: SimTransport): void {
    let set = this.#endpoints.get(t.self);
    if (set === undefined) this.#endpoints.set(t.self, (set = new Set()));
    set.add(t);
  }

  detach(t: SimTransport): void {
    this.#endpoints.get(t.self)?.delete(t);
  }

  route(sender: SimTransport, to: NodeId, frame: Uint8Array): boolean {
    if (frame.length > (this.#opts.maxFrameBytes ?? 16 << 20)) return false;
    const copy = frame.slice();
    const reachable = this.#opts.reachable;
    for (const delay of this.#opts.link(sender.self, to, copy).delays) {
      this.#opts.schedule(delay, () => {
        for (const t of this.#endpoints.get(to) ?? []) {
          if (reachable === undefined || reachable(sender, t)) t.deliver(sender.self, copy);
        }
      });
    }
    return true;
  }
}

export class SimTransport implements Transport {
  readonly self: NodeId;
  readonly label: string;
  readonly #net: SimNetwork;
  #onFrame: FrameHandler = () => {};
  readonly #counters = new Map<NodeId, Counters>();
  readonly #penalties = new Map<NodeId, Map<string, number>>();
  #open = false;

  constructor(self: NodeId, net: SimNetwork, label: string) {
    this.self = self;
    this.label = label;
    this.#net = net;
  }

  #peer(id: NodeId): Counters {
    let c = this.#counters.get(id);
    if (c === undefined) {
      c = { framesSent: 0, framesReceived: 0, bytesSent: 0, bytesReceived: 0, framesDropped: 0 };
      this.#counters.set(id, c);
    }
    return c;
  }

  send(to: NodeId, frame: Uint8Array): boolean {
    const c = this.#peer(to);
    if (!this.#open || !this.#net.route(this, to, frame)) {
      c.framesDropped++;
      return false;
    }
    c.framesSent++;
    c.bytesSent += frame.length;
    return true;
  }

  deliver(from: NodeId, frame: Uint8Array): void {
    if (!this.#open) return;
    const c = this.#peer(from);
    c.framesReceived++;
    c.bytesReceived += frame.length;
    this.#onFrame(from, frame);
  }

  onFrame(handler: FrameHandler): void {
    this.#onFrame = handler;
  }

  /** Counted, nothing more: a simulated link is never cut off, so a scenario's outcome does not change. */
  penalize(peer: NodeId, reason: string): void {
    let byReason = this.#penalties.get(peer);
    if (byReason === undefined) this.#penalties.set(peer, (byReason = new Map()));
    byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
  }

  /** The penalties `penalize` counted: per peer, per reason. */
  penalties(): ReadonlyMap<NodeId, ReadonlyMap<string, number>> {
    return this.#penalties;
  }

  /** What `TlsTransport.counters()` reports: here only the penalties (nothing is refused, paused or pending). */
  counters(): TransportCounterView {
    const penalties: Record<NodeId, Record<string, number>> = {};
    for (const [peer, byReason] of this.#penalties) penalties[peer] = Object.fromEntries(byReason);
    return { refused: {}, introductionsRefused: {}, pending: 0, penalties, receivePauses: {} };
  }

  onPeerStatus(_handler: PeerStatusHandler): void {
    // Simulated links have no connection state: loss and partitions are per frame.
  }

  async start(): Promise<void> {
    this.#open = true;
    this.#net.attach(this);
  }

  /** Synchronous variant for the simulator, which never awaits. */
  open(): void {
    this.#open = true;
    this.#net.attach(this);
  }

  async close(): Promise<void> {
    this.shut();
  }

  shut(): void {
    this.#open = false;
    this.#net.detach(this);
  }

  stats(): readonly PeerStats[] {
    return [...this.#counters].map(([peer, c]) => ({ peer, connected: this.#open, errors: 0, reconnects: 0, ...c }));
  }
}
