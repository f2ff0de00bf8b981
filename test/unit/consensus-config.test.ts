import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectorsOf, makeConsensusConfig, primaryOf, quorumsOf } from '../../src/consensus/config.ts';
import { isBulwarkError } from '../../src/common/errors.ts';

test('quorums for n = 3f + 2c + 1', () => {
  assert.deepEqual(quorumsOf({ f: 1, c: 0 }), { n: 4, fast: 4, slow: 3, checkpoint: 3, viewChange: 3, weak: 2 });
  assert.deepEqual(quorumsOf({ f: 2, c: 0 }), { n: 7, fast: 7, slow: 5, checkpoint: 5, viewChange: 5, weak: 3 });
  assert.deepEqual(quorumsOf({ f: 1, c: 1 }), { n: 6, fast: 5, slow: 4, checkpoint: 4, viewChange: 5, weak: 2 });
  // Any two slow quorums share an honest replica: 2(2f + c + 1) − n ≥ f + 1.
  for (const [f, c] of [[1, 0], [2, 0], [1, 1], [3, 2]] as const) {
    const q = quorumsOf({ f, c });
    assert.ok(2 * q.slow - q.n >= f + 1);
    assert.ok(q.fast + q.viewChange - q.n >= 2 * f + c + 1 - f, 'a fast commit leaves f + c + 1 honest votes in any view-change quorum');
  }
});

test('roles rotate: primary by view, collectors by sequence number', () => {
  assert.equal(primaryOf(0, 4), 0);
  assert.equal(primaryOf(5, 4), 1);
  const q = quorumsOf({ f: 1, c: 1 });
  assert.deepEqual(collectorsOf(5, q, 1), [5, 0]);
});

test('invalid configurations are refused with a code', () => {
  for (const bad of [{ window: 100 }, { maxInFlight: 0 }, { checkpointInterval: 0 }, { maxBatchRequests: 0 }, { fastPathTimeoutMs: -1 }]) {
    assert.throws(() => makeConsensusConfig({ f: 1, c: 0, clients: 1, ...bad }), (e) => isBulwarkError(e, 'CONSENSUS_BAD_CONFIG'));
  }
});
