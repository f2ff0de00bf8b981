/**
 * The transport's side of introductions (see `tls-transport.ts`): what it checks itself before it
 * asks the `introduce` judge, how often it asks, and the counts. An introduction comes from a peer
 * not authenticated yet, so the checks go from cheap to dear: the claimed node exists and may use
 * this link (the caller), the certificate is not pinned for another node, the node is not
 * penalized, the certificate's public key and subject are no other node's; then, inbound, a token
 * of the shared bucket (`introductionsPerSecond`); only then the judge, whose work
 * `maxIntroductionRecords` bounds. Outbound introductions (from the node this one dialled) take no
 * token: there is one per dial, and dials follow the reconnect back-off.
 */
import {
  INTRODUCTION_REFUSAL_REASONS,
  type IntroductionRefusalReason,
  type TransportCounters,
  type TransportEvent,
} from './events.ts';
import type { PinSet } from './pinning.ts';
import type { TlsTransportOptions, TlsTuning } from './tls-options.ts';
import { TokenBucket } from './token-bucket.ts';
import type { NodeId } from './transport.ts';

export interface IntroductionRefusal {
  readonly reason: IntroductionRefusalReason;
  readonly detail: string;
}

export interface IntroductionsDeps {
  readonly pins: PinSet;
  readonly tuning: TlsTuning;
  readonly introduce: TlsTransportOptions['introduce'];
  readonly penalized: (node: NodeId) => boolean;
  readonly emit: (event: TransportEvent) => void;
}

type Direction = 'inbound' | 'outbound';

export class Introductions {
  private accepted = 0;
  private refused = 0;
  private readonly refusedBy = Object.fromEntries(INTRODUCTION_REFUSAL_REASONS.map((r) => [r, 0])) as Record<IntroductionRefusalReason, number>;
  private readonly bucket: TokenBucket;

  constructor(private readonly d: IntroductionsDeps) {
    this.bucket = new TokenBucket(d.tuning.introductionsPerSecond, d.tuning.introductionBurst);
  }

  /** Whether a certificate not pinned is held for an introduction at all. */
  get enabled(): boolean {
    return this.d.introduce !== undefined;
  }

  /**
   * Judges `node`'s introduction of the certificate `der` (pinned for no node when the connection
   * was held): null when accepted and pinned, else why not. Counted and reported either way.
   */
  judge(node: NodeId, der: Uint8Array, bytes: Uint8Array, direction: Direction, remote: string): IntroductionRefusal | null {
    // Pinned meanwhile (a `setPins` while the connection was held): nothing left to judge.
    if (this.d.pins.lookup(der)?.id === node) return null;
    const refusal = this.precheck(node, der, direction) ?? this.ask(node, der, bytes);
    if (refusal !== null) {
      this.refuse(node, direction, remote, refusal.reason, refusal.detail);
      return refusal;
    }
    this.accepted++;
    this.d.emit({ kind: 'introduced', peer: node, direction });
    return null;
  }

  refuse(peer: NodeId | undefined, direction: Direction, remote: string, reason: IntroductionRefusalReason, detail: string): void {
    this.refused++;
    this.refusedBy[reason]++;
    this.d.emit({ kind: 'introduction-refused', direction, remote, reason, detail, ...(peer === undefined ? {} : { peer }) });
  }

  counters(): TransportCounters['introductions'] {
    return { accepted: this.accepted, refused: this.refused };
  }

  refusals(): TransportCounters['introductionsRefused'] {
    return { ...this.refusedBy };
  }

  /** Everything short of the judge, cheapest first. */
  private precheck(node: NodeId, der: Uint8Array, direction: Direction): IntroductionRefusal | null {
    const owner = this.d.pins.lookup(der);
    if (owner !== undefined) return { reason: 'another-node', detail: `the certificate is pinned for node ${owner.id}` };
    if (this.d.penalized(node)) return { reason: 'penalized', detail: `node ${node} is penalized` };
    const elsewhere = this.d.pins.claimedElsewhere(node, der);
    if (elsewhere !== null) return { reason: 'another-node', detail: `the certificate cannot be node ${node}'s: ${elsewhere}` };
    if (direction === 'inbound' && !this.bucket.take()) {
      return { reason: 'rate-limited', detail: `more than ${this.d.tuning.introductionsPerSecond} introductions a second` };
    }
    return null;
  }

  /** The judge's verdict, then the pin. */
  private ask(node: NodeId, der: Uint8Array, bytes: Uint8Array): IntroductionRefusal | null {
    let verdict: boolean | string;
    try {
      const pinned = this.d.pins.certificates(node).map((c) => Uint8Array.from(c));
      verdict = this.d.introduce?.(node, Uint8Array.from(der), pinned, bytes, { maxRecords: this.d.tuning.maxIntroductionRecords }) ?? false;
    } catch (err) {
      verdict = err instanceof Error ? err.message : String(err);
    }
    if (verdict !== true) {
      return { reason: 'not-accepted', detail: typeof verdict === 'string' ? `introduction not accepted: ${verdict}` : 'introduction not accepted' };
    }
    try {
      this.d.pins.introduce(node, der);
    } catch (err) {
      return { reason: 'another-node', detail: err instanceof Error ? err.message : String(err) };
    }
    return null;
  }
}
