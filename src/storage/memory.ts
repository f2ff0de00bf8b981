import type { BatchOp, IterateOptions, KvStore } from './kvstore.ts';
import { compareBytes } from './bytes.ts';
import { closedError } from './errors.ts';
import { validateIterateOptions, validateKey, validateOps } from './validate.ts';

interface Entry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/**
 * The in-memory store for unit tests: a sorted array with binary search. Inserts cost O(n), which
 * is fine at test sizes and keeps the code obviously correct. Entries are immutable and replaced on
 * write, so slicing the array is a consistent snapshot for iteration, as RocksDB iterators have.
 */
export class MemoryStore implements KvStore {
  readonly location = null;
  #entries: Entry[] = [];
  #closed = false;

  get size(): number {
    return this.#entries.length;
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.#assertOpen('get');
    validateKey(key);
    const i = this.#find(key);
    return i.found ? this.#entries[i.index]?.value.slice() : undefined;
  }

  async getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    this.#assertOpen('getMany');
    keys.forEach((key) => validateKey(key));
    return keys.map((key) => {
      const i = this.#find(key);
      return i.found ? this.#entries[i.index]?.value.slice() : undefined;
    });
  }

  async write(ops: readonly BatchOp[], _options?: { readonly sync?: boolean }): Promise<void> {
    this.#assertOpen('write');
    // Validate everything first, then apply without any await: nothing can observe a half batch.
    validateOps(ops);
    for (const op of ops) {
      if (op.type === 'put') this.#put(op.key.slice(), op.value.slice());
      else this.#del(op.key);
    }
  }

  iterate(options: IterateOptions = {}): AsyncIterable<[Uint8Array, Uint8Array]> {
    return this.#iterate(options);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#entries = [];
  }

  async *#iterate(options: IterateOptions): AsyncGenerator<[Uint8Array, Uint8Array]> {
    this.#assertOpen('iterate');
    const limit = validateIterateOptions(options);
    const snapshot = this.#range(options);
    if (options.reverse === true) snapshot.reverse();
    let yielded = 0;
    for (const entry of snapshot) {
      if (yielded >= limit) return;
      // A close mid-iteration ends the iteration with an error, as it does for RocksDB.
      this.#assertOpen('iterate');
      yielded++;
      yield [entry.key.slice(), entry.value.slice()];
    }
  }

  #range(options: IterateOptions): Entry[] {
    const start = options.gte === undefined ? 0 : this.#find(options.gte).index;
    const end = options.lt === undefined ? this.#entries.length : this.#find(options.lt).index;
    return start < end ? this.#entries.slice(start, end) : [];
  }

  #put(key: Uint8Array, value: Uint8Array): void {
    const i = this.#find(key);
    if (i.found) this.#entries[i.index] = { key, value };
    else this.#entries.splice(i.index, 0, { key, value });
  }

  #del(key: Uint8Array): void {
    const i = this.#find(key);
    if (i.found) this.#entries.splice(i.index, 1);
  }

  /** Binary search: the index of `key`, or of the first entry above it. */
  #find(key: Uint8Array): { index: number; found: boolean } {
    let lo = 0;
    let hi = this.#entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareBytes((this.#entries[mid] as Entry).key, key);
      if (c === 0) return { index: mid, found: true };
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return { index: lo, found: false };
  }

  #assertOpen(op: string): void {
    if (this.#closed) throw closedError(null, op);
  }
}
