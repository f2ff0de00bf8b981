import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/storage/memory.ts';
import { Repository, createRepository } from '../../src/storage/repository.ts';
import { WriteBatch } from '../../src/storage/write-batch.ts';
import { bytesCodec, fixedBytesCodec, jsonCodec, uint64Codec, utf8Codec } from '../../src/storage/codecs.ts';
import { prefixUpperBound } from '../../src/storage/bytes.ts';
import { isBulwarkError } from '../../src/common/errors.ts';

const b = (...bytes: number[]) => Uint8Array.from(bytes);

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('prefixUpperBound', () => {
  const cases: [number[], number[] | undefined][] = [
    [[0x01], [0x02]],
    [[0x01, 0x02], [0x01, 0x03]],
    [[0x01, 0xff], [0x02]],
    [[0x01, 0xff, 0xff], [0x02]],
    [[0xfe], [0xff]],
    [[0xff], undefined],
    [[0xff, 0xff], undefined],
    [[], undefined],
  ];
  for (const [prefix, bound] of cases) {
    test(`[${prefix}] → ${bound === undefined ? 'none' : `[${bound}]`}`, () => {
      const got = prefixUpperBound(Uint8Array.from(prefix));
      assert.deepEqual(got === undefined ? undefined : Array.from(got), bound);
    });
  }
  test('does not modify its input', () => {
    const p = b(1, 0xff);
    prefixUpperBound(p);
    assert.deepEqual(p, b(1, 0xff));
  });
});

describe('Repository', () => {
  test('get / has / putOp / delOp through one atomic WriteBatch across repositories', async () => {
    const store = new MemoryStore();
    const meta = createRepository(store, 'meta', utf8Codec, jsonCodec<{ height: number }>());
    const canon = createRepository(store, 'canonicalHashByNumber', uint64Codec, fixedBytesCodec(32));
    const hash = new Uint8Array(32).fill(7);
    const batch = new WriteBatch().put(meta, 'head', { height: 5 }).put(canon, 5n, hash);
    assert.equal(batch.length, 2);
    await store.write(batch.ops);
    assert.deepEqual(await meta.get('head'), { height: 5 });
    assert.deepEqual(await canon.get(5n), hash);
    assert.equal(await canon.has(6n), false);
    assert.deepEqual(await canon.getMany([6n, 5n]), [undefined, hash]);
    await store.write(new WriteBatch().del(canon, 5n).ops);
    assert.equal(await canon.has(5n), false);
    assert.deepEqual(store.size, 1);
  });

  test('keys carry the bucket byte from the prefix table', () => {
    const repo = createRepository(new MemoryStore(), 'blockHeaderByHash', bytesCodec, bytesCodec);
    assert.deepEqual(repo.keyOf(b(0xaa)), b(0x03, 0xaa));
    const sub = createRepository(new MemoryStore(), 'meta', utf8Codec, bytesCodec, b(0x07));
    assert.deepEqual(sub.keyOf('x'), b(0x01, 0x07, 0x78));
  });

  test('a range over one prefix never yields keys of a neighbouring prefix, even at 0xff edges', async () => {
    const store = new MemoryStore();
    const prefixes = [b(0x01), b(0x01, 0xff), b(0x02), b(0xfe), b(0xff), b(0xff, 0xff)];
    const repos = prefixes.map((p) => new Repository(store, p, bytesCodec, bytesCodec));
    // Keys right at the edges: empty suffix, 0x00 and 0xff suffixes, and the next prefix's first key.
    const suffixes = [b(), b(0x00), b(0xff), b(0xff, 0xff), b(0x80, 0x01)];
    const ops = repos.flatMap((r) => suffixes.map((s) => r.putOp(s, r.prefix)));
    await store.write(ops);
    for (const repo of repos) {
      const entries = await all(repo.entries());
      const owners = (await all(store.iterate())).filter(([k]) => repo.owns(k)).length;
      assert.equal(entries.length, owners, `prefix [${repo.prefix}] sees exactly its own keys`);
      // The value records which repository wrote it; it must be a repo whose prefix extends ours.
      for (const [, value] of entries) assert.ok(repo.owns(value), `[${repo.prefix}] yielded a key of [${value}]`);
      const reversed = await all(repo.entries({ reverse: true }));
      assert.deepEqual(reversed, [...entries].reverse());
    }
  });

  test('uint64 keys: numeric order is byte order, ranges are in key space', async () => {
    const store = new MemoryStore();
    const repo = createRepository(store, 'canonicalHashByNumber', uint64Codec, utf8Codec);
    const numbers = [0n, 1n, 255n, 256n, 65535n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n];
    await store.write([...numbers].reverse().map((n) => repo.putOp(n, n.toString())));
    assert.deepEqual(await all(repo.keys()), numbers);
    assert.deepEqual(await all(repo.keys({ gte: 255n, lt: 2n ** 32n })), [255n, 256n, 65535n]);
    assert.deepEqual(await all(repo.keys({ reverse: true, limit: 2 })), [2n ** 64n - 1n, 2n ** 63n]);
    assert.deepEqual(await all(repo.entries({ gte: 2n ** 64n - 1n })), [[2n ** 64n - 1n, '18446744073709551615']]);
  });

  test('codecs reject what they cannot represent, with STORAGE_CODEC', () => {
    const codec = (e: unknown) => isBulwarkError(e, 'STORAGE_CODEC');
    assert.throws(() => uint64Codec.encode(-1n), codec);
    assert.throws(() => uint64Codec.encode(2n ** 64n), codec);
    assert.throws(() => uint64Codec.decode(b(1, 2, 3)), codec);
    assert.throws(() => utf8Codec.decode(b(0xff, 0xfe)), codec);
    assert.throws(() => jsonCodec().decode(utf8Codec.encode('{')), codec);
    assert.throws(() => jsonCodec().encode({ n: 1n }), codec);
    assert.throws(() => jsonCodec().encode(undefined), codec);
    assert.throws(() => fixedBytesCodec(32).encode(b(1)), codec);
  });

  test('uint64 decodes from a view at an offset', () => {
    const bytes = uint64Codec.encode(0x0102030405060708n);
    const framed = new Uint8Array(10);
    framed.set(bytes, 1);
    assert.equal(uint64Codec.decode(framed.subarray(1, 9)), 0x0102030405060708n);
  });

  test('an empty prefix is refused: it would span every bucket', () => {
    assert.throws(() => new Repository(new MemoryStore(), b(), bytesCodec, bytesCodec), (e) =>
      isBulwarkError(e, 'STORAGE_INVALID_OPTION'),
    );
  });
});
