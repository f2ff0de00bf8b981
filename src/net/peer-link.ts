/**
 * Everything about one peer: its bounded send queue, its counters, the one live connection, and, on
 * the side that dials, the reconnect loop. A link is "up" once both ends have accepted each other:
 * the acceptor on pinning the dialer's certificate, the dialer on the acceptor's first frame, which
 * the acceptor sends at once (a keepalive) precisely so the dialer can tell acceptance from refusal.
 */
import type { TLSSocket } from 'node:tls';
import { Backoff } from './backoff.ts';
import { Connection } from './connection.ts';
import { COUNTED_CLOSE_REASONS, type LinkCloseReason, type TransportEvent } from './events.ts';
import { ALPN } from './pinning.ts';
import { SendQueue } from './send-queue.ts';
import type { TlsNode, TlsTuning } from './tls-options.ts';
import type { NodeId, NodeRole, PeerStats } from './transport.ts';

export interface PeerLinkDeps {
  readonly selfRole: NodeRole;
  readonly tuning: TlsTuning;
  readonly random: () => number;
  /** Opens a TLS connection to the peer (only called on the dialing side). */
  readonly connect: (peer: TlsNode) => TLSSocket;
  /** Whether `der` is one of the certificates pinned for `peer` now (pins can change). */
  readonly isPinned: (peer: NodeId, der: Uint8Array | undefined) => boolean;
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

  constructor(
    readonly peer: TlsNode,
    /** True when this side dials (the higher id of the pair). */
    readonly dialer: boolean,
    private readonly deps: PeerLinkDeps,
  ) {
    this.queue = new SendQueue({ maxBytes: deps.tuning.maxQueueBytes, maxFrames: deps.tuning.maxQueueFrames });
    this.backoff = new Backoff({ baseMs: deps.tuning.reconnectBaseMs, maxMs: deps.tuning.reconnectMaxMs, random: deps.random });
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
    this.conn?.close('replaced');
    const conn = this.attach(socket);
    conn.peerCertificate = certificate;
    conn.markEstablished();
    conn.sendKeepalive(); // the dialer's signal that it was accepted
    this.linkUp('inbound');
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

  private dial(): void {
    this.reconnectTimer = null;
    if (this.closing) return;
    const socket = this.deps.connect(this.peer);
    const conn = this.attach(socket);
    socket.once('secureConnect', () => {
      const raw = socket.getPeerX509Certificate()?.raw;
      const der = raw === undefined ? undefined : new Uint8Array(raw);
      if (der === undefined || !this.deps.isPinned(this.peer.id, der)) {
        conn.close('certificate-mismatch', 'the peer did not present its pinned certificate');
      } else if (socket.alpnProtocol !== ALPN[this.deps.selfRole]) {
        conn.close('wrong-protocol', `peer chose ALPN ${String(socket.alpnProtocol)}`);
      } else {
        conn.secured = true;
        conn.peerCertificate = der;
      }
    });
  }

  private attach(socket: TLSSocket): Connection {
    const conn: Connection = new Connection(socket, this.deps.tuning, {
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
      closed: (reason, detail) => this.onClosed(conn, reason, detail),
    });
    this.conn = conn;
    return conn;
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
