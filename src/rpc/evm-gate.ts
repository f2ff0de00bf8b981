/**
 * The EVM work JSON-RPC callers can start on this node (eth_call, eth_estimateGas, debug_trace*):
 * each call gets the node's budget (`--rpc-gascap`, `--rpc-evmtimeout`, as go-ethereum's
 * `--rpc.gascap` and `--rpc.evmtimeout`), at most `maxConcurrent` run at once, up to `maxQueued`
 * more wait their turn in order, and beyond that a call is refused at once (-32005, naming the
 * limit). A call's deadline starts when it arrives, so waiting counts: one still waiting at its
 * deadline gets the timeout error, and a batch of endless loops is answered within the timeout.
 */
import { isBulwarkError } from '../common/errors.ts';
import { DEFAULT_EVM_LIMITS, Deadline, type EvmBudget, type EvmLimits } from '../execution/evm-limits.ts';
import { RPC_CODES, RpcError } from './errors.ts';

export interface RpcEvmLimits extends EvmLimits {
  /** EVM calls running at once (`--rpc-evm-concurrency`). */
  readonly maxConcurrent: number;
  /** EVM calls waiting for one of those places (`--rpc-evm-queue`). */
  readonly maxQueued: number;
}

export const DEFAULT_RPC_EVM_LIMITS: RpcEvmLimits = { ...DEFAULT_EVM_LIMITS, maxConcurrent: 4, maxQueued: 256 };

interface Waiter {
  readonly start: () => void;
}

export class EvmGate {
  readonly limits: RpcEvmLimits;
  #running = 0;
  readonly #queue: Waiter[] = [];
  /** Calls refused because the queue was full, and calls that reached their deadline while waiting. */
  refused = 0;
  timedOutWaiting = 0;

  /** Calls stopped by their deadline while running. */
  timedOutRunning = 0;

  readonly #onBusy: (() => void) | undefined;
  readonly #onTimeout: ((where: 'waiting' | 'running') => void) | undefined;

  /**
   * `onBusy`: called for each call refused because the queue was full; `onTimeout` for each call
   * that reached its deadline, waiting or running (metrics, logs).
   */
  constructor(limits: Partial<RpcEvmLimits> = {}, onBusy?: () => void, onTimeout?: (where: 'waiting' | 'running') => void) {
    this.limits = { ...DEFAULT_RPC_EVM_LIMITS, ...limits };
    this.#onBusy = onBusy;
    this.#onTimeout = onTimeout;
  }

  /**
   * Runs `work` with a budget whose deadline started now (`timeoutMs`, by default the node's),
   * once one of the places is free. A deadline error from `work` (`EVM_TIMEOUT`) is answered as
   * go-ethereum does: -32000 `execution aborted (timeout = 5s)`.
   */
  async run<T>(work: (budget: EvmBudget) => Promise<T>, timeoutMs = this.limits.timeoutMs): Promise<T> {
    const budget = { gasCap: this.limits.gasCap, deadline: new Deadline(timeoutMs) };
    await this.#acquire(budget.deadline);
    try {
      return await work(budget);
    } catch (err) {
      if (isBulwarkError(err, 'EVM_TIMEOUT')) {
        this.timedOutRunning++;
        this.#onTimeout?.('running');
        throw new RpcError(RPC_CODES.server, err.message);
      }
      throw err;
    } finally {
      this.#release();
    }
  }

  #acquire(deadline: Deadline): Promise<void> {
    if (this.#running < this.limits.maxConcurrent) {
      this.#running++;
      return Promise.resolve();
    }
    if (this.#queue.length >= this.limits.maxQueued) {
      this.refused++;
      this.#onBusy?.();
      const { maxConcurrent, maxQueued } = this.limits;
      throw new RpcError(
        RPC_CODES.limitExceeded,
        `server busy: ${maxConcurrent} EVM calls running and ${maxQueued} waiting, this node's limits (--rpc-evm-concurrency, --rpc-evm-queue); try again later`,
      );
    }
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        start: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const delay = deadline.timerMs();
      if (delay !== null) {
        timer = setTimeout(() => {
          const i = this.#queue.indexOf(waiter);
          if (i >= 0) this.#queue.splice(i, 1);
          this.timedOutWaiting++;
          this.#onTimeout?.('waiting');
          reject(new RpcError(RPC_CODES.server, deadline.error().message));
        }, delay);
      }
      this.#queue.push(waiter);
    });
  }

  /** The place passes straight to the next waiter, if any. */
  #release(): void {
    const next = this.#queue.shift();
    if (next !== undefined) next.start();
    else this.#running--;
  }
}
