/**
 * The `debug_` tracing methods, as go-ethereum answers them: `debug_traceTransaction(hash, config?)`
 * re-runs a mined transaction, `debug_traceBlockByNumber`/`ByHash(block, config?)` every
 * transaction of a block (`[{txHash, result}]`), and `debug_traceCall(call, block, config?)` runs a
 * message on top of a block, each traced by the struct logger (no `tracer`) or the `callTracer` (`execution/trace/`).
 *
 * Tracing executes, so it needs state: the client node's own executed copy of the chain (its
 * `Executor`), not the ledger mirror, which keeps blocks only. Until the node has one the methods
 * answer that they cannot trace. A reverted or failed execution is a trace that says so, never an
 * RPC error; errors are for what cannot be traced (unknown transaction or block, a trace over its
 * time or size limit, a message the VM refuses). Traces go through the node's EVM gate like
 * eth_call (`evm-gate.ts`): a traced call's gas is capped, and at most so many run at once; a
 * trace's `timeout` (by default the node's `--rpc-evmtimeout`) counts from its arrival.
 */
import { createAddressFromString } from '@ethereumjs/util';
import { isBulwarkError } from '../../common/errors.ts';
import { hexToBytes } from '../../crypto/hex.ts';
import type { BlockTag, CallRequest, ChainSource } from '../../execution/reader.ts';
import {
  DEFAULT_MAX_STRUCT_LOGS,
  traceBlock,
  traceCall,
  traceTransaction,
  type CallTracerConfig,
  type StructLoggerConfig,
  type TraceOptions,
} from '../../execution/trace/index.ts';
import { RPC_CODES, RpcError, invalidParams } from '../errors.ts';
import { EvmGate } from '../evm-gate.ts';
import { method, type MethodDef } from '../method.ts';
import { address, blockNumberOrTag, blockRef, data, hash32, quantity, type BlockRef, type Param } from '../params.ts';

export interface DebugBackend {
  /**
   * The node's executed state (an `Executor`), or undefined while it has none: tracing then answers
   * that it needs one.
   */
  source(): ChainSource | undefined;
  /** The longest `timeout` a caller may ask for (default 60 s). */
  readonly maxTimeoutMs?: number;
  /** The most struct-log entries a trace may have (default 100,000; `limit` asks for fewer). */
  readonly maxStructLogs?: number;
  /** The gas cap, default timeout and concurrency of EVM work (default: go-ethereum's, 4 at once). */
  readonly evm?: EvmGate;
}

const DEFAULT_MAX_TIMEOUT_MS = 60_000;

export function debugMethods(b: DebugBackend): Map<string, MethodDef> {
  const maxTimeoutMs = b.maxTimeoutMs ?? DEFAULT_MAX_TIMEOUT_MS;
  const maxEntries = b.maxStructLogs ?? DEFAULT_MAX_STRUCT_LOGS;
  const evm = b.evm ?? new EvmGate();
  const defaultTimeoutMs = Math.min(evm.limits.timeoutMs, maxTimeoutMs);
  const config = (forCall: boolean) => traceConfig(forCall, maxTimeoutMs, maxEntries, defaultTimeoutMs);
  /** The trace within the gate: what is left of its timeout once it got its turn, and the gas cap. */
  const gated = <T>(options: TraceOptions | undefined, trace: (o: TraceOptions) => Promise<T>): Promise<T> => {
    const o = options ?? defaults(maxEntries, defaultTimeoutMs);
    return evm.run((budget) => trace({ ...o, timeoutMs: budget.deadline.remainingMs(), gasCap: budget.gasCap }), o.timeoutMs);
  };
  const source = (): ChainSource => {
    const s = b.source();
    if (s === undefined) {
      throw new RpcError(RPC_CODES.server, "tracing needs this node's local state (its own executed copy of the chain), which it does not have");
    }
    return s;
  };

  return new Map<string, MethodDef>([
    [
      'debug_traceTransaction',
      method([hash32], [config(false)], async ([hash, options]) =>
        answer(() => gated(options, (o) => traceTransaction(source(), hexToBytes(hash), o))),
      ),
    ],
    [
      'debug_traceBlockByNumber',
      method([blockNumberOrTag], [config(false)], async ([ref, options]) =>
        answer(() => gated(options, (o) => traceBlock(source(), blockTag(ref), o)), ref),
      ),
    ],
    [
      'debug_traceBlockByHash',
      method([hash32], [config(false)], async ([hash, options]) => {
        const ref = { hash, requireCanonical: false };
        return answer(() => gated(options, (o) => traceBlock(source(), blockTag(ref), o)), ref);
      }),
    ],
    [
      'debug_traceCall',
      method([callObject, blockRef], [config(true)], async ([call, ref, options]) =>
        answer(() => gated(options, (o) => traceCall(source(), call, blockTag(ref), o)), ref),
      ),
    ],
  ]);
}

function defaults(maxEntries: number, timeoutMs: number): TraceOptions {
  return { tracer: 'structLogger', timeoutMs, maxEntries };
}

/** What cannot be traced becomes go-ethereum's server error (-32000) with the reason. */
async function answer(trace: () => Promise<unknown>, ref?: BlockRef): Promise<unknown> {
  try {
    return await trace();
  } catch (err) {
    if (!isBulwarkError(err)) throw err;
    if (err.code === 'READ_UNKNOWN_BLOCK' && ref !== undefined) {
      // go-ethereum's wording.
      const which = 'number' in ref ? `#${ref.number}` : 'hash' in ref ? ref.hash : ref.tag;
      throw new RpcError(RPC_CODES.server, `block ${which} not found`);
    }
    if (err.code.startsWith('TRACE_') || err.code.startsWith('READ_')) throw new RpcError(RPC_CODES.server, err.message);
    throw err;
  }
}

/** The block a trace runs on top of; every block here is final, so safe and finalized are the head. */
function blockTag(ref: BlockRef): BlockTag {
  if ('hash' in ref) return hexToBytes(ref.hash);
  if ('number' in ref) return ref.number;
  if (ref.tag === 'earliest') return 0n;
  // go-ethereum's answer: there is no pending block to trace on.
  if (ref.tag === 'pending') throw new RpcError(RPC_CODES.server, 'tracing on top of pending is not supported');
  return 'latest';
}

/** A call object as eth_call takes it (go-ethereum's `TransactionArgs`, the fields a message uses). */
const callObject: Param<CallRequest> = (v, i) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalidParams(i, 'expected a transaction call object');
  const o = v as Record<string, unknown>;
  const present = (x: unknown) => x !== undefined && x !== null;
  if (present(o.data) && present(o.input) && o.data !== o.input) throw invalidParams(i, 'both "data" and "input" are set and not equal');
  const addr = (x: unknown) => (present(x) ? createAddressFromString(address(x, i)) : undefined);
  const q = (x: unknown) => (present(x) ? quantity(x, i) : undefined);
  const input = present(o.input) ? o.input : o.data;
  const req: { -readonly [K in keyof CallRequest]: CallRequest[K] } = {};
  const from = addr(o.from);
  const to = addr(o.to);
  const gas = q(o.gas);
  const gasPrice = q(o.gasPrice ?? o.maxFeePerGas);
  const value = q(o.value);
  if (from !== undefined) req.from = from;
  if (to !== undefined) req.to = to;
  if (present(input)) req.data = data()(input, i);
  if (gas !== undefined) req.gas = gas;
  if (gasPrice !== undefined) req.gasPrice = gasPrice;
  if (value !== undefined) req.value = value;
  return req;
};

/**
 * go-ethereum's `TraceConfig` (and `TraceCallConfig`): `tracer`, `tracerConfig`, `timeout`, and the
 * struct logger's `disableStack`, `disableStorage`, `enableMemory`, `enableReturnData`, `limit`.
 * Go matches JSON keys without regard to case, so this does too; unknown keys are ignored, as
 * there. Overrides, which would change what ran, are refused rather than ignored.
 */
function traceConfig(forCall: boolean, maxTimeoutMs: number, maxEntries: number, defaultTimeoutMs: number): Param<TraceOptions> {
  return (v, i) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalidParams(i, 'expected a trace config object');
    const o = lowerKeys(v as Record<string, unknown>);
    for (const key of forCall ? ['overrides', 'stateoverrides', 'blockoverrides', 'txindex'] : ['overrides']) {
      if (o[key] !== undefined && o[key] !== null) throw invalidParams(i, `${key} is not supported`);
    }
    const limits = { timeoutMs: timeout(o.timeout, i, maxTimeoutMs, defaultTimeoutMs), maxEntries };
    const tracer = o.tracer;
    if (tracer === undefined || tracer === null) return { tracer: 'structLogger', config: loggerConfig(o, i), ...limits };
    if (tracer === 'callTracer') return { tracer: 'callTracer', config: callTracerConfig(o.tracerconfig, i), ...limits };
    if (typeof tracer !== 'string') throw invalidParams(i, 'tracer must be a string');
    throw invalidParams(i, `tracer ${JSON.stringify(tracer)} not found: this node has the struct logger (no tracer) and "callTracer"`);
  };
}

function lowerKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]));
}

function flag(v: unknown, name: string, i: number): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalidParams(i, `${name} must be a boolean`);
  return v;
}

function loggerConfig(o: Record<string, unknown>, i: number): StructLoggerConfig {
  const limit = o.limit;
  if (limit !== undefined && limit !== null && (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0)) {
    throw invalidParams(i, 'limit must be a non-negative integer');
  }
  return {
    disableStack: flag(o.disablestack, 'disableStack', i),
    disableStorage: flag(o.disablestorage, 'disableStorage', i),
    enableMemory: flag(o.enablememory, 'enableMemory', i),
    enableReturnData: flag(o.enablereturndata, 'enableReturnData', i),
    limit: typeof limit === 'number' ? limit : undefined,
  };
}

function callTracerConfig(v: unknown, i: number): CallTracerConfig {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidParams(i, 'tracerConfig must be an object');
  const o = lowerKeys(v as Record<string, unknown>);
  return { onlyTopCall: flag(o.onlytopcall, 'onlyTopCall', i), withLog: flag(o.withlog, 'withLog', i) };
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** A Go duration ("5s", "1m30s", "250ms", "1.5h"), in milliseconds, at most the node's maximum. */
function timeout(v: unknown, i: number, maxMs: number, defaultMs: number): number {
  if (v === undefined || v === null) return defaultMs;
  if (typeof v !== 'string') throw invalidParams(i, 'timeout must be a duration string such as "5s"');
  const parts = [...v.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy)];
  if (v === '0') return 0;
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== v) throw invalidParams(i, `time: invalid duration ${JSON.stringify(v)}`);
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * DURATION_UNITS[p[2]!]!, 0);
  if (ms > maxMs) throw invalidParams(i, `timeout ${v} is above this node's maximum of ${maxMs / 1000}s`);
  return ms;
}
