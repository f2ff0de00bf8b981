/**
 * Online state pruning: mark and sweep over the content-addressed state trie (prefix `stateTrie`:
 * node hash → RLP node, "c" ‖ code hash → code), as go-ethereum's state pruner does, while blocks
 * keep executing.
 *
 * 1. Every key a block writes from now on is added to the mark set (`Executor.observeTrieWrites`),
 *    before the block's batch is written.
 * 2. `state-from` is recorded: from here on, reads below it are refused (`STATE_PRUNED`).
 * 3. Mark: every node reachable from the retained roots — the states of blocks `from`..head — and
 *    the code of every account in them goes into a Bloom filter of fixed size (`storage/bloom.ts`).
 *    Its false positives only keep garbage; it never forgets a key, so no live node is deleted.
 * 4. Sweep: the prefix is scanned in chunks, and keys not in the filter are deleted.
 *
 * Why this is safe while blocks execute. A node a block reads is reachable from the head's root.
 * The head at step 3 is marked; every later head's trie consists of nodes the block wrote (marked
 * at step 1) and of subtrees of the parent's trie it left untouched (marked, by induction). The one
 * danger is a block writing, during the sweep, a node with the same hash as an old unmarked one
 * the sweep has already decided to delete: so a sweep chunk — decide and delete — runs under the
 * same lock as a block's execution (`SerialLock`), never between a block's writing a node into its
 * overlay and its batch reaching the disk. If the block's write comes first, the chunk sees the
 * key marked; if the chunk comes first, the block writes the node again after it.
 *
 * Memory is bounded: the filter's size is fixed, and the exact set that lets the mark skip
 * subtrees an earlier root already marked (consecutive states share nearly all their nodes) is an
 * LRU of fixed size — an entry that fell out only costs walking that subtree again. The skip set is
 * exact (never the filter, whose false positives would skip live subtrees unmarked).
 */
import { RLP } from '@ethereumjs/rlp';
import { KECCAK256_NULL, KECCAK256_RLP } from '@ethereumjs/util';
import { equalBytes, toHex } from '../common/bytes.ts';
import { BulwarkError } from '../common/errors.ts';
import { RecentMap } from '../common/recent-map.ts';
import { BloomFilter } from '../storage/bloom.ts';
import type { BatchOp, KvStore } from '../storage/kvstore.ts';
import { PREFIX } from '../storage/prefixes.ts';
import type { Executor } from './executor.ts';

/** The default memory of the mark set: about 28 million keys at a 1% false-positive rate. */
export const PRUNE_BLOOM_BYTES = 32 * 1024 * 1024;
/** Keys examined per sweep chunk: a few milliseconds under the execution lock. */
export const PRUNE_CHUNK_KEYS = 2_048;
/** Finished subtrees remembered for skipping (about 150 bytes each). */
export const PRUNE_SKIP_ENTRIES = 100_000;

const CODE_TAG = 0x63; // "c", ethereumjs' CODEHASH_PREFIX

/**
 * Runs async functions one at a time, in the order they ask: the block execution and the sweep's
 * chunks share one, so a chunk never runs inside a block.
 */
export class SerialLock {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

export interface PrunerOptions {
  /** The executor's store. */
  readonly kv: KvStore;
  readonly executor: Executor;
  /** The lock block execution runs under. */
  readonly lock: SerialLock;
  readonly bloomBytes?: number;
  readonly chunkKeys?: number;
  readonly skipEntries?: number;
  /** Awaited between the mark and the sweep (tests: a block written in between). */
  readonly onMarked?: () => Promise<void>;
}

export interface PruneReport {
  /** The oldest block whose state is kept. */
  readonly from: bigint;
  /** The head when marking began. */
  readonly head: bigint;
  readonly roots: number;
  /** Nodes and codes read while marking (a node shared by several roots once, if remembered). */
  readonly marked: number;
  readonly scanned: number;
  readonly deletedNodes: number;
  readonly deletedCodes: number;
  /** Keys and values deleted, in bytes. */
  readonly bytes: number;
  readonly markSeconds: number;
  readonly seconds: number;
  readonly bloomBytes: number;
  /** The filter's expected false-positive rate at the end: the share of garbage kept. */
  readonly falsePositiveRate: number;
}

export class StatePruner {
  readonly #o: PrunerOptions;
  #running = false;
  #stopping = false;
  /** Keys the last sweep saw: the next filter is sized from it. */
  #lastScanned: number | null = null;

  constructor(o: PrunerOptions) {
    this.#o = o;
  }

  get running(): boolean {
    return this.#running;
  }

  /**
   * Ends a prune in progress at its next chunk or few hundred nodes (`PRUNE_STOPPED`), and refuses
   * new ones: for shutdown. What it deleted stays deleted; the rest is the next prune's.
   */
  stop(): void {
    this.#stopping = true;
  }

  /** Deletes every state not needed by blocks `from`..head (`from` is capped at the head). */
  async prune(from: bigint): Promise<PruneReport> {
    if (this.#running) throw new BulwarkError('PRUNE_BUSY', 'a prune is already running');
    this.#checkStopping();
    this.#running = true;
    const { executor } = this.#o;
    const bloom = new BloomFilter(this.#bloomBits());
    const started = performance.now();
    // Registered before the roots are chosen: whatever a block writes from now on is kept.
    executor.observeTrieWrites((key) => bloom.add(key.subarray(1)));
    try {
      const head = executor.head.header.number;
      const floor = from > head ? head : from;
      await executor.setStateFrom(floor);
      const mark = new Marker(this.#o.kv, bloom, this.#o.skipEntries ?? PRUNE_SKIP_ENTRIES, () => this.#checkStopping());
      let roots = 0;
      let last: Uint8Array | undefined;
      // Newest first: each older root shares most of its nodes with the one marked before it.
      for (let n = head; n >= executor.stateFrom; n--) {
        const header = await executor.blocks.headerByNumber(n);
        if (header === undefined) throw new BulwarkError('PRUNE_NO_BLOCK', `block ${n} is missing below the head ${head}`);
        if (last !== undefined && equalBytes(last, header.stateRoot)) continue;
        last = header.stateRoot;
        await mark.root(header.stateRoot);
        roots++;
      }
      const markSeconds = (performance.now() - started) / 1000;
      await this.#o.onMarked?.();
      const swept = await this.#sweep(bloom);
      this.#lastScanned = swept.scanned;
      return {
        from: executor.stateFrom,
        head,
        roots,
        marked: mark.marked,
        ...swept,
        markSeconds,
        seconds: (performance.now() - started) / 1000,
        bloomBytes: bloom.bytes,
        falsePositiveRate: bloom.falsePositiveRate,
      };
    } finally {
      executor.observeTrieWrites(null);
      this.#running = false;
    }
  }

  async #sweep(bloom: BloomFilter): Promise<{ scanned: number; deletedNodes: number; deletedCodes: number; bytes: number }> {
    const end = Uint8Array.of(PREFIX.stateTrie + 1);
    const limit = this.#o.chunkKeys ?? PRUNE_CHUNK_KEYS;
    let cursor: Uint8Array | null = Uint8Array.of(PREFIX.stateTrie);
    const total = { scanned: 0, deletedNodes: 0, deletedCodes: 0, bytes: 0 };
    while (cursor !== null) {
      const gte: Uint8Array = cursor;
      // Deciding and deleting under the execution lock: see the module comment.
      cursor = await this.#o.lock.run(async () => {
        const dels: BatchOp[] = [];
        let lastKey: Uint8Array | null = null;
        let seen = 0;
        for await (const [key, value] of this.#o.kv.iterate({ gte, lt: end, limit })) {
          seen++;
          lastKey = key;
          if (bloom.has(key.subarray(1))) continue;
          dels.push({ type: 'del', key });
          if (key[1] === CODE_TAG && key.length === 34) total.deletedCodes++;
          else total.deletedNodes++;
          total.bytes += key.length + value.length;
        }
        total.scanned += seen;
        // Not synced: a crash that loses deletions only leaves garbage for the next prune.
        if (dels.length > 0) await this.#o.kv.write(dels);
        return seen < limit || lastKey === null ? null : successor(lastKey);
      });
      await nextTurn();
      this.#checkStopping();
    }
    return total;
  }

  /**
   * The filter's size: the cap (`bloomBytes`) for a first prune, which cannot know the state's
   * size; then about 10 bits a key (1 % false positives) for half again the keys the last sweep
   * saw, at least 1 MiB. A state that grew faster only keeps more garbage.
   */
  #bloomBits(): number {
    const cap = (this.#o.bloomBytes ?? PRUNE_BLOOM_BYTES) * 8;
    if (this.#lastScanned === null) return cap;
    return Math.min(cap, Math.max(8 * 1024 * 1024, Math.ceil(this.#lastScanned * 1.5 * 10)));
  }

  #checkStopping(): void {
    if (this.#stopping) throw new BulwarkError('PRUNE_STOPPED', 'the prune was stopped (shutdown)');
  }
}

/** Walks tries from their roots, adding every node and code key to the filter. */
class Marker {
  marked = 0;
  /** Subtrees whose marking finished, by kind and hash: another root reaching one skips it. */
  readonly #done: RecentMap<string, true>;

  constructor(
    private readonly kv: KvStore,
    private readonly bloom: BloomFilter,
    skipEntries: number,
    private readonly checkStopping: () => void,
  ) {
    this.#done = new RecentMap(skipEntries);
  }

  async root(stateRoot: Uint8Array): Promise<void> {
    if (!equalBytes(stateRoot, KECCAK256_RLP)) await this.#node(stateRoot, true);
  }

  async #node(hash: Uint8Array, account: boolean): Promise<void> {
    const id = (account ? 'a' : 's') + toHex(hash);
    if (this.#done.get(id) !== undefined) return; // and it counts as a use
    const encoded = await this.kv.get(Uint8Array.of(PREFIX.stateTrie, ...hash));
    if (encoded === undefined) {
      throw new BulwarkError('PRUNE_MISSING_NODE', `trie node ${toHex(hash)} of a retained state is missing: nothing is deleted`);
    }
    this.bloom.add(hash);
    if (++this.marked % 512 === 0) {
      await nextTurn();
      this.checkStopping();
    }
    await this.#decoded(RLP.decode(encoded) as unknown[], account);
    // Only now is the whole subtree marked, so only now may a later root skip it.
    this.#done.set(id, true);
  }

  async #decoded(node: unknown[], account: boolean): Promise<void> {
    if (node.length === 17) {
      for (let i = 0; i < 16; i++) await this.#child(node[i], account);
      const value = node[16];
      if (account && value instanceof Uint8Array && value.length > 0) await this.#account(value);
    } else if (node.length === 2 && node[0] instanceof Uint8Array) {
      // Hex-prefix flag (Yellow Paper, Appendix C): 2 or 3 in the first nibble is a leaf.
      const leaf = (node[0][0] ?? 0) >> 4 >= 2;
      if (!leaf) await this.#child(node[1], account);
      else if (account) await this.#account(node[1] as Uint8Array);
    } else {
      throw new BulwarkError('PRUNE_BAD_NODE', 'a trie node is neither a branch, an extension nor a leaf: nothing is deleted');
    }
  }

  /** A child reference: a hash, an embedded node (under 32 bytes encoded), or empty. */
  async #child(ref: unknown, account: boolean): Promise<void> {
    if (Array.isArray(ref)) await this.#decoded(ref, account);
    else if (ref instanceof Uint8Array && ref.length === 32) await this.#node(ref, account);
  }

  /** An account leaf `[nonce, balance, storageRoot, codeHash]`: its storage trie and its code. */
  async #account(value: Uint8Array): Promise<void> {
    const [, , storageRoot, codeHash] = RLP.decode(value) as Uint8Array[];
    if (storageRoot !== undefined && storageRoot.length === 32 && !equalBytes(storageRoot, KECCAK256_RLP)) await this.#node(storageRoot, false);
    if (codeHash !== undefined && codeHash.length === 32 && !equalBytes(codeHash, KECCAK256_NULL)) {
      const key = new Uint8Array(33);
      key[0] = CODE_TAG;
      key.set(codeHash, 1);
      this.bloom.add(key);
    }
  }
}

/** The smallest key after `key`. */
function successor(key: Uint8Array): Uint8Array {
  const next = new Uint8Array(key.length + 1);
  next.set(key);
  return next;
}

/** A turn of the event loop for everything else (consensus, reads). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
