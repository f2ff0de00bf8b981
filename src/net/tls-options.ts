/**
 * Options of the TLS transport, with the defaults a replica runs with. Tests shrink the timeouts;
 * production changes them rarely, so they are validated once, here, with a clear error.
 */
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { BulwarkError } from '../common/errors.ts';
import { MAX_FRAME_LIMIT } from './frame.ts';
import type { NodeId, NodeRole } from './transport.ts';

/** TLS 1.3's suites as OpenSSL names them; AES-256-GCM is the default and the reference's choice. */
export const TLS13_CIPHER_SUITES = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_AES_128_GCM_SHA256',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_CCM_SHA256',
] as const;
export type Tls13CipherSuite = (typeof TLS13_CIPHER_SUITES)[number];

export const MiB = 1024 * 1024;

export const DEFAULT_TUNING = {
  cipherSuites: ['TLS_AES_256_GCM_SHA384'] as readonly Tls13CipherSuite[],
  /** Consensus view-change messages carry prepared certificates and can reach a few MiB. */
  maxFrameBytes: 16 * MiB,
  /** Per peer; room for several maximal frames, small enough that n peers cannot exhaust memory. */
  maxQueueBytes: 64 * MiB,
  maxQueueFrames: 65_536,
  /** TCP connect + TLS handshake + the acceptor's first frame. */
  handshakeTimeoutMs: 10_000,
  /** A link on which nothing at all arrives for this long is closed. */
  idleTimeoutMs: 30_000,
  /** A keepalive goes out when nothing else was written for this long; must be below idleTimeoutMs. */
  keepaliveIntervalMs: 10_000,
  reconnectBaseMs: 100,
  reconnectMaxMs: 10_000,
  /** Frames are coalesced into socket writes of about this size. */
  writeBatchBytes: 64 * 1024,
  /**
   * Unauthenticated inbound connections held at once (TCP accepted, TLS handshake or introduction
   * under way). When the pool is full a new connection evicts the oldest of the source address with
   * the most pending ones, idle connections (no TLS ClientHello yet) first: a flood of idle sockets
   * cannot hold the slots a peer needs to reconnect.
   */
  maxPendingHandshakes: 64,
  /** Unauthenticated connections per source address (IPv6: per /64); a new one evicts that address's oldest. */
  maxPendingPerAddress: 8,
  /** TCP accept to authentication (TLS handshake and, if held, the introduction); then the connection is dropped. */
  preAuthTimeoutMs: 5_000,
  /** The largest introduction (control frame) an unauthenticated peer may send (and this node sends); never above maxFrameBytes. */
  maxIntroductionBytes: 64 * 1024,
  /**
   * TLS records an introduction may carry (a node's rotations since the certificate its peer pins):
   * the `introduce` judge refuses more, and this node sends at most its newest this many.
   */
  maxIntroductionRecords: 16,
  /** Introductions judged per second, all inbound connections together (a token bucket); excess ones are refused. */
  introductionsPerSecond: 4,
  introductionBurst: 8,
  /** Bytes per second one peer's frames may take; beyond it its socket is paused (TCP pushes back). 0: no limit. */
  receiveBytesPerSecond: 128 * MiB,
  receiveBurstBytes: 64 * MiB,
  /** While `receiveReady` says no, the peer's socket stays paused and is asked again after this long. */
  receiveRetryMs: 50,
  /** A penalized peer is refused (not dialled, its connections refused) for this long, doubling per penalty… */
  penaltyBaseMs: 1_000,
  /** …up to this… */
  penaltyMaxMs: 60_000,
  /** …and back to penaltyBaseMs after this long without a penalty. */
  penaltyResetMs: 600_000,
};
export type TlsTuning = typeof DEFAULT_TUNING;

/** A node of the network as the transport sees it: where it listens and what it presents. */
export interface TlsNode {
  readonly id: NodeId;
  readonly role: NodeRole;
  readonly host: string;
  readonly port: number;
  /** DER of the pinned certificate. */
  readonly certificate: Uint8Array;
}

export interface TlsTransportOptions {
  readonly self: NodeId;
  /** Every node of the network, this one included. */
  readonly nodes: readonly TlsNode[];
  /** This node's private key (PEM or a KeyObject) and its certificate (PEM), as pinned by the others. */
  readonly key: string | KeyObject;
  readonly certificate: string;
  /** Where a replica binds; defaults to its endpoint in `nodes` (use '0.0.0.0' behind NAT). */
  readonly listen?: { readonly host?: string; readonly port?: number };
  readonly tuning?: Partial<TlsTuning>;
  /** Jitter source for reconnect delays; Math.random unless a test fixes it. */
  readonly random?: () => number;
  /**
   * This node's introduction: bytes sent, with this node's id, as the very first frame (a transport
   * control frame, never delivered as an application frame) on every link it establishes or
   * accepts, right after the TLS handshake. Called at each link establishment (it may change over
   * time); null, absent, a throw, or bytes too large for `maxFrameBytes`: none sent.
   */
  readonly introduction?: (limits: IntroductionLimits) => Uint8Array | null;
  /**
   * Judges a peer that presented a certificate not pinned for it: `node` is the node the peer claims
   * to be (for an outbound link, the node dialled; for an inbound one, the id carried in its
   * introduction frame), `presented` the certificate's DER, `pinned` the certificates currently
   * pinned for that node, `introduction` the bytes of the peer's introduction (at most
   * `maxIntroductionBytes`). True: the certificate is from now on pinned for that node as well (see
   * `TlsTransport.setPins`); false, or a string saying why, or a throw: refused. Without this option
   * a certificate not pinned is refused at once, as ever; with it the connection is held (nothing
   * delivered or sent) for up to `handshakeTimeoutMs` until the introduction arrives.
   *
   * Called synchronously, so it must be cheap for what an unauthenticated peer can send: the
   * transport asks it only after its own checks (the node exists and may use this link; the
   * certificate, its public key and its subject are not pinned for another node; the node is not
   * penalized) and, inbound, at most `introductionsPerSecond`; `limits.maxRecords` bounds the rest.
   */
  readonly introduce?: (
    node: NodeId,
    presented: Uint8Array,
    pinned: readonly Uint8Array[],
    introduction: Uint8Array,
    limits: IntroductionLimits,
  ) => boolean | string;
  /**
   * Whether the consumer can take more frames from `peer` now. Asked after each chunk read from the
   * peer; false pauses reading its socket (TCP pushes back on the sender, whose queue then sheds
   * frames) and it is asked again every `receiveRetryMs`. Absent: always ready. A throw is a yes.
   */
  readonly receiveReady?: (peer: NodeId) => boolean;
}

/** What bounds an introduction, for the node that sends one and the judge of one. */
export interface IntroductionLimits {
  readonly maxRecords: number;
}

const positiveInt = z.number().int().positive();
const tuningSchema = z
  .strictObject({
    cipherSuites: z.array(z.enum(TLS13_CIPHER_SUITES)).min(1),
    maxFrameBytes: positiveInt.max(MAX_FRAME_LIMIT),
    maxQueueBytes: positiveInt,
    maxQueueFrames: positiveInt,
    handshakeTimeoutMs: positiveInt,
    idleTimeoutMs: positiveInt,
    keepaliveIntervalMs: positiveInt,
    reconnectBaseMs: positiveInt,
    reconnectMaxMs: positiveInt,
    writeBatchBytes: positiveInt,
    maxPendingHandshakes: positiveInt,
    maxPendingPerAddress: positiveInt,
    preAuthTimeoutMs: positiveInt,
    maxIntroductionBytes: positiveInt,
    maxIntroductionRecords: positiveInt.max(1024),
    introductionsPerSecond: z.number().positive(),
    introductionBurst: positiveInt,
    receiveBytesPerSecond: z.number().int().nonnegative(),
    receiveBurstBytes: positiveInt,
    receiveRetryMs: positiveInt,
    penaltyBaseMs: positiveInt,
    penaltyMaxMs: positiveInt,
    penaltyResetMs: positiveInt,
  })
  .refine((t) => t.keepaliveIntervalMs < t.idleTimeoutMs, 'keepaliveIntervalMs must be below idleTimeoutMs')
  .refine((t) => t.maxQueueBytes >= t.maxFrameBytes, 'maxQueueBytes must hold at least one maximal frame')
  .refine((t) => t.reconnectMaxMs >= t.reconnectBaseMs, 'reconnectMaxMs must be at least reconnectBaseMs')
  .refine((t) => t.maxPendingPerAddress <= t.maxPendingHandshakes, 'maxPendingPerAddress must not exceed maxPendingHandshakes')
  .refine((t) => t.penaltyMaxMs >= t.penaltyBaseMs, 'penaltyMaxMs must be at least penaltyBaseMs');

export function resolveTuning(partial: Partial<TlsTuning> = {}): TlsTuning {
  const r = tuningSchema.safeParse({ ...DEFAULT_TUNING, ...partial });
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(tuning)'}: ${i.message}`);
    throw new BulwarkError('NET_OPTIONS_INVALID', `invalid transport options: ${problems.join('; ')}`, { problems });
  }
  return r.data;
}
