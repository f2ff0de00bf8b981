/**
 * What the JSON-RPC namespaces need from the node behind them, declared here so that `rpc/`
 * depends on no implementation of it: the client node's transaction pool (`client/txpool.ts`) and
 * its status rounds (`client/node-status.ts`) satisfy these structurally, and the client node's
 * composition root (`node/client.ts`) hands them over.
 */
import type { TypedTransaction } from '@ethereumjs/tx';
import type { NodeStatus } from '../codec/messages.ts';
import { isBulwarkError, type BulwarkError } from '../common/errors.ts';

/** A transaction in the pool: waiting, or being ordered. */
export interface PooledTx {
  readonly raw: Uint8Array;
  readonly tx: TypedTransaction;
  readonly nonce: bigint;
}

/** The transaction pool, as `eth_sendRawTransaction`, the receipt waits and `txpool_*` use it. */
export interface PoolPort {
  /** Checks and admits a raw transaction; resolves to its hash, or rejects with a refusal (`isPoolRefusal`). */
  add(raw: Uint8Array): Promise<string>;
  /** A transaction waiting or in flight, by hash. */
  get(hash: string): PooledTx | undefined;
  /** Waiting, in flight, or ordered moments ago (so a receipt is worth waiting for). */
  landing(hash: string): boolean;
  /** The sender's next nonce, counting its transactions in the pool. */
  pendingNonce(address: string): Promise<bigint>;
  /** By sender: pending transactions (ready or being ordered) and queued ones (behind a nonce gap). */
  content(): { readonly pending: ReadonlyMap<string, readonly PooledTx[]>; readonly queued: ReadonlyMap<string, readonly PooledTx[]> };
  status(): { readonly pending: number; readonly queued: number };
}

/** The code of every refusal of the pool (`client/txpool-limits.ts`'s `PoolErrorCode`). */
export type PoolRefusalCode = `TXPOOL_${string}`;

/**
 * Whether `err` is the pool refusing a transaction (`client/txpool-limits.ts`'s `PoolError`): a
 * `BulwarkError` coded `TXPOOL_…`, whose message is go-ethereum's wording, which JSON-RPC returns.
 */
export function isPoolRefusal(err: unknown): err is BulwarkError<PoolRefusalCode> {
  return isBulwarkError(err) && err.code.startsWith('TXPOOL_');
}

/** One round of asking every replica where it stands: by replica id, null for one that did not answer in time. */
export interface StatusRound {
  readonly replicas: readonly (NodeStatus | null)[];
}

/** Asks every replica where it stands (`bft_status`). */
export interface NodeStatusPort {
  /** Resolves when all answered or after `timeoutMs`. */
  query(timeoutMs?: number): Promise<StatusRound>;
}
