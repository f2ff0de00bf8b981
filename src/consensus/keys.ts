/**
 * Consensus keys over time (ARCHITECTURE "Keys"). Every replica starts on its bootstrap key
 * (epoch 0, from the trusted setup); it then publishes keys it generated itself, each through
 * consensus, in a request signed with its current key and carrying the new key's proof of
 * possession. A key published by the batch at sequence number `e` takes effect after the first
 * checkpoint boundary `B` beyond `e + window`: shares, certificates and checkpoints for sequence
 * numbers up to `B` are signed and checked with the old key, from `B + 1` with the new one. No
 * replica can have signed anything above `B` before it executed `e` (a replica signs at most a
 * window above its last stable checkpoint, which is at most its last executed sequence number),
 * so every signature is made and checked with the same key, on every replica.
 *
 * The records are reserved pages: written with the block of the batch that published them,
 * covered by the checkpoint digest, never deleted — old certificates stay checkable.
 */
import type { KeyRecord } from '../codec/reserved-pages.ts';
import type { ConsensusConfig } from './config.ts';
import type { NodeKeyBook } from './node-keys.ts';

/**
 * Every key over time — replicas' consensus keys, and every node's execution, authentication and
 * TLS keys — as a replica's state holds it (`ReplicaState.keys`): restored from the reserved pages,
 * added to by the state machine alone, when a batch publishing a key executes. The composition root
 * makes it from the network file and gives it to the crypto too, which verifies against it (each
 * book holds the keys in the form that crypto parsed them: `ConsensusCrypto.possessedKey`).
 */
export interface KeyHistory {
  readonly consensus: KeyBook<unknown>;
  readonly node: NodeKeyBook<unknown>;
}

/**
 * Adds a published consensus key to the history if its proof of possession verifies and its
 * epoch follows the replica's last; false, adding nothing, otherwise.
 */
export function addPublishedKey(keys: KeyHistory, crypto: { possessedKey(record: KeyRecord): unknown }, record: KeyRecord): boolean {
  const key = crypto.possessedKey(record);
  if (key === null || key === undefined) return false;
  try {
    keys.consensus.add(record, key);
  } catch {
    return false; // an epoch that does not follow the replica's last
  }
  return true;
}

/**
 * The first sequence number a key published at `publishedSeq` signs: one past the first
 * checkpoint boundary beyond `publishedSeq + window`.
 */
export function effectiveSeqFor(publishedSeq: number, cfg: Pick<ConsensusConfig, 'window' | 'checkpointInterval'>): number {
  const k = cfg.checkpointInterval;
  return (Math.floor((publishedSeq + cfg.window) / k) + 1) * k + 1;
}

/**
 * Every replica's keys by epoch, with `K` the parsed form a verifier needs (a BLS public key, or
 * the simulator's stand-in). Lookups by sequence number pick the key in effect there.
 */
export class KeyBook<K> {
  readonly #n: number;
  /** Per replica, ascending by epoch (and so by effective sequence number). */
  readonly #keys: { record: KeyRecord; key: K }[][];
  /** Key arrays by the epochs in effect (one per distinct key set), for aggregate checks. */
  readonly #sets = new Map<string, K[]>();
  /** The highest effective sequence number of any key: from it on, every replica's latest key signs. */
  #lastSwitch = 0;
  #version = 0;

  constructor(bootstrap: readonly { publicKey: Uint8Array; proofOfPossession: Uint8Array; key: K }[]) {
    this.#n = bootstrap.length;
    this.#keys = bootstrap.map((b, replica) => [
      { record: { replica, epoch: 0, publicKey: b.publicKey, effectiveSeq: 0, publishedSeq: 0, proofOfPossession: b.proofOfPossession }, key: b.key },
    ]);
  }

  get n(): number {
    return this.#n;
  }

  /** Changes with every key added (what was checked under the key set "latest" may not hold any more). */
  get version(): number {
    return this.#version;
  }

  /** Adds a published key; a record already known is ignored, a gap or a regression refused. */
  add(record: KeyRecord, key: K): void {
    const list = this.#keys[record.replica];
    if (list === undefined) throw new Error(`no replica ${record.replica}`);
    const last = list[list.length - 1]!;
    if (record.epoch <= last.record.epoch) return;
    if (record.epoch !== last.record.epoch + 1 || record.effectiveSeq <= last.record.effectiveSeq) {
      throw new Error(`key epoch ${record.epoch} of replica ${record.replica} does not follow epoch ${last.record.epoch}`);
    }
    list.push({ record, key });
    this.#sets.clear();
    this.#version++;
    if (record.effectiveSeq > this.#lastSwitch) this.#lastSwitch = record.effectiveSeq;
  }

  /** The record of the key replica `r` signs `seq` with. */
  recordAt(r: number, seq: number): KeyRecord {
    return this.#entryAt(r, seq).record;
  }

  keyAt(r: number, seq: number): K | undefined {
    return r >= 0 && r < this.#n ? this.#entryAt(r, seq).key : undefined;
  }

  /** Every replica's key in effect at `seq`, indexed by replica (shared array: do not change it). */
  keysAt(seq: number): K[] {
    const id = this.keySetId(seq);
    let set = this.#sets.get(id);
    if (set === undefined) this.#sets.set(id, (set = this.#keys.map((_, r) => this.#entryAt(r, seq).key)));
    return set;
  }

  /**
   * The id of the key set in effect at `seq` (equal ids: the same keys). Checked for every
   * certificate, so the common case — past every switch — costs no walk over the replicas.
   */
  keySetId(seq: number): string {
    if (seq >= this.#lastSwitch) return 'latest';
    return this.#keys.map((_, r) => this.#entryAt(r, seq).record.epoch).join(',');
  }

  latest(r: number): KeyRecord {
    const list = this.#keys[r]!;
    return list[list.length - 1]!.record;
  }

  /** Every published record (epoch ≥ 1), in replica then epoch order. */
  published(): KeyRecord[] {
    return this.#keys.flatMap((list) => list.slice(1).map((e) => e.record));
  }

  /** Replicas that have published at least one key of their own. */
  exchangedCount(): number {
    return this.#keys.filter((list) => list.length > 1).length;
  }

  #entryAt(r: number, seq: number): { record: KeyRecord; key: K } {
    const list = this.#keys[r]!;
    for (let i = list.length - 1; i > 0; i--) if (list[i]!.record.effectiveSeq <= seq) return list[i]!;
    return list[0]!;
  }
}
