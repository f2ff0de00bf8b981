/**
 * The byte store under every repository. Production uses RocksDB (`rocksdb.ts`); unit tests use the
 * in-memory store (`memory.ts`). Both honour the same contract:
 * - keys and values are opaque bytes; keys order lexicographically by unsigned byte;
 * - `write` applies a whole batch atomically (all of it or none of it, also across a crash);
 * - `get` of a missing key resolves to `undefined`, never throws.
 */
export type BatchOp =
  | { readonly type: 'put'; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: 'del'; readonly key: Uint8Array };

export interface IterateOptions {
  /** Inclusive lower bound. */
  readonly gte?: Uint8Array;
  /** Exclusive upper bound. */
  readonly lt?: Uint8Array;
  readonly reverse?: boolean;
  readonly limit?: number;
}

export interface KvStore {
  /** Where the data lives on disk, or null for an in-memory store (used in error messages). */
  readonly location: string | null;
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]>;
  /** Applies every operation atomically, in order (a later op on the same key wins). */
  write(ops: readonly BatchOp[], options?: { readonly sync?: boolean }): Promise<void>;
  iterate(options?: IterateOptions): AsyncIterable<[Uint8Array, Uint8Array]>;
  close(): Promise<void>;
  /** Native memory the store holds, in bytes, by use (RocksDB's own estimates); none for others. */
  memoryUsage?(): StoreMemory;
}

/** RocksDB's memory by use: memtables, table readers (index and filter blocks held outside the block cache), block cache. */
export interface StoreMemory {
  readonly memtables: number;
  /** Memtables already flushed but still held (by an open iterator or snapshot). */
  readonly pinnedMemtables: number;
  readonly tableReaders: number;
  readonly blockCache: number;
  readonly pinnedBlocks: number;
}
