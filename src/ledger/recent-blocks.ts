/**
 * The newest blocks a ledger stored, kept decoded with their receipts (`BlockStore.remember`): the
 * reads that follow a block at once — a wallet's wait for its receipt (`eth_getTransactionReceipt`
 * polled), `eth_getBlockByNumber` of the new head — are answered from memory, without reading the
 * store or decoding the block again. On a client node under a lone transaction, those reads queued
 * behind the local state's work on the same block: ~5 ms of the ~30 ms from send to receipt.
 *
 * Bounded by blocks and by transactions (a full block holds over a thousand); the oldest go first.
 * Only what was written goes in (the writer calls `remember` after its write), and entries are
 * never changed, so an answer from here is the one the store would give.
 */
import type { Block } from '@ethereumjs/block';
import { keccak256 } from '../crypto/index.ts';
import type { TxLocation } from './block-store.ts';
import type { TxReceipt } from './receipt.ts';

export interface RecentBlock {
  readonly block: Block;
  readonly hash: Uint8Array;
  readonly receipts: readonly TxReceipt[];
}

/** Default bounds: 64 blocks, 4,096 transactions in all. */
export const RECENT_BLOCKS = 64;
export const RECENT_TXS = 4_096;

const key = (hash: Uint8Array) => Buffer.from(hash).toString('hex');

export class RecentBlocks {
  /** By block hash, oldest first (insertion order). */
  readonly #byHash = new Map<string, RecentBlock & { readonly txKeys: readonly string[] }>();
  readonly #byNumber = new Map<bigint, Uint8Array>();
  readonly #txs = new Map<string, TxLocation>();

  constructor(
    readonly maxBlocks = RECENT_BLOCKS,
    readonly maxTxs = RECENT_TXS,
  ) {}

  /** Keeps a block just stored as canonical; `rawTxs` are its transactions' canonical bytes. */
  add(block: Block, receipts: readonly TxReceipt[], rawTxs: readonly Uint8Array[]): void {
    const hash = block.hash();
    const k = key(hash);
    if (this.#byHash.has(k)) return;
    const txHashes = rawTxs.map((raw) => keccak256(raw));
    // As `BlockStore.block` does for a block it decodes: the hashes readers ask for come from the bytes.
    block.transactions.forEach((tx, i) => {
      if (Object.isFrozen(tx)) tx.cache.hash ??= txHashes[i];
    });
    const txKeys = txHashes.map(key);
    this.#byHash.set(k, { block, hash, receipts, txKeys });
    this.#byNumber.set(block.header.number, hash);
    txKeys.forEach((t, index) => this.#txs.set(t, { blockHash: hash, index }));
    for (const [oldKey, old] of this.#byHash) {
      if (this.#byHash.size === 1 || (this.#byHash.size <= this.maxBlocks && this.#txs.size <= this.maxTxs)) break;
      this.#byHash.delete(oldKey);
      if (this.#byNumber.get(old.block.header.number) === old.hash) this.#byNumber.delete(old.block.header.number);
      for (const t of old.txKeys) if (this.#txs.get(t)?.blockHash === old.hash) this.#txs.delete(t);
    }
  }

  block(hash: Uint8Array): RecentBlock | undefined {
    return this.#byHash.get(key(hash));
  }

  canonicalHash(number: bigint): Uint8Array | undefined {
    return this.#byNumber.get(number);
  }

  txLocation(txHash: Uint8Array): TxLocation | undefined {
    return this.#txs.get(key(txHash));
  }

  get size(): { blocks: number; txs: number } {
    return { blocks: this.#byHash.size, txs: this.#txs.size };
  }
}
