/**
 * What the TLS transport reports besides frames: links coming up and going down with a reason, and
 * inbound connections it refused. The replica logs these and turns them into metrics; tests wait on
 * them instead of sleeping.
 */
import type { NodeId } from './transport.ts';

/** Why a link closed. The ones in COUNTED_CLOSE_REASONS are protocol errors and count in PeerStats. */
export type LinkCloseReason =
  | 'frame-too-large'
  | 'idle-timeout'
  | 'handshake-timeout'
  | 'tls-error'
  | 'certificate-mismatch'
  | 'wrong-protocol'
  | 'rejected-by-peer'
  | 'penalized'
  | 'replaced'
  | 'peer-closed'
  | 'socket-error'
  | 'transport-closed';

export const COUNTED_CLOSE_REASONS: ReadonlySet<LinkCloseReason> = new Set<LinkCloseReason>([
  'frame-too-large',
  'idle-timeout',
  'handshake-timeout',
  'tls-error',
  'certificate-mismatch',
  'wrong-protocol',
  'rejected-by-peer',
  'penalized',
]);

/**
 * Why an inbound connection was refused before it became a link. Before authentication:
 * `too-many-handshakes` (the listener's hard cap on sockets, a last resort), `pending-full` and
 * `address-full` (evicted to make room for a newer connection: the pending pool, or its source
 * address's share of it, was full), `pre-auth-timeout` (not authenticated within
 * `preAuthTimeoutMs`). After: `penalized` (a pinned peer this node refuses for a while).
 */
export type RefusalReason =
  | 'handshake-failed'
  | 'no-certificate'
  | 'unknown-certificate'
  | 'wrong-role'
  | 'wrong-direction'
  | 'too-many-handshakes'
  | 'pending-full'
  | 'address-full'
  | 'pre-auth-timeout'
  | 'penalized';

export const REFUSAL_REASONS: readonly RefusalReason[] = [
  'handshake-failed',
  'no-certificate',
  'unknown-certificate',
  'wrong-role',
  'wrong-direction',
  'too-many-handshakes',
  'pending-full',
  'address-full',
  'pre-auth-timeout',
  'penalized',
];

/**
 * Why a connection held for an introduction was refused: none came (`missing`: none in time, an
 * application frame first, the peer gone), it was `malformed` or `too-large`, it claimed a node
 * it cannot be (`impossible-claim`: no such node, the wrong link kind or direction), the
 * certificate, its public key or its subject is pinned for another node (`another-node`), the node
 * is `penalized`, too many were judged lately (`rate-limited`), the judge said no (`not-accepted`),
 * or the connection was evicted or timed out before authentication (`evicted`).
 */
export type IntroductionRefusalReason =
  | 'missing'
  | 'malformed'
  | 'too-large'
  | 'impossible-claim'
  | 'another-node'
  | 'penalized'
  | 'rate-limited'
  | 'not-accepted'
  | 'evicted';

export const INTRODUCTION_REFUSAL_REASONS: readonly IntroductionRefusalReason[] = [
  'missing',
  'malformed',
  'too-large',
  'impossible-claim',
  'another-node',
  'penalized',
  'rate-limited',
  'not-accepted',
  'evicted',
];

export type TransportEvent =
  | { readonly kind: 'link-up'; readonly peer: NodeId; readonly direction: 'inbound' | 'outbound' }
  | {
      readonly kind: 'link-down';
      readonly peer: NodeId;
      readonly reason: LinkCloseReason;
      /** Whether the link had been fully established (false: a dial or handshake that failed). */
      readonly wasUp: boolean;
      readonly detail?: string;
    }
  | {
      readonly kind: 'refused';
      readonly reason: RefusalReason;
      /** The pinned node the certificate matched, when it matched one. */
      readonly peer?: NodeId;
      readonly remote: string;
      readonly detail?: string;
    }
  | {
      /**
       * A peer that presented a certificate not pinned for it was introduced (the `introduce` option
       * accepted its introduction): the certificate is pinned for `peer` from now on.
       */
      readonly kind: 'introduced';
      readonly peer: NodeId;
      /** Inbound: the peer dialled this node; outbound: this node dialled it. */
      readonly direction: 'inbound' | 'outbound';
    }
  | {
      /**
       * A connection held for an introduction was refused: `introduce` said no, none came in time,
       * it named a node it cannot be, or an application frame came first. The connection is also
       * refused as usual (inbound: a 'refused' event, unknown-certificate; outbound: a 'link-down',
       * certificate-mismatch).
       */
      readonly kind: 'introduction-refused';
      /** The node dialled (outbound) or claimed (inbound), once known. */
      readonly peer?: NodeId;
      readonly direction: 'inbound' | 'outbound';
      readonly remote: string;
      readonly reason: IntroductionRefusalReason;
      readonly detail: string;
    }
  | {
      /**
       * `penalize(peer, reason)` was called: the link is closed and the peer refused (not dialled,
       * its connections refused) for `backoffMs`. `count` is this peer's penalties so far; a penalty
       * while one is in force is counted but does not extend it (`escalated` false).
       */
      readonly kind: 'penalized';
      readonly peer: NodeId;
      readonly reason: string;
      readonly backoffMs: number;
      readonly count: number;
      readonly escalated: boolean;
    }
  | {
      /** The frame or status handler threw; the transport carries on (the link stays up). */
      readonly kind: 'handler-error';
      readonly peer: NodeId;
      readonly detail: string;
    };

export type TransportEventHandler = (event: TransportEvent) => void;

export interface TransportCounters {
  readonly refused: Readonly<Record<RefusalReason, number>>;
  /** `send` calls naming a node this one has no link with. */
  readonly framesToUnknownPeer: number;
  /**
   * Connections held for an introduction (a peer presented a certificate not pinned for it): those
   * whose introduction was accepted, and those refused (also counted under `refused` when inbound).
   */
  readonly introductions: { readonly accepted: number; readonly refused: number };
  /** The refused ones of `introductions.refused`, by reason. */
  readonly introductionsRefused: Readonly<Record<IntroductionRefusalReason, number>>;
  /** Unauthenticated inbound connections now (at most `maxPendingHandshakes`). */
  readonly pending: number;
  /** Per peer ever penalized: its penalties by reason (reasons beyond 16 distinct ones count as `other`). */
  readonly penalties: Readonly<Record<NodeId, Readonly<Record<string, number>>>>;
  /** Per peer: how often reading from it was paused, for its byte rate or because the consumer was not ready. */
  readonly receivePauses: Readonly<Record<NodeId, { readonly rate: number; readonly consumer: number }>>;
}
