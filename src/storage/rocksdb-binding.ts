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

export type RocksBatchOp =
  | { readonly type: 'put'; readonly key: Buffer; readonly value: Buffer }
  | { readonly type: 'del'; readonly key: Buffer };

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

export interface RocksLevel {
  readonly status: 'opening' | 'open' | 'closing' | 'closed';
  open(options: RocksOpenOptions): Promise<void>;
  close(): Promise<void>;
  /** Backed by RocksDB's MultiGet; a missing key yields undefined. */
  getMany(keys: Buffer[], options: RocksEncoding): Promise<(Buffer | undefined)[]>;
  /** One rocksdb::WriteBatch; `sync` fsyncs the WAL before resolving. */
  batch(ops: RocksBatchOp[], options: RocksEncoding & { readonly sync: boolean }): Promise<void>;
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
