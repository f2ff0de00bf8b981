/**
 * The consensus write-ahead records on the node's RocksDB (prefixes 0x10–0x15): what `persist`
 * outputs say, written as one batch per output before the replica carries out anything that follows
 * it (synced when it holds what the replica signed: `syncNeeded`), and read back into `PersistedConsensus` at start-up. Committed batches are the
 * ordering ledger, read to serve peers that catch up: kept forever, except below a window on a
 * `--prune` replica (`pruning.ts`), where a peer asking for them gets none (`committed`).
 * Everything else above the stable checkpoint is dropped when a newer checkpoint becomes stable.
 */
import { BulwarkError } from '../common/errors.ts';
import {
  decodeBareVote,
  decodeCommitted,
  decodePrepared,
  decodeStable,
  decodeStoredMessage,
  decodeView,
  decodeVote,
  encodeBareVote,
  encodeCommitted,
  encodePrepared,
  encodeStable,
  encodeStoredMessage,
  encodeView,
  encodeVote,
} from '../codec/records.ts';
import type { Batch, CommitCertificate } from '../codec/messages.ts';
import { emptyPersisted, type PersistedConsensus, type PersistRecord } from '../consensus/records.ts';
import { bytesCodec, createRepository, utf8Codec, type BatchOp, type Codec, type KvStore, type Repository } from '../storage/index.ts';

const seqCodec: Codec<number> = {
  encode(n) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(n));
    return b;
  },
  decode(b) {
    if (b.length !== 8) throw new BulwarkError('LEDGER_CORRUPT', 'a sequence-number key is 8 bytes', { length: b.length });
    return Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0));
  },
};

const clientCodec: Codec<number> = {
  encode(n) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n);
    return b;
  },
  decode(b) {
    if (b.length !== 4) throw new BulwarkError('LEDGER_CORRUPT', 'a client-id key is 4 bytes', { length: b.length });
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
  },
};

type Bytes = Uint8Array;

/**
 * Whether a record must be on the disk before the replica acts on it. What this replica signed or
 * promised must (its votes, prepared certificates and commit votes, its view and view-change
 * messages, the stable checkpoint): forgotten in a power cut, it could sign something that
 * contradicts it. A committed batch and a reply need not. The batch is committed at 2f + 1 replicas
 * whose synced votes keep it (a view change re-proposes it; `catch-up.ts` fetches it), execution
 * is deterministic, and a reply is made again when its batch executes again. They are synced by the
 * next synced write: every write goes through the store's one write-ahead log, so a sync makes
 * everything before it durable, and a power cut leaves a prefix of the batches. That takes two
 * fsyncs a slot off the path from commit to reply (the committed batch before execution, the
 * replies after it; with four replicas and a client node syncing on one disk, 1–3 ms each).
 */
export function syncNeeded(r: PersistRecord): boolean {
  return r.kind !== 'committed' && r.kind !== 'reply';
}

export class ConsensusStore {
  readonly #kv: KvStore;
  readonly #state: Repository<string, Bytes>;
  readonly #votes: Repository<number, Bytes>;
  readonly #prepared: Repository<number, Bytes>;
  readonly #commitVotes: Repository<number, Bytes>;
  readonly #batches: Repository<number, Bytes>;
  readonly #replies: Repository<number, Bytes>;

  constructor(kv: KvStore) {
    this.#kv = kv;
    this.#state = createRepository(kv, 'consensusState', utf8Codec, bytesCodec);
    this.#votes = createRepository(kv, 'consensusVotes', seqCodec, bytesCodec);
    this.#prepared = createRepository(kv, 'consensusPrepared', seqCodec, bytesCodec);
    this.#commitVotes = createRepository(kv, 'consensusCommitVotes', seqCodec, bytesCodec);
    this.#batches = createRepository(kv, 'orderedBatches', seqCodec, bytesCodec);
    this.#replies = createRepository(kv, 'replyCache', clientCodec, bytesCodec);
  }

  /**
   * Writes one `persist` output as one batch, pruning below a new stable checkpoint. The batch
   * reaches the operating system before this resolves (a killed process loses nothing); it is
   * synced to the disk unless it holds only records that the replica can get back from its peers
   * (`syncNeeded`).
   */
  async persist(records: readonly PersistRecord[]): Promise<void> {
    const ops: BatchOp[] = [];
    for (const r of records) ops.push(...(await this.#opsFor(r)));
    await this.#kv.write(ops, { sync: records.some(syncNeeded) });
  }

  async #opsFor(r: PersistRecord): Promise<BatchOp[]> {
    switch (r.kind) {
      case 'view':
        return [this.#state.putOp('view', encodeView(r.view, r.active))];
      case 'vote':
        return [this.#votes.putOp(r.seq, encodeVote({ view: r.view, digest: r.digest, batch: r.batch }))];
      case 'prepared':
        return [this.#prepared.putOp(r.seq, encodePrepared(r.cert))];
      case 'commitVote':
        return [this.#commitVotes.putOp(r.seq, encodeBareVote({ view: r.view, digest: r.digest }))];
      case 'committed':
        return [this.#batches.putOp(r.seq, encodeCommitted(r.batch, r.commit))];
      case 'viewChange':
        return [this.#state.putOp('viewChange', encodeStoredMessage(r.message))];
      case 'newView':
        return [this.#state.putOp('newView', encodeStoredMessage(r.message))];
      case 'reply':
        return [this.#replies.putOp(r.reply.clientId, encodeStoredMessage(r.reply))];
      case 'stable': {
        const ops = [this.#state.putOp('stable', encodeStable(r.cert))];
        for (const repo of [this.#votes, this.#prepared, this.#commitVotes]) {
          for await (const seq of repo.keys({ lt: r.cert.seq + 1 })) ops.push(repo.delOp(seq));
        }
        return ops;
      }
    }
  }

  /** Everything `restoreReplica` needs, as `foldRecords` would have built it. */
  async load(): Promise<PersistedConsensus> {
    const p = emptyPersisted();
    const where = (what: string) => ({ what, location: this.#kv.location });
    try {
      const view = await this.#state.get('view');
      if (view !== undefined) Object.assign(p, decodeView(view));
      const stable = await this.#state.get('stable');
      if (stable !== undefined) p.stable = decodeStable(stable);
      const vc = await this.#state.get('viewChange');
      if (vc !== undefined) p.viewChange = decodeStoredMessage('ViewChange', vc);
      const nv = await this.#state.get('newView');
      if (nv !== undefined) p.newView = decodeStoredMessage('NewView', nv);
      const above = { gte: (p.stable?.seq ?? 0) + 1 };
      for await (const [seq, b] of this.#votes.entries(above)) p.votes.set(seq, decodeVote(b));
      for await (const [seq, b] of this.#prepared.entries(above)) p.prepared.set(seq, decodePrepared(b));
      for await (const [seq, b] of this.#commitVotes.entries(above)) p.commitVotes.set(seq, decodeBareVote(b));
      for await (const [seq, b] of this.#batches.entries(above)) p.committed.set(seq, decodeCommitted(b));
      for await (const [client, b] of this.#replies.entries()) p.replies.set(client, decodeStoredMessage('Reply', b));
    } catch (cause) {
      if (cause instanceof BulwarkError && cause.code === 'LEDGER_CORRUPT') throw cause;
      throw new BulwarkError('LEDGER_CORRUPT', 'a consensus record cannot be decoded', where('consensus records'), { cause });
    }
    return p;
  }

  /** Committed batches `from..to` that this node holds, in order, stopping at the first gap. */
  async committed(from: number, to: number): Promise<{ seq: number; batch: Batch; commit: CommitCertificate }[]> {
    const out: { seq: number; batch: Batch; commit: CommitCertificate }[] = [];
    for await (const [seq, b] of this.#batches.entries({ gte: from, lt: to + 1 })) {
      if (seq !== from + out.length) break;
      out.push({ seq, ...decodeCommitted(b) });
    }
    return out;
  }
}
