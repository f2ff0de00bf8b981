/**
 * Which peers keep sending what no honest node sends, and when to cut one off. The state machine
 * refuses each bad input with a reason (counted in `bulwark_consensus_rejected_total`); most
 * reasons also befall honest peers now and then (a message from a view just left, a request
 * retransmitted while the queue is full), but a signature or certificate that does not verify, an
 * equivocation or an undecodable frame does not come from an honest node. A peer that sends more
 * than `limit` of those within `windowMs` is penalised: the transport closes its link and refuses
 * it for a back-off that grows with each penalty.
 */
import type { RejectReason } from '../consensus/io.ts';

/** Reasons no honest, up-to-date node gives. */
const MISCONDUCT: ReadonlySet<RejectReason | 'undecodable'> = new Set([
  'bad-share',
  'bad-certificate',
  'bad-checkpoint',
  'bad-view-change',
  'bad-new-view',
  'bad-batch',
  'equivocation',
  'wrong-client-id',
  'not-a-client',
  'undecodable',
]);

export interface ConductOptions {
  /** Misconduct a peer may show within the window before it is penalised. */
  readonly limit: number;
  readonly windowMs: number;
}

export const DEFAULT_CONDUCT: ConductOptions = { limit: 20, windowMs: 10_000 };

export class PeerConduct {
  readonly #o: ConductOptions;
  /** Per peer: the start of its current window and the misconduct counted in it. */
  readonly #windows = new Map<number, { since: number; count: number }>();

  constructor(o: Partial<ConductOptions> = {}) {
    this.#o = { ...DEFAULT_CONDUCT, ...o };
  }

  /** Whether `reason` is misconduct (counted against the sender) rather than an honest mishap. */
  static isMisconduct(reason: RejectReason | 'undecodable'): boolean {
    return MISCONDUCT.has(reason);
  }

  /** Notes a refusal of `peer`'s input; true when the peer has now earned a penalty (its count restarts). */
  note(peer: number, reason: RejectReason | 'undecodable', now: number): boolean {
    if (!PeerConduct.isMisconduct(reason)) return false;
    let w = this.#windows.get(peer);
    if (w === undefined || now - w.since > this.#o.windowMs) this.#windows.set(peer, (w = { since: now, count: 0 }));
    w.count++;
    if (w.count <= this.#o.limit) return false;
    this.#windows.delete(peer);
    return true;
  }
}
