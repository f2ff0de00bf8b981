/**
 * The tracing API's options and results, in go-ethereum's shapes: the struct logger's and the
 * callTracer's configs, the limits every trace runs under, and the JSON each tracer answers with.
 * Kept apart from the entry points (`index.ts`, which re-exports them) so that the tracers, which
 * `index.ts` imports, can use them without an import cycle.
 */


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
