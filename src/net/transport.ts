/**
 * The one interface between the protocol and the wire. Consensus and the BFT client speak frames
 * (opaque bytes, encoded by `codec/`) to numbered nodes; how the frames travel is the transport's
 * business: mutual TLS 1.3 in production (`tls-transport.ts`), a seeded simulated network in the
 * deterministic simulator (`sim-transport.ts`).
 *
 * Node ids follow Concord-BFT: replicas are `0 .. n-1`, client nodes `n .. n+m-1`, both fixed by the
 * network file. The id a frame arrives with comes from the peer's pinned certificate (or, in the
 * simulator, from the simulated link), never from the frame's content.
 */
export type NodeId = number;

export type NodeRole = 'replica' | 'client';

/** Counters per peer, for metrics (`bulwark_net_*`) and `bft_status`. */
export interface PeerStats {
  readonly peer: NodeId;
  readonly connected: boolean;
  readonly framesSent: number;
  readonly framesReceived: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  /** Frames refused locally because the peer's send queue was full (back-pressure). */
  readonly framesDropped: number;
  /** Protocol errors on the link: oversized or malformed frames, failed handshakes, timeouts. */
  readonly errors: number;
  readonly reconnects: number;
}

export type FrameHandler = (from: NodeId, frame: Uint8Array) => void;
export type PeerStatusHandler = (peer: NodeId, connected: boolean) => void;

export interface Transport {
  readonly self: NodeId;
  /**
   * Queues one frame for a peer. Returns false, and counts the drop, when the peer is unknown, the
   * frame exceeds the maximum size, or the peer's bounded queue is full. Delivery is best effort:
   * the protocol above retransmits what matters, so a full queue sheds load instead of growing.
   */
  send(to: NodeId, frame: Uint8Array): boolean;
  /**
   * Writes the frames queued so far now, instead of at the end of this turn of the event loop (where
   * a turn's frames join one write): for a caller about to hold the thread, as a synced disk write
   * does — the frames then leave before it rather than after. Optional: the simulator delivers at
   * its own pace.
   */
  flush?(): void;
  /** One handler; frames from one peer arrive in the order that peer sent them. */
  onFrame(handler: FrameHandler): void;
  onPeerStatus(handler: PeerStatusHandler): void;
  start(): Promise<void>;
  /**
   * The layer above found `peer` misbehaving — it keeps sending invalid messages, say; `reason`
   * names how (a short label, counted per peer). The TLS transport closes the link and cuts the
   * peer off (neither dials it nor accepts it) for a back-off that doubles with each penalty, 1 s up
   * to 60 s by default; the simulator only counts. Unknown peers are ignored.
   */
  penalize(peer: NodeId, reason: string): void;
  /** Closes every link and stops reconnecting; resolves when all sockets are closed. */
  close(): Promise<void>;
  stats(): readonly PeerStats[];
}
