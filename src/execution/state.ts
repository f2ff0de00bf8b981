/**
 * The Ethereum state on our store: ethereumjs' Merkle-Patricia state manager over a `TrieNodeStore`,
 * so `stateRoot` is the real Ethereum state root and every node is kept on disk by hash.
 */
import type { Common } from '@ethereumjs/common';
import { MerklePatriciaTrie } from '@ethereumjs/mpt';
import { Caches, CacheType, type MerkleStateManager } from '@ethereumjs/statemanager';
import { BatchedStateManager } from './batched-state.ts';
import { ValueEncoding, bigIntToBytes, createAccount, createAddressFromString, setLengthLeft } from '@ethereumjs/util';
import type { GenesisAccount } from './chain-config.ts';
import type { TrieNodeStore } from './trie-store.ts';

export interface StateOptions {
  readonly common: Common;
  readonly store: TrieNodeStore;
  /** The state root to open at; the empty trie when omitted. */
  readonly root?: Uint8Array;
  /** Keep account/storage/code caches across blocks (the long-lived executor state). */
  readonly caches?: boolean;
}

export function openState(opts: StateOptions): MerkleStateManager {
  const trie = new MerklePatriciaTrie({
    db: opts.store,
    useKeyHashing: true,
    valueEncoding: ValueEncoding.Bytes,
    common: opts.common,
    ...(opts.root !== undefined ? { root: opts.root } : {}),
  });
  const caches =
    opts.caches === true
      ? new Caches({
          account: { type: CacheType.LRU, size: 200_000 },
          storage: { type: CacheType.LRU, size: 200_000 },
          code: { type: CacheType.LRU, size: 20_000 },
        })
      : undefined;
  return new BatchedStateManager({ trie, common: opts.common, ...(caches ? { caches } : {}) }, opts.store);
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
