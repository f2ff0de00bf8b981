import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecentMap } from '../../src/common/recent-map.ts';

test('a recent map holds at most its capacity, keeps what is used and drops the oldest untouched', () => {
  const m = new RecentMap<number, string>(100);
  for (let i = 0; i < 1_000; i++) {
    m.set(i, `v${i}`);
    assert.equal(m.get(0), 'v0', `used at every step, kept (step ${i})`);
    assert.ok(m.size <= 100, `over capacity at ${i}: ${m.size}`);
  }
  assert.ok(m.size >= 50);
  assert.equal(m.get(999), 'v999');
  assert.equal(m.has(500), false);
  assert.equal(m.get(500), undefined);
});

test('set replaces without counting twice; take removes from either generation', () => {
  const m = new RecentMap<string, number>(4);
  m.set('a', 1);
  m.set('b', 2);
  m.set('c', 3); // 'a' and 'b' now the older generation
  m.set('a', 10);
  assert.equal(m.size, 3);
  assert.equal(m.get('a'), 10);
  assert.equal(m.take('b'), 2);
  assert.equal(m.take('b'), undefined);
  assert.equal(m.take('c'), 3);
  assert.equal(m.size, 1);
  assert.throws(() => new RecentMap(1), RangeError);
});
