/**
 * go-ethereum's `callTracer` (`{ tracer: 'callTracer' }`): the tree of call frames a transaction
 * made, each with its type, sender, recipient, value, gas, input, output, error and decoded revert
 * reason, optionally its logs; SELFDESTRUCT reported as a frame of its own, as go-ethereum does.
 */
import type { EVMResult, InterpreterStep, Message } from '@ethereumjs/evm';
import type { RunTxResult } from '@ethereumjs/vm';
import { toHex } from '../../common/bytes.ts';
import { BulwarkError } from '../../common/errors.ts';
import { EMPTY, addressHex, quantity, word32 } from './format.ts';
import { unpackRevert } from './revert.ts';
import type { Failure, Frame, Tracer } from './run.ts';
import type { CallFrame, CallLog, CallTracerConfig, CallType } from './types.ts';

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
export class CallTracer implements Tracer {
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
