import { createRequire } from 'node:module';

/**
 * The slice of @nxtedition/rocksdb (an abstract-level v1 store) that Bulwark uses. The package
 * ships no type declarations, so this narrow interface is the one place its shape is written
 * down; everything else in storage/ codes against it rather than against `any`.
 */
export interface RocksOpenOptions {
  readonly createIfMissing: boolean;
  readonly cacheSize?: number;
  /** zstd with a trained dictionary when true (the binding's default). */
  readonly compression?: boolean;
}

export interface RocksEncoding {
  readonly keyEncoding: 'buffer';
  readonly valueEncoding: 'buffer';
}

export interface RocksIteratorOptions extends RocksEncoding {
  readonly gte?: Buffer;
  readonly lt?: Buffer;
  readonly reverse: boolean;
  /** -1 means no limit. */
  readonly limit: number;
}

export interface RocksIterator {
  nextv(size: number): Promise<[Buffer, Buffer][]>;
  close(): Promise<void>;
}

/** abstract-level's chained batch: one rocksdb::WriteBatch, freed once written (or closed) and collected. */
export interface RocksChainedBatch {
  /**
   * The binding's own operations, below abstract-level's `put`/`del`: those check and encode each
   * key and value again and copy every operation into a JS array kept until the batch is written
   * (for a 'batch' event nobody listens to), ~40 % of the cost of filling a batch of trie nodes
   * (CPU profile of `bench:exec`). Bulwark checks its keys and values before (`validateOps`) and
   * passes Buffers only. `options.column` is the only option the binding reads.
   */
  _put(key: Buffer, value: Buffer, options: object): void;
  _del(key: Buffer, options: object): void;
  /** `sync` fsyncs the WAL before resolving; the batch is closed afterwards, whatever the outcome. */
  write(options: { readonly sync: boolean }): Promise<void>;
  close(): Promise<void>;
}

export interface RocksLevel {
  readonly status: 'opening' | 'open' | 'closing' | 'closed';
  open(options: RocksOpenOptions): Promise<void>;
  close(): Promise<void>;
  /** Backed by RocksDB's MultiGet; a missing key yields undefined. */
  getMany(keys: Buffer[], options: RocksEncoding): Promise<(Buffer | undefined)[]>;
  /**
   * A chained batch. Never the array form `batch(ops)`: in this binding (12.2.12) it builds a
   * chained batch and writes it without closing it, so the batch stays attached to the database
   * (abstract-level's resources) until close, with its native WriteBatch: a replica kept every
   * block's write, ~0.5 MB/s of native memory under load.
   */
  batch(): RocksChainedBatch;
  iterator(options: RocksIteratorOptions): RocksIterator;
  getProperty(name: string): string;
}

interface RocksModule {
  readonly RocksLevel: new (location: string) => RocksLevel;
}

const require = createRequire(import.meta.url);

export function newRocksLevel(location: string): RocksLevel {
  const mod = require('@nxtedition/rocksdb') as RocksModule;
  return new mod.RocksLevel(location);
}
