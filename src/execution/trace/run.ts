/**
 * Following the EVM's call frames while a transaction runs: `TraceRun` listens to ethereumjs'
 * `step`, `beforeMessage` and `afterMessage` events, keeps the stack of frames (which opcode opened
 * each, which step each ended on), words a failed frame's error as go-ethereum does, and hands each
 * event to a `Tracer` (the struct logger or the callTracer). It is also where a trace is stopped:
 * past its deadline, or when a tracer throws (a trace too large), the next event aborts the run.
 * Opcode names and stack inputs live here because failure messages need them; the struct logger
 * shares them.
 */
import type { EVMError, EVMResult, InterpreterStep, Message } from '@ethereumjs/evm';
import type { RunTxResult, VM } from '@ethereumjs/vm';
import { BulwarkError } from '../../common/errors.ts';
import type { CallType, TraceResult } from './types.ts';

/** The last opcode a frame ran: which call a child frame is, or which step a failure happened on. */
interface LastStep {
  readonly op: number;
  readonly name: string;
  readonly stackLength: number;
  readonly gas: bigint;
  readonly cost: bigint;
}

/** One call frame as `TraceRun` follows it. */
export interface Frame {
  readonly type: CallType;
  readonly depth: number;
  last: LastStep | undefined;
}

/** How a frame ended, in go-ethereum's words. */
export interface Failure {
  readonly message: string;
  readonly reverted: boolean;
  /**
   * go-ethereum reports the error on the frame's last struct-log entry when the opcode failed
   * before it ran (gas, stack, invalid opcode), not when it failed while running (a revert, a bad
   * jump, a write in a static call) or after the frame's code returned (the code deposit).
   */
  readonly atLastStep: boolean;
}

export interface Tracer {
  step(ev: InterpreterStep, frame: Frame): void | Promise<void>;
  enter(msg: Message, frame: Frame): void;
  exit(result: EVMResult, frame: Frame, failure: Failure | undefined): void;
  /** The answer, once the transaction has run (`gasLimit`: the transaction's). */
  result(result: RunTxResult, gasLimit: bigint): TraceResult;
}

/** Listener calls between two turns given to the event loop. */
const YIELD_EVERY = 2_048;

export class TraceRun {
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

export const CALL_OPS: Record<number, CallType> = {
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
export function opName(code: number, name: string): string {
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
