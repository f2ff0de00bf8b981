// Networks with replicas to spare (issue #19): n > 3f + 2c + 1, as a consortium passes through
// on its way from four replicas to seven. Five replicas with f = 1, c = 0 use the general quorums
// (`quorumsOf`: fast 5, slow and checkpoint 4, view change 4); seven with f = 2 are SBFT's own.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { quorumsOf } from '../../src/consensus/config.ts';
import { World } from './harness/world.ts';
import { badShares, equivocatingPrimary, forgedBitVector, replayer, silentPrimary } from './harness/byzantine.ts';
import { assertConverged, done, executedAt, viewOf } from './harness/expect.ts';
import { Prng } from './harness/prng.ts';

const FIVE = { n: 5, f: 1 } as const;

describe('n = 5, f = 1, c = 0', () => {
  test('the network runs on the general quorums', async () => {
    const w = new World({ seed: 70, ...FIVE });
    assert.equal(w.n, 5);
    assert.equal(w.replicas.length, 5);
    assert.deepEqual(quorumsOf(w.cfg), { n: 5, fast: 5, slow: 4, checkpoint: 4, viewChange: 4, weak: 2 });
    await w.start();
    for (const r of w.replicas) assert.deepEqual(r.state!.q, quorumsOf(w.cfg));
  });

  test('under load every request is answered and the replicas converge (fast path, stable checkpoints)', async () => {
    const w = await new World({ seed: 71, ...FIVE, clients: 4, requestsPerClient: 25 }).start();
    await done(w, 60_000);
    await w.run(1_000);
    w.assertSafe();
    assertConverged(w);
    assert.ok(w.count('committed:fast') > 0, 'the fast path needs all five, and all five are up');
    assert.equal(w.count('view-change-started'), 0);
    for (const c of w.clients) assert.equal(c.accepted.length, 25, `client ${c.id}`);
    for (const r of w.replicas) assert.ok(r.state!.lastStable >= 10, `${r.label} stable at ${r.state!.lastStable}`);
  });

  test('one replica crashed: still live on the slow path, safe, and it catches up after a restart', async () => {
    const w = await new World({ seed: 72, ...FIVE, clients: 3, requestsPerClient: 5 }).start();
    await done(w, 20_000);
    w.crash(3);
    for (const c of w.clients) c.add(20);
    await done(w, 60_000);
    assert.ok(w.count('committed:slow') > 0, 'four of five prepare and commit');
    assert.equal(w.count('view-change-started'), 0, 'a crashed backup is no reason to change view');
    assert.ok(executedAt(w, 0) > executedAt(w, 3), 'the crashed replica fell behind');
    // The four left make checkpoints stable on their own (4 = the checkpoint quorum).
    for (const id of [0, 1, 2, 4]) assert.ok(w.replicas[id]!.state!.lastStable >= 10, `r${id} stable at ${w.replicas[id]!.state!.lastStable}`);
    await w.restart(3);
    await w.run(10_000);
    assert.equal(executedAt(w, 3), executedAt(w, 0));
    assertConverged(w);
  });

  test('the primary crashed: four replicas change view and go on', async () => {
    const w = await new World({ seed: 73, ...FIVE, clients: 2, requestsPerClient: 10 }).start();
    await w.run(300);
    w.crash(0);
    for (const c of w.clients) c.add(10);
    await done(w, 60_000);
    assert.ok(w.count('view-entered') > 0);
    for (const id of [1, 2, 3, 4]) assert.ok(viewOf(w, id) >= 1, `r${id} in view ${viewOf(w, id)}`);
    await w.run(1_000);
    assertConverged(w);
  });

  test('an equivocating primary is replaced without a safety violation', async () => {
    // It splits the four backups two and two: with five replicas, unlike four, both batches can
    // reach the f + c + 1 = 2 latest votes of the view-change rule in one view-change quorum.
    // Neither committed, and every replica must still choose the same one.
    for (let seed = 74; seed < 80; seed++) {
      const w = await new World({ seed, ...FIVE, clients: 2, requestsPerClient: 8, byzantine: { 0: [equivocatingPrimary] } }).start();
      await done(w, 60_000);
      assert.ok(viewOf(w, 1) >= 1, `seed ${seed}: the equivocating primary was voted out`);
      await w.run(2_000);
      w.assertSafe();
      assertConverged(w, [1, 2, 3, 4]);
    }
  });

  test('a primary that stops proposing is replaced', async () => {
    const w = await new World({ seed: 80, ...FIVE, clients: 2, requestsPerClient: 6, byzantine: { 0: [silentPrimary] } }).start();
    await done(w, 60_000);
    assert.ok(w.count('view-entered') > 0);
    await w.run(1_000);
    assertConverged(w, [1, 2, 3, 4]);
  });

  test('a Byzantine backup (bad shares) under load: the slow path commits, no view change', async () => {
    const w = await new World({ seed: 81, ...FIVE, clients: 3, requestsPerClient: 10, byzantine: { 2: [badShares] } }).start();
    await done(w, 60_000);
    assert.ok(w.count('bad-share-excluded') > 0);
    assert.ok(w.count('committed:slow') > 0);
    assert.equal(w.count('view-change-started'), 0);
    await w.run(1_000);
    assertConverged(w, [0, 1, 3, 4]);
  });

  test('a Byzantine replica and a view change: the primary crashes while r1 forges signer bit-vectors', async () => {
    // r1 collects, and leads view 1: its certificates name a signer that did not sign, and are refused.
    const w = await new World({ seed: 82, ...FIVE, clients: 3, requestsPerClient: 8, byzantine: { 1: [forgedBitVector] } }).start();
    await w.run(400);
    w.crash(0);
    for (const c of w.clients) c.add(8);
    await done(w, 90_000);
    assert.ok(w.count('view-entered') > 0, 'a new view was entered');
    assert.ok(w.rejected('bad-certificate') > 0, 'the forged certificates were seen and refused');
    await w.run(2_000);
    w.assertSafe();
    assertConverged(w, [2, 3, 4]);
  });

  test('a Byzantine replica and a view change: the primary crashes while r2 replays old messages', async () => {
    const w = await new World({ seed: 83, ...FIVE, clients: 2, requestsPerClient: 10, byzantine: { 2: [replayer(new Prng(83), 5)] } }).start();
    await w.run(300);
    w.crash(0);
    for (const c of w.clients) c.add(10);
    await done(w, 90_000);
    assert.ok(w.count('view-entered') > 0);
    await w.run(2_000);
    w.assertSafe();
    assertConverged(w, [1, 3, 4]);
  });
});

test('n = 5: quorums sized for four replicas would split it; the general ones do not', async () => {
  // The planted bug takes one off every quorum: on five replicas that is exactly what f = 1 gave
  // before n was a parameter (fast 4, slow 3, view change 3). A Twin of r3 on each side of a
  // partition of the five lets each side of three commit its own batches at the same sequence numbers.
  const run = async (planted: boolean) => {
    const w = new World({ seed: 85, ...FIVE, clients: 2, requestsPerClient: 20, twins: [3], ...(planted ? { plantedBug: 'quorum-one-too-small' as const } : {}) });
    w.splitLabels(['r0', 'r1', 'r3', 'c5'], ['r2', 'r4', "r3'", 'c6']);
    await (await w.start()).run(20_000);
    assert.deepEqual(quorumsOf(w.cfg), { n: 5, fast: 5, slow: 4, checkpoint: 4, viewChange: 4, weak: 2 });
    return w;
  };
  const caught = (await run(true)).violations;
  assert.ok(caught.some((v) => v.startsWith('safety: ') && v.includes('committed different batches')), `not caught: ${caught.join('; ')}`);
  const w = await run(false);
  assert.deepEqual(w.violations, [], 'the same run with the general quorums is safe');
  w.heal();
  await done(w, 90_000);
  await w.run(1_000);
  assertConverged(w);
});

describe('n = 7, f = 2 (exactly 3f + 2c + 1, given as n)', () => {
  test('quorums are SBFT\'s, and two replicas down (the primary among them) change view and go on', async () => {
    const w = await new World({ seed: 84, n: 7, f: 2, clients: 2, requestsPerClient: 8 }).start();
    assert.deepEqual(w.replicas[1]!.state!.q, { n: 7, fast: 7, slow: 5, checkpoint: 5, viewChange: 5, weak: 3 });
    await w.run(200);
    w.crash(0);
    w.crash(4);
    for (const c of w.clients) c.add(4);
    await done(w, 60_000);
    assert.ok(w.count('view-entered') > 0);
    await w.run(1_000);
    assertConverged(w);
  });
});
