/**
 * Everything about one peer: its bounded send queue, its counters, the one live connection, and, on
 * the side that dials, the reconnect loop. A link is "up" once both ends have accepted each other:
 * the acceptor on pinning the dialer's certificate, the dialer on the acceptor's first frame, which
 * the acceptor sends at once (a keepalive) precisely so the dialer can tell acceptance from refusal.
 *
 * Introductions: each side first sends its introduction, if it has one (a control frame, which is
 * not the acceptor's acceptance). A dialer whose peer presented a certificate not pinned for it, when
 * the transport judges introductions, holds the connection until the peer's introduction and lets
 * the transport judge it; accepted, the connection goes on as if the certificate had been pinned.
 *
 * Receiving is bounded per peer: a token bucket of `receiveBytesPerSecond` (kept across
 * reconnects), and the consumer's `receiveReady`; either pauses reading the socket for a while, and
 * TCP pushes back on the sender. A penalized peer (`penalize`) is cut off for a back-off that
 * doubles with each penalty: its link is closed, this side does not dial it, and the transport
 * refuses its connections until the back-off is over.
 */
import type { TLSSocket } from 'node:tls';
import { Backoff } from './backoff.ts';
import { Connection, type ConnectionHandlers } from './connection.ts';
import { COUNTED_CLOSE_REASONS, type IntroductionRefusalReason, type LinkCloseReason, type TransportEvent } from './events.ts';
import { ALPN } from './pinning.ts';
import { SendQueue } from './send-queue.ts';
import type { TlsNode, TlsTuning } from './tls-options.ts';
import { TokenBucket } from './token-bucket.ts';
import type { NodeId, NodeRole, PeerStats } from './transport.ts';

export interface PeerLinkDeps {
  readonly selfRole: NodeRole;
  readonly tuning: TlsTuning;
  readonly random: () => number;
  /** Opens a TLS connection to the peer (only called on the dialing side). */
  readonly connect: (peer: TlsNode) => TLSSocket;
  /** Whether `der` is one of the certificates pinned for `peer` now (pins can change). */
  readonly isPinned: (peer: NodeId, der: Uint8Array | undefined) => boolean;
  /** The node `der` is pinned for, if any. */
  readonly owner: (der: Uint8Array) => NodeId | undefined;
  /** The encoded introduction to send first on a new connection, or null (none). */
  readonly introduction: () => Uint8Array | null;
  /** Whether a certificate not pinned is held for an introduction rather than refused at once. */
  readonly introductions: boolean;
  /**
   * Judges `peer`'s introduction of the certificate `der`: null when accepted (the certificate is
   * pinned for `peer` now), else why not. Counted and reported either way.
   */
  readonly judgeIntroduction: (peer: NodeId, der: Uint8Array, bytes: Uint8Array, remote: string) => string | null;
  /** A held connection ended without an introduction to judge; counted and reported. */
  readonly refuseIntroduction: (peer: NodeId, remote: string, detail: string, reason: IntroductionRefusalReason) => void;
  /** Whether the consumer takes more of `peer`'s frames now (see `TlsTransportOptions.receiveReady`). */
  readonly receiveReady: (peer: NodeId) => boolean;
  readonly deliver: (from: NodeId, frame: Uint8Array) => void;
  readonly status: (peer: NodeId, connected: boolean) => void;
  readonly event: (event: TransportEvent) => void;
}

export class PeerLink {
  private readonly queue: SendQueue;
  private readonly backoff: Backoff;
  private conn: Connection | null = null;
  private up = false;
  private flushScheduled = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private closedWaiters: Array<() => void> = [];
  private spaceWaiters: Array<() => void> = [];
  private counters = { framesSent: 0, framesReceived: 0, bytesSent: 0, bytesReceived: 0, framesDropped: 0, errors: 0, ups: 0 };
  private readonly receiveBudget: TokenBucket | null;
  private readonly receivePauses = { rate: 0, consumer: 0 };
  /** Penalties: how many in a row (the back-off doubles), until when the one in force lasts, the last one's time. */
  private readonly penalty = { level: 0, until: 0, last: -Infinity };
  private readonly penalties = new Map<string, number>();

  constructor(
    readonly peer: TlsNode,
    /** True when this side dials (the higher id of the pair). */
    readonly dialer: boolean,
    private readonly deps: PeerLinkDeps,
  ) {
    this.queue = new SendQueue({ maxBytes: deps.tuning.maxQueueBytes, maxFrames: deps.tuning.maxQueueFrames });
    this.backoff = new Backoff({ baseMs: deps.tuning.reconnectBaseMs, maxMs: deps.tuning.reconnectMaxMs, random: deps.random });
    const { receiveBytesPerSecond: rate, receiveBurstBytes: burst } = deps.tuning;
    this.receiveBudget = rate > 0 ? new TokenBucket(rate, burst) : null;
  }

  get connected(): boolean {
    return this.up;
  }

  start(): void {
    if (this.dialer) this.dial();
  }

  send(frame: Uint8Array): boolean {
    if (frame.length === 0 || frame.length > this.deps.tuning.maxFrameBytes || !this.queue.push(frame)) {
      this.counters.framesDropped++;
      return false;
    }
    this.scheduleFlush();
    return true;
  }

  /** Resolves once the queue is at most half full (for senders that want to respect back-pressure). */
  waitForSpace(): Promise<void> {
    if (this.queue.hasRoom() || this.closing) return Promise.resolve();
    return new Promise((resolve) => this.spaceWaiters.push(resolve));
  }

  /** An inbound connection already pinned to this peer; the newest wins (the peer restarted). */
  adopt(socket: TLSSocket, certificate: Uint8Array): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.accept(new Connection(socket, this.deps.tuning, UNBOUND), certificate);
  }

  /**
   * An inbound connection the transport held until the peer's introduction was accepted (it has
   * sent this node's introduction already); from here on it is this link's, like `adopt`.
   */
  adoptIntroduced(conn: Connection, certificate: Uint8Array): void {
    if (this.closing) {
      conn.socket.destroy();
      return;
    }
    this.accept(conn, certificate);
  }

  /**
   * After the peer's pins changed: a connection whose peer presented a certificate no longer pinned
   * is closed at once (counted, like any certificate mismatch); the dialing side redials as usual.
   */
  dropIfUnpinned(): void {
    const conn = this.conn;
    // No certificate yet: a dial still in its handshake, which is checked against the new pins.
    if (conn === null || conn.peerCertificate === undefined || this.deps.isPinned(this.peer.id, conn.peerCertificate)) return;
    conn.close('certificate-mismatch', 'the certificate the peer presented is no longer pinned');
  }

  /**
   * After this node's own certificate changed: the connection is closed so that it is made again
   * under the new one (by whichever side dials). An established one closes gracefully, so frames
   * already written still arrive; frames still queued stay in the queue for the next connection.
   */
  renew(): void {
    const conn = this.conn;
    if (conn === null) return;
    if (conn.isEstablished) conn.finish('replaced', "this node's certificate changed");
    else conn.close('replaced', "this node's certificate changed");
  }

  /** A refusal of a connection that presented this peer's pinned certificate counts against it. */
  countError(): void {
    this.counters.errors++;
  }

  /** Whether a penalty is in force: the peer is not dialled and its connections are refused. */
  get penalized(): boolean {
    return performance.now() < this.penalty.until;
  }

  /**
   * The peer misbehaved: its link is closed and it is cut off for a back-off that doubles with
   * each penalty (penaltyBaseMs up to penaltyMaxMs; back to the base after penaltyResetMs without
   * one). A penalty while one is in force (the rest of what it sent before, say) is counted but
   * changes nothing.
   */
  penalize(reason: string): { backoffMs: number; count: number; escalated: boolean } {
    const { penaltyBaseMs, penaltyMaxMs, penaltyResetMs } = this.deps.tuning;
    const now = performance.now();
    const label = this.penalties.has(reason) || this.penalties.size < MAX_PENALTY_REASONS ? reason : 'other';
    this.penalties.set(label, (this.penalties.get(label) ?? 0) + 1);
    const count = [...this.penalties.values()].reduce((a, b) => a + b, 0);
    if (now - this.penalty.last > penaltyResetMs) this.penalty.level = 0;
    this.penalty.last = now;
    if (now < this.penalty.until) return { backoffMs: Math.ceil(this.penalty.until - now), count, escalated: false };
    const backoffMs = Math.min(penaltyMaxMs, penaltyBaseMs * 2 ** Math.min(this.penalty.level, 30));
    this.penalty.level++;
    this.penalty.until = now + backoffMs;
    this.conn?.close('penalized', reason);
    return { backoffMs, count, escalated: true };
  }

  /** This peer's penalties by reason, and how often reading from it was paused. */
  penaltyCounts(): Record<string, number> {
    return Object.fromEntries(this.penalties);
  }

  pauseCounts(): { rate: number; consumer: number } {
    return { ...this.receivePauses };
  }

  stats(): PeerStats {
    const c = this.counters;
    return {
      peer: this.peer.id,
      connected: this.up,
      framesSent: c.framesSent,
      framesReceived: c.framesReceived,
      bytesSent: c.bytesSent,
      bytesReceived: c.bytesReceived,
      framesDropped: c.framesDropped,
      errors: c.errors,
      reconnects: Math.max(0, c.ups - 1),
    };
  }

  close(): Promise<void> {
    this.closing = true;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.releaseSpaceWaiters();
    const conn = this.conn;
    if (conn === null) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.closedWaiters.push(resolve));
    conn.close('transport-closed');
    return done;
  }

  private accept(conn: Connection, certificate: Uint8Array): void {
    this.conn?.close('replaced');
    this.install(conn);
    conn.peerCertificate = certificate;
    conn.markEstablished();
    conn.sendKeepalive(); // the dialer's signal that it was accepted
    this.linkUp('inbound');
  }

  private dial(): void {
    this.reconnectTimer = null;
    if (this.closing) return;
    const penalized = this.penalty.until - performance.now();
    if (penalized > 0) {
      this.reconnectTimer = setTimeout(() => this.dial(), Math.ceil(penalized));
      return;
    }
    const socket = this.deps.connect(this.peer);
    const remote = `${this.peer.host}:${this.peer.port}`;
    let presented: Uint8Array | undefined;
    const conn = this.attach(socket, {
      introduction: (node, bytes) => {
        if (conn !== this.conn || presented === undefined) return;
        const why =
          node === this.peer.id
            ? this.deps.judgeIntroduction(this.peer.id, presented, bytes, remote)
            : this.refusedIntroduction(remote, `introduced as node ${node}, not the node dialled`, 'impossible-claim');
        if (why !== null) {
          conn.close('certificate-mismatch', `the peer's introduction was refused: ${why}`);
          return;
        }
        conn.secured = true;
        conn.peerCertificate = presented;
        // The acceptor's acceptance came before its introduction (it should not, but it counts).
        if (conn.sawKeepaliveWhileAwaiting && !conn.isEstablished) {
          conn.markEstablished();
          this.linkUp('outbound');
        }
      },
      introductionFailed: (detail, reason) => {
        if (conn !== this.conn) return;
        this.deps.refuseIntroduction(this.peer.id, remote, detail, reason);
        conn.close('certificate-mismatch', `the peer presented a certificate not pinned and ${detail}`);
      },
    });
    socket.once('secureConnect', () => {
      const raw = socket.getPeerX509Certificate()?.raw;
      const der = raw === undefined ? undefined : new Uint8Array(raw);
      const pinned = der !== undefined && this.deps.isPinned(this.peer.id, der);
      // A certificate not pinned (but pinned for no other node) may still be introduced.
      const held = !pinned && der !== undefined && this.deps.introductions && this.deps.owner(der) === undefined;
      if (!pinned && !held) {
        conn.close('certificate-mismatch', 'the peer did not present its pinned certificate');
      } else if (socket.alpnProtocol !== ALPN[this.deps.selfRole]) {
        conn.close('wrong-protocol', `peer chose ALPN ${String(socket.alpnProtocol)}`);
      } else {
        const introduction = this.deps.introduction();
        if (introduction !== null) conn.sendControl(introduction);
        if (held) {
          presented = der;
          conn.awaitIntroduction();
        } else {
          conn.secured = true;
          conn.peerCertificate = der;
        }
      }
    });
  }

  private refusedIntroduction(remote: string, detail: string, reason: IntroductionRefusalReason): string {
    this.deps.refuseIntroduction(this.peer.id, remote, detail, reason);
    return detail;
  }

  private attach(socket: TLSSocket, introduction?: Pick<ConnectionHandlers, 'introduction' | 'introductionFailed'>): Connection {
    const conn = new Connection(socket, this.deps.tuning, UNBOUND);
    this.install(conn, introduction);
    return conn;
  }

  /** Makes `conn` this link's connection, its events handled here. */
  private install(conn: Connection, introduction?: Pick<ConnectionHandlers, 'introduction' | 'introductionFailed'>): void {
    conn.bind({
      ...introduction,
      activity: () => {
        if (conn === this.conn && !conn.isEstablished) {
          conn.markEstablished();
          this.linkUp('outbound');
        }
      },
      frame: (payload) => {
        if (conn !== this.conn) return;
        this.counters.framesReceived++;
        this.counters.bytesReceived += payload.length;
        this.deps.deliver(this.peer.id, payload);
      },
      drain: () => {
        if (conn === this.conn) this.flush();
      },
      received: (bytes) => {
        if (conn === this.conn) this.budgetReceive(conn, bytes);
      },
      closed: (reason, detail) => this.onClosed(conn, reason, detail),
    });
    this.conn = conn;
  }

  /** After a chunk from the peer: pause reading while it is over its byte rate, or the consumer is not ready. */
  private budgetReceive(conn: Connection, bytes: number): void {
    const wait = this.receiveBudget?.charge(bytes) ?? 0;
    if (wait > 0) {
      this.receivePauses.rate++;
      conn.pauseReading(wait);
      return;
    }
    if (this.deps.receiveReady(this.peer.id)) return;
    this.receivePauses.consumer++;
    const retry = this.deps.tuning.receiveRetryMs;
    conn.pauseReading(retry, () => (this.deps.receiveReady(this.peer.id) ? 0 : retry));
  }

  private linkUp(direction: 'inbound' | 'outbound'): void {
    // A replacement (the peer came back before we saw its old connection die) is a reconnect, but
    // the link was never down as far as the layer above is concerned.
    const wasUp = this.up;
    this.up = true;
    this.counters.ups++;
    this.backoff.reset();
    this.deps.event({ kind: 'link-up', peer: this.peer.id, direction });
    if (!wasUp) this.deps.status(this.peer.id, true);
    this.scheduleFlush();
  }

  private onClosed(conn: Connection, reason0: LinkCloseReason, detail: string | undefined): void {
    // A dialer whose TLS handshake completed but who never got the acceptor's first frame was refused.
    const reason: LinkCloseReason =
      this.dialer && !conn.isEstablished && conn.secured && (reason0 === 'peer-closed' || reason0 === 'socket-error')
        ? 'rejected-by-peer'
        : reason0;
    if (COUNTED_CLOSE_REASONS.has(reason)) this.counters.errors++;
    const current = conn === this.conn;
    const wasUp = current && this.up;
    if (current) {
      this.conn = null;
      this.up = false;
    }
    this.deps.event({ kind: 'link-down', peer: this.peer.id, reason, wasUp, ...(detail === undefined ? {} : { detail }) });
    if (wasUp) this.deps.status(this.peer.id, false);
    if (this.closing) {
      if (this.conn === null) for (const resolve of this.closedWaiters.splice(0)) resolve();
      return;
    }
    if (current && this.dialer) this.reconnectTimer = setTimeout(() => this.dial(), this.backoff.next());
  }

  /** Writes what is queued now, if a flush is scheduled (the scheduled one then finds less or nothing). */
  flushNow(): void {
    if (this.flushScheduled) this.flush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || !this.up) return;
    this.flushScheduled = true;
    // setImmediate, not a microtask: every frame queued in this turn of the event loop joins one write.
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const conn = this.conn;
    if (conn === null || !this.up) return;
    while (this.queue.frames > 0 && conn.writable) {
      const batch = this.queue.take(this.deps.tuning.writeBatchBytes);
      for (const f of batch) this.counters.bytesSent += f.length;
      this.counters.framesSent += batch.length;
      conn.writeFrames(batch);
    }
    if (this.queue.hasRoom()) this.releaseSpaceWaiters();
  }

  private releaseSpaceWaiters(): void {
    for (const resolve of this.spaceWaiters.splice(0)) resolve();
  }
}

/** Distinct penalty reasons counted per peer; more are counted as 'other' (the caller names them). */
const MAX_PENALTY_REASONS = 16;

/** The handlers of a connection not yet installed on a link (replaced before any socket event). */
const UNBOUND: ConnectionHandlers = {
  activity: () => {},
  frame: () => {},
  drain: () => {},
  closed: () => {},
};
