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
]);

/** Why an inbound connection was refused before it became a link. */
export type RefusalReason =
  | 'handshake-failed'
  | 'no-certificate'
  | 'unknown-certificate'
  | 'wrong-role'
  | 'wrong-direction'
  | 'too-many-handshakes';

export const REFUSAL_REASONS: readonly RefusalReason[] = [
  'handshake-failed',
  'no-certificate',
  'unknown-certificate',
  'wrong-role',
  'wrong-direction',
  'too-many-handshakes',
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
      readonly detail: string;
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
}
