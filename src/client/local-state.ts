/**
 * The client node's own state: it follows every block its ledger mirror has certified, in order,
 * and keeps the result in a store of its own (`<dir>/state`). A block that came with its state
 * changes (a replica records them as it executes: `execution/state-changes.ts`) is applied: the
 * changes must lead exactly to the certified state root, or they are refused and the block is
 * executed instead. Otherwise the follower executes the block with the same executor the replicas
 * run; it must come out with exactly the hash f + 1 replicas certified — same state root, receipts
 * and gas — or the follower stops and says so (`EXEC_DIVERGED`): f + 1 replicas vouched for a
 * block that this node cannot reproduce, which no honest network does.
 *
 * With it, state reads (`eth_getBalance`, `eth_call`, `eth_getProof`, …) and tracing are answered
 * here, from state whose root is in a certified block, without a round trip to the replicas and
 * without spending their CPU. A read for a block the follower has not executed yet waits for it
 * briefly and otherwise goes to the replicas as before (`ReadClient`): under a heavy write load the
 * follower may lag, and reads still answer.
 *
 * The mirror is the source: the follower only executes blocks the mirror has stored, so it never
 * runs ahead of what is certified. It keeps every block's state, so reads at any past block are
 * local too — unless `prune` is set (`bulwark client --prune-local-state`): then it keeps the last
 * `retainBlocks` blocks' states (`execution/prune.ts`), and a read below them goes to the replicas.
 */
import type { Logger } from 'pino';
import type { ReadQuery, ReadResult } from '../codec/read.ts';
import { BulwarkError, isBulwarkError } from '../common/errors.ts';
import type { ChainConfig } from '../execution/chain-config.ts';
import type { EvmBudget } from '../execution/evm-limits.ts';
import { Executor } from '../execution/executor.ts';
import type { DecodedTxs } from '../execution/decoded-txs.ts';
import { SerialLock, StatePruner } from '../execution/prune.ts';
import { StateQueries } from '../execution/state-queries.ts';
import type { BlockStore } from '../ledger/block-store.ts';
import type { StoredBlock } from './mirror.ts';
import type { KvStore } from '../storage/index.ts';

export interface LocalStateOptions {
  /** The follower's own store (not the mirror's: the two heads move separately). */
  readonly kv: KvStore;
  readonly config: ChainConfig;
  /** The mirror's certified blocks. */
  readonly blocks: BlockStore;
  readonly log: Logger;
  /** How long a read waits for the follower to reach its block before it goes to the replicas. */
  readonly waitMs?: number;
  /** Keep only recent states: a prune once `retainBlocks + everyBlocks` blocks' states are stored. */
  readonly prune?: { readonly retainBlocks: number; readonly everyBlocks: number };
  /** Transactions this node's pool decoded, which the executor takes instead of decoding again. */
  readonly decodedTxs?: DecodedTxs;
}

/** How far behind the block asked for the follower may be for a read still to wait for it. */
const WAIT_AHEAD = 64n;
/**
 * Offered blocks kept ahead of the follower (`offer`): at most this many, and bytes of changes and
 * transactions (the decoded blocks held with them take a few times that). The follower is normally
 * a block or two behind; past the bound, the oldest are dropped and those blocks executed.
 */
const OFFERED_MAX_BLOCKS = 256;
const OFFERED_MAX_BYTES = 8 << 20;
/** After a failed write (a full disk), how long before the block is executed again. */
const STORE_RETRY_MS = 1_000;

export class LocalState {
  readonly executor: Executor;
  readonly #o: LocalStateOptions;
  readonly #queries: StateQueries;
  /** The highest block the mirror holds: the follower executes up to it. */
  #target = 0n;
  #running = false;
  #diverged: BulwarkError | null = null;
  #waiters: (() => void)[] = [];
  #closed = false;
  /** Reads answered here and reads sent on to the replicas (the follower being behind or stopped). */
  localReads = 0;
  forwardedReads = 0;
  /** Blocks made the head by applying their state changes, by executing them, and changes refused (then executed). */
  appliedBlocks = 0;
  executedBlocks = 0;
  changesRefused = 0;
  /** Blocks the mirror stored with state changes, not reached yet; their bytes (changes and transactions). */
  readonly #offered = new Map<bigint, { readonly block: StoredBlock; readonly bytes: number }>();
  #offeredBytes = 0;
  /** Blocks that could not be written (a full disk): each is executed again after `STORE_RETRY_MS`. */
  storeFailures = 0;
  #retry: NodeJS.Timeout | null = null;
  /** Blocks execute under it, and the pruner's sweep chunks (`execution/prune.ts`). */
  readonly #lock = new SerialLock();
  readonly #pruner: StatePruner | null;
  #pruning: Promise<void> | null = null;

  private constructor(o: LocalStateOptions, executor: Executor) {
    this.#o = o;
    this.executor = executor;
    this.#queries = new StateQueries(executor, 32);
    this.#pruner = o.prune === undefined ? null : new StatePruner({ kv: o.kv, executor, lock: this.#lock });
  }

  static async open(o: LocalStateOptions): Promise<LocalState> {
    // Not synced block by block: whatever a crash loses is executed again from the mirror.
    const executor = await Executor.open({ kv: o.kv, config: o.config, durable: false, ...(o.decodedTxs === undefined ? {} : { decodedTxs: o.decodedTxs }) });
    return new LocalState(o, executor);
  }

  /** The last block executed here. */
  get head(): bigint {
    return this.executor.head.header.number;
  }

  /** Why the follower stopped, or null while it follows. */
  get diverged(): BulwarkError | null {
    return this.#diverged;
  }

  /** The mirror holds blocks up to `number`: execute up to there. */
  follow(number: bigint): void {
    if (number > this.#target) this.#target = number;
    if (!this.#running && this.#retry === null && this.#diverged === null && !this.#closed) void this.#run();
  }

  /**
   * The mirror stored block `number` (verified) with the state changes a replica sent: the follower
   * applies them instead of executing the block, if they lead to the block's certified state root
   * (`Executor.apply`); otherwise it executes the block. Kept until then, within a bound (past it,
   * the oldest are dropped and those blocks executed).
   */
  offer(number: bigint, block: StoredBlock): void {
    const changes = block.changes;
    if (changes === undefined || number <= this.head || this.#closed) return;
    const bytes = changes.length + block.rawTxs.reduce((n, t) => n + t.length, 0);
    this.#offered.set(number, { block, bytes });
    this.#offeredBytes += bytes;
    for (const [n, o] of this.#offered) {
      if (this.#offeredBytes <= OFFERED_MAX_BYTES && this.#offered.size <= OFFERED_MAX_BLOCKS) break;
      this.#dropOffered(n, o.bytes);
    }
  }

  #dropOffered(number: bigint, bytes: number): void {
    this.#offered.delete(number);
    this.#offeredBytes -= bytes;
  }

  /** Applies the offered changes of block `number`; false when there are none or they were refused. */
  async #applyOffered(number: bigint): Promise<boolean> {
    const offered = this.#offered.get(number);
    if (offered === undefined) return false;
    this.#dropOffered(number, offered.bytes);
    const { block, receipts, rawTxs, changes } = offered.block;
    try {
      await this.#lock.run(() => this.executor.apply(block, receipts, rawTxs, changes!));
      this.appliedBlocks++;
      return true;
    } catch (err) {
      if (isBulwarkError(err, 'STORAGE_IO')) throw err;
      this.changesRefused++;
      this.#o.log.warn({ err, block: Number(number) }, 'local state: the state changes sent with a block were refused; the block is executed instead');
      return false;
    }
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (!this.#closed && this.#diverged === null && this.head < this.#target) {
        const number = this.head + 1n;
        for (const [n, o] of this.#offered) if (n < number) this.#dropOffered(n, o.bytes);
        if (await this.#applyOffered(number)) {
          for (const w of this.#waiters.splice(0)) w();
          this.#maybePrune();
          continue;
        }
        // The header and the transactions' bytes: the executor decodes each transaction once.
        const header = await this.#o.blocks.headerByNumber(number);
        const hash = header?.hash();
        const raw = hash === undefined ? undefined : await this.#o.blocks.rawTransactions(hash);
        if (header === undefined || raw === undefined) throw new BulwarkError('LEDGER_CORRUPT', `the mirror has no block ${number} below its head ${this.#target}`);
        await this.#lock.run(() => this.executor.execute(header.parentHash, raw, header.timestamp, { expectedHash: header.hash(), commitEmpty: true }));
        this.executedBlocks++;
        for (const w of this.#waiters.splice(0)) w();
        this.#maybePrune();
      }
    } catch (err) {
      if (isBulwarkError(err, 'STORAGE_IO')) return this.#storeFailed(err);
      this.#diverged = isBulwarkError(err) ? err : new BulwarkError('EXEC_FAILED', `local execution failed: ${String(err)}`);
      this.#o.log.error(
        { err, code: this.#diverged.code, head: Number(this.head) },
        'local state stopped: a certified block did not execute to its certified hash here; state reads go to the replicas',
      );
      for (const w of this.#waiters.splice(0)) w();
    } finally {
      this.#running = false;
    }
  }

  /** Resolves when block `number` has been executed here (true) or it will not be soon (false). */
  async #reach(number: bigint): Promise<boolean> {
    if (this.head >= number) return true;
    if (this.#diverged !== null || number > this.#target || number - this.head > WAIT_AHEAD) return false;
    const until = Date.now() + (this.#o.waitMs ?? 1_000);
    while (this.head < number && this.#diverged === null && !this.#closed) {
      const left = until - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.head >= number;
  }

  /** Resolves once block `number` is executed here (true), or false if it is not soon. */
  reached(number: bigint): Promise<boolean> {
    return this.#reach(number);
  }

  /**
   * The answer to `query` at block `number` from this node's own state; undefined when the
   * follower has not reached that block (and does not within the wait) or has stopped. A call
   * runs within `budget` (gas cap, deadline; by default go-ethereum's).
   */
  async read(query: ReadQuery, number: bigint, budget?: EvmBudget): Promise<ReadResult | undefined> {
    // Pruned here: the replicas may still hold it (or answer STATE_PRUNED themselves).
    if (!(await this.#reach(number)) || number < this.executor.stateFrom) {
      this.forwardedReads++;
      return undefined;
    }
    const { blockHash, answers } = await this.#queries.run(number, [query], budget);
    if (blockHash === undefined) {
      this.forwardedReads++;
      return undefined;
    }
    this.localReads++;
    return { ...answers[0]!, blockHash };
  }

  /**
   * A block could not be written (the executor has gone back to its head, nothing half-written):
   * not a divergence. Reads go to the replicas meanwhile, and the block is executed again later.
   */
  #storeFailed(err: BulwarkError): void {
    this.storeFailures++;
    this.#o.log.error({ err, code: err.code, head: Number(this.head) }, `local state: block ${this.head + 1n} could not be written; trying again in ${STORE_RETRY_MS} ms, state reads go to the replicas meanwhile`);
    for (const w of this.#waiters.splice(0)) w();
    this.#retry = setTimeout(() => {
      this.#retry = null;
      this.follow(this.#target);
    }, STORE_RETRY_MS);
  }

  /** Starts a prune in the background when more than `retainBlocks + everyBlocks` states are stored. */
  #maybePrune(): void {
    const p = this.#o.prune;
    if (p === undefined || this.#pruner === null || this.#pruning !== null || this.#closed) return;
    if (this.head - this.executor.stateFrom + 1n <= BigInt(p.retainBlocks + p.everyBlocks)) return;
    const from = this.head - BigInt(p.retainBlocks) + 1n;
    this.#pruning = this.#pruner
      .prune(from)
      .then((r) => this.#o.log.info({ stateFrom: Number(r.from), head: Number(r.head), deletedNodes: r.deletedNodes, deletedCodes: r.deletedCodes, bytes: r.bytes, seconds: Number(r.seconds.toFixed(3)) }, 'local state pruned'))
      .catch((err: unknown) => {
        if (!isBulwarkError(err, 'PRUNE_STOPPED')) this.#o.log.error({ err }, 'local state: prune failed');
      })
      .finally(() => (this.#pruning = null));
  }

  close(): void {
    this.#pruner?.stop();
    this.#closed = true;
    if (this.#retry !== null) clearTimeout(this.#retry);
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Resolves once no block is being executed (for shutdown: the store closes after). */
  async idle(): Promise<void> {
    while (this.#running) await new Promise((r) => setTimeout(r, 5));
    await this.#pruning;
  }
}
