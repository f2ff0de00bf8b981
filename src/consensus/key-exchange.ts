/**
 * Key exchange inside the state machine (`keys.ts` for the rules): a replica's own request
 * (client id = its replica id) publishing a key it generated is executed here, not by the
 * application — deterministically, from the batch and the key history alone — and the records it
 * makes go to the application with the batch, to be written in the same atomic batch as the
 * block, into the reserved pages.
 */
import type { ClientRequest } from '../codec/messages.ts';
import type { ReplicaState } from './state.ts';
import { effectiveSeqFor } from './keys.ts';
import { decodeKeyExchange } from '../codec/key-requests.ts';
import type { KeyRecord } from '../codec/reserved-pages.ts';

const utf8 = new TextEncoder();

/** Whether requests from client nodes may execute: enough replicas are on keys of their own. */
export function exchangeReady(s: ReplicaState): boolean {
  return !s.cfg.keyExchange || s.keys.consensus.exchangedCount() >= s.q.slow;
}

/** A request a replica makes for itself (a key exchange), as opposed to a client node's. */
export function isInternal(s: ReplicaState, r: Pick<ClientRequest, 'clientId'>): boolean {
  return r.clientId >= 0 && r.clientId < s.q.n;
}

/** Whether a published key (of any kind) is still waiting for its checkpoint boundary (the primary drives sequence numbers there). */
export function activationPending(s: ReplicaState): boolean {
  return s.keys.consensus.published().some((k) => k.effectiveSeq - 1 >= s.nextSeq) || s.keys.node.lastSwitch - 1 >= s.nextSeq;
}

export interface ExchangeOutcome {
  readonly result: Uint8Array;
  readonly record: KeyRecord | null;
}

/**
 * Executes the key-exchange requests of the batch at `seq`, in order: each must name the next
 * epoch of the replica that signed it, come after that replica's current key took effect, be
 * signed with that key, and carry a valid proof of possession of the new one.
 */
export function executeKeyExchanges(s: ReplicaState, seq: number, requests: readonly ClientRequest[]): ExchangeOutcome[] {
  const latestEpoch = new Map<number, number>();
  return requests.map((r) => {
    const refuse = (why: string): ExchangeOutcome => ({ result: utf8.encode(`refused: ${why}`), record: null });
    if (!s.cfg.keyExchange) return refuse('key exchange is off');
    const k = decodeKeyExchange(r.payload);
    if (k === null) return refuse('not a key exchange');
    const current = s.keys.consensus.latest(r.clientId);
    const epoch = latestEpoch.get(r.clientId) ?? current.epoch;
    if (k.epoch !== epoch + 1) return refuse(`epoch ${k.epoch} is not the next one (${epoch + 1})`);
    if (epoch !== current.epoch || current.effectiveSeq > seq) return refuse(`key epoch ${epoch} is not in effect yet`);
    if (!s.crypto.verifyRequest(r, seq)) return refuse('not signed with the key in effect');
    const record: KeyRecord = {
      replica: r.clientId,
      epoch: k.epoch,
      publicKey: k.publicKey,
      effectiveSeq: effectiveSeqFor(seq, s.cfg),
      publishedSeq: seq,
      proofOfPossession: k.proofOfPossession,
    };
    if (s.crypto.possessedKey(record) === null) return refuse('invalid key or proof of possession');
    latestEpoch.set(r.clientId, k.epoch);
    return { result: utf8.encode(`key epoch ${k.epoch} of replica ${r.clientId} takes effect at sequence ${record.effectiveSeq}`), record };
  });
}
