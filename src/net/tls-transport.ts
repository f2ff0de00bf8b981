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
 * dialing direction are checked against it before `introduce` is asked.
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
  type RefusalReason,
  type TransportCounters,
  type TransportEvent,
  type TransportEventHandler,
} from './events.ts';
import { PeerLink } from './peer-link.ts';
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
  private readonly introductions = { accepted: 0, refused: 0 };
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
    const deps = {
      selfRole: this.me.role,
      tuning: this.tuning,
      random: options.random ?? Math.random,
      connect: (peer: TlsNode) => this.dialSocket(peer),
      isPinned: (peer: NodeId, der: Uint8Array | undefined) => this.pins.isPinned(peer, der),
      owner: (der: Uint8Array) => this.pins.lookup(der)?.id,
      introduction: () => this.introductionFrame(),
      introductions: options.introduce !== undefined,
      judgeIntroduction: (peer: NodeId, der: Uint8Array, bytes: Uint8Array, remote: string) =>
        this.judgeIntroduction(peer, der, bytes, 'outbound', remote),
      refuseIntroduction: (peer: NodeId, remote: string, detail: string) => this.refuseIntroduction(peer, 'outbound', remote, detail),
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

  /** Resolves when `to`'s queue is at most half full; lets a bulk sender honour back-pressure. */
  waitForSpace(to: NodeId): Promise<void> {
    return this.links.get(to)?.waitForSpace() ?? Promise.resolve();
  }

  stats(): readonly PeerStats[] {
    return [...this.links.values()].map((l) => l.stats());
  }

  counters(): TransportCounters {
    return { refused: { ...this.refused }, framesToUnknownPeer: this.framesToUnknownPeer, introductions: { ...this.introductions } };
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
    const server = createServer({
      ...this.contextOptions(),
      requestCert: true,
      rejectUnauthorized: false, // trust is the pin, checked on secureConnection
      ALPNProtocols: [ALPN.replica, ALPN.client],
      handshakeTimeout: this.tuning.handshakeTimeoutMs,
    });
    const inboundPeers = [...this.links.values()].filter((l) => !l.dialer).length;
    server.maxConnections = inboundPeers + this.tuning.maxPendingHandshakes;
    server.on('secureConnection', (socket: TLSSocket) => this.onInbound(socket));
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) =>
      this.refuse('handshake-failed', socket, undefined, err.code ?? err.message),
    );
    server.on('connection', (socket: Socket) => {
      this.accepted.add(socket);
      socket.once('close', () => this.accepted.delete(socket));
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
    if (!verdict.ok && verdict.reason === 'unknown-certificate' && der !== undefined && this.options.introduce !== undefined) {
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
    this.sendIntroduction(socket);
    // An accepted verdict means a certificate was presented.
    link.adopt(socket, der ?? new Uint8Array());
  }

  /**
   * An inbound connection presenting a certificate pinned for no node, held until the peer's
   * introduction names the node it claims to be: the ALPN role and the dialing direction must fit
   * that node, then `introduce` judges. Accepted, the connection becomes that node's link; anything
   * else (refused, none in time, an application frame first, the peer gone) is refused as an unknown
   * certificate, as it would have been without introductions.
   */
  private hold(socket: TLSSocket, der: Uint8Array): void {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.sendIntroduction(socket);
    let settled = false;
    const refuse = (reason: RefusalReason, detail: string, peer?: NodeId, judged = false): void => {
      settled = true;
      if (this.state === 'closed') {
        socket.destroy();
        return;
      }
      if (!judged) this.refuseIntroduction(peer, 'inbound', remote, detail);
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
        if (node === undefined) return refuse('unknown-certificate', `introduced as node ${id}, which does not exist`);
        if (socket.alpnProtocol !== ALPN[node.role]) {
          return refuse('wrong-role', `introduced as node ${id} (a ${node.role}) over alpn ${String(socket.alpnProtocol)}`, id);
        }
        const link = this.links.get(id);
        if (link === undefined || !dials(node, this.me)) return refuse('wrong-direction', `introduced as node ${id}, which this node dials`, id);
        const why = this.judgeIntroduction(id, der, bytes, 'inbound', remote);
        if (why !== null) return refuse('unknown-certificate', `introduced as node ${id}: ${why}`, id, true);
        settled = true;
        if (this.state === 'closed') socket.destroy();
        else link.adoptIntroduced(conn, der);
      },
      introductionFailed: (detail) => {
        if (!settled) refuse('unknown-certificate', detail);
      },
    });
    conn.awaitIntroduction();
  }

  /** This node's introduction, encoded, or null when it has none (or it cannot be sent). */
  private introductionFrame(): Uint8Array | null {
    const get = this.options.introduction;
    if (get === undefined) return null;
    let bytes: Uint8Array | null;
    try {
      bytes = get();
    } catch (err) {
      this.emit({ kind: 'handler-error', peer: this.self, detail: `introduction: ${err instanceof Error ? err.message : String(err)}` });
      return null;
    }
    return bytes === null ? null : encodeIntroduction(this.self, bytes, this.tuning.maxFrameBytes);
  }

  private sendIntroduction(socket: TLSSocket): void {
    const frame = this.introductionFrame();
    if (frame !== null && socket.writable) socket.write(frame);
  }

  /**
   * Asks `introduce` about `node`'s introduction of the certificate `der` (pinned for no node when
   * the connection was held); null when accepted and pinned, else why not. Counted and reported.
   */
  private judgeIntroduction(node: NodeId, der: Uint8Array, bytes: Uint8Array, direction: 'inbound' | 'outbound', remote: string): string | null {
    const owner = this.pins.lookup(der);
    // Pinned meanwhile (a `setPins` while the connection was held): nothing left to judge.
    if (owner?.id === node) return null;
    let why: string | null = null;
    if (owner !== undefined) why = `the certificate is pinned for node ${owner.id}`;
    else {
      try {
        const pinned = this.pins.certificates(node).map((c) => Uint8Array.from(c));
        if (this.options.introduce?.(node, Uint8Array.from(der), pinned, bytes) !== true) why = 'introduction not accepted';
      } catch (err) {
        why = `introduction not accepted: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    if (why === null) {
      try {
        this.pins.introduce(node, der);
      } catch (err) {
        why = err instanceof Error ? err.message : String(err);
      }
    }
    if (why !== null) {
      this.refuseIntroduction(node, direction, remote, why);
      return why;
    }
    this.introductions.accepted++;
    this.emit({ kind: 'introduced', peer: node, direction });
    return null;
  }

  private refuseIntroduction(peer: NodeId | undefined, direction: 'inbound' | 'outbound', remote: string, detail: string): void {
    this.introductions.refused++;
    this.emit({ kind: 'introduction-refused', direction, remote, detail, ...(peer === undefined ? {} : { peer }) });
  }

  private refuse(reason: RefusalReason, socket: Socket, peer: NodeId | undefined, detail?: string): void {
    this.refused[reason]++;
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
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
