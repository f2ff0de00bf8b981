/**
 * One authenticated TLS socket carrying frames: decoding what arrives, writing coalesced batches with
 * the socket's back-pressure respected, keepalives when quiet and an idle timeout when the peer is.
 * It knows nothing of peers, queues or reconnects; `PeerLink` owns those.
 */
import type { TLSSocket } from 'node:tls';
import { decodeControl, encodeFrames, encodeHeader, FrameDecoder, KEEPALIVE_FRAME, type FrameSink } from './frame.ts';
import type { IntroductionRefusalReason, LinkCloseReason } from './events.ts';
import type { TlsTuning } from './tls-options.ts';
import type { NodeId } from './transport.ts';

export interface ConnectionHandlers {
  /** Any bytes arrived (a keepalive or frame completed); the dialer waits for this to call a link up. */
  activity(): void;
  frame(payload: Uint8Array): void;
  /** The socket can take more after it had asked us to wait. */
  drain(): void;
  closed(reason: LinkCloseReason, detail: string | undefined): void;
  /** The peer's introduction, while this connection awaits one (`awaitIntroduction`). */
  introduction?(node: NodeId, bytes: Uint8Array): void;
  /**
   * While awaiting an introduction: an application frame came first, the introduction was
   * malformed or too large, none came in time, or the peer closed the connection (then called just
   * before `closed`). The connection does not close itself (except for one too large: its decoder
   * cannot go on); the owner refuses it.
   */
  introductionFailed?(detail: string, reason: IntroductionRefusalReason): void;
  /** A chunk of `bytes` was read and its frames handed on: the owner may pause reading (`pauseReading`). */
  received?(bytes: number): void;
}

/** Frames this large skip the coalescing copy and go to the socket as they are. */
const LARGE_FRAME_BYTES = 16 * 1024;

export class Connection {
  private readonly decoder: FrameDecoder;
  private readonly timer: NodeJS.Timeout;
  private handlers: ConnectionHandlers;
  /** When the handshake deadline started: the socket's opening, or the end of an introduction wait. */
  private opened = performance.now();
  private lastReceived = performance.now();
  private lastSent = performance.now();
  private established = false;
  /** Set by the dialer once the TLS handshake finished and the peer's pin checked out. */
  secured = false;
  /**
   * The certificate the peer presented, kept when its pin is checked: `node:tls` cannot be asked
   * later (a TLS 1.3 client loses it with the session ticket), and pins can change meanwhile.
   */
  peerCertificate: Uint8Array | undefined;
  private closeReason: LinkCloseReason | undefined;
  private closeDetail: string | undefined;
  private ended = false;
  /** `close` or `finish` was called: this side ended the connection. */
  private endedHere = false;
  /** When `finish` began a graceful close (performance.now()), or null. */
  private finishing: number | null = null;
  /** The deadline (performance.now()) of the introduction this connection awaits, or null. */
  private introductionDeadline: number | null = null;
  /** A keepalive arrived while an introduction was awaited (the acceptor's acceptance, if early). */
  private keepaliveWhileAwaiting = false;
  /** Reading is paused until this timer fires (see `pauseReading`). */
  private pauseTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly socket: TLSSocket,
    private readonly tuning: TlsTuning,
    handlers: ConnectionHandlers,
  ) {
    this.handlers = handlers;
    this.decoder = new FrameDecoder(tuning.maxFrameBytes);
    // Nothing is handed on once closing: a frame behind a violation in the same chunk is not delivered.
    const sink: FrameSink = {
      keepalive: () => {
        if (this.ended) return;
        if (this.introductionDeadline !== null) this.keepaliveWhileAwaiting = true;
        else this.handlers.activity();
      },
      frame: (payload) => {
        if (this.ended) return;
        if (this.introductionDeadline !== null) {
          this.failIntroduction('an application frame before its introduction', 'missing');
          return;
        }
        this.handlers.activity();
        this.handlers.frame(payload);
      },
      // A control frame is not activity: an acceptor introduces itself before it has judged the dialer.
      control: (body) => {
        if (this.ended || this.introductionDeadline === null) return;
        const c = decodeControl(body);
        if (c.kind === 'unknown') return;
        if (c.kind === 'malformed') {
          this.failIntroduction('a malformed introduction', 'malformed');
          return;
        }
        this.introductionDeadline = null;
        this.decoder.limit = this.tuning.maxFrameBytes;
        this.opened = performance.now();
        this.handlers.introduction?.(c.node, c.bytes);
      },
    };
    socket.setNoDelay(true); // we coalesce ourselves; Nagle would only add latency
    socket.on('data', (chunk: Buffer) => this.onData(chunk, sink));
    socket.on('drain', () => this.handlers.drain());
    socket.on('error', (err: NodeJS.ErrnoException) => this.noteError(err));
    socket.on('close', () => this.onClose());
    const shortest = Math.min(tuning.keepaliveIntervalMs, tuning.idleTimeoutMs, tuning.handshakeTimeoutMs);
    const tick = Math.max(1, Math.floor(shortest / 2));
    this.timer = setInterval(() => this.onTick(), tick);
    this.timer.unref();
  }

  /** Hands the connection to another owner (an inbound connection held until its introduction). */
  bind(handlers: ConnectionHandlers): void {
    this.handlers = handlers;
  }

  /**
   * Holds the connection until the peer's introduction: keepalives are noted but are not activity,
   * an application frame is a violation, and `introductionFailed` is called if no introduction
   * arrives within the handshake timeout (which replaces the handshake deadline meanwhile).
   */
  awaitIntroduction(): void {
    this.introductionDeadline = performance.now() + this.tuning.handshakeTimeoutMs;
    // An unauthenticated peer gets no more than an introduction's worth of buffer.
    this.decoder.limit = Math.min(this.tuning.maxIntroductionBytes, this.tuning.maxFrameBytes);
  }

  /**
   * Stops reading from the peer for `ms` (TCP then pushes back on it); when the time is up,
   * `again` (if given) may ask for that many more milliseconds, else reading resumes. Time spent
   * paused does not count as the peer's silence.
   */
  pauseReading(ms: number, again?: () => number): void {
    if (this.ended || this.pauseTimer !== null) return;
    this.socket.pause();
    const wait = (delay: number): void => {
      this.pauseTimer = setTimeout(() => {
        const more = this.ended ? 0 : (again?.() ?? 0);
        if (more > 0) return wait(more);
        this.pauseTimer = null;
        this.lastReceived = performance.now();
        if (!this.ended) this.socket.resume();
      }, delay);
      this.pauseTimer.unref();
    };
    wait(ms);
  }

  get paused(): boolean {
    return this.pauseTimer !== null;
  }

  get awaitingIntroduction(): boolean {
    return this.introductionDeadline !== null;
  }

  /** Whether a keepalive arrived while the introduction was awaited. */
  get sawKeepaliveWhileAwaiting(): boolean {
    return this.keepaliveWhileAwaiting;
  }

  /** Writes pre-encoded transport bytes (an introduction) ahead of anything queued later. */
  sendControl(bytes: Uint8Array): void {
    if (this.ended || !this.socket.writable) return;
    this.lastSent = performance.now();
    this.socket.write(bytes);
  }

  /** From here on the idle timeout and keepalives apply instead of the handshake deadline. */
  markEstablished(): void {
    this.established = true;
    this.lastReceived = performance.now();
  }

  get isEstablished(): boolean {
    return this.established;
  }

  /**
   * False once closing, and once the socket's writing side has ended (after the peer's `end` too:
   * a frame written then would be lost, so it stays in the link's queue instead).
   */
  get writable(): boolean {
    return !this.ended && this.socket.writable && !this.socket.writableNeedDrain;
  }

  /**
   * Writes a batch; returns false when the socket wants the caller to wait for `drain`. Small frames
   * are copied into one buffer; large ones are written as they are, behind their header, under one
   * cork so the batch still leaves in as few TLS records as the sizes allow.
   */
  writeFrames(frames: readonly Uint8Array[]): boolean {
    this.lastSent = performance.now();
    if (frames.every((f) => f.length < LARGE_FRAME_BYTES)) return this.socket.write(encodeFrames(frames));
    this.socket.cork();
    let small: Uint8Array[] = [];
    for (const f of frames) {
      if (f.length < LARGE_FRAME_BYTES) {
        small.push(f);
        continue;
      }
      if (small.length > 0) this.socket.write(encodeFrames(small));
      small = [];
      this.socket.write(encodeHeader(f.length));
      this.socket.write(f);
    }
    if (small.length > 0) this.socket.write(encodeFrames(small));
    this.socket.uncork();
    return !this.socket.writableNeedDrain;
  }

  sendKeepalive(): void {
    if (this.ended || !this.socket.writable) return;
    this.lastSent = performance.now();
    this.socket.write(KEEPALIVE_FRAME);
  }

  /** Closes with a reason; the `closed` handler runs once the socket is gone. */
  close(reason: LinkCloseReason, detail?: string): void {
    if (this.closeReason === undefined) {
      this.closeReason = reason;
      this.closeDetail = detail;
    }
    this.ended = true;
    this.endedHere = true;
    this.socket.destroy();
  }

  /**
   * Closes gracefully: nothing more is written, what was written still reaches the peer (then TLS
   * close_notify and FIN), and what the peer still sends is delivered until it closes its side too.
   * The peer does so at once (sockets are not half-open); if it does not, the socket is destroyed
   * after the handshake timeout.
   */
  finish(reason: LinkCloseReason, detail?: string): void {
    if (this.ended || this.finishing !== null) return;
    if (this.closeReason === undefined) {
      this.closeReason = reason;
      this.closeDetail = detail;
    }
    this.finishing = performance.now();
    this.endedHere = true;
    this.socket.end();
  }

  private onData(chunk: Buffer, sink: FrameSink): void {
    if (this.ended) return;
    this.lastReceived = performance.now();
    const limit = this.decoder.limit;
    const r = this.decoder.push(chunk, sink);
    if (!r.ok) {
      const detail = `frame of ${r.length} bytes, limit ${limit}`;
      if (this.introductionDeadline !== null) this.failIntroduction(`an introduction too large: ${detail}`, 'too-large');
      if (!this.ended) this.close('frame-too-large', detail);
      return;
    }
    if (!this.ended) this.handlers.received?.(chunk.length);
  }

  private onTick(): void {
    const now = performance.now();
    if (this.finishing !== null) {
      // The reason stays the one `finish` was given.
      if (now - this.finishing > this.tuning.handshakeTimeoutMs) this.close('idle-timeout');
      return;
    }
    if (this.introductionDeadline !== null) {
      if (now > this.introductionDeadline) {
        this.failIntroduction(`no introduction within ${this.tuning.handshakeTimeoutMs} ms`, 'missing');
      }
      return;
    }
    if (!this.established) {
      if (now - this.opened > this.tuning.handshakeTimeoutMs) {
        this.close('handshake-timeout', `no link after ${Math.round(now - this.opened)} ms`);
      }
      return;
    }
    // While this side does not read, the peer's silence is ours.
    if (this.pauseTimer === null && now - this.lastReceived > this.tuning.idleTimeoutMs) {
      this.close('idle-timeout', `nothing received for ${Math.round(now - this.lastReceived)} ms`);
      return;
    }
    // A socket still draining is sending anyway; a keepalive would only join the queue.
    if (now - this.lastSent >= this.tuning.keepaliveIntervalMs && !this.socket.writableNeedDrain) this.sendKeepalive();
  }

  private failIntroduction(detail: string, reason: IntroductionRefusalReason): void {
    this.introductionDeadline = null;
    if (this.handlers.introductionFailed !== undefined) this.handlers.introductionFailed(detail, reason);
    else this.close('certificate-mismatch', detail);
  }

  private noteError(err: NodeJS.ErrnoException): void {
    if (this.closeReason !== undefined) return;
    const code = err.code ?? '';
    this.closeReason = code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') ? 'tls-error' : 'socket-error';
    this.closeDetail = code === '' ? err.message : `${code}: ${err.message}`;
  }

  private onClose(): void {
    this.ended = true;
    clearInterval(this.timer);
    if (this.pauseTimer !== null) clearTimeout(this.pauseTimer);
    this.pauseTimer = null;
    // A peer that goes away while its introduction is awaited was not introduced: refused like the rest.
    if (this.introductionDeadline !== null && !this.endedHere) this.failIntroduction('the peer closed the connection before its introduction', 'missing');
    this.introductionDeadline = null;
    this.handlers.closed(this.closeReason ?? 'peer-closed', this.closeDetail);
  }
}
