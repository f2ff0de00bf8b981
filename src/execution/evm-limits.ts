/**
 * Limits on the EVM work a caller can start (eth_call, eth_estimateGas, debug_trace*, the replicas'
 * read requests): a gas cap and a deadline, as go-ethereum's `--rpc.gascap` (50,000,000) and
 * `--rpc.evmtimeout` (5 s), and the means by which such work never holds the thread for long.
 *
 * How: the EVM runs on the thread that also serves JSON-RPC (client node) or steps consensus
 * (replica), and its state lives there (RocksDB handles, trie caches and the overlay of blocks not
 * yet on disk), so a worker thread would have to reach it by messages, one per trie read. Instead
 * the EVM of a read (`Simulation`) is given *checkpoint* opcodes (`EvmPreemption.opcodes`): JUMP and
 * JUMPI (every loop passes one), the calls and creates (every frame, every precompile), KECCAK256
 * and the state reads and writes (the costly single steps), each wrapped so that it first looks at
 * the clock. Past the deadline it throws, which unwinds the whole execution; after a slice of
 * `SLICE_MS` it waits for its turn in `nextTurn`, which lets the event loop run (network, timers,
 * other requests, consensus) between slices, one EVM slice per turn. Between two checkpoints there
 * is at most one frame's straight-line code (≤ 48 KiB of cheap opcodes) or one precompile call.
 * ethereumjs' `step` event could do the same, but it builds an event object (stack and memory
 * copies) for every opcode and awaits each listener: a loop ran 4–5× slower with one. The wrapped
 * opcodes cost nothing measurable on an ERC-20 `balanceOf` call and ~25 % on the tightest loop
 * (JUMPDEST PUSH1 JUMP, a checkpoint every third opcode). The executor's VM (block execution) has
 * none of this.
 */
import type { Common } from '@ethereumjs/common';
import { getOpcodesForHF, type EVMOpts } from '@ethereumjs/evm';
import { BulwarkError } from '../common/errors.ts';

export interface EvmLimits {
  /** The most gas one message may run with; a message asking for more runs with this (go-ethereum). */
  readonly gasCap: bigint;
  /** How long one call (or one read request's calls together) may run, waiting included. */
  readonly timeoutMs: number;
}

/** go-ethereum's defaults: `--rpc.gascap` 50,000,000 and `--rpc.evmtimeout` 5 s. */
export const DEFAULT_EVM_LIMITS: EvmLimits = { gasCap: 50_000_000n, timeoutMs: 5_000 };

/** One run's limits: the gas cap and the deadline it must end by (several calls may share one). */
export interface EvmBudget {
  readonly gasCap: bigint;
  readonly deadline: Deadline;
}

/** A budget under `limits` whose deadline starts now. */
export function budgetOf(limits: EvmLimits = DEFAULT_EVM_LIMITS): EvmBudget {
  return { gasCap: limits.gasCap, deadline: new Deadline(limits.timeoutMs) };
}

/** The longest an EVM run keeps the thread before it lets the event loop turn. */
export const SLICE_MS = 2;

/** Node's timers take at most 2^31 - 1 ms; a deadline further than that is no deadline. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The gas a message runs with: what it asks for (else `fallback`, the block's limit), at most the cap. */
export function cappedGas(asked: bigint | undefined, fallback: bigint, cap: bigint): bigint {
  const gas = asked ?? fallback;
  return gas > cap ? cap : gas;
}

/** A point in time after which EVM work stops, with go-ethereum's error for it. */
export class Deadline {
  /** In `performance.now()` milliseconds. */
  readonly at: number;

  constructor(
    readonly timeoutMs: number,
    now = performance.now(),
  ) {
    this.at = now + timeoutMs;
  }

  expired(now = performance.now()): boolean {
    return now >= this.at;
  }

  remainingMs(now = performance.now()): number {
    return Math.max(0, this.at - now);
  }

  /** go-ethereum's answer to a call past `--rpc.evmtimeout`: `execution aborted (timeout = 5s)`. */
  error(): BulwarkError<'EVM_TIMEOUT'> {
    return new BulwarkError('EVM_TIMEOUT', `execution aborted (timeout = ${goDuration(this.timeoutMs)})`, { timeoutMs: this.timeoutMs });
  }

  /**
   * A timer's delay to the deadline; null when it is too far for a timer (none: 0 means no limit,
   * as in go-ethereum, and is kept as an infinite timeout).
   */
  timerMs(now = performance.now()): number | null {
    const left = Math.ceil(this.remainingMs(now));
    return left > MAX_TIMER_MS ? null : left;
  }

  /** `work`'s outcome, or this deadline's error if it has not settled by then (work that cannot be stopped, e.g. a replica read). */
  race<T>(work: Promise<T>): Promise<T> {
    const delay = this.timerMs();
    if (delay === null) return work;
    let timer: NodeJS.Timeout | undefined;
    const expiry = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.error()), delay);
    });
    work.catch(() => {}); // settled after the deadline: nobody is waiting any more
    return Promise.race([work, expiry]).finally(() => clearTimeout(timer));
  }
}

/** A duration as Go's `time.Duration.String` writes it: 5s, 1.5s, 250ms, 1m30s. */
export function goDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1_000) return `${trim(ms)}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = trim((ms % 60_000) / 1_000);
  if (h > 0) return `${h}h${m}m${s}s`;
  return m > 0 ? `${m}m${s}s` : `${s}s`;
}

function trim(n: number): string {
  return String(Number(n.toFixed(9)));
}

// ---------------------------------------------------------------------------------------------
// Turns: EVM runs that gave up the thread continue one per turn of the event loop, in order, so
// that 16 reads at once on a replica still leave consensus a turn every few milliseconds.
// ---------------------------------------------------------------------------------------------

const waiting: (() => void)[] = [];
let turnScheduled = false;

/** Resolves in a later turn of the event loop, after I/O and timers had theirs, and after earlier waiters. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!turnScheduled) scheduleTurn();
  });
}

function scheduleTurn(): void {
  turnScheduled = true;
  setImmediate(() => {
    turnScheduled = false;
    // One waiter per turn; an immediate scheduled now runs in the next turn, after its I/O.
    waiting.shift()?.();
    if (waiting.length > 0) scheduleTurn();
  });
}

// ---------------------------------------------------------------------------------------------
// Checkpoint opcodes
// ---------------------------------------------------------------------------------------------

type CustomOpcode = NonNullable<EVMOpts['customOpcodes']>[number];

/**
 * The opcodes that check the clock first: every loop runs a JUMP or JUMPI, every frame starts at a
 * call or create (a precompile too), and these are the steps whose time is not bounded by a few
 * dozen nanoseconds (hashing memory, reading state).
 */
const CHECKPOINTS = [
  0x20, // KECCAK256
  0x31, // BALANCE
  0x3b, // EXTCODESIZE
  0x3c, // EXTCODECOPY
  0x3f, // EXTCODEHASH
  0x40, // BLOCKHASH
  0x54, // SLOAD
  0x55, // SSTORE
  0x56, // JUMP
  0x57, // JUMPI
  0xf0, // CREATE
  0xf1, // CALL
  0xf2, // CALLCODE
  0xf4, // DELEGATECALL
  0xf5, // CREATE2
  0xfa, // STATICCALL
  0xff, // SELFDESTRUCT
] as const;

/**
 * Preemption for one EVM: its `opcodes` go into the EVM's options when it is made; each `run`
 * then executes under a deadline, giving up the thread every `SLICE_MS` and throwing
 * `EVM_TIMEOUT` (from inside the interpreter, which unwinds every frame) once it is past.
 * An EVM whose run was aborted may hold open journal checkpoints: do not use it again.
 */
export class EvmPreemption {
  readonly #clock: () => number;
  #deadline: Deadline | null = null;
  #sliceStart = 0;
  /** Set once a run was aborted by its deadline. */
  aborted = false;

  /** `clock`: milliseconds as `performance.now()` counts them (tests pass their own). */
  constructor(clock: () => number = () => performance.now()) {
    this.#clock = clock;
  }

  /** The checkpoint opcodes for an EVM on `common` (same gas, same semantics, plus the clock). */
  opcodes(common: Common): CustomOpcode[] {
    const base = getOpcodesForHF(common).opcodeMap;
    return CHECKPOINTS.map((code) => {
      const entry = base[code];
      if (entry === undefined) throw new BulwarkError('EVM_NO_OPCODE', `opcode 0x${code.toString(16)} is not active`);
      const handler = entry.opHandler;
      const gasHandler = entry.gasHandler as typeof entry.gasHandler | undefined;
      return {
        opcode: code,
        opcodeName: entry.opcodeInfo.name,
        baseFee: entry.opcodeInfo.fee,
        ...(gasHandler === undefined ? {} : { gasFunction: gasHandler }),
        // Not an async function: most passes do not wait, and then cost no promise of their own
        // (the interpreter awaits whatever a custom opcode returns).
        logicFunction: (runState, c) => {
          const wait = this.#checkpoint();
          return wait === undefined ? handler(runState, c) : wait.then(() => handler(runState, c));
        },
      };
    });
  }

  /** Runs `work` (which runs this EVM) under `deadline`. */
  async run<T>(deadline: Deadline, work: () => Promise<T>): Promise<T> {
    if (deadline.expired(this.#clock())) throw deadline.error();
    if (this.aborted) throw new BulwarkError('EVM_ABORTED', 'this EVM was aborted and cannot run again');
    this.#deadline = deadline;
    this.#sliceStart = this.#clock();
    try {
      return await work();
    } finally {
      this.#deadline = null;
    }
  }

  #checkpoint(): Promise<void> | undefined {
    const deadline = this.#deadline;
    if (deadline === null) return undefined;
    const now = this.#clock();
    this.#stopIfPast(deadline, now);
    if (now - this.#sliceStart < SLICE_MS) return undefined;
    return nextTurn().then(() => {
      this.#sliceStart = this.#clock();
      this.#stopIfPast(deadline, this.#sliceStart);
    });
  }

  #stopIfPast(deadline: Deadline, now: number): void {
    if (!deadline.expired(now)) return;
    this.aborted = true;
    throw deadline.error();
  }
}
