// What a client node takes from the replicas' status answers: only what f + 1 of them report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeKeyFollower } from '../../src/client/node-key-follower.ts';
import { nodeKeyBookFor } from '../../src/consensus/bls-crypto.ts';
import { NO_OPERATOR_STATE, encodeOperatorState } from '../../src/codec/reserved-pages.ts';
import type { NodeStatus } from '../../src/codec/messages.ts';
import { MemoryStore } from '../../src/storage/memory.ts';

function status(id: number, requestSeq: number, operatorNonce = 0): NodeStatus {
  return {
    type: 'NodeStatus',
    id: 0,
    view: 0,
    active: true,
    lastExecuted: 10 * (id + 1),
    lastStable: 0,
    blockNumber: 0,
    blockHash: new Uint8Array(32),
    stable: null,
    keyEpoch: 0,
    keys: [],
    nodeKeys: [],
    operator: encodeOperatorState({ ...NO_OPERATOR_STATE, nonce: operatorNonce }),
    requestSeq,
    signature: new Uint8Array(64),
  };
}

test('the request number, operator nonce and position a client node takes are those f + 1 replicas report', async () => {
  const follower = await NodeKeyFollower.open(new MemoryStore(), nodeKeyBookFor({ replicas: [], clients: [] }), { self: 4, n: 4, f: 1 });
  assert.equal(follower.requestSeq(), 0, 'nothing before any report');
  let changes = 0;
  follower.onChange = () => changes++;
  // One replica (possibly the Byzantine one) alone moves nothing.
  follower.onMessage(3, status(3, 9_000_000, 77));
  assert.equal(follower.requestSeq(), 0);
  assert.equal(follower.operatorNonce(), 0);
  follower.onMessage(0, status(0, 500, 5));
  assert.equal(follower.requestSeq(), 500, 'two of four (f + 1) report at least 500');
  follower.onMessage(1, status(1, 700, 5));
  follower.onMessage(2, status(2, 600, 5));
  assert.equal(follower.requestSeq(), 700);
  assert.equal(follower.operatorNonce(), 5);
  assert.deepEqual(follower.position(), { executed: 30, stable: 0 });
  // A replica's latest report replaces its earlier one; reports from outside the replicas are ignored.
  follower.onMessage(3, status(3, 100));
  follower.onMessage(9, status(9, 1_000_000));
  assert.equal(follower.requestSeq(), 600);
  assert.equal(changes, 5);
});
