import { resolve } from 'node:path';
import type { BatchOp, IterateOptions, KvStore, StoreMemory } from './kvstore.ts';
import { closedError, storageError } from './errors.ts';
import type { RocksIteratorOptions, RocksLevel } from './rocksdb-binding.ts';
import { newRocksLevel } from './rocksdb-binding.ts';
import { classifyOpenError, classifyRuntimeError, preflight } from './rocksdb-errors.ts';
import { validateIterateOptions, validateKey, validateOps } from './validate.ts';

export interface RocksStoreOptions {
  /** Create an empty database when none exists at the path. Default true. */
  readonly createIfMissing?: boolean;
  /** Block cache in bytes (0 disables it). Default: the binding's 8 MiB. The binding reads a uint32. */
  readonly cacheSize?: number;
}

const ENCODING = { keyEncoding: 'buffer', valueEncoding: 'buffer' } as const;
/** A batch operation's options: none (the default column family). */
const NO_OPTIONS = Object.freeze({});
/** Rows fetched per native call while iterating: large enough to amortise the crossing. */
const ITERATE_CHUNK = 1000;
const MAX_CACHE_SIZE = 0xffff_ffff;

/** Opens (or creates) the RocksDB database at `path`; errors are typed and name the path. */
export async function openRocksStore(path: string, options: RocksStoreOptions = {}): Promise<KvStore> {
  const location = resolve(path);
  const createIfMissing = options.createIfMissing ?? true;
  checkCacheSize(options.cacheSize);
  await preflight(location, createIfMissing);
  const db = newRocksLevel(location);
  try {
    // No compression: most of what is stored is trie nodes, which are hashes and do not compress,
    // and the binding's zstd dictionary training buffers a whole file's blocks at each flush (a
    // replica's native heap grew ~50 MB a flush and never gave it back).
    await db.open({ createIfMissing, compression: false, ...(options.cacheSize === undefined ? {} : { cacheSize: options.cacheSize }) });
  } catch (err) {
    throw classifyOpenError(location, err);
  }
  return new RocksStore(location, db);
}

function checkCacheSize(cacheSize: number | undefined): void {
  if (cacheSize === undefined) return;
  if (!Number.isSafeInteger(cacheSize) || cacheSize < 0 || cacheSize > MAX_CACHE_SIZE) {
    throw storageError('STORAGE_INVALID_OPTION', `cacheSize must be an integer in 0..${MAX_CACHE_SIZE}, got ${cacheSize}`);
  }
}

class RocksStore implements KvStore {
  readonly location: string;
  readonly #db: RocksLevel;
  #closing: Promise<void> | null = null;

  constructor(location: string, db: RocksLevel) {
    this.location = location;
    this.#db = db;
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.#assertOpen('get');
    const [value] = await this.getMany([key]);
    return value;
  }

  async getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    this.#assertOpen('getMany');
    keys.forEach((key) => validateKey(key));
    try {
      const values = await this.#db.getMany(keys.map(toBuffer), ENCODING);
      return values.map((v) => (v === undefined ? undefined : toView(v)));
    } catch (err) {
      throw classifyRuntimeError(this.location, 'getMany', err);
    }
  }

  async write(ops: readonly BatchOp[], options: { readonly sync?: boolean } = {}): Promise<void> {
    this.#assertOpen('write');
    validateOps(ops);
    if (ops.length === 0) return;
    const batch = this.#db.batch();
    try {
      for (const op of ops) {
        if (op.type === 'put') batch._put(toBuffer(op.key), toBuffer(op.value), NO_OPTIONS);
        else batch._del(toBuffer(op.key), NO_OPTIONS);
      }
    } catch (err) {
      await batch.close().catch(() => undefined);
      throw classifyRuntimeError(this.location, 'write', err);
    }
    try {
      await batch.write({ sync: options.sync === true });
    } catch (err) {
      throw classifyRuntimeError(this.location, 'write', err);
    }
  }

  iterate(options: IterateOptions = {}): AsyncIterable<[Uint8Array, Uint8Array]> {
    return this.#iterate(options);
  }

  /** Idempotent; waits for in-flight reads, and ends open iterations with STORAGE_CLOSED. */
  close(): Promise<void> {
    this.#closing ??= this.#db.close().catch((err: unknown) => {
      throw classifyRuntimeError(this.location, 'close', err);
    });
    return this.#closing;
  }

  async *#iterate(options: IterateOptions): AsyncGenerator<[Uint8Array, Uint8Array]> {
    this.#assertOpen('iterate');
    const limit = validateIterateOptions(options);
    if (limit === 0) return;
    // Created on the first next(), so the iteration sees the store as of that moment (RocksDB
    // iterators hold an implicit snapshot), the same point the memory store snapshots at.
    const it = this.#db.iterator(iteratorOptions(options, limit));
    try {
      for (;;) {
        const rows = await it.nextv(Math.min(limit, ITERATE_CHUNK)).catch((err: unknown) => {
          throw classifyRuntimeError(this.location, 'iterate', err);
        });
        if (rows.length === 0) return;
        for (const [key, value] of rows) yield [toView(key), toView(value)];
      }
    } finally {
      // An iterator left open would hold its snapshot and delay close(); errors here are moot.
      await it.close().catch(() => undefined);
    }
  }

  memoryUsage(): StoreMemory {
    const property = (name: string) => {
      if (this.#closing !== null) return 0;
      const v = Number(this.#db.getProperty(name));
      return Number.isFinite(v) ? v : 0;
    };
    return {
      memtables: property('rocksdb.cur-size-all-mem-tables'),
      pinnedMemtables: Math.max(0, property('rocksdb.size-all-mem-tables') - property('rocksdb.cur-size-all-mem-tables')),
      tableReaders: property('rocksdb.estimate-table-readers-mem'),
      blockCache: property('rocksdb.block-cache-usage'),
      pinnedBlocks: property('rocksdb.block-cache-pinned-usage'),
    };
  }

  #assertOpen(op: string): void {
    if (this.#closing !== null) throw closedError(this.location, op);
  }
}

function iteratorOptions(options: IterateOptions, limit: number): RocksIteratorOptions {
  return {
    ...ENCODING,
    ...(options.gte === undefined ? {} : { gte: toBuffer(options.gte) }),
    ...(options.lt === undefined ? {} : { lt: toBuffer(options.lt) }),
    reverse: options.reverse === true,
    limit: limit === Infinity ? -1 : limit,
  };
}

/** Zero-copy: the binding only reads the bytes during the call. */
function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The contract hands out plain Uint8Arrays (Buffer's subclass compares unequal under strict
 * deep-equality, and its methods would tempt callers into Buffer-only code). Each value comes from
 * memory the binding allocated for this call, so callers mutating it cannot reach stored bytes.
 */
function toView(buf: Buffer): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
