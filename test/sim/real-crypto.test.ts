// The state machine with the production cryptography: BLS12-381 shares and aggregates, Ed25519
// execution signatures and client requests. The keyed-hash registry stands in for it elsewhere
// only for speed; these runs show the two are interchangeable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World } from './harness/world.ts';
import { badShares } from './harness/byzantine.ts';
import { assertConverged, done } from './harness/expect.ts';

test('real BLS: fast path, checkpoints and replies verified by the clients', async () => {
  const w = await new World({ seed: 70, f: 1, clients: 2, requestsPerClient: 12, realCrypto: true }).start();
  await done(w, 60_000);
  assert.ok(w.count('committed:fast') > 0);
  assert.ok(w.count('checkpoint-stable') > 0);
  await w.run(1_000);
  assertConverged(w);
});

test('real BLS: a bad share is excluded and the view change path works', async () => {
  const w = await new World({ seed: 71, f: 1, clients: 2, requestsPerClient: 6, realCrypto: true, byzantine: { 3: [badShares] } }).start();
  await w.run(400);
  w.crash(0);
  for (const cl of w.clients) cl.add(4);
  await done(w, 90_000);
  assert.ok(w.count('bad-share-excluded') > 0);
  assert.ok(w.count('view-entered') > 0);
});
