import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeerConduct } from '../../src/replica/peer-conduct.ts';

test('a peer is penalised past the limit of misconduct within the window, and only then', () => {
  const c = new PeerConduct({ limit: 3, windowMs: 1_000 });
  assert.deepEqual([1, 2, 3].map((t) => c.note(7, 'bad-share', t)), [false, false, false]);
  assert.equal(c.note(7, 'bad-certificate', 4), true, 'the fourth within a second');
  assert.equal(c.note(7, 'bad-share', 5), false, 'the count restarts after a penalty');
});

test('honest mishaps never count, and misconduct spread thinly over time is forgiven', () => {
  const c = new PeerConduct({ limit: 2, windowMs: 1_000 });
  for (let t = 0; t < 100; t++) assert.equal(c.note(1, 'wrong-view', t), false);
  for (let t = 0; t < 100; t++) assert.equal(c.note(1, 'rate-limited', t), false);
  assert.equal(PeerConduct.isMisconduct('outside-window'), false);
  for (let k = 0; k < 10; k++) for (let i = 0; i < 2; i++) assert.equal(c.note(2, 'undecodable', k * 2_000 + i), false);
});

test('peers are judged separately', () => {
  const c = new PeerConduct({ limit: 1, windowMs: 1_000 });
  assert.equal(c.note(1, 'equivocation', 0), false);
  assert.equal(c.note(2, 'equivocation', 0), false);
  assert.equal(c.note(1, 'equivocation', 1), true);
  assert.equal(c.note(2, 'bad-view-change', 1), true);
});
