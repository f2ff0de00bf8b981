// A Byzantine (authenticated) replica sending cheap messages that once cost its victims dearly
// (issue #15): each scenario runs the attack and checks that honest traffic goes on and that what
// the victims hold or do for it stays bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World } from './harness/world.ts';
import { helpAndCheckpointFlood, viewChangeFlood } from './harness/byzantine.ts';
import { assertConverged, done } from './harness/expect.ts';

test('catch-up help asked for over and over is served at most twice a status period per peer', async () => {
  const w = await new World({ seed: 51, f: 1, clients: 3, requestsPerClient: 20, byzantine: { 2: [helpAndCheckpointFlood] } }).start();
  await done(w, 60_000);
  await w.run(3_000);
  // Each Status of the flooder is sent five times; all but one per half period are refused.
  assert.ok(w.rejected('rate-limited') > 0, 'repeated requests for help refused');
  // Its broken checkpoints are checked once per sequence number, then dropped unchecked.
  const checkpoints = Math.floor(w.replicas[0]!.app.state.lastExecuted / w.cfg.checkpointInterval);
  assert.ok(w.rejected('bad-checkpoint') <= 3 * (checkpoints + 2), `bad checkpoints checked once each (${w.rejected('bad-checkpoint')})`);
  assert.equal(w.count('view-change-started'), 0);
  assertConverged(w, [0, 1, 3]);
});

test('ViewChanges for ever-higher views, from a replica that is also the primary, are bounded too', async () => {
  // The flooder leads view 0 and does its job as primary: its flood must neither be followed nor
  // make the others hold more than one message from it.
  const w = await new World({ seed: 52, f: 1, clients: 2, requestsPerClient: 20, byzantine: { 0: [viewChangeFlood()] } }).start();
  await done(w, 60_000);
  for (const r of w.honestReplicas()) {
    const held = [...r.state!.viewChanges.values()].reduce((a, m) => a + m.size, 0);
    assert.ok(held <= 1, `replica ${r.id} holds ${held} ViewChanges`);
  }
  assert.equal(w.count('view-change-started'), 0);
  await w.run(2_000);
  assertConverged(w, [1, 2, 3]);
});
