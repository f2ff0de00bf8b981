/**
 * The pool's limits and refusals, after go-ethereum's legacypool (`core/txpool/legacypool`):
 * per-sender and global limits on pending transactions (ready or being ordered: consecutive nonces
 * from the sender's committed one) and on queued ones (waiting behind a nonce gap), a lifetime for
 * queued ones, and go-ethereum's wording for each refusal, which JSON-RPC returns as error -32000.
 *
 * Beyond go-ethereum's fixed counts, a bound in time (`maxWaitSeconds`): the pool measures how fast
 * its transactions are being included (`DrainRate`) and refuses a new pending transaction once
 * those already pending would take longer than that to drain. Without it, a load the replicas
 * cannot keep up with is accepted up to the global count and then waits in the pool — a minute and
 * more at 200 ERC-20 transfers/s (bench/RESULTS.md, run G) — where a sender would rather hear at
 * once that the network is busy.
 */
import { BulwarkError } from '../common/errors.ts';
import type { RejectReason } from '../execution/validation.ts';

export interface PoolLimits {
  /** Pending transactions one sender may have (a burst of consecutive nonces fits: Hardhat and go-ethereum take 500). */
  readonly accountPending: number;
  /** Pending transactions in the pool at once (go-ethereum's `GlobalSlots`). */
  readonly globalPending: number;
  /**
   * Pending transactions each sender is guaranteed (go-ethereum's `AccountSlots`): when the pool
   * holds `globalPending`, a sender below this takes the place of the last transaction of the
   * sender with the most pending.
   */
  readonly accountSlots: number;
  /** Queued transactions one sender may have (go-ethereum's `AccountQueue`); lower nonces are kept first. */
  readonly accountQueue: number;
  /** Queued transactions in the pool at once (go-ethereum's `GlobalQueue`); the sender idle longest gives way. */
  readonly globalQueue: number;
  /** A sender's queued transactions are dropped after this long without it making progress (go-ethereum's `Lifetime`). */
  readonly lifetimeMs: number;
  /** How far above the sender's next pending nonce (committed plus consecutive pending) a transaction may wait. */
  readonly maxNonceGap: number;
  readonly priceBumpPercent: number;
  /**
   * Pending transactions may be at most this many seconds of the pool's measured inclusion rate
   * (`DrainRate`); beyond it a new pending transaction is refused (`txpool is full`), unless its
   * sender has none pending. 0: no bound in time, only `globalPending`.
   */
  readonly maxWaitSeconds: number;
  /** The bound in time never goes below this many pending transactions (a cold pool has no rate yet). */
  readonly waitFloor: number;
}

export const DEFAULT_POOL_LIMITS: PoolLimits = {
  accountPending: 1_024,
  globalPending: 20_000,
  accountSlots: 16,
  accountQueue: 64,
  globalQueue: 1_024,
  lifetimeMs: 3 * 3_600_000,
  maxNonceGap: 64,
  priceBumpPercent: 10,
  maxWaitSeconds: 10,
  waitFloor: 2_048,
};

/** The command-line option that sets each limit, named in refusals so an operator knows what to raise. */
export const POOL_LIMIT_OPTIONS = {
  accountPending: '--txpool-account-pending',
  globalPending: '--txpool-global-pending',
  accountQueue: '--txpool-account-queue',
  globalQueue: '--txpool-global-queue',
  maxWaitSeconds: '--txpool-max-wait',
  waitFloor: '--txpool-wait-floor',
} as const;

export type PoolErrorCode =
  | 'TXPOOL_ALREADY_KNOWN'
  | 'TXPOOL_NONCE_TOO_LOW'
  | 'TXPOOL_NONCE_TOO_HIGH'
  | 'TXPOOL_INSUFFICIENT_FUNDS'
  | 'TXPOOL_UNDERPRICED_REPLACEMENT'
  | 'TXPOOL_REPLACING_IN_FLIGHT'
  | 'TXPOOL_ACCOUNT_LIMIT'
  | 'TXPOOL_FULL'
  | 'TXPOOL_INVALID';

/** A refusal: `message` is what JSON-RPC returns (code -32000). */
export class PoolError extends BulwarkError<PoolErrorCode> {}

/** Why transactions left the pool without being ordered (`bulwark_txpool_evicted_total`). */
export type EvictionReason = 'lifetime' | 'account_queue' | 'global_queue' | 'global_pending';

export const REJECTION_WORDING: Partial<Record<RejectReason, string>> = {
  TX_OVERSIZED: 'oversized data',
  TX_MALFORMED: 'rlp: invalid transaction encoding',
  TX_UNSUPPORTED_TYPE: 'transaction type not supported',
  TX_UNPROTECTED: 'only replay-protected (EIP-155) transactions allowed over RPC',
  TX_WRONG_CHAIN: 'invalid chain id for signer',
  TX_BAD_SIGNATURE: 'invalid sender',
  TX_INTRINSIC_GAS_TOO_LOW: 'intrinsic gas too low',
  TX_GAS_ABOVE_BLOCK_LIMIT: 'exceeds block gas limit',
};

export const refusals = {
  accountPending: (limit: number, sender: string) =>
    new PoolError('TXPOOL_ACCOUNT_LIMIT', `account limit exceeded: the sender already has ${limit} pending transactions (per-account pending limit, ${POOL_LIMIT_OPTIONS.accountPending})`, {
      sender,
      limit,
    }),
  accountQueue: (limit: number, sender: string) =>
    new PoolError(
      'TXPOOL_ACCOUNT_LIMIT',
      `account limit exceeded: the sender already has ${limit} transactions waiting behind a nonce gap (per-account queue limit, ${POOL_LIMIT_OPTIONS.accountQueue})`,
      { sender, limit },
    ),
  globalPending: (limit: number) =>
    new PoolError('TXPOOL_FULL', `txpool is full: ${limit} pending transactions (global pending limit, ${POOL_LIMIT_OPTIONS.globalPending})`, { limit }),
  /** The bound in time: `pending` transactions would take about `maxWaitSeconds` at `perSecond`. */
  wait: (pending: number, maxWaitSeconds: number, perSecond: number) =>
    new PoolError(
      'TXPOOL_FULL',
      `txpool is full: ${pending} pending transactions, about ${maxWaitSeconds} s at the ${Math.round(perSecond)} transactions/s being included (wait limit, ${POOL_LIMIT_OPTIONS.maxWaitSeconds}); try again shortly`,
      { pending, maxWaitSeconds, perSecond: Math.round(perSecond) },
    ),
  globalQueue: (limit: number) =>
    new PoolError('TXPOOL_FULL', `txpool is full: ${limit} transactions waiting behind nonce gaps (global queue limit, ${POOL_LIMIT_OPTIONS.globalQueue})`, { limit }),
  /** go-ethereum's wording; with the sender's other transactions counted, its longer form. */
  funds: (sender: string, balance: bigint, queued: bigint, cost: bigint) =>
    new PoolError(
      'TXPOOL_INSUFFICIENT_FUNDS',
      queued === 0n
        ? 'insufficient funds for gas * price + value'
        : `insufficient funds for gas * price + value: balance ${balance}, queued cost ${queued}, tx cost ${cost}, overshot ${queued + cost - balance}`,
      { sender },
    ),
};

/**
 * How fast the pool's transactions are being included: the mean over the last `windowSeconds`
 * whole seconds (the current one left out). While the pool is at its bound this is what the network
 * takes from it; a pool that was nearly empty measures only what it was fed, and its bound then
 * rests on the floor until the rate has risen with the load (a few seconds).
 */
export class DrainRate {
  readonly #counts: Float64Array;
  readonly #window: number;
  /** The whole second (since the epoch) of the latest count; -1 before the first. */
  #second = -1;

  constructor(windowSeconds = 20) {
    if (!Number.isInteger(windowSeconds) || windowSeconds < 1) throw new RangeError(`window of ${windowSeconds} s`);
    this.#window = windowSeconds;
    this.#counts = new Float64Array(windowSeconds + 1);
  }

  /** `n` transactions were included at `nowMs`. */
  record(n: number, nowMs: number): void {
    this.#counts[this.#advance(nowMs) % this.#counts.length]! += n;
  }

  /** Transactions per second over the last `windowSeconds` whole seconds. */
  perSecond(nowMs: number): number {
    const current = this.#advance(nowMs) % this.#counts.length;
    let sum = 0;
    for (let i = 0; i < this.#counts.length; i++) if (i !== current) sum += this.#counts[i]!;
    return sum / this.#window;
  }

  /** Moves to `nowMs`'s second, clearing the seconds passed since the latest count. */
  #advance(nowMs: number): number {
    const s = Math.floor(nowMs / 1_000);
    if (this.#second < 0) this.#second = s;
    else if (s > this.#second) {
      for (let k = this.#second + 1; k <= Math.min(s, this.#second + this.#counts.length); k++) this.#counts[k % this.#counts.length] = 0;
      this.#second = s;
    }
    return this.#second;
  }
}
