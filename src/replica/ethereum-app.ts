/**
 * The application consensus executes on a replica: each committed batch's client requests carry
 * raw Ethereum transactions, which the executor runs as one block — made only if at least one
 * transaction is valid (ARCHITECTURE "Blocks and time"). In the same atomic RocksDB batch as the
 * block go the reserved pages the protocol depends on (`ledger/reserved-pages.ts`): each client's
 * highest executed request sequence (exactly-once), the last executed sequence number with its
 * block timestamp, and the published keys and operator state the state machine hands over with
 * the batch. A batch without a block writes those alone. So after any crash, `state()` is exactly
 * what the replica had executed, and `restoreReplica` starts from it. It is the shell's
 * `ReplicaApplication` (`application.ts`): blocks, reads and the head come from the executor.
 */
import { equalBytes } from '../common/bytes.ts';
import { BulwarkError } from '../common/errors.ts';
import type { ClientRequest, ExecSummary } from '../codec/messages.ts';
import { decodeTxPayload, encodeRequestResult, type RequestResult, type TxOutcome } from '../codec/tx-payload.ts';
import type { AppState } from '../consensus/replica.ts';
import { reservedPagesDigest } from '../consensus/reserved-pages.ts';
import { keccak256 } from '../crypto/index.ts';
import type { Executor } from '../execution/executor.ts';
import { BlockStore } from '../ledger/block-store.ts';
import { ReservedPages, type ExecutionProgress, type KeyRecord, type NodeKeyRecord, type OperatorState } from '../ledger/reserved-pages.ts';
import type { BatchOp, KvStore } from '../storage/index.ts';
import type { Clock } from '../common/clock.ts';
import type { AppExecution, RawBlock, ReplicaApplication, ReplicaReads } from './application.ts';
import { ReadService } from './read-service.ts';
import { SnapshotSource } from './snapshot-source.ts';
import type { CheckpointImage } from '../codec/snapshot.ts';

export type { AppExecution } from './application.ts';

/** Checkpoint images kept: a joining replica asking for the newest checkpoint f + 1 peers reached finds it at each of them. */
const KEPT_IMAGES = 3;
/** The recent blocks' state changes kept for client nodes: at most this many bytes and blocks. */
const CHANGES_KEPT_BYTES = 32 << 20;
const CHANGES_KEPT_BLOCKS = 1_024;
const CHANGES_MAX_BLOCK_BYTES = 1 << 20;

export class EthereumApp implements ReplicaApplication {
  readonly #executor: Executor;
  readonly #kv: KvStore;
  readonly #pages: ReservedPages;
  readonly #clients: Map<number, number>;
  readonly #keys: KeyRecord[];
  #operator: OperatorState;
  readonly #nodeKeys: NodeKeyRecord[];
  #at: ExecutionProgress;
  /** Checkpoints are every this many sequence numbers: the image of the reserved pages is kept at each (0: none kept). */
  readonly #checkpointInterval: number;
  /**
   * The state changes of the latest blocks, by block number, in memory (`CHANGES_KEPT_BYTES` at most),
   * sent with each block to client nodes: they apply them instead of executing the block again. A
   * block asked for after its changes are gone (or after a restart) goes without; the client node
   * then executes it.
   */
  readonly #changes = new Map<number, Uint8Array>();
  #changesBytes = 0;
  /**
   * The last block this replica made, kept to be served without reading it back: every small block
   * is pushed to the client nodes right after execution, and mirrors fetch the head.
   */
  #latest: { readonly hash: Uint8Array; readonly raw: () => RawBlock } | null = null;

  private constructor(
    executor: Executor,
    kv: KvStore,
    pages: ReservedPages,
    clients: Map<number, number>,
    keys: KeyRecord[],
    operator: OperatorState,
    nodeKeys: NodeKeyRecord[],
    at: ExecutionProgress,
    checkpointInterval: number,
  ) {
    this.#checkpointInterval = checkpointInterval;
    this.#executor = executor;
    this.#kv = kv;
    this.#pages = pages;
    this.#clients = clients;
    this.#keys = keys;
    this.#operator = operator;
    this.#nodeKeys = nodeKeys;
    this.#at = at;
  }

  /**
   * `kv` must be the executor's store: the reserved pages are written in its block batches. With a
   * `checkpointInterval`, the reserved pages as they stand after each checkpoint are kept (the last
   * three), for the snapshots this replica serves (`snapshot-source.ts`).
   */
  static async open(executor: Executor, kv: KvStore, options: { readonly checkpointInterval?: number } = {}): Promise<EthereumApp> {
    const pages = new ReservedPages(kv);
    const stored = await pages.read();
    const at = stored.progress ?? { lastExecuted: 0, lastTimestamp: Number(executor.head.header.timestamp) };
    return new EthereumApp(executor, kv, pages, stored.clients, stored.keys, stored.operator, stored.nodeKeys, at, options.checkpointInterval ?? 0);
  }

  state(): AppState {
    return {
      lastExecuted: this.#at.lastExecuted,
      summary: this.#summary(),
      lastTimestamp: this.#at.lastTimestamp,
      clients: new Map(this.#clients),
      keys: [...this.#keys],
      operator: this.#operator,
      nodeKeys: [...this.#nodeKeys],
    };
  }

  /**
   * Runs one committed batch's fresh requests (the `execute` output of the state machine), and
   * writes the keys it published into the reserved pages in the same atomic batch.
   *
   * The batch is written without a sync of its own. What it holds follows deterministically from a
   * committed batch, which 2f + 1 replicas' synced votes keep; the next synced write to this store
   * (the consensus records of a later slot) syncs the shared write-ahead log and this batch with it.
   * A power cut in between loses the last blocks whole, never part of one (RocksDB recovers a
   * prefix of its batches), and the replica executes them again (docs/architecture.md "Crash
   * safety"). One fsync a slot fewer, on the path from commit to reply.
   */
  async execute(
    seq: number,
    timestamp: number,
    requests: readonly ClientRequest[],
    keyRecords: readonly KeyRecord[] = [],
    internal: readonly ClientRequest[] = [],
    operator: OperatorState | null = null,
    nodeKeyRecords: readonly NodeKeyRecord[] = [],
  ): Promise<AppExecution> {
    if (seq !== this.#at.lastExecuted + 1) {
      throw new BulwarkError('APP_OUT_OF_ORDER', `sequence ${seq} after ${this.#at.lastExecuted}`, { seq, last: this.#at.lastExecuted });
    }
    const decoded = requests.map((r) => {
      try {
        return decodeTxPayload(r.payload);
      } catch {
        return null; // a malformed payload is a deterministic outcome, answered as such
      }
    });
    const rawTxs = decoded.flatMap((d) => d ?? []);
    const at: ExecutionProgress = { lastExecuted: seq, lastTimestamp: requests.length > 0 ? timestamp : this.#at.lastTimestamp };
    // The client table records every executed request, the replicas' own (key exchanges) too.
    const executed = [...requests, ...internal];
    const clients = new Map(this.#clients);
    for (const r of executed) clients.set(r.clientId, Math.max(clients.get(r.clientId) ?? 0, r.requestSeq));
    const ops = [
      ...this.#reservedOps(at, executed),
      ...keyRecords.map((k) => this.#pages.keyRecordOp(k)),
      ...(operator === null ? [] : [this.#pages.operatorStateOp(operator)]),
      ...nodeKeyRecords.map((k) => this.#pages.nodeKeyRecordOp(k)),
    ];
    let outcomes: TxOutcome[] = [];
    let block = false;
    let made: AppExecution['made'];
    if (rawTxs.length === 0) {
      await this.#kv.write(ops);
    } else {
      const head = this.#executor.head;
      const out = await this.#executor.execute(head.hash(), rawTxs, BigInt(timestamp), { extraOps: ops, commitEmpty: false });
      block = out.committed;
      if (block) made = { transactions: out.rawTransactions.length, gasUsed: Number(out.block.header.gasUsed) };
      if (block && out.changes !== undefined) this.#keepChanges(Number(out.block.header.number), out.changes);
      if (block) {
        let raw: RawBlock | undefined;
        this.#latest = { hash: out.block.hash(), raw: () => (raw ??= BlockStore.rawOf(out.block, out.receipts, out.rawTransactions)) };
      }
      outcomes = outcomesOf(rawTxs, out.rawTransactions.length, out.rejected);
    }
    this.#at = at;
    for (const [c, s] of clients) this.#clients.set(c, s);
    this.#keys.push(...keyRecords);
    if (operator !== null) this.#operator = operator;
    this.#nodeKeys.push(...nodeKeyRecords);
    if (this.#checkpointInterval > 0 && seq % this.#checkpointInterval === 0) await this.#keepImage(seq);
    const results: Uint8Array[] = [];
    let next = 0;
    for (const d of decoded) {
      const result: RequestResult = d === null ? { malformed: true } : { malformed: false, txs: outcomes.slice(next, next + d.length) };
      if (d !== null) next += d.length;
      results.push(encodeRequestResult(result));
    }
    return { summary: this.#summary(), results, block, ...(made === undefined ? {} : { made }) };
  }

  /**
   * The reserved pages as they stand right after checkpoint `seq`, kept beside the block (the three
   * newest): a joining replica is served the pages of a checkpoint this replica has moved past. Not
   * in the block's atomic batch — the image is made from the batch's outcome — so a crash between
   * the two leaves one checkpoint without an image, which this replica then cannot serve; never a
   * wrong one.
   */
  async #keepImage(seq: number): Promise<void> {
    const { lastExecuted, ...pages } = this.state();
    const image: CheckpointImage = { seq: lastExecuted, ...pages };
    const ops = [this.#pages.imageOp(image)];
    const old = seq - KEPT_IMAGES * this.#checkpointInterval;
    if (old > 0) ops.push(this.#pages.dropImageOp(old));
    await this.#kv.write(ops);
  }

  /** What this replica serves of the snapshots it keeps (`snapshot-source.ts`). */
  snapshots(): SnapshotSource {
    return new SnapshotSource(this.#executor, this.#kv, this.#pages);
  }

  head(): { readonly number: number; readonly hash: Uint8Array } {
    const h = this.#executor.head;
    return { number: Number(h.header.number), hash: h.hash() };
  }

  async block(n: number): Promise<RawBlock | undefined> {
    const head = this.#executor.head;
    const latest = this.#latest;
    const raw = latest !== null && head.header.number === BigInt(n) && equalBytes(head.hash(), latest.hash) ? latest.raw() : await this.#executor.blocks.rawByNumber(BigInt(n));
    const changes = this.#changes.get(n);
    return raw === undefined || changes === undefined ? raw : { ...raw, changes };
  }

  #keepChanges(n: number, changes: Uint8Array): void {
    const before = this.#changes.get(n);
    if (before !== undefined) {
      this.#changes.delete(n);
      this.#changesBytes -= before.length;
    }
    // A block's changes are bounded by its gas (well under this); past it they are not sent, and
    // the client nodes execute the block, rather than a frame grow past what they decode.
    if (changes.length > CHANGES_MAX_BLOCK_BYTES) return;
    this.#changes.set(n, changes);
    this.#changesBytes += changes.length;
    for (const [old, c] of this.#changes) {
      if (this.#changesBytes <= CHANGES_KEPT_BYTES && this.#changes.size <= CHANGES_KEPT_BLOCKS) break;
      this.#changes.delete(old);
      this.#changesBytes -= c.length;
    }
  }

  reads(sign: (bytes: Uint8Array) => Uint8Array, clock: Clock): ReplicaReads {
    return new ReadService(this.#executor, sign, {}, clock);
  }

  /** The executor's trie-node cache. */
  cacheBytes(): number {
    return this.#executor.nodeCache.bytes;
  }

  #reservedOps(at: ExecutionProgress, requests: readonly ClientRequest[]): BatchOp[] {
    const ops: BatchOp[] = [this.#pages.progressOp(at)];
    const last = new Map<number, number>();
    for (const r of requests) last.set(r.clientId, r.requestSeq);
    for (const [client, s] of last) ops.push(this.#pages.clientOp(client, s));
    return ops;
  }

  #reservedDigest(): Uint8Array {
    return reservedPagesDigest(this.#clients, this.#keys, this.#operator, this.#nodeKeys);
  }

  #summary(): ExecSummary {
    const h = this.#executor.head;
    return {
      blockNumber: Number(h.header.number),
      blockHash: h.hash(),
      stateRoot: h.header.stateRoot,
      reservedDigest: this.#reservedDigest(),
    };
  }
}

/** Maps the executor's output back onto the input order: included ones in order, rejected ones by index. */
function outcomesOf(
  rawTxs: readonly Uint8Array[],
  includedCount: number,
  rejected: readonly { index: number; hash: Uint8Array | undefined; reason: string }[],
): TxOutcome[] {
  const byIndex = new Map(rejected.map((r) => [r.index, r]));
  const out: TxOutcome[] = [];
  let position = 0;
  for (let i = 0; i < rawTxs.length; i++) {
    const rej = byIndex.get(i);
    if (rej !== undefined) out.push({ hash: rej.hash ?? keccak256(rawTxs[i]!), included: false, reason: rej.reason });
    else out.push({ hash: keccak256(rawTxs[i]!), included: true, index: position++ });
  }
  if (position !== includedCount) {
    throw new BulwarkError('APP_RESULT_MISMATCH', `${position} transactions thought included, the block has ${includedCount}`);
  }
  return out;
}
