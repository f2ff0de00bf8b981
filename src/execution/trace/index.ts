/**
 * Transaction and call tracing (`debug_traceTransaction`, `debug_traceCall`): a transaction re-run
 * exactly as it ran in its block, or a message run on top of a block, with a tracer watching the
 * EVM — go-ethereum's struct logger (one entry per opcode) or its `callTracer` (the tree of call
 * frames) — and the result in go-ethereum's JSON shapes, which Hardhat, Foundry, Tenderly-style
 * debuggers and block explorers read.
 *
 * A trace never writes: it runs on a view of the state at a block's root (`ChainSource.stateAt`),
 * whose writes stay in memory and are dropped with it. To see what the transaction saw, its block's
 * own header serves as the environment (number, timestamp, coinbase, base fee, gas limit, as
 * `executeBlock` used them), the beacon root is recorded as the block's execution did, and the
 * block's earlier transactions run first, untraced, on the parent's state.
 *
 * ethereumjs reports every opcode (`step`) and every call frame (`beforeMessage`, `afterMessage`);
 * `TraceRun` follows the frames (which opcode opened each, which step each ended on) and hands the
 * events to a tracer. Tracing is costly, so it is bounded: a deadline (go-ethereum's `timeout`, 5 s
 * by default) and caps on the struct log's entries and size abort a trace with a clear error, and a
 * long trace gives the event loop a turn now and then.
 *
 * The folder, by part: this module (the entry points; the only one other folders import, and it
 * re-exports the public types of `types.ts` and `unpackRevert` of `revert.ts`), `run.ts` (`TraceRun`
 * and the frame and failure machinery), `struct-logger.ts`, `call-tracer.ts`, `revert.ts` (revert
 * data decoding), `format.ts` (quantities and words as the tracers write them).
 */
import { assertStateKept } from '../state-from.ts';
import type { Block } from '@ethereumjs/block';
import type { TypedTransaction } from '@ethereumjs/tx';
import { createAddressFromBigInt } from '@ethereumjs/util';
import { runTx, type RunTxResult, type VM } from '@ethereumjs/vm';
import { toHex } from '../../common/bytes.ts';
import { BulwarkError, isBulwarkError } from '../../common/errors.ts';
import { accumulateBeaconRoot } from '../assemble.ts';
import { DEFAULT_EVM_LIMITS, cappedGas } from '../evm-limits.ts';
import { createNodeVm } from '../precompiles.ts';
import { ChainReader, unsignedTx, type BlockTag, type CallRequest, type ChainSource } from '../reader.ts';
import { firstLine } from '../validation.ts';
import { CallTracer } from './call-tracer.ts';
import { TraceRun } from './run.ts';
import { StructLogger } from './struct-logger.ts';
import { DEFAULT_TRACE_TIMEOUT_MS, type TraceOptions, type TraceResult } from './types.ts';

export {
  DEFAULT_MAX_STRUCT_LOGS,
  DEFAULT_MAX_TRACE_BYTES,
  DEFAULT_TRACE_TIMEOUT_MS,
  type CallFrame,
  type CallLog,
  type CallTracerConfig,
  type CallType,
  type StructLog,
  type StructLoggerConfig,
  type StructLoggerResult,
  type TraceLimits,
  type TraceOptions,
  type TraceResult,
} from './types.ts';
export { unpackRevert } from './revert.ts';

/**
 * Re-runs a mined transaction exactly as it ran and traces it. Throws `TRACE_TX_NOT_FOUND` for a
 * hash this source has not stored (or not reached), `TRACE_GENESIS` for block 0, and
 * `TRACE_DIVERGED` if the re-run does not use the gas its receipt records.
 */
export async function traceTransaction(source: ChainSource, txHash: Uint8Array, options: TraceOptions): Promise<TraceResult> {
  const found = await new ChainReader(source).transaction(txHash);
  // go-ethereum's wording for both.
  if (found === undefined) throw new BulwarkError('TRACE_TX_NOT_FOUND', 'transaction not found');
  const { block, index, tx, receipt } = found;
  if (block.header.number === 0n) throw new BulwarkError('TRACE_GENESIS', 'genesis is not traceable');
  const parent = await source.blocks.block(block.header.parentHash);
  if (parent === undefined) throw new BulwarkError('LEDGER_CORRUPT', `block ${block.header.number} has no parent in the store`);

  // A view whose writes go to caches (`forCalls`): nothing of it is ever kept.
  const vm = await createNodeVm(source.common.copy(), keptState(source, parent.header), source.blockHashes);
  // As `executeBlock` does: the beacon root first, then the block's transactions in order.
  await accumulateBeaconRoot(vm, block.header.parentBeaconBlockRoot ?? new Uint8Array(32), block.header.timestamp);
  let blockGasUsed = 0n;
  for (const earlier of block.transactions.slice(0, index)) {
    blockGasUsed += (await replay(vm, earlier, block, blockGasUsed)).totalGasSpent;
  }
  const run = await traced(vm, options, tx.gasLimit, () => runTx(vm, { tx, block, blockGasUsed }));
  if ('refused' in run) throw new BulwarkError('TRACE_DIVERGED', `re-running transaction ${toHex(txHash)} failed: ${run.refused}`);
  if (run.gasUsed !== receipt.gasUsed) {
    throw new BulwarkError('TRACE_DIVERGED', `re-running transaction ${toHex(txHash)} used ${run.gasUsed} gas, its receipt says ${receipt.gasUsed}`);
  }
  return run.output;
}

/** One transaction's trace in a block's (`debug_traceBlockByNumber`, `debug_traceBlockByHash`). */
export interface BlockTxTrace {
  readonly txHash: string;
  readonly result: TraceResult;
}

/**
 * Re-runs every transaction of block `tag` in order on its parent's state, each traced, as
 * `traceTransaction` re-runs one (so a block costs one pass, not one per transaction). The
 * timeout is the whole block's: past it the trace fails, with no partial result (as the
 * specification requires). Throws `TRACE_GENESIS` for block 0.
 */
export async function traceBlock(source: ChainSource, tag: BlockTag, options: TraceOptions): Promise<BlockTxTrace[]> {
  const block = await new ChainReader(source).block(tag);
  if (block.header.number === 0n) throw new BulwarkError('TRACE_GENESIS', 'genesis is not traceable');
  const parent = await source.blocks.block(block.header.parentHash);
  if (parent === undefined) throw new BulwarkError('LEDGER_CORRUPT', `block ${block.header.number} has no parent in the store`);
  const receipts = await source.blocks.receipts(block.hash());
  const vm = await createNodeVm(source.common.copy(), keptState(source, parent.header), source.blockHashes);
  await accumulateBeaconRoot(vm, block.header.parentBeaconBlockRoot ?? new Uint8Array(32), block.header.timestamp);
  const deadline = performance.now() + (options.timeoutMs ?? DEFAULT_TRACE_TIMEOUT_MS);
  const out: BlockTxTrace[] = [];
  let blockGasUsed = 0n;
  for (const [i, tx] of block.transactions.entries()) {
    const timeoutMs = Math.max(0, deadline - performance.now());
    const run = await traced(vm, { ...options, timeoutMs }, tx.gasLimit, () => runTx(vm, { tx, block, blockGasUsed }));
    if ('refused' in run) throw new BulwarkError('TRACE_DIVERGED', `re-running transaction ${toHex(tx.hash())} failed: ${run.refused}`);
    const expected = receipts?.[i]?.gasUsed;
    if (run.gasUsed !== expected) {
      throw new BulwarkError('TRACE_DIVERGED', `re-running transaction ${toHex(tx.hash())} used ${run.gasUsed} gas, its receipt says ${expected}`);
    }
    blockGasUsed += run.gasUsed;
    out.push({ txHash: toHex(tx.hash()), result: run.output });
  }
  return out;
}

/**
 * Runs a message on top of block `tag` as `eth_call` does (`Simulation.call`: the state after the
 * block, the block's header as environment, no nonce or balance checks, the block's gas limit if
 * the message names none, at most the gas cap) and traces it. A message the VM refuses before
 * running (intrinsic gas too low, …) throws `TRACE_CALL_INVALID`; one that reverts or fails is a
 * trace that says so.
 */
export async function traceCall(source: ChainSource, req: CallRequest, tag: BlockTag, options: TraceOptions): Promise<TraceResult> {
  const block = await new ChainReader(source).block(tag);
  const state = keptState(source, block.header);
  const vm = await createNodeVm(source.common.copy(), state, source.blockHashes);
  const from = req.from ?? ZERO_ADDRESS;
  const nonce = (await state.getAccount(from))?.nonce ?? 0n;
  const gasLimit = cappedGas(req.gas, block.header.gasLimit, options.gasCap ?? DEFAULT_EVM_LIMITS.gasCap);
  let tx: TypedTransaction;
  try {
    tx = unsignedTx(source, req, nonce, gasLimit, block.header.baseFeePerGas ?? 0n);
  } catch (e) {
    throw new BulwarkError('TRACE_CALL_INVALID', refusal(e));
  }
  tx.getSenderAddress = () => from;
  const run = () => runTx(vm, { tx, block, skipNonce: true, skipBalance: true, skipBlockGasLimitValidation: true });
  const traceRun = await traced(vm, options, gasLimit, run);
  if ('refused' in traceRun) throw new BulwarkError('TRACE_CALL_INVALID', traceRun.refused);
  return traceRun.output;
}

/** The VM's reason for refusing a message, in go-ethereum's words where they differ. */
function refusal(e: unknown): string {
  const m = firstLine(e);
  const intrinsic = /gas limit (\d+) is lower than the minimum gas limit of (\d+)/.exec(m);
  return intrinsic === null ? m : `intrinsic gas too low: have ${intrinsic[1]}, want ${intrinsic[2]}`;
}

const ZERO_ADDRESS = createAddressFromBigInt(0n);

/** An earlier transaction of the block, untraced. It ran in the block, so it runs here. */
async function replay(vm: VM, tx: TypedTransaction, block: Block, blockGasUsed: bigint): Promise<RunTxResult> {
  try {
    return await runTx(vm, { tx, block, blockGasUsed });
  } catch (e) {
    throw new BulwarkError('TRACE_DIVERGED', `re-running transaction ${toHex(tx.hash())} of block ${block.header.number} failed: ${firstLine(e)}`);
  }
}

/**
 * Runs `run` with a tracer on the VM's EVM. A VM refusal (the message never ran) comes back as
 * `refused`; a timeout, a trace too large or a tracer failure is thrown.
 */
async function traced(
  vm: VM,
  options: TraceOptions,
  gasLimit: bigint,
  run: () => Promise<RunTxResult>,
): Promise<{ readonly output: TraceResult; readonly gasUsed: bigint } | { readonly refused: string }> {
  const tracer = options.tracer === 'callTracer' ? new CallTracer(options.config ?? {}) : new StructLogger(options.config ?? {}, options);
  const trace = new TraceRun(tracer, performance.now() + (options.timeoutMs ?? DEFAULT_TRACE_TIMEOUT_MS));
  const detach = trace.attach(vm);
  let result: RunTxResult;
  try {
    result = await run();
  } catch (e) {
    if (trace.failure !== undefined) throw trace.failure;
    if (isBulwarkError(e)) throw e;
    return { refused: refusal(e) };
  } finally {
    detach();
  }
  if (trace.failure !== undefined) throw trace.failure;
  return { output: tracer.result(result, gasLimit), gasUsed: result.totalGasSpent };
}

/** A view (for calls) of the state after `header`, if this store still holds it (`STATE_PRUNED` otherwise). */
function keptState(source: ChainSource, header: { readonly number: bigint; readonly stateRoot: Uint8Array }): ReturnType<ChainSource['stateAt']> {
  assertStateKept(source, header.number);
  return source.stateAt(header.stateRoot, true);
}
