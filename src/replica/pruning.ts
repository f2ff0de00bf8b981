/**
 * `bulwark replica --prune`: a replica that is not an archive. The application is wrapped so that
 * every batch executes under the lock the state pruner's sweep takes (`execution/prune.ts`), and
 * after a batch, once more than `retainBlocks + everyBlocks` blocks' states are stored, a prune
 * runs in the background, a chunk at a time between batches:
 *
 * - state: everything not reachable from the states of the last `retainBlocks` blocks and of every
 *   block from the last stable checkpoint's on (what state snapshots serve to joining replicas);
 * - ordered batches (prefix `orderedBatches`) below both the stable checkpoint and what this
 *   replica has executed, less `retainBatches`: peers catching up from further back find none
 *   (`ConsensusStore.committed` stops at the first gap) and need a state snapshot.
 *
 * The trigger is a block count, not a clock: replicas with the same settings prune at the same
 * blocks, so their floors (reads refused below them) agree most of the time.
 */
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ClientRequest } from '../codec/messages.ts';
import { decodeStable } from '../codec/records.ts';
import type { Clock } from '../common/clock.ts';
import { isBulwarkError } from '../common/errors.ts';
import type { AppState } from '../consensus/replica.ts';
import type { Executor } from '../execution/executor.ts';
import { SerialLock, StatePruner, type PruneReport } from '../execution/prune.ts';
import type { KeyRecord, NodeKeyRecord, OperatorState } from '../ledger/reserved-pages.ts';
import { batchesFromOp, orderedBatchKey, readBatchesFrom } from '../ledger/retention.ts';
import { PREFIX, type BatchOp, type KvStore } from '../storage/index.ts';
import type { AppExecution, RawBlock, ReplicaApplication, ReplicaReads, SnapshotServer } from './application.ts';

export interface PruneSettings {
  /** Blocks whose states are kept behind the head. */
  readonly retainBlocks: number;
  /** How many blocks past `retainBlocks` the stored states may run before a prune starts. */
  readonly everyBlocks: number;
  /** Ordered batches kept below the stable checkpoint. */
  readonly retainBatches: number;
  /** The mark set's memory (`execution/prune.ts`). */
  readonly bloomBytes?: number;
}

export const DEFAULT_PRUNE: PruneSettings = { retainBlocks: 256, everyBlocks: 1_024, retainBatches: 1_024 };

const utf8 = new TextEncoder();
const STABLE_KEY = Uint8Array.of(PREFIX.consensusState, ...utf8.encode('stable'));
/** Ordered batches deleted per write. */
const BATCH_CHUNK = 512;

class PruneMetrics {
  readonly runs: Counter<'outcome'>;
  readonly deleted: Counter<'kind'>;
  readonly bytes: Counter;
  readonly seconds: Histogram<'phase'>;
  readonly stateFrom: Gauge;
  readonly batchesFrom: Gauge;

  constructor(registers: Registry[]) {
    this.runs = new Counter({ name: 'bulwark_prune_runs_total', help: 'Prunes run, by outcome', labelNames: ['outcome'], registers });
    this.deleted = new Counter({ name: 'bulwark_prune_deleted_total', help: 'Entries the pruner deleted: trie nodes, codes, ordered batches', labelNames: ['kind'], registers });
    this.bytes = new Counter({ name: 'bulwark_prune_reclaimed_bytes_total', help: 'Keys and values the pruner deleted, in bytes (before compaction)', registers });
    this.seconds = new Histogram({
      name: 'bulwark_prune_duration_seconds',
      help: 'Wall time of a prune: mark, and the whole of it',
      labelNames: ['phase'],
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 1_200],
      registers,
    });
    this.stateFrom = new Gauge({ name: 'bulwark_state_from_block', help: 'The oldest block whose state is stored (reads below it are refused)', registers });
    this.batchesFrom = new Gauge({ name: 'bulwark_ordered_batches_from', help: 'The lowest ordered batch stored', registers });
  }
}

export class PruningApp implements ReplicaApplication {
  readonly #inner: ReplicaApplication;
  readonly #executor: Executor;
  readonly #kv: KvStore;
  readonly #settings: PruneSettings;
  readonly #log: Logger;
  readonly #lock = new SerialLock();
  readonly #pruner: StatePruner;
  #metrics: PruneMetrics | null = null;
  #running: Promise<void> | null = null;
  /** No prune starts before this block (one per `everyBlocks` at most, even when one finds nothing to do). */
  #nextAt = 0n;
  #stopped = false;

  constructor(o: { inner: ReplicaApplication; executor: Executor; kv: KvStore; settings: PruneSettings; log: Logger }) {
    this.#inner = o.inner;
    this.#executor = o.executor;
    this.#kv = o.kv;
    this.#settings = o.settings;
    this.#log = o.log.child({ module: 'prune' });
    this.#pruner = new StatePruner({ kv: o.kv, executor: o.executor, lock: this.#lock, ...(o.settings.bloomBytes === undefined ? {} : { bloomBytes: o.settings.bloomBytes }) });
  }

  /** Registers the prune metrics in the replica's registry (made by the shell, after this). */
  registerMetrics(registry: Registry): void {
    const metrics = new PruneMetrics([registry]);
    metrics.stateFrom.set(Number(this.#executor.stateFrom));
    this.#metrics = metrics;
  }

  state(): AppState {
    return this.#inner.state();
  }

  async execute(
    seq: number,
    timestamp: number,
    requests: readonly ClientRequest[],
    keyRecords?: readonly KeyRecord[],
    internal?: readonly ClientRequest[],
    operator?: OperatorState | null,
    nodeKeyRecords?: readonly NodeKeyRecord[],
  ): Promise<AppExecution> {
    const r = await this.#lock.run(() => this.#inner.execute(seq, timestamp, requests, keyRecords, internal, operator, nodeKeyRecords));
    this.#maybeStart();
    return r;
  }

  head(): { readonly number: number; readonly hash: Uint8Array } {
    return this.#inner.head();
  }

  block(n: number): Promise<RawBlock | undefined> {
    return this.#inner.block(n);
  }

  reads(sign: (bytes: Uint8Array) => Uint8Array, clock: Clock): ReplicaReads {
    return this.#inner.reads(sign, clock);
  }

  snapshots(): SnapshotServer {
    // Served from the store as it is: the stable checkpoint's state is always kept (`#run`).
    const inner = this.#inner.snapshots?.();
    if (inner === undefined) throw new Error('the application under pruning serves no snapshots');
    return inner;
  }

  cacheBytes(): number {
    return this.#inner.cacheBytes();
  }

  /** Lets a prune in progress finish its chunk and starts no other (before the store closes). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#pruner.stop();
    await this.#running;
  }

  #maybeStart(): void {
    const head = this.#executor.head.header.number;
    const kept = head - this.#executor.stateFrom + 1n;
    if (this.#running !== null || this.#stopped || head < this.#nextAt || kept <= BigInt(this.#settings.retainBlocks + this.#settings.everyBlocks)) return;
    this.#nextAt = head + BigInt(this.#settings.everyBlocks);
    this.#running = this.#run().finally(() => (this.#running = null));
  }

  async #run(): Promise<void> {
    try {
      const stable = await this.#stable();
      const head = this.#executor.head.header.number;
      const recent = head - BigInt(this.#settings.retainBlocks) + 1n;
      const from = stable === undefined || BigInt(stable.block) >= recent ? recent : BigInt(stable.block);
      if (from > this.#executor.stateFrom) this.#recordState(await this.#pruner.prune(from));
      if (this.#stopped) return;
      await this.#pruneBatches(stable?.seq ?? 0);
      this.#metrics?.runs.inc({ outcome: 'done' });
    } catch (err) {
      if (isBulwarkError(err, 'PRUNE_STOPPED')) return;
      // A failed prune deletes nothing more; the next trigger tries again.
      this.#metrics?.runs.inc({ outcome: 'failed' });
      this.#log.error({ err }, 'prune failed');
    }
  }

  #recordState(r: PruneReport): void {
    this.#metrics?.deleted.inc({ kind: 'trie_node' }, r.deletedNodes);
    this.#metrics?.deleted.inc({ kind: 'code' }, r.deletedCodes);
    this.#metrics?.bytes.inc(r.bytes);
    this.#metrics?.seconds.observe({ phase: 'mark' }, r.markSeconds);
    this.#metrics?.seconds.observe({ phase: 'total' }, r.seconds);
    this.#metrics?.stateFrom.set(Number(r.from));
    this.#log.info(
      {
        stateFrom: Number(r.from),
        head: Number(r.head),
        roots: r.roots,
        marked: r.marked,
        scanned: r.scanned,
        deletedNodes: r.deletedNodes,
        deletedCodes: r.deletedCodes,
        bytes: r.bytes,
        markSeconds: Number(r.markSeconds.toFixed(3)),
        seconds: Number(r.seconds.toFixed(3)),
        bloomBytes: r.bloomBytes,
        falsePositiveRate: Number(r.falsePositiveRate.toExponential(2)),
      },
      'state pruned',
    );
  }

  /** The last stable checkpoint: its sequence number and block (none before the first). */
  async #stable(): Promise<{ seq: number; block: number } | undefined> {
    const raw = await this.#kv.get(STABLE_KEY);
    if (raw === undefined) return undefined;
    const cert = decodeStable(raw);
    return { seq: cert.seq, block: cert.summary.blockNumber };
  }

  /** Deletes ordered batches below the stable checkpoint and this replica's execution, less `retainBatches`. */
  async #pruneBatches(stableSeq: number): Promise<void> {
    const below = Math.min(stableSeq, this.#inner.state().lastExecuted) - this.#settings.retainBatches;
    const from = await readBatchesFrom(this.#kv);
    if (below <= from) return;
    let deleted = 0;
    for (let seq = from; seq < below && !this.#stopped; seq += BATCH_CHUNK) {
      const end = Math.min(seq + BATCH_CHUNK, below);
      const ops: BatchOp[] = [];
      for (let s = seq; s < end; s++) ops.push({ type: 'del', key: orderedBatchKey(s) });
      // The floor moves with the deletions, so verify-ledger never looks for a batch already gone.
      ops.push(batchesFromOp(end));
      await this.#kv.write(ops);
      deleted += end - seq;
      this.#metrics?.batchesFrom.set(end);
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.#metrics?.deleted.inc({ kind: 'ordered_batch' }, deleted);
    this.#log.info({ batchesFrom: from + deleted, deleted }, 'ordered batches pruned');
  }
}
