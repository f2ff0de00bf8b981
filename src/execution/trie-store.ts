/**
 * The bridge between ethereumjs' Merkle-Patricia trie and our `KvStore`.
 *
 * The trie writes node by node; RocksDB is fastest, and a block is only crash-safe, when a whole
 * block's writes land in one atomic batch. So every write made while executing a block goes to an
 * in-memory overlay, and `drain()` turns the overlay into batch operations that the executor commits
 * together with the block, receipts and head pointer. Reads go overlay → shared node cache → disk.
 *
 * The trie itself never deletes: nodes are content-addressed and shared between tries and blocks, so
 * a node one trie drops may be another's. Old states are removed only by the pruner's mark and sweep
 * (`prune.ts`), which sees every key written here (`writeObserver`) so it never deletes one that a
 * block has just written again.
 */
import { bytesToUnprefixedHex, type BatchDBOp, type DB } from '@ethereumjs/util';
import { keccak256 } from '../crypto/hash.ts';
import type { NodeIo } from './bulk-trie.ts';
import type { BatchOp, KvStore } from '../storage/kvstore.ts';
import { BulwarkError } from '../common/errors.ts';

/**
 * What one cached node costs the process, estimated from its encoded size. Measured in a heap
 * snapshot of a replica after minutes of mixed load (213,000 cached nodes): besides the bytes
 * themselves, each entry holds a 64-character hex key, a map entry, the byte array's own objects and
 * (bulk-trie.ts) the node decoded beside it, a list of child references with their own byte arrays:
 * about 1.9 KB for a node of about 400 bytes.
 */
export function nodeCost(key: string, value: Uint8Array): number {
  return 3 * value.byteLength + key.length + 400;
}

/** The default budget of the shared trie-node cache: enough for the hot upper levels of every trie. */
export const NODE_CACHE_BYTES = 96 * 1024 * 1024;

/**
 * A map bounded by the memory its entries cost (`nodeCost`), keeping the recently used: two
 * generations of at most half the budget each. Entries go into the recent one; a read of an older
 * entry moves it there; when the recent generation is full it becomes the older one and the older
 * one is dropped whole. So the cache holds between half and all of its budget, every operation is a
 * few map operations, and nothing is ever iterated.
 *
 * It was a single map kept in exact least-recently-used order (a read moved the entry to the back,
 * each insertion past the budget evicted the front entry through a fresh iterator). Once full, every
 * insertion walked over the holes that V8's ordered hash table keeps for deleted entries until it
 * rehashes: 25 µs an insertion instead of 3 (`scratch`-measured with 60,000 entries), ~8 % of the
 * executor's time on ERC-20 transfers (CPU profile of `bench:exec`), on every replica once its cache
 * had filled. A bound by count let the cache of a busy replica grow to 400 MB of heap, as each entry
 * costs several times its encoded size.
 */
export class NodeCache {
  #recent = new Map<string, Uint8Array>();
  #recentBytes = 0;
  #older = new Map<string, Uint8Array>();
  #olderBytes = 0;
  readonly #generationBytes: number;

  constructor(maxBytes: number = NODE_CACHE_BYTES) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`node cache budget must be a whole number of bytes, got ${maxBytes}`);
    this.#generationBytes = Math.floor(maxBytes / 2);
  }

  get(key: string): Uint8Array | undefined {
    const recent = this.#recent.get(key);
    if (recent !== undefined) return recent;
    const older = this.#older.get(key);
    if (older !== undefined) {
      this.#older.delete(key);
      this.#olderBytes -= nodeCost(key, older);
      this.#insert(key, older);
    }
    return older;
  }

  /** A value dearer than half the budget is not kept (a trie node is at most ~600 bytes). */
  set(key: string, value: Uint8Array): void {
    const recent = this.#recent.get(key);
    if (recent !== undefined) {
      this.#recent.delete(key);
      this.#recentBytes -= nodeCost(key, recent);
    }
    const older = this.#older.get(key);
    if (older !== undefined) {
      this.#older.delete(key);
      this.#olderBytes -= nodeCost(key, older);
    }
    this.#insert(key, value);
  }

  get size(): number {
    return this.#recent.size + this.#older.size;
  }

  /** The estimated memory the entries cost, in bytes (`nodeCost`). */
  get bytes(): number {
    return this.#recentBytes + this.#olderBytes;
  }

  #insert(key: string, value: Uint8Array): void {
    const cost = nodeCost(key, value);
    if (cost > this.#generationBytes) return;
    if (this.#recentBytes + cost > this.#generationBytes) {
      this.#older = this.#recent;
      this.#olderBytes = this.#recentBytes;
      this.#recent = new Map();
      this.#recentBytes = 0;
    }
    this.#recent.set(key, value);
    this.#recentBytes += cost;
  }
}

export interface TrieStoreOptions {
  readonly kv: KvStore;
  /** The one-byte key prefix of trie nodes and code in the node's table of prefixes. */
  readonly prefix: number;
  readonly cache: NodeCache;
}

export class TrieNodeStore implements DB<string, Uint8Array> {
  private overlay = new Map<string, Uint8Array>();
  /**
   * Told the disk key of every entry `drain` hands over, before its batch is written: the state
   * pruner adds them to its mark set while it runs.
   */
  writeObserver: ((diskKey: Uint8Array) => void) | null = null;

  constructor(private readonly opts: TrieStoreOptions) {}

  async get(key: string): Promise<Uint8Array | undefined> {
    const pending = this.overlay.get(key);
    if (pending !== undefined) return pending;
    const cached = this.opts.cache.get(key);
    if (cached !== undefined) return cached;
    const value = await this.opts.kv.get(this.diskKey(key));
    if (value !== undefined) this.opts.cache.set(key, value);
    return value;
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    this.overlay.set(key, value);
  }

  async del(_key: string): Promise<void> {
    // Archive semantics: nodes are content-addressed and may be shared by older roots.
  }

  async batch(ops: BatchDBOp<string, Uint8Array>[]): Promise<void> {
    for (const op of ops) {
      if (op.type === 'put') this.overlay.set(op.key, op.value);
    }
  }

  /**
   * ethereumjs gives each storage trie a `shallowCopy()` of the account trie's database and expects
   * the copy to share everything, so this is the same store, overlay included.
   */
  shallowCopy(): TrieNodeStore {
    return this;
  }

  /**
   * This store as the batch trie updater and the direct walker see it (`bulk-trie.ts`): nodes by
   * their hash, written to the overlay (under every checkpoint: nodes are content-addressed, so one
   * left behind by a reverted checkpoint is unreferenced, never wrong).
   */
  nodeIo(): NodeIo {
    return {
      get: (hash) => this.get(bytesToUnprefixedHex(hash)),
      put: (hash, encoded) => void this.overlay.set(bytesToUnprefixedHex(hash), encoded),
      keccak: keccak256,
    };
  }

  /** A view over the same disk and cache with an overlay of its own, for reads and simulations. */
  readView(): TrieNodeStore {
    return new TrieNodeStore(this.opts);
  }

  async open(): Promise<void> {}

  get cacheUsage(): { readonly entries: number; readonly bytes: number } {
    return { entries: this.opts.cache.size, bytes: this.opts.cache.bytes };
  }

  get pendingCount(): number {
    return this.overlay.size;
  }

  /** Hands the overlay over as batch operations and starts a fresh one. */
  drain(): BatchOp[] {
    const ops: BatchOp[] = [];
    const observe = this.writeObserver;
    for (const [key, value] of this.overlay) {
      const diskKey = this.diskKey(key);
      observe?.(diskKey);
      ops.push({ type: 'put', key: diskKey, value });
    }
    return ops;
  }

  /** Called once the drained batch is durable: its nodes become cached, committed state. */
  markCommitted(): void {
    for (const [key, value] of this.overlay) this.opts.cache.set(key, value);
    this.overlay = new Map();
  }

  /** Throws away everything written since the last commit (a block that failed to build). */
  discard(): void {
    this.overlay = new Map();
  }

  private diskKey(hexKey: string): Uint8Array {
    if (hexKey.length % 2 !== 0) {
      throw new BulwarkError('TRIE_BAD_KEY', `trie key is not whole bytes: ${hexKey}`);
    }
    const key = new Uint8Array(hexKey.length / 2 + 1);
    key[0] = this.opts.prefix;
    Buffer.from(key.buffer, 1).write(hexKey, 'hex');
    return key;
  }
}
