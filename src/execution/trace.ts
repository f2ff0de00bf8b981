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
 */
import type { Block } from '@ethereumjs/block';
import type { EVMError, EVMResult, InterpreterStep, Message } from '@ethereumjs/evm';
import type { TypedTransaction } from '@ethereumjs/tx';
import { bigIntToBytes, createAddressFromBigInt, setLengthLeft } from '@ethereumjs/util';
import { runTx, type RunTxResult, type VM } from '@ethereumjs/vm';
import { toHex } from '../common/bytes.ts';
import { BulwarkError, isBulwarkError } from '../common/errors.ts';
import { accumulateBeaconRoot } from './assemble.ts';
import { DEFAULT_EVM_LIMITS, cappedGas } from './evm-limits.ts';
import { createNodeVm } from './precompiles.ts';
import { ChainReader, unsignedTx, type BlockTag, type CallRequest, type ChainSource } from './reader.ts';
import { firstLine } from './validation.ts';

// ---------------------------------------------------------------------------------------------
// Options and results
// ---------------------------------------------------------------------------------------------

/** go-ethereum's `logger.Config`. */
export interface StructLoggerConfig {
  readonly disableStack?: boolean;
  readonly disableStorage?: boolean;
  readonly enableMemory?: boolean;
  readonly enableReturnData?: boolean;
  /** Record at most this many entries and leave the rest out, as go-ethereum does (0: no limit). */
  readonly limit?: number;
}

/** go-ethereum's `callTracerConfig`. */
export interface CallTracerConfig {
  /** The top call alone, without its sub-calls. */
  readonly onlyTopCall?: boolean;
  /** Each frame's logs (none in a frame that failed or whose caller did). */
  readonly withLog?: boolean;
}

export type TraceOptions = (
  | { readonly tracer: 'structLogger'; readonly config?: StructLoggerConfig }
  | { readonly tracer: 'callTracer'; readonly config?: CallTracerConfig }
) &
  TraceLimits;

export interface TraceLimits {
  /** The traced execution is aborted after this long (go-ethereum's default: 5 s). */
  readonly timeoutMs?: number;
  /** A traced call asking for more gas runs with this much (`--rpc-gascap`; default 50,000,000). */
  readonly gasCap?: bigint;
  /**
   * A struct log longer than this is refused rather than built, unless the caller's `limit` asks
   * for at most this many entries (then it gets the first `limit`).
   */
  readonly maxEntries?: number;
  /** The same for the struct log's approximate size in bytes of JSON (memory capture grows it fast). */
  readonly maxBytes?: number;
}

export const DEFAULT_TRACE_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_STRUCT_LOGS = 100_000;
export const DEFAULT_MAX_TRACE_BYTES = 64 * 1024 * 1024;

/** One opcode as go-ethereum's struct logger reports it (its legacy JSON, which RPC answers with). */
export interface StructLog {
  pc: number;
  op: string;
  gas: number;
  gasCost: number;
  depth: number;
  error?: string;
  /** 0x-quantities, bottom of the stack first. */
  stack?: string[];
  returnData?: string;
  /** 32-byte 0x-prefixed words (the specification's `StructLog.memory`). */
  memory?: string[];
  /** Every slot of this contract read (SLOAD) or written (SSTORE) so far: 0x-prefixed 32-byte keys and values. */
  storage?: Record<string, string>;
  refund?: number;
}

export interface StructLoggerResult {
  /** Gas used by the transaction, as its receipt says (after the refund). */
  gas: number;
  failed: boolean;
  /** The output; a revert's data; empty for any other failure. */
  returnValue: string;
  structLogs: StructLog[];
}

export type CallType = 'CALL' | 'CALLCODE' | 'DELEGATECALL' | 'STATICCALL' | 'CREATE' | 'CREATE2' | 'SELFDESTRUCT';

export interface CallLog {
  address: string;
  topics: string[];
  data: string;
  /** How many sub-calls of the frame came before the log. */
  position: string;
}

export interface CallFrame {
  type: CallType;
  from: string;
  gas: string;
  gasUsed: string;
  to?: string;
  input: string;
  output?: string;
  error?: string;
  revertReason?: string;
  calls?: CallFrame[];
  logs?: CallLog[];
  value?: string;
}

export type TraceResult = StructLoggerResult | CallFrame;

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

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
  const vm = await createNodeVm(source.common.copy(), source.stateAt(parent.header.stateRoot, true), source.blockHashes);
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
  const vm = await createNodeVm(source.common.copy(), source.stateAt(parent.header.stateRoot, true), source.blockHashes);
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
  const state = source.stateAt(block.header.stateRoot, true);
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

// ---------------------------------------------------------------------------------------------
// Following the EVM's frames
// ---------------------------------------------------------------------------------------------

/** The last opcode a frame ran: which call a child frame is, or which step a failure happened on. */
interface LastStep {
  readonly op: number;
  readonly name: string;
  readonly stackLength: number;
  readonly gas: bigint;
  readonly cost: bigint;
}

/** One call frame as `TraceRun` follows it. */
interface Frame {
  readonly type: CallType;
  readonly depth: number;
  last: LastStep | undefined;
}

/** How a frame ended, in go-ethereum's words. */
interface Failure {
  readonly message: string;
  readonly reverted: boolean;
  /**
   * go-ethereum reports the error on the frame's last struct-log entry when the opcode failed
   * before it ran (gas, stack, invalid opcode), not when it failed while running (a revert, a bad
   * jump, a write in a static call) or after the frame's code returned (the code deposit).
   */
  readonly atLastStep: boolean;
}

interface Tracer {
  step(ev: InterpreterStep, frame: Frame): void | Promise<void>;
  enter(msg: Message, frame: Frame): void;
  exit(result: EVMResult, frame: Frame, failure: Failure | undefined): void;
  /** The answer, once the transaction has run (`gasLimit`: the transaction's). */
  result(result: RunTxResult, gasLimit: bigint): TraceResult;
}

/** Listener calls between two turns given to the event loop. */
const YIELD_EVERY = 2_048;

class TraceRun {
  /** The first error a listener raised: it aborts the run and is what the trace throws. */
  failure: unknown;
  private readonly frames: Frame[] = [];
  private calls = 0;

  constructor(
    private readonly tracer: Tracer,
    private readonly deadline: number,
  ) {}

  /** Subscribes to the VM's EVM events; returns the unsubscription. */
  attach(vm: VM): () => void {
    const events = vm.evm.events;
    if (events === undefined) throw new BulwarkError('TRACE_UNSUPPORTED', 'this EVM emits no events to trace');
    const step = this.listener((ev: InterpreterStep) => this.step(ev));
    const before = this.listener((msg: Message) => this.enter(msg));
    const after = this.listener((result: EVMResult) => this.exit(result));
    events.on('step', step);
    events.on('beforeMessage', before);
    events.on('afterMessage', after);
    return () => {
      events.off('step', step);
      events.off('beforeMessage', before);
      events.off('afterMessage', after);
    };
  }

  /**
   * The EVM awaits a listener of two parameters until it calls `resolve`, and an exception thrown
   * by it (synchronously) aborts the execution: that is how a timeout or an oversized trace stops
   * the run. Errors of asynchronous work are kept and thrown at the next event, or after the run.
   */
  private listener<T>(handle: (data: T) => void | Promise<void>): (data: T, resolve?: () => void) => void {
    return (data, resolve) => {
      const done = resolve ?? (() => {});
      if (this.failure !== undefined) throw this.failure;
      if (performance.now() > this.deadline) {
        // go-ethereum's wording.
        this.failure = new BulwarkError('TRACE_TIMEOUT', 'execution timeout');
        throw this.failure;
      }
      try {
        const pending = handle(data);
        if (pending !== undefined) {
          pending.then(done, (e: unknown) => {
            this.failure ??= e;
            done();
          });
          return;
        }
      } catch (e) {
        this.failure ??= e;
        throw e;
      }
      if (++this.calls % YIELD_EVERY === 0) setImmediate(done);
      else done();
    };
  }

  private step(ev: InterpreterStep): void | Promise<void> {
    const frame = this.frames.at(-1);
    if (frame === undefined) return;
    const cost = ev.opcode.dynamicFee ?? BigInt(ev.opcode.fee);
    frame.last = { op: ev.opcode.code, name: ev.opcode.name, stackLength: ev.stack.length, gas: ev.gasLeft, cost };
    return this.tracer.step(ev, frame);
  }

  private enter(msg: Message): void {
    const parent = this.frames.at(-1);
    const frame: Frame = { type: callType(msg, parent), depth: msg.depth, last: undefined };
    this.frames.push(frame);
    this.tracer.enter(msg, frame);
  }

  private exit(result: EVMResult): void {
    const frame = this.frames.pop();
    if (frame === undefined) return;
    const err = result.execResult.exceptionError;
    this.tracer.exit(result, frame, err === undefined ? undefined : describeFailure(err, frame));
  }
}

const CALL_OPS: Record<number, CallType> = {
  0xf0: 'CREATE',
  0xf1: 'CALL',
  0xf2: 'CALLCODE',
  0xf4: 'DELEGATECALL',
  0xf5: 'CREATE2',
  0xfa: 'STATICCALL',
};

/** The opcode that opened a frame: its parent's last step; the transaction's own frame is a CALL or a CREATE. */
function callType(msg: Message, parent: Frame | undefined): CallType {
  const byOp = parent?.last === undefined ? undefined : CALL_OPS[parent.last.op];
  if (byOp !== undefined) return byOp;
  if (msg.to === undefined) return msg.salt === undefined ? 'CREATE' : 'CREATE2';
  return msg.delegatecall ? 'DELEGATECALL' : 'CALL';
}

const OP_RETURN = 0xf3;

/** ethereumjs' reason for a failed frame as go-ethereum words it (core/vm/errors.go). */
function describeFailure(err: EVMError, frame: Frame): Failure {
  const last = frame.last;
  // A create frame whose code returned can still fail: the code deposit (out of gas, too large, 0xEF).
  const afterReturn =
    (frame.type === 'CREATE' || frame.type === 'CREATE2') && last !== undefined && last.op === OP_RETURN && last.gas >= last.cost;
  const at = (message: string): Failure => ({ message, reverted: false, atLastStep: last !== undefined });
  const after = (message: string): Failure => ({ message, reverted: false, atLastStep: false });
  switch (err.error) {
    case 'revert':
      return { message: 'execution reverted', reverted: true, atLastStep: false };
    case 'out of gas':
      return afterReturn ? after('contract creation code storage out of gas') : at('out of gas');
    case 'code store out of gas':
      return after('contract creation code storage out of gas');
    case 'code size to deposit exceeds maximum code size':
      return after('max code size exceeded');
    case 'invalid bytecode deployed':
      return after('invalid code: must not begin with 0xef');
    case 'stack underflow':
      return at(last === undefined ? 'stack underflow' : `stack underflow (${last.stackLength} <=> ${stackInputs(last.op)})`);
    case 'stack overflow':
      // Only opcodes that push one more than they pop overflow: go-ethereum's limit for them is 1023.
      return at(last === undefined ? 'stack overflow' : `stack limit reached ${last.stackLength} (1023)`);
    case 'invalid opcode':
      return at(`invalid opcode: ${last === undefined ? 'INVALID' : opName(last.op, last.name)}`);
    case 'invalid JUMP':
      return after('invalid jump destination');
    case 'static state change':
      return after('write protection');
    case 'create collision':
      return after('contract address collision');
    case 'initcode exceeds max initcode size':
      return after('max initcode size exceeded');
    case 'insufficient balance':
      return after('insufficient balance for transfer');
    default:
      return after(err.error);
  }
}

/** go-ethereum's name for an opcode: ethereumjs calls every undefined one INVALID. */
function opName(code: number, name: string): string {
  return name === 'INVALID' && code !== 0xfe ? `opcode 0x${code.toString(16)} not defined` : name;
}

/** Stack items each opcode takes (go-ethereum's `minStack`), for the underflow message. */
function stackInputs(op: number): number {
  if (op >= 0x60 && op <= 0x7f) return 0; // PUSH1..PUSH32
  if (op >= 0x80 && op <= 0x8f) return op - 0x7f; // DUPn takes n
  if (op >= 0x90 && op <= 0x9f) return op - 0x8e; // SWAPn takes n + 1
  if (op >= 0xa0 && op <= 0xa4) return op - 0x9e; // LOGn takes n + 2
  return STACK_INPUTS[op] ?? 0;
}

const STACK_INPUTS: Record<number, number> = {
  ...Object.fromEntries([2, 2, 2, 2, 2, 2, 2, 3, 3, 2, 2].map((n, i) => [0x01 + i, n])), // ADD..SIGNEXTEND
  ...Object.fromEntries([2, 2, 2, 2, 2, 1, 2, 2, 2, 1, 2, 2, 2, 2, 1].map((n, i) => [0x10 + i, n])), // LT..SAR, CLZ
  0x20: 2, // KECCAK256
  0x31: 1, // BALANCE
  0x35: 1, // CALLDATALOAD
  0x37: 3, // CALLDATACOPY
  0x39: 3, // CODECOPY
  0x3b: 1, // EXTCODESIZE
  0x3c: 4, // EXTCODECOPY
  0x3e: 3, // RETURNDATACOPY
  0x3f: 1, // EXTCODEHASH
  0x40: 1, // BLOCKHASH
  0x49: 1, // BLOBHASH
  ...Object.fromEntries([1, 1, 2, 2, 1, 2, 1, 2].map((n, i) => [0x50 + i, n])), // POP..JUMPI
  0x5c: 1, // TLOAD
  0x5d: 2, // TSTORE
  0x5e: 3, // MCOPY
  0xf0: 3, // CREATE
  0xf1: 7, // CALL
  0xf2: 7, // CALLCODE
  0xf3: 2, // RETURN
  0xf4: 6, // DELEGATECALL
  0xf5: 4, // CREATE2
  0xfa: 6, // STATICCALL
  0xfd: 2, // REVERT
  0xff: 1, // SELFDESTRUCT
};

// ---------------------------------------------------------------------------------------------
// The struct logger
// ---------------------------------------------------------------------------------------------

const OP_SLOAD = 0x54;
const OP_SSTORE = 0x55;
/** CALL and CALLCODE with value add this to the gas they forward, which is not the caller's cost. */
const CALL_STIPEND = 2_300n;
const EMPTY = new Uint8Array(0);

/** What the struct logger keeps per frame. */
interface LoggedFrame {
  /** The frame's latest entry (undefined once past the limit): where a failure is reported. */
  last: StructLog | undefined;
  /** What RETURNDATASIZE would see (the last sub-call's output), for `enableReturnData`. */
  returnData: Uint8Array;
}

/**
 * go-ethereum's `logger.StructLogger`: an entry per opcode, taken before it runs, with the gas left,
 * the opcode's cost, the stack, optionally memory and return data, and at SLOAD and SSTORE the
 * contract's slots seen so far.
 */
class StructLogger implements Tracer {
  private readonly logs: StructLog[] = [];
  private readonly frames: LoggedFrame[] = [];
  /** Per contract address: slot → value, both 32-byte hex. */
  private readonly storage = new Map<string, Map<string, string>>();
  /** Entries beyond this are left out silently (the caller's `limit`). */
  private readonly keep: number | undefined;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private bytes = 0;

  constructor(
    private readonly cfg: StructLoggerConfig,
    limits: TraceLimits,
  ) {
    this.maxEntries = limits.maxEntries ?? DEFAULT_MAX_STRUCT_LOGS;
    this.maxBytes = limits.maxBytes ?? DEFAULT_MAX_TRACE_BYTES;
    const limit = cfg.limit ?? 0;
    this.keep = limit > 0 && limit <= this.maxEntries ? limit : undefined;
  }

  step(ev: InterpreterStep): void | Promise<void> {
    const frame = this.frames.at(-1);
    if (frame === undefined) return;
    const op = ev.opcode.code;
    if (CALL_OPS[op] !== undefined) frame.returnData = EMPTY;
    if (this.keep !== undefined && this.logs.length >= this.keep) {
      frame.last = undefined;
      return;
    }
    if (this.logs.length >= this.maxEntries) {
      throw new BulwarkError(
        'TRACE_TOO_LARGE',
        `the trace has more than ${this.maxEntries} struct log entries: pass a limit of at most ${this.maxEntries} to get the first ones, or use the callTracer`,
      );
    }
    const log: StructLog = {
      pc: ev.pc,
      op: opName(op, ev.opcode.name),
      gas: Number(ev.gasLeft),
      gasCost: Number(ev.opcode.dynamicFee ?? BigInt(ev.opcode.fee)),
      depth: ev.depth + 1,
    };
    if (this.cfg.disableStack !== true) log.stack = ev.stack.map(quantity);
    if (this.cfg.enableReturnData === true && frame.returnData.length > 0) log.returnData = toHex(frame.returnData);
    if (this.cfg.enableMemory === true && ev.memory.length > 0) log.memory = words(ev.memory);
    if (ev.gasRefund > 0n) log.refund = Number(ev.gasRefund);
    this.logs.push(log);
    frame.last = log;
    // Roughly the entry's JSON: fixed fields, stack words, memory words, return data.
    this.count(120 + (log.stack?.length ?? 0) * 70 + (log.memory?.length ?? 0) * 67 + (log.returnData?.length ?? 0));
    if (this.cfg.disableStorage !== true && (op === OP_SLOAD || op === OP_SSTORE)) return this.recordStorage(ev, log);
  }

  /** SLOAD: the slot's current value; SSTORE: the value being written (go-ethereum reads the stack). */
  private async recordStorage(ev: InterpreterStep, log: StructLog): Promise<void> {
    const stack = ev.stack;
    const n = stack.length;
    const address = ev.address.toString();
    let slots = this.storage.get(address);
    if (slots === undefined) this.storage.set(address, (slots = new Map()));
    if (ev.opcode.code === OP_SLOAD && n >= 1) {
      const key = word32(stack[n - 1]!);
      const value = setLengthLeft(await ev.stateManager.getStorage(ev.address, key), 32);
      slots.set(word(key), word(value));
    } else if (ev.opcode.code === OP_SSTORE && n >= 2) {
      slots.set(word(word32(stack[n - 1]!)), word(word32(stack[n - 2]!)));
    } else {
      return;
    }
    log.storage = Object.fromEntries(slots);
    this.count(slots.size * 140);
  }

  private count(bytes: number): void {
    this.bytes += bytes;
    if (this.bytes > this.maxBytes) {
      throw new BulwarkError(
        'TRACE_TOO_LARGE',
        `the trace is larger than ${this.maxBytes} bytes: pass a smaller limit, disable the stack or memory capture, or use the callTracer`,
      );
    }
  }

  enter(msg: Message, frame: Frame): void {
    const parent = this.frames.at(-1);
    // go-ethereum counts the gas a call forwards in the CALL's cost (not a CREATE's).
    const caller = parent?.last;
    if (caller !== undefined && frame.type !== 'CREATE' && frame.type !== 'CREATE2') {
      const stipend = (frame.type === 'CALL' || frame.type === 'CALLCODE') && msg.value > 0n ? CALL_STIPEND : 0n;
      caller.gasCost += Number(msg.gasLimit - stipend);
    }
    this.frames.push({ last: undefined, returnData: EMPTY });
  }

  exit(result: EVMResult, frame: Frame, failure: Failure | undefined): void {
    const done = this.frames.pop();
    if (failure?.atLastStep === true && done?.last !== undefined) done.last.error = failure.message;
    const parent = this.frames.at(-1);
    if (parent === undefined) return;
    // What the caller's RETURNDATA* opcodes see next: a call's output or revert data, a create's
    // revert data only.
    const created = frame.type === 'CREATE' || frame.type === 'CREATE2';
    const keeps = failure === undefined ? !created : failure.reverted;
    parent.returnData = keeps && this.cfg.enableReturnData === true ? result.execResult.returnValue.slice() : EMPTY;
  }

  result(result: RunTxResult): StructLoggerResult {
    const err = result.execResult.exceptionError;
    return {
      gas: Number(result.totalGasSpent),
      failed: err !== undefined,
      returnValue: err !== undefined && err.error !== 'revert' ? '0x' : toHex(result.execResult.returnValue),
      structLogs: this.logs,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// The callTracer
// ---------------------------------------------------------------------------------------------

/** A call frame while it runs. */
interface OpenCall {
  readonly type: CallType;
  readonly from: string;
  to: string | undefined;
  readonly input: Uint8Array;
  readonly gas: bigint;
  gasUsed: bigint;
  readonly value: bigint | undefined;
  output?: Uint8Array;
  error?: string;
  revertReason?: string;
  readonly calls: OpenCall[];
  logs: CallLog[];
  /** A SELFDESTRUCT this frame ran: a child frame, once the frame has ended well. */
  selfdestruct?: SelfDestruct;
}

interface SelfDestruct {
  readonly from: string;
  readonly beneficiary: string;
  readonly balance: bigint;
}

/** LOG data larger than this cannot be paid for with any block's gas: the LOG fails, nothing to record. */
const MAX_LOG_DATA = 1n << 26n;
const OP_SELFDESTRUCT = 0xff;

/**
 * go-ethereum's `callTracer`: the tree of call frames, each with its type, sender, recipient, value,
 * gas given and used, input, output, and error (with the decoded revert reason).
 */
class CallTracer implements Tracer {
  private readonly open: OpenCall[] = [];
  private top: OpenCall | undefined;

  constructor(private readonly cfg: CallTracerConfig) {}

  private tracking(depth: number): boolean {
    return depth === 0 || this.cfg.onlyTopCall !== true;
  }

  step(ev: InterpreterStep): void | Promise<void> {
    if (!this.tracking(ev.depth)) return;
    const call = this.open.at(-1);
    if (call === undefined) return;
    const op = ev.opcode.code;
    if (this.cfg.withLog === true && op >= 0xa0 && op <= 0xa4) {
      this.recordLog(ev, call, op - 0xa0);
    } else if (op === OP_SELFDESTRUCT && ev.stack.length >= 1) {
      // go-ethereum reports the contract's balance at the time as the value.
      const beneficiary = addressHex(ev.stack.at(-1)!);
      return ev.stateManager.getAccount(ev.address).then((account) => {
        call.selfdestruct = { from: ev.address.toString(), beneficiary, balance: account?.balance ?? 0n };
      });
    }
  }

  /** Taken before the LOG runs; a LOG that fails fails its frame, whose logs are then dropped. */
  private recordLog(ev: InterpreterStep, call: OpenCall, topicCount: number): void {
    const s = ev.stack;
    const n = s.length;
    if (n < 2 + topicCount) return;
    const offset = s[n - 1]!;
    const size = s[n - 2]!;
    if (offset + size > MAX_LOG_DATA) return;
    // Memory beyond its current size reads as zeros (the LOG expands it).
    const data = new Uint8Array(Number(size));
    data.set(ev.memory.subarray(Number(offset), Number(offset + size)));
    const topics = Array.from({ length: topicCount }, (_, i) => toHex(word32(s[n - 3 - i]!)));
    call.logs.push({ address: ev.address.toString(), topics, data: toHex(data), position: quantity(BigInt(call.calls.length)) });
  }

  enter(msg: Message, frame: Frame): void {
    if (!this.tracking(msg.depth)) return;
    // DELEGATECALL and CALLCODE run the code at `codeAddress` for the calling contract: go-ethereum
    // names the contract as sender and the code's address as recipient.
    const delegated = frame.type === 'DELEGATECALL' || frame.type === 'CALLCODE';
    const from = frame.type === 'DELEGATECALL' ? msg.to : msg.caller;
    const to = delegated ? msg.codeAddress : msg.to;
    this.open.push({
      type: frame.type,
      from: (from ?? msg.caller).toString(),
      to: to?.toString(),
      // The caller's memory, which it may overwrite later: a copy.
      input: msg.data.slice(),
      gas: msg.gasLimit,
      gasUsed: 0n,
      value: frame.type === 'STATICCALL' ? undefined : msg.value,
      calls: [],
      logs: [],
    });
  }

  exit(result: EVMResult, frame: Frame, failure: Failure | undefined): void {
    if (!this.tracking(frame.depth)) return;
    const call = this.open.pop();
    if (call === undefined) return;
    call.gasUsed = result.execResult.executionGasUsed;
    if (result.createdAddress !== undefined && call.to === undefined) call.to = result.createdAddress.toString();
    const output = result.execResult.returnValue.slice();
    if (failure === undefined) {
      if (call.selfdestruct !== undefined) call.calls.push(selfdestructFrame(call.selfdestruct));
      call.output = output;
    } else {
      call.error = failure.message;
      if (call.type === 'CREATE' || call.type === 'CREATE2') call.to = undefined;
      if (failure.reverted && output.length > 0) {
        call.output = output;
        const reason = unpackRevert(output);
        if (reason !== undefined) call.revertReason = reason;
      }
    }
    const parent = this.open.at(-1);
    if (parent !== undefined) parent.calls.push(call);
    else this.top = call;
  }

  result(result: RunTxResult, gasLimit: bigint): CallFrame {
    const top = this.top;
    if (top === undefined) throw new BulwarkError('TRACE_NO_FRAME', 'the transaction ran no call frame to report');
    const out = frameJson({ ...top, gas: gasLimit, gasUsed: result.totalGasSpent });
    // go-ethereum: logs of a frame that failed, or whose caller failed, were never emitted.
    if (this.cfg.withLog === true) dropFailedLogs(out, false);
    return out;
  }
}

/** go-ethereum reports a SELFDESTRUCT as a frame of its own, without gas. */
function selfdestructFrame(sd: SelfDestruct): OpenCall {
  return { type: 'SELFDESTRUCT', from: sd.from, to: sd.beneficiary, input: EMPTY, gas: 0n, gasUsed: 0n, value: sd.balance, calls: [], logs: [] };
}

/** A frame in go-ethereum's JSON field order, empty optional fields left out. */
function frameJson(c: OpenCall): CallFrame {
  const out: CallFrame = {
    type: c.type,
    from: c.from,
    gas: quantity(c.gas),
    gasUsed: quantity(c.gasUsed),
    ...(c.to === undefined ? {} : { to: c.to }),
    input: toHex(c.input),
  };
  if (c.output !== undefined && c.output.length > 0) out.output = toHex(c.output);
  if (c.error !== undefined) out.error = c.error;
  if (c.revertReason !== undefined) out.revertReason = c.revertReason;
  if (c.calls.length > 0) out.calls = c.calls.map(frameJson);
  if (c.logs.length > 0) out.logs = c.logs;
  if (c.value !== undefined) out.value = quantity(c.value);
  return out;
}

function dropFailedLogs(frame: CallFrame, parentFailed: boolean): void {
  const failed = parentFailed || frame.error !== undefined;
  if (failed) delete frame.logs;
  for (const child of frame.calls ?? []) dropFailedLogs(child, failed);
}

/** go-ethereum's panic codes (accounts/abi: `panicReasons`). */
const PANIC_REASONS: Record<string, string> = {
  '0x0': 'generic panic',
  '0x1': 'assert(false)',
  '0x11': 'arithmetic underflow or overflow',
  '0x12': 'division or modulo by zero',
  '0x21': 'enum overflow',
  '0x22': 'invalid encoded storage byte array accessed',
  '0x31': 'out-of-bounds array access; popping on an empty array',
  '0x32': 'out-of-bounds access of an array or bytesN',
  '0x41': 'out of memory',
  '0x51': 'uninitialized function',
};

const utf8 = new TextDecoder();

/** go-ethereum's `abi.UnpackRevert`: the text of `Error(string)` or `Panic(uint256)` revert data. */
export function unpackRevert(data: Uint8Array): string | undefined {
  if (data.length < 4) return undefined;
  const selector = toHex(data.subarray(0, 4));
  const body = data.subarray(4);
  const wordAt = (at: number): bigint | undefined => (at + 32 <= body.length ? BigInt(toHex(body.subarray(at, at + 32))) : undefined);
  if (selector === '0x08c379a0') {
    const offset = wordAt(0);
    if (offset === undefined || offset > BigInt(body.length)) return undefined;
    const length = wordAt(Number(offset));
    const start = Number(offset) + 32;
    if (length === undefined || BigInt(start) + length > BigInt(body.length)) return undefined;
    return utf8.decode(body.subarray(start, start + Number(length)));
  }
  if (selector === '0x4e487b71') {
    const code = wordAt(0);
    if (code === undefined) return undefined;
    return PANIC_REASONS[quantity(code)] ?? `unknown panic code: ${quantity(code)}`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Formats
// ---------------------------------------------------------------------------------------------

/** A 0x-quantity: minimal hex, "0x0" for zero (go-ethereum's uint256 `Hex()` and hexutil). */
function quantity(v: bigint): string {
  return `0x${v.toString(16)}`;
}

function word32(v: bigint): Uint8Array {
  return setLengthLeft(bigIntToBytes(v), 32);
}

/**
 * Memory words and storage keys and values as the execution-apis specification has them
 * (`StructLog`: 0x-prefixed 32-byte words). go-ethereum's legacy logger prints them without 0x;
 * the specification, which tools are written against, is explicit, so this follows it.
 */
function word(b: Uint8Array): string {
  return `0x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')}`;
}

function words(memory: Uint8Array): string[] {
  const hex = Buffer.from(memory.buffer, memory.byteOffset, memory.byteLength).toString('hex');
  const out: string[] = [];
  for (let i = 0; i + 64 <= hex.length; i += 64) out.push(`0x${hex.slice(i, i + 64)}`);
  return out;
}

/** An address from a stack word (its low 20 bytes, as the EVM reads it). */
function addressHex(v: bigint): string {
  return `0x${(v & ((1n << 160n) - 1n)).toString(16).padStart(40, '0')}`;
}
