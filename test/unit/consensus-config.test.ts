import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectorsOf, makeConsensusConfig, minReplicas, primaryOf, quorumsOf } from '../../src/consensus/config.ts';
import { isBulwarkError } from '../../src/common/errors.ts';

test('quorums for n = 3f + 2c + 1 are SBFT\'s own', () => {
  assert.deepEqual(quorumsOf({ n: 4, f: 1, c: 0 }), { n: 4, fast: 4, slow: 3, checkpoint: 3, viewChange: 3, weak: 2 });
  assert.deepEqual(quorumsOf({ n: 7, f: 2, c: 0 }), { n: 7, fast: 7, slow: 5, checkpoint: 5, viewChange: 5, weak: 3 });
  assert.deepEqual(quorumsOf({ n: 6, f: 1, c: 1 }), { n: 6, fast: 5, slow: 4, checkpoint: 4, viewChange: 5, weak: 2 });
  for (let f = 0; f <= 4; f++) {
    for (let c = 0; c <= (f === 0 ? 0 : 2); c++) {
      const n = 3 * f + 2 * c + 1;
      assert.equal(minReplicas(f, c), n);
      const sbft = { n, fast: 3 * f + c + 1, slow: 2 * f + c + 1, checkpoint: 2 * f + c + 1, viewChange: 2 * f + 2 * c + 1, weak: f + 1 };
      assert.deepEqual(quorumsOf({ n, f, c }), sbft, `f=${f} c=${c}`);
      assert.deepEqual(quorumsOf(makeConsensusConfig({ f, c, clients: 1 })), sbft, 'makeConsensusConfig defaults n to 3f + 2c + 1');
    }
  }
});

test('quorums for every n ≥ 3f + 2c + 1: intersections for safety, sizes for liveness', () => {
  for (let f = 0; f <= 4; f++) {
    for (let c = 0; c <= (f === 0 ? 0 : 2); c++) {
      for (let n = minReplicas(f, c); n <= minReplicas(f, c) + 6; n++) {
        const q = quorumsOf(makeConsensusConfig({ n, f, c, clients: 1 }));
        const at = `f=${f} c=${c} n=${n}: ${JSON.stringify(q)}`;
        const meet = (a: number, b: number) => a + b - q.n; // the fewest replicas two such quorums share
        assert.equal(q.n, n, at);
        // Safety: an honest replica (f + 1 shared) in any two slow quorums (one prepare certificate per
        // view and slot, one stable checkpoint per slot), in a slow and a fast one, and in a slow and a
        // view-change one (a slow commit's prepare certificate reaches the new view).
        assert.ok(meet(q.slow, q.slow) >= f + 1, `slow ∩ slow: ${at}`);
        assert.ok(meet(q.slow, q.fast) >= f + 1, `slow ∩ fast: ${at}`);
        assert.ok(meet(q.slow, q.viewChange) >= f + 1, `slow ∩ view change: ${at}`);
        assert.ok(meet(q.checkpoint, q.checkpoint) >= f + 1 && q.checkpoint - f >= f + 1, `checkpoint: ${at}`);
        // A fast commit: its honest voters in any view-change quorum reach the f + c + 1 of
        // `selectSlots`' vote rule, and the rest of that quorum cannot name another digest as often.
        const honestVoters = meet(q.fast, q.viewChange) - f;
        assert.ok(honestVoters >= f + c + 1, `fast commit recovered: ${at}`);
        assert.ok(q.viewChange - honestVoters < f + c + 1, `no second digest reaches f + c + 1: ${at}`);
        // Liveness: each quorum within the replicas that answer (f Byzantine silent, and c slow
        // ones for the slow path and view changes too).
        assert.equal(q.fast, n - c, at);
        assert.equal(q.viewChange, n - f, at);
        assert.ok(q.slow <= n - f - c && q.checkpoint <= n - f - c, `slow path live: ${at}`);
        assert.equal(q.weak, f + 1, at);
        // And the slow quorum is the least that is safe.
        assert.ok(2 * (q.slow - 1) - n < f + 1, `slow is minimal: ${at}`);
      }
      const below = minReplicas(f, c) - 1;
      if (below >= 1) {
        assert.throws(() => makeConsensusConfig({ n: below, f, c, clients: 1 }), (e) => isBulwarkError(e, 'CONSENSUS_BAD_CONFIG'));
        assert.throws(() => quorumsOf({ n: below, f, c }), (e) => isBulwarkError(e, 'CONSENSUS_BAD_CONFIG'));
      }
    }
  }
  // Five replicas, the step from four to seven: f = 1 with one replica to spare.
  assert.deepEqual(quorumsOf({ n: 5, f: 1, c: 0 }), { n: 5, fast: 5, slow: 4, checkpoint: 4, viewChange: 4, weak: 2 });
});

test('roles rotate: primary by view, collectors by sequence number', () => {
  assert.equal(primaryOf(0, 4), 0);
  assert.equal(primaryOf(5, 4), 1);
  const q = quorumsOf({ n: 6, f: 1, c: 1 });
  assert.deepEqual(collectorsOf(5, q, 1), [5, 0]);
});

test('invalid configurations are refused with a code', () => {
  for (const bad of [{ n: 3 }, { window: 100 }, { maxInFlight: 0 }, { checkpointInterval: 0 }, { maxBatchRequests: 0 }, { fastPathTimeoutMs: -1 }]) {
    assert.throws(() => makeConsensusConfig({ f: 1, c: 0, clients: 1, ...bad }), (e) => isBulwarkError(e, 'CONSENSUS_BAD_CONFIG'));
  }
});
