import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World } from './harness/world.ts';

test('smoke', () => {
  const w = new World({ seed: 1, f: 1, clients: 2, requestsPerClient: 30 }).start();
  w.runUntilClientsDone(20_000);
  console.log(w.trace());
  console.log(w.rejections, w.committedSeqs());
  w.assertSafe();
  assert.ok(w.clients.every((c) => c.done));
});
