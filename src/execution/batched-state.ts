/**
 * ethereumjs' Merkle state manager with one change: flushing the caches into the tries applies each
 * trie's changes as one batch (`bulk-trie.ts`) instead of one `put` per key. Each changed node is then
 * hashed and stored once per block rather than once per key that passes through it — fewer hashes,
 * and none of the intermediate node versions that would otherwise be written to disk.
 *
 * Everything else (caches, checkpoints, reads, proofs) is the library's own code.
 */
import { MerkleStateManager, type MerkleStateManagerOpts } from '@ethereumjs/statemanager';
import { RLP } from '@ethereumjs/rlp';
import {
  EthereumJSErrorWithoutCode,
  KECCAK256_RLP,
  bytesToUnprefixedHex,
  concatBytes,
  createAddressFromString,
  unpadBytes,
  unprefixedHexToBytes,
} from '@ethereumjs/util';
import { Account, type Address } from '@ethereumjs/util';
import { keccak256 } from '../crypto/hash.ts';
import { bytesToNibbles, lookupTrie, updateTrie, type NodeIo, type TrieOp } from './bulk-trie.ts';
import type { MerklePatriciaTrie } from '@ethereumjs/mpt';
import type { TrieNodeStore } from './trie-store.ts';
import { CODE_KEY_PREFIX, type StateChangeRecorder } from './state-changes.ts';

const PATCHED = new WeakSet<MerklePatriciaTrie>();

/**
 * What a long-lived state keeps of its caches once a block is flushed (everything in them is then
 * clean: on disk, and read back through the trie-node cache when asked again). During a block the
 * caches hold everything the block touches, which their own LRU bounds cover; across blocks, without
 * this, they kept up to 200,000 accounts, 20,000 contract codes, every slot ever touched of every
 * contract still in use (the library bounds slots by contract, not by slot), and a trie object for
 * every contract with storage: under the soak's load a replica's heap grew by ~35 MB in 10 minutes.
 */
export interface CacheRetention {
  readonly accounts: number;
  /** Storage slots, over all contracts. */
  readonly slots: number;
  readonly codes: number;
  /** Storage-trie objects (one per contract with storage): dropped all at once past this. */
  readonly storageTries: number;
}

export const CACHE_RETENTION: CacheRetention = { accounts: 20_000, slots: 20_000, codes: 256, storageTries: 1_024 };

/** An account cache entry holding the account (a copy no caller has), its RLP made when first asked for. */
class CachedAccount {
  #rlp: Uint8Array | undefined;

  constructor(readonly account: Account) {}

  get accountRLP(): Uint8Array {
    return (this.#rlp ??= this.account.serialize());
  }
}

const copyAccount = (a: Account) => new Account(a.nonce, a.balance, a.storageRoot, a.codeHash);

export class BatchedStateManager extends MerkleStateManager {
  private readonly io: NodeIo;

  /**
   * Values read from the tries, by trie root and key, when memoizing (read views): a root names
   * its content, so the entry stays right whatever is written later, and a call that is rolled
   * back and run again walks and decodes no trie node twice.
   */
  private readonly memo: Map<string, Uint8Array | null> | null;
  private readonly memoEntries: number;

  /** When set, every flush tells it what it writes (a replica sends each block's changes to client nodes). */
  recorder: StateChangeRecorder | null = null;

  constructor(
    opts: MerkleStateManagerOpts,
    store: TrieNodeStore,
    memoEntries = 0,
    private readonly retention: CacheRetention | null = null,
  ) {
    super(opts);
    this.memoEntries = memoEntries;
    this.memo = memoEntries > 0 ? new Map() : null;
    this.io = store.nodeIo();
    this.keepAccountsDecoded();
    this.useDirectReads(this._trie);
  }

  /**
   * ethereumjs' account cache keeps each account as its RLP: every `putAccount` serialized it and
   * every `getAccount` decoded it again, and a transfer's sender and recipient are put and read a
   * dozen times (prefetch, checks, runTx, the EVM, EIP-161's cleanup): `getAccount` + `putAccount`
   * were 15 % of the executor's time on transfers (`bench:exec` profile), 6.5 % since. Here the cache's `put` keeps a copy of the account itself
   * (`CachedAccount`), serialized only when its RLP is asked for: by the flush, once per block.
   * Everything else about the cache (checkpoints, reverts, the LRU, deletions) is the library's.
   */
  private keepAccountsDecoded(): void {
    const cache = this._caches?.account;
    if (cache === undefined) return;
    const put = cache.put.bind(cache);
    cache.put = (address: Address, account: Account | undefined, couldBePartialAccount = false) => {
      if (account === undefined || couldBePartialAccount) return put(address, account, couldBePartialAccount);
      const key = bytesToUnprefixedHex(address.bytes);
      cache._saveCachePreState(key);
      const elem = new CachedAccount(copyAccount(account));
      if (cache._lruCache !== undefined) cache._lruCache.set(key, elem);
      else cache._orderedMapCache!.setElement(key, elem);
    };
  }

  /** Storage tries are created lazily by the library; each gets the direct reads as well. */
  protected override _getStorageTrie(...args: Parameters<MerkleStateManager['_getStorageTrie']>): MerklePatriciaTrie {
    const trie = super._getStorageTrie(...args);
    this.useDirectReads(trie);
    return trie;
  }

  /**
   * Replaces `get` on a trie instance with a direct walk (`lookupTrie`): the same result as the
   * library's, without its task-queue walker, which cost a fifth of block execution.
   */
  private useDirectReads(trie: MerklePatriciaTrie): void {
    if (PATCHED.has(trie)) return;
    PATCHED.add(trie);
    const io = this.io;
    const memo = this.memo;
    if (memo === null) {
      trie.get = async (key: Uint8Array) => lookupTrie(io, trie.root(), KECCAK256_RLP, bytesToNibbles(keccak256(key)));
      return;
    }
    trie.get = async (key: Uint8Array) => {
      const root = trie.root();
      const id = bytesToUnprefixedHex(root) + bytesToUnprefixedHex(key);
      const known = memo.get(id);
      if (known !== undefined) return known;
      const value = await lookupTrie(io, root, KECCAK256_RLP, bytesToNibbles(keccak256(key)));
      if (memo.size >= this.memoEntries) memo.clear();
      memo.set(id, value);
      return value;
    };
  }

  /** The account in the cache as an object of its own (callers change what they get), else the library's read. */
  override async getAccount(address: Address): Promise<Account | undefined> {
    const elem = this._caches?.account?.get(address);
    if (elem instanceof CachedAccount) return copyAccount(elem.account);
    return super.getAccount(address);
  }

  /**
   * The library's `putStorage` writes each slot to the cache and then, as well, straight into the
   * contract's storage trie: it chains the two with `??` on the cache's `put`, which returns
   * nothing (ethereumjs 10.1.3). Every SSTORE thus hashed and stored the whole path of a trie that
   * the block's flush updates again anyway: ~7 % of a replica's CPU on ERC-20 transfers, and every
   * intermediate node version written to disk. With a storage cache, here the slot goes to the cache
   * only, and `flushStorage` applies the block's slots in one batch.
   */
  override async putStorage(address: Address, key: Uint8Array, value: Uint8Array): Promise<void> {
    const cache = this._caches?.storage;
    if (cache === undefined) return super.putStorage(address, key, value);
    if (key.length !== 32) throw EthereumJSErrorWithoutCode('Storage key must be 32 bytes long');
    if (value.length > 32) throw EthereumJSErrorWithoutCode('Storage value cannot be longer than 32 bytes');
    if ((await this.getAccount(address)) === undefined) throw EthereumJSErrorWithoutCode('putStorage() called on non-existing account');
    cache.put(address, key, RLP.encode(unpadBytes(value)));
  }

  override async flush(): Promise<void> {
    await this.flushCode();
    await this.flushStorage();
    await this.flushAccounts();
    if (this.retention !== null && this._checkpointCount === 0) this.trimCaches(this.retention);
  }

  /** Cuts the caches, all clean after a flush, down to `retention`: least recently used first. */
  private trimCaches(r: CacheRetention): void {
    const accounts = this._caches?.account?._lruCache;
    if (accounts !== undefined) while (accounts.size > r.accounts) accounts.pop();
    const codes = this._caches?.code?._lruCache;
    if (codes !== undefined) while (codes.size > r.codes) codes.pop();
    const storage = this._caches?.storage?._lruCache;
    if (storage !== undefined) {
      let slots = 0;
      for (const slotsOf of storage.values()) slots += slotsOf.size;
      while (slots > r.slots && storage.size > 1) slots -= storage.pop()?.size ?? 0;
      // One contract alone over the bound (a token with many holders): its oldest slots go.
      if (slots > r.slots) {
        for (const slotsOf of storage.values()) {
          for (const key of slotsOf.keys()) {
            if (slotsOf.size <= r.slots) break;
            slotsOf.delete(key);
          }
        }
      }
    }
    let tries = 0;
    for (const _ in this._storageTries) if (++tries > r.storageTries) break;
    if (tries > r.storageTries) this._storageTries = {};
  }

  /** Entries held by the caches (tests; not exported as metrics yet). */
  cacheSizes(): { accounts: number; slots: number; codes: number; storageTries: number } {
    let slots = 0;
    for (const slotsOf of this._caches?.storage?._lruCache?.values() ?? []) slots += slotsOf.size;
    return {
      accounts: this._caches?.account?._lruCache?.size ?? 0,
      slots,
      codes: this._caches?.code?._lruCache?.size ?? 0,
      storageTries: Object.keys(this._storageTries).length,
    };
  }

  private async flushCode(): Promise<void> {
    for (const [addressHex, { code }] of this._caches?.code?.flush() ?? []) {
      if (code === undefined) continue;
      const address = createAddressFromString(`0x${addressHex}`);
      const codeHash = keccak256(code);
      await this._getCodeDB().put(concatBytes(CODE_KEY_PREFIX, codeHash), code);
      this.recorder?.code(code);
      if ((await this.getAccount(address)) === undefined) await this.putAccount(address, undefined);
      await this.modifyAccountFields(address, { codeHash });
    }
  }

  private async flushStorage(): Promise<void> {
    const byAccount = new Map<string, { hashedSlot: Uint8Array; value: Uint8Array | undefined }[]>();
    for (const [addressHex, keyHex, value] of this._caches?.storage?.flush() ?? []) {
      const present = value !== undefined && (RLP.decode(value) as Uint8Array).length > 0;
      const slots = byAccount.get(addressHex) ?? [];
      slots.push({ hashedSlot: keccak256(unprefixedHexToBytes(keyHex)), value: present ? value : undefined });
      byAccount.set(addressHex, slots);
    }
    for (const [addressHex, slots] of byAccount) {
      const address = createAddressFromString(`0x${addressHex}`);
      const account = await this.getAccount(address);
      if (account === undefined) continue;
      const hashedAddress = keccak256(address.bytes);
      this.recorder?.storage(hashedAddress, account.storageRoot, slots);
      const ops: TrieOp[] = slots.map((s) => ({ key: bytesToNibbles(s.hashedSlot), value: s.value }));
      account.storageRoot = await updateTrie(this.io, account.storageRoot, KECCAK256_RLP, ops);
      await this.putAccount(address, account);
      this._storageTries[bytesToUnprefixedHex(hashedAddress)]?.root(account.storageRoot);
    }
  }

  private async flushAccounts(): Promise<void> {
    const ops: TrieOp[] = [];
    for (const [addressHex, elem] of this._caches?.account?.flush() ?? []) {
      const hashedAddress = keccak256(unprefixedHexToBytes(addressHex));
      this.recorder?.account(hashedAddress, elem.accountRLP);
      ops.push({ key: bytesToNibbles(hashedAddress), value: elem.accountRLP });
    }
    this._trie.root(await updateTrie(this.io, this._trie.root(), KECCAK256_RLP, ops));
  }
}

export type { Account };
