import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/storage/memory.ts';
import { NodeCache, TrieNodeStore, nodeCost } from '../../src/execution/trie-store.ts';

const k1 = 'aa'.repeat(32);
const v1 = Uint8Array.of(1, 2, 3);

test('writes stay in the overlay until drained and committed; then they are cached and on disk', async () => {
  const kv = new MemoryStore();
  const store = new TrieNodeStore({ kv, prefix: 0x02, cache: new NodeCache() });
  await store.put(k1, v1);
  assert.deepEqual(await store.get(k1), v1);
  assert.equal(kv.size, 0, 'nothing reaches the disk before the batch');
  const ops = store.drain();
  assert.equal(ops.length, 1);
  assert.deepEqual(ops[0]!.key, Uint8Array.from([0x02, ...Buffer.from(k1, 'hex')]));
  await kv.write(ops);
  store.markCommitted();
  assert.equal(store.pendingCount, 0);
  const fresh = new TrieNodeStore({ kv, prefix: 0x02, cache: new NodeCache() });
  assert.deepEqual(await fresh.get(k1), v1, 'read back from disk');
});

test('discard drops an uncommitted block; shallowCopy shares the overlay, readView does not', async () => {
  const store = new TrieNodeStore({ kv: new MemoryStore(), prefix: 0x02, cache: new NodeCache() });
  await store.put(k1, v1);
  assert.equal(store.shallowCopy(), store);
  assert.equal(await store.readView().get(k1), undefined);
  store.discard();
  assert.equal(await store.get(k1), undefined);
});

test('the node cache keeps the recently used within its memory budget', () => {
  const cache = new NodeCache(2 * nodeCost('a', v1));
  cache.set('a', v1);
  cache.set('b', v1);
  cache.get('a');
  cache.set('c', v1);
  assert.equal(cache.get('b'), undefined);
  assert.ok(cache.get('a'));
  assert.equal(cache.size, 2);
  assert.equal(cache.bytes, 2 * nodeCost('a', v1));
  // Overwriting an entry counts it once; a value dearer than half the budget is not kept.
  cache.set('a', v1);
  assert.equal(cache.bytes, 2 * nodeCost('a', v1));
  cache.set('big', new Uint8Array(10_000));
  assert.equal(cache.get('big'), undefined);
  assert.equal(cache.size, 2);
});

test('the node cache stays within its budget and keeps what is read under churn', () => {
  const budget = 100 * nodeCost('k000', v1);
  const cache = new NodeCache(budget);
  const key = (i: number) => `k${String(i).padStart(3, '0')}`;
  for (let i = 0; i < 1_000; i++) {
    cache.set(key(i), v1);
    cache.get(key(0));
    assert.ok(cache.bytes <= budget, `over budget at ${i}: ${cache.bytes}`);
  }
  assert.ok(cache.get(key(0)), 'read at every step, never dropped');
  assert.ok(cache.get(key(999)), 'the latest is kept');
  assert.equal(cache.get(key(500)), undefined, 'an old untouched entry is gone');
  assert.ok(cache.size >= 50 && cache.size <= 100, `between half and all of the budget: ${cache.size}`);
});
