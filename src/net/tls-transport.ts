/**
 * The production `Transport`: mutual TLS 1.3 between pinned nodes (see `pinning.ts` for who dials
 * whom and how a peer is identified, `frame.ts` for the wire format, `tls-options.ts` for limits).
 *
 * TLS settings are fixed, not negotiable downwards: TLS 1.3 only, key exchange on secp384r1, ECDSA
 * P-384 with SHA-384 signatures, both sides present certificates, and the suites from the options
 * (AES-256-GCM by default). Chain verification is off on purpose: trust comes only from comparing the
 * presented certificate with the pinned bytes, after TLS has proved the peer holds its key.
 *
 * Certificates rotate while the transport runs: `setPins` changes which certificates identify a
 * node (links presenting one no longer pinned are closed), `setIdentity` changes what this node
 * presents (every link is made again under it). The order that keeps links up: everyone pins the
 * node's old and new certificate, the node switches, then everyone drops the old one.
 *
 * A node that missed rotations (down, or far behind) still pins its peers' old certificates. With
 * the `introduction` and `introduce` options it can catch up: every node sends its introduction
 * (a transport control frame carrying its id and bytes, e.g. an endorsement chain) first on every
 * link, and a peer presenting a certificate not pinned for it is held, nothing sent or delivered,
 * until its introduction arrives and `introduce` accepts it; the certificate is then pinned for that
 * node (kept through `setPins` calls that do not name it yet) and the link comes up as usual.
 * Inbound, the node a held peer claims to be is the id in its introduction; the ALPN role and the
 * dialing direction are checked against it, then the transport's own checks (`introductions.ts`),
 * before `introduce` is asked.
 *
 * Hostile input before authentication is bounded (`pending.ts`): unauthenticated connections are
 * few, per source address and in all, the oldest evicted for a new one; each must authenticate
 * within `preAuthTimeoutMs`; an introduction is at most `maxIntroductionBytes` and few are judged
 * per second. After authentication a peer's reading is paused past its byte rate or while the
 * consumer is not ready, and a peer `penalize`d by the layer above is cut off for a while.
 */
import type { KeyObject } from 'node:crypto';
import {
  connect,
  createSecureContext,
  createServer,
  type SecureContext,
  type SecureContextOptions,
  type Server,
  type TLSSocket,
} from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import { BulwarkError } from '../common/errors.ts';
import { equalBytes } from '../common/bytes.ts';
import { Connection } from './connection.ts';
import { encodeIntroduction } from './frame.ts';
import { pemToDerOrNull } from './pem.ts';
import {
  REFUSAL_REASONS,
  type IntroductionRefusalReason,
  type RefusalReason,
  type TransportCounters,
  type TransportEvent,
  type TransportEventHandler,
} from './events.ts';
import { Introductions } from './introductions.ts';
import { PeerLink } from './peer-link.ts';
import { connectionKey, PendingPool, type EvictionReason, type PendingSocket } from './pending.ts';
import { ALPN, dials, linked, PinSet } from './pinning.ts';
import { resolveTuning, type TlsNode, type TlsTransportOptions, type TlsTuning } from './tls-options.ts';
import type { FrameHandler, NodeId, PeerStats, PeerStatusHandler, Transport } from './transport.ts';

export class TlsTransport implements Transport {
  readonly self: NodeId;
  readonly tuning: TlsTuning;
  private readonly me: TlsNode;
  private readonly pins: PinSet;
  /** What this node presents: the key and certificate (PEM), the certificate's DER, and their context. */
  private identity: { readonly key: string; readonly certificate: string; readonly der: Uint8Array };
  private context: SecureContext;
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly refused = Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0])) as Record<RefusalReason, number>;
  private framesToUnknownPeer = 0;
  private readonly introductions: Introductions;
  /** Inbound connections not authenticated yet (only a listening node has any). */
  private readonly pending: PendingPool;
  private server: Server | null = null;
  /** Every accepted TCP socket until it closes, so `close` need not wait for handshakes to time out. */
  private readonly accepted = new Set<Socket>();
  private frameHandler: FrameHandler = () => {};
  private statusHandler: PeerStatusHandler = () => {};
  private eventHandlers: TransportEventHandler[] = [];
  private state: 'new' | 'started' | 'closed' = 'new';

  constructor(private readonly options: TlsTransportOptions) {
    this.self = options.self;
    this.tuning = resolveTuning(options.tuning);
    this.me = checkNodes(options);
    this.pins = new PinSet(options.nodes);
    this.identity = { key: keyPem(options.key), certificate: options.certificate, der: this.me.certificate };
    this.context = this.secureContext();
    this.introductions = new Introductions({
      pins: this.pins,
      tuning: this.tuning,
      introduce: options.introduce,
      penalized: (node) => this.links.get(node)?.penalized ?? false,
      emit: (event) => this.emit(event),
    });
    const t = this.tuning;
    this.pending = new PendingPool(
      { maxPending: t.maxPendingHandshakes, maxPerAddress: t.maxPendingPerAddress, deadlineMs: t.preAuthTimeoutMs },
      (socket, reason) => this.refuse(reason, socket, undefined, evictionDetail(reason, t)),
    );
    const receiveReady = options.receiveReady;
    const deps = {
      selfRole: this.me.role,
      tuning: this.tuning,
      random: options.random ?? Math.random,
      connect: (peer: TlsNode) => this.dialSocket(peer),
      isPinned: (peer: NodeId, der: Uint8Array | undefined) => this.pins.isPinned(peer, der),
      owner: (der: Uint8Array) => this.pins.lookup(der)?.id,
      introduction: () => this.introductionFrame(),
      introductions: this.introductions.enabled,
      judgeIntroduction: (peer: NodeId, der: Uint8Array, bytes: Uint8Array, remote: string) =>
        this.introductions.judge(peer, der, bytes, 'outbound', remote)?.detail ?? null,
      refuseIntroduction: (peer: NodeId, remote: string, detail: string, reason: IntroductionRefusalReason) =>
        this.introductions.refuse(peer, 'outbound', remote, reason, detail),
      receiveReady: (peer: NodeId) => {
        if (receiveReady === undefined) return true;
        try {
          return receiveReady(peer);
        } catch (err) {
          this.emit({ kind: 'handler-error', peer, detail: `receiveReady: ${err instanceof Error ? err.message : String(err)}` });
          return true;
        }
      },
      deliver: (from: NodeId, frame: Uint8Array) => this.guard(from, () => this.frameHandler(from, frame)),
      status: (peer: NodeId, connected: boolean) => this.guard(peer, () => this.statusHandler(peer, connected)),
      event: (event: TransportEvent) => this.emit(event),
    };
    for (const node of options.nodes) {
      if (linked(this.me, node)) this.links.set(node.id, new PeerLink(node, dials(this.me, node), deps));
    }
  }

  onFrame(handler: FrameHandler): void {
    this.frameHandler = handler;
  }

  onPeerStatus(handler: PeerStatusHandler): void {
    this.statusHandler = handler;
  }

  /** Diagnostics: links up and down with reasons, refused connections. Several handlers may listen. */
  onEvent(handler: TransportEventHandler): void {
    this.eventHandlers.push(handler);
  }

  /** Replicas listen (for higher replicas and client nodes) and dial lower replicas; client nodes only dial. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new BulwarkError('NET_STATE', `transport already ${this.state}`);
    this.state = 'started';
    if (this.me.role === 'replica') await this.listen();
    for (const link of this.links.values()) link.start();
  }

  flush(): void {
    for (const link of this.links.values()) link.flushNow();
  }

  send(to: NodeId, frame: Uint8Array): boolean {
    const link = this.links.get(to);
    if (link === undefined || this.state === 'closed') {
      if (link === undefined) this.framesToUnknownPeer++;
      return false;
    }
    return link.send(frame);
  }

  /**
   * Pins exactly `certificates` (DER, at least one) for node `id` from now on. A link with `id`
   * whose peer presented a certificate no longer among them is closed at once and counted as a
   * certificate mismatch; the side that dials redials, and inbound connections are judged against
   * the new pins. Refused (NET_IDENTITY_INVALID) for an unknown node, a certificate pinned for
   * another node, and, for this node, a list without the certificate it presents.
   *
   * Introduced certificates (pinned because `introduce` accepted a peer's introduction) are the
   * exception to "exactly": one stays pinned through calls for its node that do not include it (the
   * caller's view of the node's key history lags behind what the introduction proved), until a call
   * for that node includes it; from then on it is an ordinary pin, dropped by the next call that
   * omits it.
   */
  setPins(id: NodeId, certificates: readonly Uint8Array[]): void {
    if (id === this.self && !certificates.some((c) => equalBytes(c, this.identity.der))) {
      throw new BulwarkError('NET_IDENTITY_INVALID', `the pins of node ${id} must include the certificate it presents`, { node: id });
    }
    this.pins.replace(id, certificates);
    this.links.get(id)?.dropIfUnpinned();
  }

  /**
   * Presents `certificatePem` with `key` from now on: to new inbound connections, on new dials, and
   * on every link, each of which is closed (gracefully: frames written arrive, frames queued wait)
   * and made again by whichever side dials. Refused (NET_IDENTITY_INVALID) unless the certificate
   * is pinned for this node already (`setPins(self, [old, new])` first) and the key is its key.
   */
  setIdentity(certificatePem: string, key: KeyObject | string): void {
    const der = pemToDerOrNull(certificatePem);
    if (der === null || !this.pins.isPinned(this.self, der)) {
      throw new BulwarkError('NET_IDENTITY_INVALID', `the new certificate is not pinned for node ${this.self}`, { node: this.self });
    }
    const previous = this.identity;
    this.identity = { key: keyPem(key), certificate: certificatePem, der };
    try {
      this.context = this.secureContext();
    } catch (err) {
      this.identity = previous;
      throw err;
    }
    this.server?.setSecureContext(this.contextOptions());
    for (const link of this.links.values()) link.renew();
  }

  /**
   * The layer above found `peer` misbehaving (e.g. it keeps sending invalid messages; `reason`
   * names how, for the counters): its link is closed and the peer is cut off — not dialled, its
   * inbound connections refused (`penalized`) — for a back-off that doubles with each penalty
   * (`penaltyBaseMs`…`penaltyMaxMs`, reset after `penaltyResetMs` without one). Frames queued for it
   * wait in its queue as for any peer that is away. A penalty while one is in force is counted but
   * does not extend it. Reported as a `penalized` event and in `counters().penalties`. Ignored for
   * an unknown peer or this node.
   */
  penalize(peer: NodeId, reason: string): void {
    const link = this.links.get(peer);
    if (link === undefined || this.state === 'closed') return;
    const label = reason.slice(0, 64) || 'unspecified';
    const r = link.penalize(label);
    this.emit({ kind: 'penalized', peer, reason: label, ...r });
  }

  /** Resolves when `to`'s queue is at most half full; lets a bulk sender honour back-pressure. */
  waitForSpace(to: NodeId): Promise<void> {
    return this.links.get(to)?.waitForSpace() ?? Promise.resolve();
  }

  stats(): readonly PeerStats[] {
    return [...this.links.values()].map((l) => l.stats());
  }

  counters(): TransportCounters {
    const penalties: Record<NodeId, Record<string, number>> = {};
    const receivePauses: Record<NodeId, { rate: number; consumer: number }> = {};
    for (const [id, link] of this.links) {
      const p = link.penaltyCounts();
      if (Object.keys(p).length > 0) penalties[id] = p;
      receivePauses[id] = link.pauseCounts();
    }
    return {
      refused: { ...this.refused },
      framesToUnknownPeer: this.framesToUnknownPeer,
      introductions: this.introductions.counters(),
      introductionsRefused: this.introductions.refusals(),
      pending: this.pending.size,
      penalties,
      receivePauses,
    };
  }

  /** The bound address of a listening replica (useful when it listens on port 0). */
  address(): AddressInfo | null {
    const a = this.server?.address();
    return a !== null && typeof a === 'object' ? a : null;
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    const server = this.server;
    const serverClosed =
      server === null ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.all([...this.links.values()].map((l) => l.close()));
    for (const socket of this.accepted) socket.destroy();
    await serverClosed;
  }

  /** The fixed TLS settings; the server builds its own context from these, the dialer reuses one. */
  private contextOptions(): SecureContextOptions {
    return {
      key: this.identity.key,
      cert: this.identity.certificate,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      ciphers: this.tuning.cipherSuites.join(':'),
      ecdhCurve: 'secp384r1',
      sigalgs: 'ecdsa_secp384r1_sha384',
    };
  }

  private secureContext(): SecureContext {
    try {
      return createSecureContext(this.contextOptions());
    } catch (cause) {
      throw new BulwarkError('NET_IDENTITY_INVALID', `cannot use this node's TLS key and certificate: ${(cause as Error).message}`, {}, { cause });
    }
  }

  private dialSocket(peer: TlsNode): TLSSocket {
    return connect({
      host: peer.host,
      port: peer.port,
      secureContext: this.context,
      ALPNProtocols: [ALPN[this.me.role]],
      rejectUnauthorized: false, // trust is the pin, checked on secureConnect
      checkServerIdentity: () => undefined,
    });
  }

  private listen(): Promise<void> {
    const pending = this.pending;
    const server = createServer({
      ...this.contextOptions(),
      requestCert: true,
      rejectUnauthorized: false, // trust is the pin, checked on secureConnection
      // Chooses the link kind as ALPNProtocols would, and tells the pending pool that this
      // connection sent its ClientHello: it is a handshake under way, not an idle socket.
      ALPNCallback(this: TLSSocket, { protocols }) {
        pending.hello(connectionKey(this.remoteAddress, this.remotePort));
        return protocols.find((p) => p === ALPN.replica || p === ALPN.client);
      },
      // The TLS handshake's own bound; the pending pool's preAuthTimeoutMs bounds it and what follows.
      handshakeTimeout: this.tuning.handshakeTimeoutMs,
    });
    // The pending pool bounds unauthenticated connections by evicting; this cap on sockets is only a
    // last resort (evicted sockets count until they have closed), above what the pool keeps.
    const inboundPeers = [...this.links.values()].filter((l) => !l.dialer).length;
    server.maxConnections = 2 * inboundPeers + 4 * this.tuning.maxPendingHandshakes;
    server.on('secureConnection', (socket: TLSSocket) => this.onInbound(socket));
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
      // An evicted connection was refused (and counted) already; its handshake fails as a result.
      if (pending.wasEvicted(tcpSocketOf(socket), connectionKey(socket.remoteAddress, socket.remotePort))) socket.destroy();
      else this.refuse('handshake-failed', socket, undefined, err.code ?? err.message);
    });
    server.on('connection', (socket: Socket) => {
      this.accepted.add(socket);
      socket.once('close', () => this.accepted.delete(socket));
      if (this.state === 'closed') socket.destroy();
      else pending.add(socket);
    });
    server.on('drop', (data?: { remoteAddress?: string; remotePort?: number }) => {
      this.refused['too-many-handshakes']++;
      this.emit({ kind: 'refused', reason: 'too-many-handshakes', remote: `${data?.remoteAddress}:${data?.remotePort}` });
    });
    this.server = server;
    const host = this.options.listen?.host ?? this.me.host;
    const port = this.options.listen?.port ?? this.me.port;
    return new Promise((resolve, reject) => {
      const onError = (cause: NodeJS.ErrnoException): void =>
        reject(new BulwarkError('NET_LISTEN_FAILED', `cannot listen on ${host}:${port}: ${cause.code ?? cause.message}`, { host, port }, { cause }));
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        // After start-up a server error would be an accept failure (e.g. out of file descriptors);
        // it must not crash the replica, and the next connection attempt will tell.
        server.on('error', () => {});
        resolve();
      });
    });
  }

  private onInbound(socket: TLSSocket): void {
    // A socket's own errors after this point are reported through its link or its refusal.
    socket.on('error', () => {});
    if (this.state === 'closed') {
      socket.destroy();
      return;
    }
    // A handshake that began before `setIdentity` presented the old certificate; the peer redials.
    const own = socket.getX509Certificate()?.raw;
    if (own === undefined || !equalBytes(own, this.identity.der)) {
      this.refuse('handshake-failed', socket, undefined, "made under this node's previous certificate");
      return;
    }
    const raw = socket.getPeerX509Certificate()?.raw;
    const der = raw === undefined ? undefined : new Uint8Array(raw);
    const verdict = this.pins.judgeInbound(this.me, der, socket.alpnProtocol);
    if (!verdict.ok && verdict.reason === 'unknown-certificate' && der !== undefined && this.introductions.enabled) {
      this.hold(socket, der);
      return;
    }
    if (!verdict.ok) {
      if (verdict.node !== undefined) this.links.get(verdict.node.id)?.countError();
      this.refuse(verdict.reason, socket, verdict.node?.id, `alpn ${String(socket.alpnProtocol)}`);
      return;
    }
    const link = this.links.get(verdict.node.id);
    if (link === undefined) {
      this.refuse('wrong-direction', socket, verdict.node.id);
      return;
    }
    if (link.penalized) {
      this.refuse('penalized', socket, verdict.node.id, `node ${verdict.node.id} is penalized`);
      return;
    }
    this.pending.settle(connectionKey(socket.remoteAddress, socket.remotePort));
    this.sendIntroduction(socket);
    // An accepted verdict means a certificate was presented.
    link.adopt(socket, der ?? new Uint8Array());
  }

  /**
   * An inbound connection presenting a certificate pinned for no node, held until the peer's
   * introduction names the node it claims to be: the ALPN role and the dialing direction must fit
   * that node, then the transport's checks and `introduce` judge (`introductions.ts`). Accepted,
   * the connection becomes that node's link; anything else (refused, none in time, an application
   * frame first, the peer gone, evicted from the pending pool) is refused as an unknown certificate,
   * as it would have been without introductions (eviction: with the eviction's reason).
   */
  private hold(socket: TLSSocket, der: Uint8Array): void {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const key = connectionKey(socket.remoteAddress, socket.remotePort);
    this.sendIntroduction(socket);
    let settled = false;
    /** `why` null: the introduction was judged, and that refusal counted already. */
    const refuse = (reason: RefusalReason, why: IntroductionRefusalReason | null, detail: string, peer?: NodeId): void => {
      if (settled) return;
      settled = true;
      if (this.state === 'closed') {
        socket.destroy();
        return;
      }
      if (why !== null) this.introductions.refuse(peer, 'inbound', remote, why, detail);
      this.refuse(reason, socket, reason === 'unknown-certificate' ? undefined : peer, detail);
    };
    const conn = new Connection(socket, this.tuning, {
      activity: () => {},
      frame: () => {},
      drain: () => {},
      closed: () => {},
      introduction: (id, bytes) => {
        if (settled) return;
        const node = this.pins.node(id);
        if (node === undefined) return refuse('unknown-certificate', 'impossible-claim', `introduced as node ${id}, which does not exist`);
        if (socket.alpnProtocol !== ALPN[node.role]) {
          return refuse('wrong-role', 'impossible-claim', `introduced as node ${id} (a ${node.role}) over alpn ${String(socket.alpnProtocol)}`, id);
        }
        const link = this.links.get(id);
        if (link === undefined || !dials(node, this.me)) {
          return refuse('wrong-direction', 'impossible-claim', `introduced as node ${id}, which this node dials`, id);
        }
        const refusal = this.introductions.judge(id, der, bytes, 'inbound', remote);
        if (refusal !== null) return refuse('unknown-certificate', null, `introduced as node ${id}: ${refusal.detail}`, id);
        settled = true;
        this.pending.settle(key);
        if (this.state === 'closed') socket.destroy();
        else link.adoptIntroduced(conn, der);
      },
      introductionFailed: (detail, why) => refuse('unknown-certificate', why, detail),
    });
    this.pending.own(key, (reason) => refuse(reason, 'evicted', evictionDetail(reason, this.tuning)));
    conn.awaitIntroduction();
  }

  /** This node's introduction, encoded, or null when it has none (or it cannot be sent). */
  private introductionFrame(): Uint8Array | null {
    const get = this.options.introduction;
    if (get === undefined) return null;
    let bytes: Uint8Array | null;
    try {
      bytes = get({ maxRecords: this.tuning.maxIntroductionRecords });
    } catch (err) {
      this.emit({ kind: 'handler-error', peer: this.self, detail: `introduction: ${err instanceof Error ? err.message : String(err)}` });
      return null;
    }
    return bytes === null ? null : encodeIntroduction(this.self, bytes, Math.min(this.tuning.maxIntroductionBytes, this.tuning.maxFrameBytes));
  }

  private sendIntroduction(socket: TLSSocket): void {
    const frame = this.introductionFrame();
    if (frame !== null && socket.writable) socket.write(frame);
  }

  private refuse(reason: RefusalReason, socket: PendingSocket, peer: NodeId | undefined, detail?: string): void {
    this.refused[reason]++;
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.pending.settle(connectionKey(socket.remoteAddress, socket.remotePort));
    socket.destroy();
    this.emit({ kind: 'refused', reason, remote, ...(peer === undefined ? {} : { peer }), ...(detail === undefined ? {} : { detail }) });
  }

  /**
   * A handler that throws must not unwind through the frame decoder (it would leave the decoder
   * mid-frame) nor crash the process through a socket callback; it is reported instead.
   */
  private guard(peer: NodeId, run: () => void): void {
    try {
      run();
    } catch (err) {
      this.emit({ kind: 'handler-error', peer, detail: err instanceof Error ? err.message : String(err) });
    }
  }

  private emit(event: TransportEvent): void {
    for (const handler of this.eventHandlers) {
      try {
        handler(event);
      } catch {
        // A diagnostics consumer must never break the transport.
      }
    }
  }
}

/**
 * The TCP socket under a server-side TLS socket. `node:tls` keeps it as `_parent` (not part of
 * its documented API, hence the fallback on the connection's address where this is used): an
 * evicted socket's TLS socket has lost its address by the time it reports its handshake failed.
 */
function tcpSocketOf(socket: TLSSocket): object | undefined {
  const parent = (socket as unknown as { _parent?: unknown })._parent;
  return typeof parent === 'object' && parent !== null ? parent : undefined;
}

function evictionDetail(reason: EvictionReason, t: TlsTuning): string {
  if (reason === 'pre-auth-timeout') return `not authenticated within ${t.preAuthTimeoutMs} ms`;
  if (reason === 'address-full') return `evicted for a newer connection from its address (at most ${t.maxPendingPerAddress} pending each)`;
  return `evicted for a newer connection (at most ${t.maxPendingHandshakes} pending)`;
}

function keyPem(key: KeyObject | string): string {
  return typeof key === 'string' ? key : key.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** The node list must be coherent before any socket opens: unique ids and pins, this node among them. */
function checkNodes(options: TlsTransportOptions): TlsNode {
  const invalid = (why: string): BulwarkError => new BulwarkError('NET_OPTIONS_INVALID', `invalid transport options: ${why}`);
  const ids = new Set<NodeId>();
  const pins: Uint8Array[] = [];
  for (const node of options.nodes) {
    if (ids.has(node.id)) throw invalid(`node id ${node.id} appears twice`);
    if (pins.some((p) => equalBytes(p, node.certificate))) throw invalid(`node ${node.id} shares a certificate with another node`);
    ids.add(node.id);
    pins.push(node.certificate);
  }
  const me = options.nodes.find((n) => n.id === options.self);
  if (me === undefined) throw invalid(`node ${options.self} is not in the node list`);
  const own = pemToDerOrNull(options.certificate);
  if (own === null || !equalBytes(own, me.certificate)) {
    throw new BulwarkError('NET_IDENTITY_INVALID', `the certificate given is not the one pinned for node ${options.self}`);
  }
  return me;
}
