/**
 * The deterministic executor: `(parent, ordered raw transactions, timestamp) → block, receipts,
 * state root, rejected`. Every replica runs the same bytes through the same code and must reach the
 * same block hash, so nothing here reads a clock, a random source or anything outside its inputs and
 * the committed state.
 *
 * One long-lived VM and state manager carry their caches from block to block. Each block's writes
 * (trie nodes, code, block, receipts, indexes, head) are committed in one atomic batch; until that
 * batch is durable nothing of the block is visible, and on any failure the in-memory state is reset
 * to the parent.
 */
import { createBlock, type Block } from '@ethereumjs/block';
import type { Common } from '@ethereumjs/common';
import { MerklePatriciaTrie } from '@ethereumjs/mpt';
import type { MerkleStateManager } from '@ethereumjs/statemanager';
import { KECCAK256_RLP, ValueEncoding, createAddressFromString } from '@ethereumjs/util';
import type { VM } from '@ethereumjs/vm';
import { equalBytes, toHex } from '../common/bytes.ts';
import { BulwarkError } from '../common/errors.ts';
import { assertNativeSecp256k1 } from '../crypto/secp256k1.ts';
import { BlockStore } from '../ledger/block-store.ts';
import type { BatchOp, KvStore } from '../storage/kvstore.ts';
import { PREFIX } from '../storage/prefixes.ts';
import { environmentBlock } from './assemble.ts';
import { executeBlock, type ExecutionResult } from './block-exec.ts';
import type { DecodedTxs } from './decoded-txs.ts';
import { type ChainConfig, chainConfigToJson, parseChainConfig } from './chain-config.ts';
import { buildCommon } from './common.ts';
import { loadStoredConfig, storeConfigOp } from './config-store.ts';
import { createNodeVm } from './precompiles.ts';
import { BatchedStateManager } from './batched-state.ts';
import { applyStateChanges, codeKey, decodeStateChanges, StateChangeRecorder } from './state-changes.ts';
import type { TxReceipt } from '../ledger/receipt.ts';
import { openState, writeAlloc } from './state.ts';
import { readStateFrom, stateFromOp } from './state-from.ts';
import { NODE_CACHE_BYTES, NodeCache, TrieNodeStore } from './trie-store.ts';

export interface ExecutorOptions {
  readonly kv: KvStore;
  /** Required to create a new chain; when the store already holds one it must match. */
  readonly config?: ChainConfig;
  /** The memory budget of the trie nodes kept across blocks, in bytes (default `NODE_CACHE_BYTES`). */
  readonly nodeCacheBytes?: number;
  /**
   * The `secp256k1` package silently falls back to pure JavaScript (about 10x slower signature
   * recovery) when its native build does not load; the executor refuses to start on it unless
   * this is set.
   */
  readonly allowJsSecp256k1?: boolean;
  /** Transactions decoded and checked elsewhere in this process, taken instead of decoding again. */
  readonly decodedTxs?: DecodedTxs;
  /**
   * The store keeps blocks and receipts but no state beyond genesis (a client node's ledger
   * mirror): the head's state root is not required. Such an executor reads; it never executes.
   */
  readonly blocksOnly?: boolean;
  /**
   * Whether each block's batch is synced to disk before `execute` returns (default true). A store
   * that can be rebuilt from elsewhere (a client node's local state, re-executed from its mirror)
   * skips the sync: a crash may lose its last blocks, never leave half of one.
   */
  readonly durable?: boolean;
  /**
   * Record each block's state changes (`state-changes.ts`) and return them with it: a replica
   * sends them to client nodes, which apply them instead of executing the block again.
   */
  readonly recordChanges?: boolean;
}

const ZERO32 = new Uint8Array(32);
/** Trie values a read view remembers (a few MB at most). */
const READ_MEMO_ENTRIES = 20_000;

export interface ExecuteOptions {
  /** Written in the same atomic batch as the block (or alone, if no block is made). */
  readonly extraOps?: readonly BatchOp[];
  /**
   * When false, a block in which no transaction was valid is not made: the state is rolled back
   * and only `extraOps` are written (consensus turns a batch into a block only if it has one).
   */
  readonly commitEmpty?: boolean;
  /**
   * The hash the block must come out with (a client node re-executing a certified block): any
   * difference — state root, receipts, gas, a transaction refused — throws `EXEC_DIVERGED` and
   * nothing is written.
   */
  readonly expectedHash?: Uint8Array;
}

export interface ExecuteOutcome extends ExecutionResult {
  /** False when the block was empty and `commitEmpty` was false: the head did not move. */
  readonly committed: boolean;
  /** The block's state changes, encoded, when the executor records them and the block was made. */
  readonly changes?: Uint8Array;
}

/** Everything an executor is made of, built by `Executor.open`. */
interface ExecutorParts {
  readonly config: ChainConfig;
  readonly common: Common;
  readonly kv: KvStore;
  readonly blocks: BlockStore;
  readonly trieStore: TrieNodeStore;
  readonly state: MerkleStateManager;
  readonly vm: VM;
  readonly hashSource: BlockHashSource;
  readonly blocksOnly: boolean;
  readonly durable: boolean;
  readonly decodedTxs: DecodedTxs | undefined;
  readonly recorder: StateChangeRecorder | null;
}

export class Executor {
  readonly config: ChainConfig;
  readonly common: Common;
  readonly blocks: BlockStore;
  private readonly kv: KvStore;
  private readonly trieStore: TrieNodeStore;
  private readonly state: MerkleStateManager;
  private readonly vm: VM;
  private readonly hashSource: BlockHashSource;
  private readonly blocksOnly: boolean;
  private readonly durable: boolean;
  private readonly decodedTxs: DecodedTxs | undefined;
  private readonly recorder: StateChangeRecorder | null;
  private headBlock: Block;
  private busy = false;
  /** The oldest block whose state is stored (`state-from.ts`); 0 on an archive. */
  private retainedFrom = 0n;

  private constructor(parts: ExecutorParts, head: Block) {
    ({
      config: this.config,
      common: this.common,
      blocks: this.blocks,
      kv: this.kv,
      trieStore: this.trieStore,
      state: this.state,
      vm: this.vm,
      hashSource: this.hashSource,
      blocksOnly: this.blocksOnly,
      durable: this.durable,
      decodedTxs: this.decodedTxs,
      recorder: this.recorder,
    } = parts);
    this.headBlock = head;
  }

  static async open(opts: ExecutorOptions): Promise<Executor> {
    if (opts.allowJsSecp256k1 !== true) assertNativeSecp256k1();
    const stored = await loadStoredConfig(opts.kv);
    const config = reconcileConfig(stored, opts.config, opts.kv.location);
    const common = buildCommon(config.chainId, config.hardfork);
    const blocks = new BlockStore(opts.kv, common);
    await blocks.open();
    const cache = new NodeCache(opts.nodeCacheBytes ?? NODE_CACHE_BYTES);
    const trieStore = new TrieNodeStore({ kv: opts.kv, prefix: PREFIX.stateTrie, cache });
    let head: Block;
    const headHash = await blocks.headHash();
    if (headHash === undefined) {
      head = await writeGenesis(opts.kv, config, common, trieStore, blocks);
    } else {
      const b = await blocks.block(headHash);
      if (b === undefined) {
        throw new BulwarkError('LEDGER_CORRUPT', `head block ${toHex(headHash)} is missing`, { location: opts.kv.location });
      }
      head = b;
      if (opts.blocksOnly !== true) await assertStateRootPresent(trieStore, common, head);
    }
    const caches = { kind: 'long-lived', blockGasLimit: config.blockGasLimit } as const;
    const state = openState({ common, store: trieStore, root: head.header.stateRoot, caches });
    const hashSource = blockHashSource(blocks);
    const vm = await createNodeVm(common, state, hashSource);
    let recorder: StateChangeRecorder | null = null;
    if (opts.recordChanges === true && state instanceof BatchedStateManager) {
      recorder = new StateChangeRecorder();
      state.recorder = recorder;
    }
    const parts = { config, common, kv: opts.kv, blocks, trieStore, state, vm, hashSource, blocksOnly: opts.blocksOnly === true, durable: opts.durable !== false, decodedTxs: opts.decodedTxs, recorder };
    const executor = new Executor(parts, head);
    executor.retainedFrom = await readStateFrom(opts.kv);
    return executor;
  }

  /**
   * The oldest block whose state this store holds: 0 on an archive; later on a pruned store
   * (`prune.ts`) or one started from a state snapshot. Reads below it fail with `STATE_PRUNED`.
   */
  get stateFrom(): bigint {
    return this.retainedFrom;
  }

  /**
   * Records (durably) that states below block `n` are, or are about to be, gone; it never moves
   * back. (A snapshot-started store can instead write `stateFromOp` in its own batch.)
   */
  async setStateFrom(n: bigint): Promise<void> {
    if (n <= this.retainedFrom) return;
    await this.kv.write([stateFromOp(n)], { sync: true });
    this.retainedFrom = n;
  }

  /**
   * Tells `observer` the disk key of every trie node and code entry a block writes, before the
   * block's batch is written (null: no longer). The state pruner marks them while it runs.
   */
  observeTrieWrites(observer: ((diskKey: Uint8Array) => void) | null): void {
    this.trieStore.writeObserver = observer;
  }

  get head(): Block {
    return this.headBlock;
  }

  /** What the shared trie-node cache holds: entries and their estimated memory (bytes). */
  get nodeCache(): { readonly entries: number; readonly bytes: number } {
    return this.trieStore.cacheUsage;
  }

  /**
   * A fresh view of the state at `root`, which remembers what it reads; its writes stay in memory
   * and are never stored. `forCalls`: the view runs messages that are rolled back (`Simulation`),
   * so its writes go to caches, where a revert drops them, rather than into the trie.
   */
  stateAt(root: Uint8Array, forCalls = false): MerkleStateManager {
    const caches = forCalls ? { caches: { kind: 'per-run' } as const } : {};
    return openState({ common: this.common, store: this.trieStore.readView(), root, memoEntries: READ_MEMO_ENTRIES, ...caches });
  }

  /** What BLOCKHASH reads: the canonical chain. */
  get blockHashes(): BlockHashSource {
    return this.hashSource;
  }

  /**
   * Executes `rawTxs` in order on top of `parentHash` (which must be the current head) and commits
   * the resulting block atomically. Invalid transactions are left out, each with its reason.
   */
  async execute(
    parentHash: Uint8Array,
    rawTxs: readonly Uint8Array[],
    timestamp: bigint,
    options: ExecuteOptions = {},
  ): Promise<ExecuteOutcome> {
    if (this.blocksOnly) throw new BulwarkError('EXEC_NO_STATE', 'this store keeps blocks without state: it cannot execute');
    // Blocks execute strictly one after another on the one state; a second caller is a wiring bug.
    if (this.busy) throw new BulwarkError('EXEC_BUSY', 'a block is already being executed');
    this.busy = true;
    try {
      return await this.executeOnHead(parentHash, rawTxs, timestamp, options);
    } finally {
      this.busy = false;
    }
  }

  private async executeOnHead(
    parentHash: Uint8Array,
    rawTxs: readonly Uint8Array[],
    timestamp: bigint,
    options: ExecuteOptions,
  ): Promise<ExecuteOutcome> {
    const parent = this.headBlock;
    if (!equalBytes(parentHash, parent.hash())) {
      throw new BulwarkError('EXEC_PARENT_NOT_HEAD', `parent ${toHex(parentHash)} is not the head ${toHex(parent.hash())}`);
    }
    if (timestamp < parent.header.timestamp) {
      throw new BulwarkError('EXEC_TIMESTAMP_BEFORE_PARENT', `timestamp ${timestamp} is before parent's ${parent.header.timestamp}`);
    }
    try {
      const result = await this.build(parent, rawTxs, timestamp);
      if (options.expectedHash !== undefined && !equalBytes(result.block.hash(), options.expectedHash)) {
        const h = result.block.header;
        throw new BulwarkError(
          'EXEC_DIVERGED',
          `block ${h.number} executed to ${toHex(result.block.hash())}, not the expected ${toHex(options.expectedHash)} (state root ${toHex(h.stateRoot)}, ${result.rejected.length} transactions refused)`,
        );
      }
      const extra = options.extraOps ?? [];
      if (options.commitEmpty === false && result.rawTransactions.length === 0) {
        await this.resetToHead();
        if (extra.length > 0) await this.kv.write(extra, { sync: this.durable });
        return { ...result, committed: false };
      }
      const ops = [
        ...this.trieStore.drain(),
        ...this.blocks.putBlockOps(result.block, result.receipts, result.rawTransactions),
        ...extra,
      ];
      await this.kv.write(ops, { sync: this.durable });
      this.trieStore.markCommitted();
      this.headBlock = result.block;
      return { ...result, committed: true, ...(this.recorder === null ? {} : { changes: this.recorder.encode() }) };
    } catch (e) {
      await this.resetToHead();
      throw e;
    } finally {
      this.recorder?.reset();
    }
  }

  /**
   * Makes `block` (certified elsewhere, with its receipts and its transactions' bytes) the new head
   * by applying its state `changes` (`state-changes.ts`, as a replica recorded them) instead of
   * executing it: the changes must lead to the header's state root, or they are refused
   * (`STATE_CHANGES_REFUSED`, or `TRIE_MISSING_NODE` when they need a node this store lacks) and
   * nothing is written — the caller then executes the block.
   */
  async apply(block: Block, receipts: readonly TxReceipt[], rawTxs: readonly Uint8Array[], changes: Uint8Array): Promise<void> {
    if (this.blocksOnly) throw new BulwarkError('EXEC_NO_STATE', 'this store keeps blocks without state: it cannot apply state changes');
    if (this.busy) throw new BulwarkError('EXEC_BUSY', 'a block is already being executed');
    const parent = this.headBlock;
    if (!equalBytes(block.header.parentHash, parent.hash())) {
      throw new BulwarkError('EXEC_PARENT_NOT_HEAD', `parent ${toHex(block.header.parentHash)} is not the head ${toHex(parent.hash())}`);
    }
    this.busy = true;
    try {
      const store = this.trieStore;
      const target = {
        io: store.nodeIo(),
        hasCode: async (codeHash: Uint8Array) => (await store.get(codeKey(codeHash))) !== undefined,
        putCode: (codeHash: Uint8Array, code: Uint8Array) => void store.put(codeKey(codeHash), code),
      };
      await applyStateChanges(target, parent.header.stateRoot, decodeStateChanges(changes), block.header.stateRoot);
      await this.kv.write([...store.drain(), ...this.blocks.putBlockOps(block, receipts, rawTxs)], { sync: this.durable });
      store.markCommitted();
      this.headBlock = block;
      // The caches held the parent's state: reads start afresh from the new root.
      await this.state.setStateRoot(block.header.stateRoot, true);
    } catch (e) {
      await this.resetToHead();
      throw e;
    } finally {
      this.busy = false;
    }
  }

  private async build(parent: Block, rawTxs: readonly Uint8Array[], timestamp: bigint): Promise<ExecutionResult> {
    this.recorder?.reset();
    const env = environmentBlock(this.common, {
      parentHash: parent.hash(),
      number: parent.header.number + 1n,
      timestamp,
      coinbase: this.config.feeRecipient,
      gasLimit: this.config.blockGasLimit,
      baseFeePerGas: this.config.gasMode === 'free' ? 0n : parent.header.calcNextBaseFee(),
      mixHash: ZERO32,
      parentBeaconBlockRoot: ZERO32,
      excessBlobGas: parent.header.calcNextExcessBlobGas(this.common),
      blobGasUsed: 0n,
      withdrawalsRoot: KECCAK256_RLP,
    });
    return executeBlock({ vm: this.vm, config: this.config, ...(this.decodedTxs === undefined ? {} : { decoded: this.decodedTxs }) }, env, rawTxs);
  }

  private async resetToHead(): Promise<void> {
    this.trieStore.discard();
    await this.state.setStateRoot(this.headBlock.header.stateRoot, true);
  }
}

function reconcileConfig(stored: ChainConfig | undefined, given: ChainConfig | undefined, location: string | null): ChainConfig {
  if (stored === undefined) {
    if (given === undefined) {
      throw new BulwarkError('EXEC_NO_CHAIN', `no chain in ${location ?? 'memory'} and no chain config to create one`);
    }
    return given;
  }
  if (given !== undefined && JSON.stringify(chainConfigToJson(given)) !== JSON.stringify(chainConfigToJson(stored))) {
    throw new BulwarkError('EXEC_CONFIG_MISMATCH', `the chain config given differs from the one stored in ${location ?? 'memory'}`);
  }
  return stored;
}

async function writeGenesis(
  kv: KvStore,
  config: ChainConfig,
  common: Common,
  trieStore: TrieNodeStore,
  blocks: BlockStore,
): Promise<Block> {
  const state = openState({ common, store: trieStore });
  await writeAlloc(state, config.alloc);
  await state.checkpoint();
  await state.commit();
  const stateRoot = await state.getStateRoot();
  const genesis = createBlock(
    {
      header: {
        number: 0n,
        stateRoot,
        gasLimit: config.blockGasLimit,
        timestamp: config.genesisTimestamp,
        coinbase: createAddressFromString('0x0000000000000000000000000000000000000000'),
        baseFeePerGas: config.gasMode === 'free' ? 0n : config.initialBaseFee,
        mixHash: ZERO32,
        parentBeaconBlockRoot: ZERO32,
        withdrawalsRoot: KECCAK256_RLP,
        blobGasUsed: 0n,
        excessBlobGas: 0n,
      },
      withdrawals: [],
    },
    { common, setHardfork: false },
  );
  const ops = [...trieStore.drain(), storeConfigOp(kv, config), ...blocks.putBlockOps(genesis, [], [])];
  await kv.write(ops, { sync: true });
  trieStore.markCommitted();
  return genesis;
}

/**
 * A missing root node would make every account read as absent: the node would silently carry on
 * from an empty state. Refuse instead.
 */
async function assertStateRootPresent(store: TrieNodeStore, common: Common, head: Block): Promise<void> {
  const trie = new MerklePatriciaTrie({ db: store, useKeyHashing: true, valueEncoding: ValueEncoding.Bytes, common });
  if (!(await trie.checkRoot(head.header.stateRoot))) {
    throw new BulwarkError(
      'LEDGER_CORRUPT',
      `state root ${toHex(head.header.stateRoot)} of head block ${head.header.number} is missing from the store`,
    );
  }
}

/** What the EVM's BLOCKHASH reads: our own canonical chain (ethereumjs' blockchain interface). */
export interface BlockHashSource {
  getBlock(number: number): Promise<{ hash(): Uint8Array }>;
  putBlock(): Promise<void>;
  shallowCopy(): BlockHashSource;
}

function blockHashSource(blocks: BlockStore): BlockHashSource {
  const source: BlockHashSource = {
    async getBlock(number: number) {
      const hash = await blocks.canonicalHash(BigInt(number));
      if (hash === undefined) throw new BulwarkError('EXEC_UNKNOWN_BLOCK', `no block ${number}`);
      return { hash: () => hash };
    },
    async putBlock() {},
    shallowCopy() {
      return source;
    },
  };
  return source;
}

export { parseChainConfig };
export type { ExecutionResult, Rejected } from './block-exec.ts';
