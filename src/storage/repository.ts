import type { BatchOp, KvStore } from './kvstore.ts';
import type { Codec } from './codecs.ts';
import { concatBytes, prefixUpperBound, startsWith } from './bytes.ts';
import type { PrefixName } from './prefixes.ts';
import { prefixOf } from './prefixes.ts';
import { storageError } from './errors.ts';

export interface RangeOptions<K> {
  /** Inclusive lower bound, in key space. */
  readonly gte?: K;
  /** Exclusive upper bound, in key space. */
  readonly lt?: K;
  readonly reverse?: boolean;
  readonly limit?: number;
}

/**
 * A typed view of one bucket: a key prefix plus a key codec and a value codec (Lodestar's
 * Repository). Writes come back as BatchOps instead of being applied, so a caller puts several
 * repositories' changes into one atomic `store.write` (see WriteBatch).
 */
export class Repository<K, V> {
  readonly prefix: Uint8Array;
  readonly #store: KvStore;
  readonly #keys: Codec<K>;
  readonly #values: Codec<V>;
  readonly #end: Uint8Array | undefined;

  constructor(store: KvStore, prefix: Uint8Array, keyCodec: Codec<K>, valueCodec: Codec<V>) {
    if (prefix.length === 0) throw storageError('STORAGE_INVALID_OPTION', 'a repository needs a non-empty prefix');
    this.#store = store;
    this.prefix = prefix.slice();
    this.#keys = keyCodec;
    this.#values = valueCodec;
    this.#end = prefixUpperBound(this.prefix);
  }

  /** The full store key for `key`. */
  keyOf(key: K): Uint8Array {
    return concatBytes(this.prefix, this.#keys.encode(key));
  }

  async get(key: K): Promise<V | undefined> {
    const bytes = await this.#store.get(this.keyOf(key));
    return bytes === undefined ? undefined : this.#values.decode(bytes);
  }

  async getMany(keys: readonly K[]): Promise<(V | undefined)[]> {
    const values = await this.#store.getMany(keys.map((k) => this.keyOf(k)));
    return values.map((bytes) => (bytes === undefined ? undefined : this.#values.decode(bytes)));
  }

  async has(key: K): Promise<boolean> {
    return (await this.#store.get(this.keyOf(key))) !== undefined;
  }

  putOp(key: K, value: V): BatchOp {
    return { type: 'put', key: this.keyOf(key), value: this.#values.encode(value) };
  }

  delOp(key: K): BatchOp {
    return { type: 'del', key: this.keyOf(key) };
  }

  /** Entries of this bucket only, in key-byte order (reversed on request). */
  async *entries(range: RangeOptions<K> = {}): AsyncGenerator<[K, V]> {
    for await (const [key, value] of this.#store.iterate(this.#bounds(range))) {
      yield [this.#keys.decode(key.subarray(this.prefix.length)), this.#values.decode(value)];
    }
  }

  async *keys(range: RangeOptions<K> = {}): AsyncGenerator<K> {
    for await (const [key] of this.entries(range)) yield key;
  }

  #bounds(range: RangeOptions<K>) {
    const gte = range.gte === undefined ? this.prefix : this.keyOf(range.gte);
    // No upper bound exists for an all-0xff prefix, and none is needed: any key ≥ such a prefix
    // starts with it.
    const lt = range.lt === undefined ? this.#end : this.keyOf(range.lt);
    return {
      gte,
      ...(lt === undefined ? {} : { lt }),
      ...(range.reverse === undefined ? {} : { reverse: range.reverse }),
      ...(range.limit === undefined ? {} : { limit: range.limit }),
    };
  }

  /** True when a raw store key belongs to this repository. */
  owns(key: Uint8Array): boolean {
    return startsWith(key, this.prefix);
  }
}

/**
 * A repository over a bucket of the prefix table. `subPrefix` splits a bucket further (e.g. one
 * byte per record kind inside `meta`), keeping the table the only place top-level ids are chosen.
 */
export function createRepository<K, V>(
  store: KvStore,
  bucket: PrefixName,
  keyCodec: Codec<K>,
  valueCodec: Codec<V>,
  subPrefix: Uint8Array = new Uint8Array(0),
): Repository<K, V> {
  return new Repository(store, concatBytes(prefixOf(bucket), subPrefix), keyCodec, valueCodec);
}
