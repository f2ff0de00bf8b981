/**
 * The pool's limits and refusals, after go-ethereum's legacypool (`core/txpool/legacypool`):
 * per-sender and global limits on pending transactions (ready or being ordered: consecutive nonces
 * from the sender's committed one) and on queued ones (waiting behind a nonce gap), a lifetime for
 * queued ones, and go-ethereum's wording for each refusal, which JSON-RPC returns as error -32000.
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
};

/** The command-line option that sets each limit, named in refusals so an operator knows what to raise. */
export const POOL_LIMIT_OPTIONS = {
  accountPending: '--txpool-account-pending',
  globalPending: '--txpool-global-pending',
  accountQueue: '--txpool-account-queue',
  globalQueue: '--txpool-global-queue',
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
