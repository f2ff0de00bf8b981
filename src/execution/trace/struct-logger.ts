/**
 * go-ethereum's struct logger (`debug_trace*` without a `tracer`): one entry per opcode with its
 * gas, cost, depth, stack, and optionally memory, return data and the contract's storage seen so
 * far. It is the tracer that grows with the execution, so it enforces the entry and size caps.
 */
import type { EVMResult, InterpreterStep, Message } from '@ethereumjs/evm';
import { setLengthLeft } from '@ethereumjs/util';
import type { RunTxResult } from '@ethereumjs/vm';
import { toHex } from '../../common/bytes.ts';
import { BulwarkError } from '../../common/errors.ts';
import { EMPTY, quantity, word, word32, words } from './format.ts';
import { CALL_OPS, opName, type Failure, type Frame, type Tracer } from './run.ts';
import {
  DEFAULT_MAX_STRUCT_LOGS,
  DEFAULT_MAX_TRACE_BYTES,
  type StructLog,
  type StructLoggerConfig,
  type StructLoggerResult,
  type TraceLimits,
} from './types.ts';

const OP_SLOAD = 0x54;
const OP_SSTORE = 0x55;
/** CALL and CALLCODE with value add this to the gas they forward, which is not the caller's cost. */
const CALL_STIPEND = 2_300n;

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
export class StructLogger implements Tracer {
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
