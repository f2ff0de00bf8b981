/**
 * The Ethereum state on our store: ethereumjs' Merkle-Patricia state manager over a `TrieNodeStore`,
 * so `stateRoot` is the real Ethereum state root and every node is kept on disk by hash.
 */
import type { Common } from '@ethereumjs/common';
import { MerklePatriciaTrie } from '@ethereumjs/mpt';
import { Caches, CacheType, type MerkleStateManager } from '@ethereumjs/statemanager';
import { BatchedStateManager, CACHE_RETENTION, type CacheRetention } from './batched-state.ts';
import { ValueEncoding, bigIntToBytes, createAccount, createAddressFromString, setLengthLeft } from '@ethereumjs/util';
import type { GenesisAccount } from './chain-config.ts';
import type { TrieNodeStore } from './trie-store.ts';

export interface StateOptions {
  readonly common: Common;
  readonly store: TrieNodeStore;
  /** The state root to open at; the empty trie when omitted. */
  readonly root?: Uint8Array;
  /**
   * Account/storage/code caches, which the batched flush needs to see a block's changes together:
   * `long-lived` for the executor (LRU, sized from the block gas limit within a block, cut down to
   * `retain` (default `CACHE_RETENTION`) between blocks),
   * `per-run` for a state used once and dropped (no eviction, nothing preallocated). Without
   * caches every write goes straight to the trie (read views, genesis).
   */
  readonly caches?: { readonly kind: 'long-lived'; readonly blockGasLimit: bigint; readonly retain?: CacheRetention } | { readonly kind: 'per-run' };
  /** Trie reads remembered by root and key (see `BatchedStateManager`); 0, the default, for none. */
  readonly memoEntries?: number;
}

/**
 * A dirty entry evicted from an LRU cache before the block's flush would be lost. Every distinct
 * account or slot a block touches costs at least 2,000 gas (EIP-2929 cold access: 2,100 / 2,600),
 * so a cache of `gasLimit / 2,000` entries never evicts within one block.
 */
export function cacheEntriesFor(blockGasLimit: bigint): number {
  return Math.max(200_000, Number(blockGasLimit / 2_000n) + 1_000);
}

function buildCaches(opts: StateOptions['caches']): Caches | undefined {
  if (opts === undefined) return undefined;
  if (opts.kind === 'per-run') {
    return new Caches({
      account: { type: CacheType.ORDERED_MAP },
      storage: { type: CacheType.ORDERED_MAP },
      code: { type: CacheType.ORDERED_MAP },
    });
  }
  const size = cacheEntriesFor(opts.blockGasLimit);
  return new Caches({
    account: { type: CacheType.LRU, size },
    storage: { type: CacheType.LRU, size },
    // Deploying code costs at least 32,000 gas (CREATE), so this bound holds for code too.
    code: { type: CacheType.LRU, size: Math.max(20_000, Number(opts.blockGasLimit / 32_000n) + 100) },
  });
}

export function openState(opts: StateOptions): MerkleStateManager {
  const trie = new MerklePatriciaTrie({
    db: opts.store,
    useKeyHashing: true,
    valueEncoding: ValueEncoding.Bytes,
    common: opts.common,
    ...(opts.root !== undefined ? { root: opts.root } : {}),
  });
  const caches = buildCaches(opts.caches);
  const retention = opts.caches?.kind === 'long-lived' ? (opts.caches.retain ?? CACHE_RETENTION) : null;
  return new BatchedStateManager({ trie, common: opts.common, ...(caches ? { caches } : {}) }, opts.store, opts.memoEntries ?? 0, retention);
}

/** Writes genesis allocations into `state` (the caller commits to obtain the root). */
export async function writeAlloc(
  state: MerkleStateManager,
  alloc: ReadonlyMap<string, GenesisAccount>,
): Promise<void> {
  for (const [addr, a] of alloc) {
    const address = createAddressFromString(addr);
    await state.putAccount(address, createAccount({ nonce: a.nonce, balance: a.balance }));
    if (a.code.length > 0) await state.putCode(address, a.code);
    for (const [k, v] of a.storage) {
      if (v === 0n) continue;
      await state.putStorage(address, setLengthLeft(bigIntToBytes(k), 32), bigIntToBytes(v));
    }
  }
}
