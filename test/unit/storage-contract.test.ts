// The KvStore contract, run against both stores: whatever passes here on MemoryStore must hold
// on RocksDB too, or unit tests on the memory store prove nothing about production.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BatchOp, KvStore } from '../../src/storage/kvstore.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { openRocksStore } from '../../src/storage/rocksdb.ts';
import { isBulwarkError } from '../../src/common/errors.ts';

const root = mkdtempSync(join(tmpdir(), 'bulwark-storage-contract-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dbCount = 0;

const factories: Record<string, () => Promise<KvStore>> = {
  memory: async () => new MemoryStore(),
  rocksdb: () => openRocksStore(join(root, `db${dbCount++}`)),
};

const b = (...bytes: number[]) => Uint8Array.from(bytes);
const put = (key: Uint8Array, value: Uint8Array): BatchOp => ({ type: 'put', key, value });
const del = (key: Uint8Array): BatchOp => ({ type: 'del', key });

async function collect(it: AsyncIterable<[Uint8Array, Uint8Array]>): Promise<[Uint8Array, Uint8Array][]> {
  const out: [Uint8Array, Uint8Array][] = [];
  for await (const entry of it) out.push(entry);
  return out;
}
const keysOf = (entries: [Uint8Array, Uint8Array][]) => entries.map(([k]) => Array.from(k));

/** Keys chosen so signed-byte or length-first ordering would get them wrong. */
const ORDERED_KEYS = [b(), b(0x00), b(0x00, 0x00), b(0x01), b(0x01, 0xff), b(0x02), b(0x7f), b(0x80), b(0xff), b(0xff, 0x00)];

async function withStore(make: () => Promise<KvStore>, fn: (s: KvStore) => Promise<void>): Promise<void> {
  const store = await make();
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

for (const [name, make] of Object.entries(factories)) {
  describe(`KvStore contract: ${name}`, () => {
    test('get/put/del round-trip; missing keys resolve to undefined', () =>
      withStore(make, async (s) => {
        assert.equal(await s.get(b(1)), undefined);
        await s.write([put(b(1), b(10)), put(b(2), b())]);
        assert.deepEqual(await s.get(b(1)), b(10));
        assert.deepEqual(await s.get(b(2)), b(), 'empty values are values, not absence');
        await s.write([del(b(1)), del(b(99))]);
        assert.equal(await s.get(b(1)), undefined);
      }));

    test('returns plain Uint8Arrays', () =>
      withStore(make, async (s) => {
        await s.write([put(b(1), b(2))]);
        const v = await s.get(b(1));
        assert.equal(Object.getPrototypeOf(v), Uint8Array.prototype);
      }));

    test('ops in a batch apply in order: a later op on the same key wins', () =>
      withStore(make, async (s) => {
        await s.write([put(b(1), b(1)), put(b(1), b(2)), put(b(3), b(3)), del(b(3)), del(b(4)), put(b(4), b(4))]);
        assert.deepEqual(await s.getMany([b(1), b(3), b(4)]), [b(2), undefined, b(4)]);
      }));

    for (const [label, bad] of badOps()) {
      test(`a batch containing ${label} applies nothing`, () =>
        withStore(make, async (s) => {
          await s.write([put(b(1), b(1))]);
          const batch = [put(b(1), b(9)), del(b(1)), put(b(2), b(2)), bad] as unknown as BatchOp[];
          await assert.rejects(s.write(batch), (e) => isBulwarkError(e, 'STORAGE_INVALID_OP'));
          assert.deepEqual(await s.getMany([b(1), b(2)]), [b(1), undefined]);
        }));
    }

    test('getMany keeps order and reports missing keys as undefined', () =>
      withStore(make, async (s) => {
        await s.write([put(b(1), b(11)), put(b(3), b(33))]);
        assert.deepEqual(await s.getMany([b(3), b(2), b(1), b(3)]), [b(33), undefined, b(11), b(33)]);
        assert.deepEqual(await s.getMany([]), []);
      }));

    test('iterates in unsigned byte order, shorter prefix first', () =>
      withStore(make, async (s) => {
        const shuffled = [...ORDERED_KEYS].reverse();
        await s.write(shuffled.map((k) => put(k, b(k.length))));
        assert.deepEqual(keysOf(await collect(s.iterate())), ORDERED_KEYS.map((k) => Array.from(k)));
        assert.deepEqual(
          keysOf(await collect(s.iterate({ reverse: true }))),
          ORDERED_KEYS.map((k) => Array.from(k)).reverse(),
        );
      }));

    test('gte is inclusive, lt exclusive, in both directions, with limit', () =>
      withStore(make, async (s) => {
        await s.write([1, 2, 3, 4, 5].map((i) => put(b(i), b(i))));
        const range = { gte: b(2), lt: b(5) };
        assert.deepEqual(keysOf(await collect(s.iterate(range))), [[2], [3], [4]]);
        assert.deepEqual(keysOf(await collect(s.iterate({ ...range, reverse: true }))), [[4], [3], [2]]);
        assert.deepEqual(keysOf(await collect(s.iterate({ ...range, limit: 2 }))), [[2], [3]]);
        assert.deepEqual(keysOf(await collect(s.iterate({ ...range, reverse: true, limit: 2 }))), [[4], [3]]);
        assert.deepEqual(keysOf(await collect(s.iterate({ ...range, limit: 0 }))), []);
        assert.deepEqual(keysOf(await collect(s.iterate({ gte: b(2, 0) }))), [[3], [4], [5]]);
        assert.deepEqual(keysOf(await collect(s.iterate({ lt: b(2, 0) }))), [[1], [2]]);
        assert.deepEqual(keysOf(await collect(s.iterate({ gte: b(4), lt: b(2) }))), [], 'inverted range is empty');
        assert.deepEqual(keysOf(await collect(s.iterate({ gte: b(3), lt: b(3) }))), [], 'empty range');
      }));

    test('rejects a negative or fractional limit', () =>
      withStore(make, async (s) => {
        await assert.rejects(collect(s.iterate({ limit: -1 })), (e) => isBulwarkError(e, 'STORAGE_INVALID_OPTION'));
        await assert.rejects(collect(s.iterate({ limit: 1.5 })), (e) => isBulwarkError(e, 'STORAGE_INVALID_OPTION'));
      }));

    test('iteration sees the store as of its first step (snapshot)', () =>
      withStore(make, async (s) => {
        await s.write([1, 2, 3].map((i) => put(b(i), b(i))));
        const seen: number[][] = [];
        for await (const [k] of s.iterate()) {
          if (seen.length === 0) await s.write([put(b(4), b(4)), del(b(3))]);
          seen.push(Array.from(k));
        }
        assert.deepEqual(seen, [[1], [2], [3]]);
        assert.deepEqual(keysOf(await collect(s.iterate())), [[1], [2], [4]]);
      }));

    test('breaking out of an iteration early releases it (close still succeeds)', () =>
      withStore(make, async (s) => {
        await s.write(Array.from({ length: 3000 }, (_, i) => put(b(i >> 8, i & 0xff), b(1))));
        let n = 0;
        for await (const _ of s.iterate()) if (++n === 1500) break;
        assert.equal(n, 1500);
        assert.equal((await collect(s.iterate())).length, 3000, 'crosses several native chunks');
      }));

    test('callers cannot mutate stored bytes through inputs or outputs', () =>
      withStore(make, async (s) => {
        const key = b(1);
        const value = b(1, 2, 3);
        await s.write([put(key, value)]);
        value[0] = 99;
        key[0] = 2;
        const got = await s.get(b(1));
        assert.deepEqual(got, b(1, 2, 3));
        got?.fill(0);
        const [[k, v]] = (await collect(s.iterate())) as [[Uint8Array, Uint8Array]];
        k.fill(7);
        v.fill(7);
        assert.deepEqual(await s.get(b(1)), b(1, 2, 3));
      }));

    test('accepts subarray views as keys and values', () =>
      withStore(make, async (s) => {
        const backing = b(9, 1, 2, 3, 9);
        await s.write([put(backing.subarray(1, 2), backing.subarray(2, 4))]);
        assert.deepEqual(await s.get(b(1)), b(2, 3));
      }));

    test('after close every operation fails with STORAGE_CLOSED; close is idempotent', async () => {
      const s = await make();
      await s.write([put(b(1), b(1))]);
      await s.close();
      await s.close();
      const closed = (e: unknown) => isBulwarkError(e, 'STORAGE_CLOSED');
      await assert.rejects(s.get(b(1)), closed);
      await assert.rejects(s.getMany([b(1)]), closed);
      await assert.rejects(s.write([put(b(2), b(2))]), closed);
      await assert.rejects(collect(s.iterate()), closed);
    });

    test('closing during an iteration ends it with STORAGE_CLOSED', async () => {
      const s = await make();
      await s.write(Array.from({ length: 3000 }, (_, i) => put(b(i >> 8, i & 0xff), b(1))));
      const it = s.iterate()[Symbol.asyncIterator]();
      await it.next();
      const closing = s.close();
      await assert.rejects(async () => {
        for (;;) if ((await it.next()).done === true) break;
      }, (e) => isBulwarkError(e, 'STORAGE_CLOSED'));
      await closing;
    });
  });
}

function badOps(): [string, unknown][] {
  return [
    ['a string key', { type: 'put', key: 'k', value: b(1) }],
    ['a missing value', { type: 'put', key: b(5) }],
    ['an unknown op type', { type: 'merge', key: b(5), value: b(1) }],
    ['a null op', null],
  ];
}
