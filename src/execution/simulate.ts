/**
 * `eth_simulateV1`, the common subset: a sequence of blocks on top of a block, each with optional
 * block overrides (number, time, gas limit, fee recipient, base fee, prevRandao) and state
 * overrides (balance, nonce, code, whole storage or slot changes), then its calls, each building
 * on the state the previous ones left. As with `eth_call` (the specification's `validation:
 * false`), nonces and balances are not checked and the base fee is zero unless overridden.
 * The blocks are real blocks — state root, transactions and receipts roots, bloom, gas used — on a
 * view of the state whose writes stay in memory and are dropped with it.
 *
 * Block numbers may skip: the blocks between are simulated empty, as go-ethereum fills the gap; at
 * most MAX_SIMULATED_BLOCKS past the base block. The whole simulation runs under one budget (gas
 * cap per call, one deadline), preempted from inside the interpreter as calls are
 * (`evm-limits.ts`). What the specification's refinements need that this node does not do
 * (validation, ETH transfers as logs, moved precompiles, withdrawals, blob base fee overrides) is
 * refused by the RPC layer before anything runs.
 */
import type { Block, HeaderData } from '@ethereumjs/block';
import type { MerkleStateManager } from '@ethereumjs/statemanager';
import type { TypedTransaction } from '@ethereumjs/tx';
import { Account, KECCAK256_RLP, createAddressFromBigInt, setLengthLeft, unpadBytes, type Address } from '@ethereumjs/util';
import { runTx, type RunTxResult, type VM } from '@ethereumjs/vm';
import type { Common } from '@ethereumjs/common';
import { BulwarkError, isBulwarkError } from '../common/errors.ts';
import type { LogEntry } from '../ledger/receipt.ts';
import { accumulateBeaconRoot, environmentBlock, sealBlock } from './assemble.ts';
import { EvmPreemption, type EvmBudget } from './evm-limits.ts';
import { createNodeVm } from './precompiles.ts';
import { ChainReader, unsignedTx, type BlockTag, type CallRequest, type ChainSource } from './reader.ts';
import { firstLine } from './validation.ts';

export interface AccountOverride {
  readonly balance?: bigint;
  readonly nonce?: bigint;
  readonly code?: Uint8Array;
  /** The whole storage: every other slot reads zero. */
  readonly state?: ReadonlyMap<string, Uint8Array>;
  /** Only these slots change. */
  readonly stateDiff?: ReadonlyMap<string, Uint8Array>;
}

export interface BlockOverrides {
  readonly number?: bigint;
  readonly time?: bigint;
  readonly gasLimit?: bigint;
  readonly feeRecipient?: Address;
  readonly baseFeePerGas?: bigint;
  readonly prevRandao?: Uint8Array;
}

export interface SimulatedCall extends CallRequest {
  readonly nonce?: bigint;
}

export interface BlockStateCall {
  readonly blockOverrides: BlockOverrides;
  readonly stateOverrides: readonly (readonly [Address, AccountOverride])[];
  readonly calls: readonly SimulatedCall[];
}

export interface SimulatedCallResult {
  readonly success: boolean;
  readonly returnData: Uint8Array;
  readonly gasUsed: bigint;
  readonly logs: readonly LogEntry[];
  /** The EVM's reason for a failure ('revert', 'out of gas', …). */
  readonly error: string | undefined;
}

export interface SimulatedBlock {
  readonly block: Block;
  readonly calls: readonly SimulatedCallResult[];
}

/** The specification's recommended bound on blocks (BLOCKHASH's window). */
export const MAX_SIMULATED_BLOCKS = 256;

const ZERO32 = new Uint8Array(32);
const ZERO_ADDRESS = createAddressFromBigInt(0n);

/** A refusal of the simulation as asked, with the specification's error code. */
export class SimulationError extends BulwarkError {
  constructor(
    readonly rpcCode: number,
    message: string,
  ) {
    super('SIMULATION_INVALID', message);
  }
}

export async function simulateBlocks(source: ChainSource, blocks: readonly BlockStateCall[], tag: BlockTag, budget: EvmBudget): Promise<SimulatedBlock[]> {
  const base = await new ChainReader(source).block(tag);
  const common = source.common.copy();
  const state = source.stateAt(base.header.stateRoot, true);
  const preemption = new EvmPreemption();
  const vm = await createNodeVm(common, state, source.blockHashes, preemption.opcodes(common));
  const run: BlockRun = { source, common, state, vm, gasCap: budget.gasCap };
  return preemption.run(budget.deadline, async () => {
    const out: SimulatedBlock[] = [];
    let parent = base;
    for (const b of blocks) {
      const number = b.blockOverrides.number ?? parent.header.number + 1n;
      if (number <= parent.header.number) throw new SimulationError(-38020, `block numbers must be in order: ${number} <= ${parent.header.number}`);
      if (number - base.header.number > BigInt(MAX_SIMULATED_BLOCKS)) throw new SimulationError(-38026, `too many blocks: at most ${MAX_SIMULATED_BLOCKS} past the base block`);
      // Numbers skipped are empty blocks, as go-ethereum fills the gap.
      while (parent.header.number + 1n < number) {
        const empty = await simulateBlock(run, parent, { blockOverrides: {}, stateOverrides: [], calls: [] });
        out.push(empty);
        parent = empty.block;
      }
      const simulated = await simulateBlock(run, parent, b);
      out.push(simulated);
      parent = simulated.block;
    }
    return out;
  });
}

interface BlockRun {
  readonly source: ChainSource;
  readonly common: Common;
  readonly state: MerkleStateManager;
  readonly vm: VM;
  readonly gasCap: bigint;
}

/** One block on top of `parent`: its state overrides, then its calls in order, then the block sealed. */
async function simulateBlock(r: BlockRun, parent: Block, b: BlockStateCall): Promise<SimulatedBlock> {
  const env = environmentBlock(r.common, headerOf(parent, b.blockOverrides));
  for (const [address, o] of b.stateOverrides) await override(r.state, address, o);
  await accumulateBeaconRoot(r.vm, ZERO32, env.header.timestamp);
  const txs: TypedTransaction[] = [];
  const results: RunTxResult[] = [];
  const calls: SimulatedCallResult[] = [];
  let gasUsed = 0n;
  for (const call of b.calls) {
    const where = `call ${calls.length} of block ${env.header.number}`;
    const left = env.header.gasLimit - gasUsed;
    if (call.gas !== undefined && call.gas > left) throw new SimulationError(-38015, `block gas limit reached: ${where} asks for ${call.gas} gas, ${left} left`);
    const asked = call.gas ?? left;
    const gas = asked < r.gasCap ? asked : r.gasCap;
    const from = call.from ?? ZERO_ADDRESS;
    const nonce = call.nonce ?? (await r.state.getAccount(from))?.nonce ?? 0n;
    let tx: TypedTransaction;
    let result: RunTxResult;
    try {
      tx = unsignedTx(r.source, call, nonce, gas, env.header.baseFeePerGas ?? 0n);
      tx.getSenderAddress = () => from;
      result = await runTx(r.vm, { tx, block: env, skipNonce: true, skipBalance: true, skipBlockGasLimitValidation: true, blockGasUsed: gasUsed });
    } catch (e) {
      if (isBulwarkError(e)) throw e;
      throw new SimulationError(-32602, `${where}: ${firstLine(e)}`);
    }
    gasUsed += result.totalGasSpent;
    txs.push(tx);
    results.push(result);
    const err = result.execResult.exceptionError;
    calls.push({
      success: err === undefined,
      returnData: result.execResult.returnValue,
      gasUsed: result.totalGasSpent,
      logs: (result.execResult.logs ?? []).map(([a, t, d]) => [a, t, d] as const),
      error: err?.error,
    });
  }
  const block = await sealBlock(r.common, env, { txs, raw: txs.map((t) => t.serialize()) }, results, await r.state.getStateRoot(), gasUsed);
  return { block, calls };
}

/** The simulated block's header: the overrides, else one past its parent (number + 1, time + 1). */
function headerOf(parent: Block, o: BlockOverrides): HeaderData {
  const p = parent.header;
  const number = o.number ?? p.number + 1n;
  const timestamp = o.time ?? p.timestamp + 1n;
  if (timestamp < p.timestamp) throw new SimulationError(-38021, `block timestamps must be in order: ${timestamp} < ${p.timestamp}`);
  return {
    parentHash: parent.hash(),
    number,
    timestamp,
    coinbase: o.feeRecipient ?? p.coinbase,
    gasLimit: o.gasLimit ?? p.gasLimit,
    // Without validation the base fee is zero unless asked for (go-ethereum's, so fee fields need no care).
    baseFeePerGas: o.baseFeePerGas ?? 0n,
    mixHash: o.prevRandao ?? ZERO32,
    parentBeaconBlockRoot: ZERO32,
    excessBlobGas: 0n,
    blobGasUsed: 0n,
    withdrawalsRoot: KECCAK256_RLP,
  };
}

async function override(state: MerkleStateManager, address: Address, o: AccountOverride): Promise<void> {
  const account = (await state.getAccount(address)) ?? new Account();
  if (o.nonce !== undefined) account.nonce = o.nonce;
  if (o.balance !== undefined) account.balance = o.balance;
  await state.putAccount(address, account);
  if (o.code !== undefined) await state.putCode(address, o.code);
  if (o.state !== undefined) await state.clearStorage(address);
  for (const [slot, value] of o.state ?? o.stateDiff ?? []) {
    await state.putStorage(address, setLengthLeft(Buffer.from(slot.slice(2), 'hex'), 32), unpadBytes(value));
  }
}
