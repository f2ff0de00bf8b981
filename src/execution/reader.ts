/**
 * Reads at the latest block or a given one: account fields, `call` (with revert data) and
 * `estimateGas`, transaction and receipt lookup, and logs by block range, address and topics.
 *
 * Every read opens its own view of the state at the block's root over the shared node store, so
 * reads never see a block that is still being executed, and nothing a read does can reach disk.
 */
import type { Block } from '@ethereumjs/block';
import type { MerkleStateManager } from '@ethereumjs/statemanager';
import { createFeeMarket1559Tx, createLegacyTx, type TypedTransaction } from '@ethereumjs/tx';
import { bigIntToBytes, createAddressFromBigInt, setLengthLeft, type Address } from '@ethereumjs/util';
import { runTx } from '@ethereumjs/vm';
import { keccak256 } from '../crypto/hash.ts';
import { createNodeVm } from './precompiles.ts';
import { BulwarkError, isBulwarkError } from '../common/errors.ts';
import { equalBytes } from '../common/bytes.ts';
import type { LogEntry, TxReceipt } from '../ledger/receipt.ts';
import type { BlockHashSource } from './executor.ts';
import type { Common } from '@ethereumjs/common';
import type { BlockStore } from '../ledger/block-store.ts';
import { TX_OPTIONS_PARAMS } from './common.ts';
import { assertStateKept } from './state-from.ts';
import { EvmPreemption, budgetOf, cappedGas, type EvmBudget } from './evm-limits.ts';

/** A block by number, by hash, or the head. */
export type BlockTag = bigint | Uint8Array | 'latest';

export interface CallRequest {
  readonly from?: Address;
  readonly to?: Address;
  readonly data?: Uint8Array;
  readonly value?: bigint;
  readonly gas?: bigint;
  readonly gasPrice?: bigint;
  /** EIP-2930: addresses and slots warm from the start (eth_createAccessList, eth_simulateV1). */
  readonly accessList?: AccessListJson;
}

/** An EIP-2930 access list in its JSON form (0x addresses, 32-byte 0x keys). */
export type AccessListJson = readonly { readonly address: string; readonly storageKeys: readonly string[] }[];

export interface CallResult {
  readonly success: boolean;
  readonly returnData: Uint8Array;
  readonly gasUsed: bigint;
  /** The EVM's reason when `success` is false ('revert', 'out of gas', …). */
  readonly error: string | undefined;
}

export interface TxLookup {
  readonly tx: TypedTransaction;
  readonly block: Block;
  readonly index: number;
  readonly receipt: TxReceipt;
  /** Index of this transaction's first log within the block. */
  readonly firstLogIndex: number;
}

export interface LogFilter {
  readonly fromBlock: bigint;
  readonly toBlock: bigint;
  /** Any of these addresses; empty or absent matches all. */
  readonly addresses?: readonly Uint8Array[];
  /** Per position: null matches anything, otherwise any of the listed topics. */
  readonly topics?: readonly (readonly Uint8Array[] | null)[];
}

export interface MatchedLog {
  readonly log: LogEntry;
  readonly blockNumber: bigint;
  readonly blockHash: Uint8Array;
  readonly txHash: Uint8Array;
  readonly txIndex: number;
  readonly logIndex: number;
}

export const MAX_LOG_RANGE = 10_000n;

const ZERO_ADDRESS = createAddressFromBigInt(0n);

/**
 * What reads need: the block store, the head, and state at a root. An `Executor` is one (a
 * replica's); the client node's ledger mirror is another, without state (`stateAt` refuses).
 */
export interface ChainSource {
  readonly blocks: BlockStore;
  readonly head: Block;
  readonly common: Common;
  readonly blockHashes: BlockHashSource;
  /** The oldest block whose state is stored (`Executor.stateFrom`); absent: every block's. */
  readonly stateFrom?: bigint;
  /** `forCalls`: the view will run messages that are rolled back (see `Executor.stateAt`). */
  stateAt(root: Uint8Array, forCalls?: boolean): MerkleStateManager;
}

export class ChainReader {
  constructor(private readonly executor: ChainSource) {}

  async block(tag: BlockTag): Promise<Block> {
    const blocks = this.executor.blocks;
    if (tag === 'latest') return this.executor.head;
    const b = typeof tag === 'bigint' ? await blocks.blockByNumber(tag) : await blocks.block(tag);
    if (b === undefined) throw new BulwarkError('READ_UNKNOWN_BLOCK', `no block ${describe(tag)}`);
    return b;
  }

  async balance(address: Address, tag: BlockTag = 'latest'): Promise<bigint> {
    return (await (await this.stateAt(tag)).getAccount(address))?.balance ?? 0n;
  }

  async nonce(address: Address, tag: BlockTag = 'latest'): Promise<bigint> {
    return (await (await this.stateAt(tag)).getAccount(address))?.nonce ?? 0n;
  }

  async code(address: Address, tag: BlockTag = 'latest'): Promise<Uint8Array> {
    return (await this.stateAt(tag)).getCode(address);
  }

  /** The 32-byte value of `slot` (zero when unset). */
  async storage(address: Address, slot: bigint, tag: BlockTag = 'latest'): Promise<Uint8Array> {
    const state = await this.stateAt(tag);
    const key = setLengthLeft(bigIntToBytes(slot), 32);
    return setLengthLeft(await state.getStorage(address, key), 32);
  }

  /** Runs a message on top of block `tag` without committing anything (eth_call), within `budget`. */
  async call(req: CallRequest, tag: BlockTag = 'latest', budget: EvmBudget = budgetOf()): Promise<CallResult> {
    return (await this.simulation(tag)).call(req, budget);
  }

  /** The least gas limit with which the message succeeds (eth_estimateGas); see `Simulation.estimateGas`. */
  async estimateGas(req: CallRequest, tag: BlockTag = 'latest', budget: EvmBudget = budgetOf()): Promise<bigint> {
    return (await this.simulation(tag)).estimateGas(req, budget);
  }

  /** A simulation on top of block `tag`, for running several messages with one EVM. */
  async simulation(tag: BlockTag): Promise<Simulation> {
    return Simulation.open(this.executor, this.retained(await this.block(tag)));
  }

  async transaction(hash: Uint8Array): Promise<TxLookup | undefined> {
    const loc = await this.executor.blocks.txLocation(hash);
    if (loc === undefined) return undefined;
    const [block, receipts] = await Promise.all([
      this.executor.blocks.block(loc.blockHash),
      this.executor.blocks.receipts(loc.blockHash),
    ]);
    // A block being stored is visible to reads a moment before the head moves to it: reads never
    // see beyond the head, so a receipt never comes with a stale nonce or balance.
    if (block !== undefined && block.header.number > this.executor.head.header.number) return undefined;
    const tx = block?.transactions[loc.index];
    const receipt = receipts?.[loc.index];
    if (block === undefined || tx === undefined || receipt === undefined || receipts === undefined) {
      throw new BulwarkError('LEDGER_CORRUPT', `transaction index points at a missing block or receipt`);
    }
    const firstLogIndex = receipts.slice(0, loc.index).reduce((n, r) => n + r.logs.length, 0);
    return { tx, block, index: loc.index, receipt, firstLogIndex };
  }

  /** Logs in `[fromBlock, toBlock]` matching the filter; blocks whose bloom cannot match are skipped. */
  async logs(filter: LogFilter): Promise<MatchedLog[]> {
    if (filter.toBlock - filter.fromBlock >= MAX_LOG_RANGE) {
      throw new BulwarkError('READ_RANGE_TOO_LARGE', `log query spans more than ${MAX_LOG_RANGE} blocks`);
    }
    const head = this.executor.head.header.number;
    const to = filter.toBlock > head ? head : filter.toBlock;
    if (filter.fromBlock > to) return [];
    const out: MatchedLog[] = [];
    // Only blocks with logs are in the bloom index, so a range is one scan of it, whatever its size.
    const mayMatch = bloomTest(filter);
    for (const { number, bloom } of await this.executor.blocks.logsBlooms(filter.fromBlock, to)) {
      if (!mayMatch(bloom)) continue;
      const hash = await this.executor.blocks.canonicalHash(number);
      if (hash === undefined) throw new BulwarkError('LEDGER_CORRUPT', `block ${number} is in the log index but not in the chain`);
      out.push(...(await this.blockLogs(hash, number, filter)));
    }
    return out;
  }

  private async blockLogs(blockHash: Uint8Array, number: bigint, filter: LogFilter): Promise<MatchedLog[]> {
    const [txHashes, receipts] = await Promise.all([
      this.executor.blocks.txHashes(blockHash),
      this.executor.blocks.receipts(blockHash),
    ]);
    if (txHashes === undefined || receipts === undefined || txHashes.length !== receipts.length) {
      throw new BulwarkError('LEDGER_CORRUPT', `block ${number} is missing its body or receipts`);
    }
    const out: MatchedLog[] = [];
    let logIndex = 0;
    receipts.forEach((r, txIndex) => {
      for (const log of r.logs) {
        if (logMatches(log, filter)) {
          out.push({ log, blockNumber: number, blockHash, txHash: txHashes[txIndex]!, txIndex, logIndex });
        }
        logIndex++;
      }
    });
    return out;
  }

  private async stateAt(tag: BlockTag): Promise<MerkleStateManager> {
    return this.executor.stateAt(this.retained(await this.block(tag)).header.stateRoot);
  }

  /** `block`, if its state is still stored (`STATE_PRUNED` otherwise). */
  private retained(block: Block): Block {
    assertStateKept(this.executor, block.header.number);
    return block;
  }
}

/**
 * Messages run on top of one block's state, none of them committing anything: one EVM serves them
 * all (building one is most of a short call's cost), and each run is rolled back before the next.
 * Each call runs within a budget (`evm-limits.ts`): the gas it asks for up to the cap, and a
 * deadline enforced from inside the interpreter, which also gives the event loop a turn every few
 * milliseconds. A call stopped by its deadline leaves the EVM unusable (`usable`).
 */
export class Simulation {
  private constructor(
    readonly block: Block,
    private readonly source: ChainSource,
    private readonly state: MerkleStateManager,
    private readonly vm: Awaited<ReturnType<typeof createNodeVm>>,
    private readonly preemption: EvmPreemption,
  ) {}

  static async open(source: ChainSource, block: Block): Promise<Simulation> {
    const state = source.stateAt(block.header.stateRoot, true);
    // Each EVM subscribes to its Common's events and never unsubscribes: a copy per simulation keeps
    // the source's Common from holding every VM ever made.
    const common = source.common.copy();
    const preemption = new EvmPreemption();
    const vm = await createNodeVm(common, state, source.blockHashes, preemption.opcodes(common));
    return new Simulation(block, source, state, vm, preemption);
  }

  /** False once a call was stopped by its deadline: its EVM may hold open checkpoints, so it must not run again. */
  get usable(): boolean {
    return !this.preemption.aborted;
  }

  /** eth_call: the message with the gas it asks for (the block's limit if none), at most the cap. */
  call(req: CallRequest, budget: EvmBudget = budgetOf()): Promise<CallResult> {
    return this.preemption.run(budget.deadline, () => this.run(req, cappedGas(req.gas, this.block.header.gasLimit, budget.gasCap)));
  }

  /**
   * The least gas limit with which the message succeeds (eth_estimateGas): a binary search between
   * the gas it used and the cap — what the message asks for, else the block's limit, at most the
   * budget's cap — as go-ethereum does, since refunds and the 63/64 rule make "gas used" an
   * underestimate. A message that fails even with the cap reports why. The whole search shares
   * the budget's deadline.
   */
  estimateGas(req: CallRequest, budget: EvmBudget = budgetOf()): Promise<bigint> {
    return this.preemption.run(budget.deadline, () => this.search(req, cappedGas(req.gas, this.block.header.gasLimit, budget.gasCap)));
  }

  private async search(req: CallRequest, cap: bigint): Promise<bigint> {
    const first = await this.run(req, cap);
    if (!first.success) {
      throw new BulwarkError('READ_EXECUTION_FAILED', `execution fails with the gas cap ${cap}: ${first.error}`, {
        returnData: first.returnData,
      });
    }
    if ((await this.run(req, first.gasUsed)).success) return first.gasUsed;
    // Invariant: the message fails with `lo` gas and succeeds with `hi`.
    let lo = first.gasUsed;
    let hi = cap;
    while (hi - lo > 1n) {
      const mid = (lo + hi) / 2n;
      if ((await this.run(req, mid)).success) hi = mid;
      else lo = mid;
    }
    return hi;
  }

  private async run(req: CallRequest, gasLimit: bigint): Promise<CallResult> {
    const { block, state, vm } = this;
    await state.checkpoint();
    try {
      const from = req.from ?? ZERO_ADDRESS;
      const nonce = (await state.getAccount(from))?.nonce ?? 0n;
      const tx = unsignedTx(this.source, req, nonce, gasLimit, block.header.baseFeePerGas ?? 0n);
      tx.getSenderAddress = () => from;
      try {
        const r = await runTx(vm, { tx, block, skipNonce: true, skipBalance: true, skipBlockGasLimitValidation: true });
        const err = r.execResult.exceptionError;
        return { success: err === undefined, returnData: r.execResult.returnValue, gasUsed: r.totalGasSpent, error: err?.error };
      } catch (e) {
        if (isBulwarkError(e, 'EVM_TIMEOUT')) throw e;
        return { success: false, returnData: new Uint8Array(), gasUsed: gasLimit, error: (e as Error).message };
      }
    } finally {
      // An aborted run left the EVM's own checkpoints open above ours: the simulation is dropped instead.
      if (this.usable) await state.revert();
    }
  }
}

export function unsignedTx(executor: Pick<ChainSource, 'common'>, req: CallRequest, nonce: bigint, gasLimit: bigint, baseFee: bigint): TypedTransaction {
  const opts = { common: executor.common, params: TX_OPTIONS_PARAMS, freeze: false };
  const fields = { nonce, gasLimit, to: req.to, value: req.value ?? 0n, data: req.data ?? new Uint8Array() };
  const price = req.gasPrice ?? baseFee;
  const accessList = req.accessList?.map((e) => ({ address: e.address as `0x${string}`, storageKeys: e.storageKeys as `0x${string}`[] }));
  if (accessList !== undefined && accessList.length > 0) {
    return createFeeMarket1559Tx({ ...fields, maxFeePerGas: price, maxPriorityFeePerGas: 0n, accessList }, opts);
  }
  return baseFee === 0n && req.gasPrice !== undefined
    ? createLegacyTx({ ...fields, gasPrice: price }, opts)
    : createFeeMarket1559Tx({ ...fields, maxFeePerGas: price, maxPriorityFeePerGas: 0n }, opts);
}

/**
 * The filter as a test of a block's 2048-bit logs bloom: each address and topic becomes its three
 * (byte, bit) positions once, rather than being hashed again for every block of the range.
 */
function bloomTest(f: LogFilter): (bloom: Uint8Array) => boolean {
  const positions = (item: Uint8Array): [number, number][] => {
    const h = keccak256(item);
    return [0, 2, 4].map((i) => {
      const loc = ((h[i]! << 8) | h[i + 1]!) & 2047;
      return [255 - (loc >> 3), 1 << (loc & 7)];
    });
  };
  // Every group must match; within a group, any alternative (an empty group matches anything).
  const groups: [number, number][][][] = [];
  if (f.addresses !== undefined && f.addresses.length > 0) groups.push(f.addresses.map(positions));
  for (const alts of f.topics ?? []) if (alts !== null && alts.length > 0) groups.push(alts.map(positions));
  return (bloom) => groups.every((alts) => alts.some((bits) => bits.every(([byte, mask]) => (bloom[byte]! & mask) !== 0)));
}

/** Whether a log passes a filter's addresses and topics (its block range aside). */
export function logMatches([address, topics]: LogEntry, f: Pick<LogFilter, 'addresses' | 'topics'>): boolean {
  // As go-ethereum: a log with fewer topics than the filter has positions never matches, even
  // where those positions are wildcards.
  if ((f.topics?.length ?? 0) > topics.length) return false;
  if (f.addresses !== undefined && f.addresses.length > 0 && !f.addresses.some((a) => equalBytes(a, address))) return false;
  return (f.topics ?? []).every((alts, i) => {
    if (alts === null || alts.length === 0) return true;
    const t = topics[i];
    return t !== undefined && alts.some((x) => equalBytes(x, t));
  });
}

function describe(tag: BlockTag): string {
  return typeof tag === 'bigint' ? `#${tag}` : typeof tag === 'string' ? tag : `0x${Buffer.from(tag).toString('hex')}`;
}
