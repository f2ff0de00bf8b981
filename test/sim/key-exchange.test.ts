// Key exchange in the simulator (issue #7): replicas replace their bootstrap consensus keys with keys
// they made, published through consensus; client requests wait until 2f + c + 1 have; each new key
// takes effect at a checkpoint boundary agreed by all, and the old private key is then deleted.
// Happy path, a backup down during the exchange (it catches up and learns the keys), the primary
// down during it, a key without a valid proof of possession, a replayed exchange, and a replica
// that keeps signing with its retired key. Also a client node's authentication key rotation, executed
// by the state machine (refusals, one agreed switch point).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeKeyExchange, encodeKeyExchange } from '../../src/codec/key-requests.ts';
import { V1_SIGNED_BEFORE_MS } from '../../src/consensus/operator.ts';
import { encodeOperatorCommand, encodeOperatorPayload } from '../../src/codec/operator-command.ts';
import { DEFAULT_CONSENSUS_CONFIG } from '../../src/consensus/config.ts';
import { ENDORSEMENT_DOMAIN, POSSESSION_DOMAIN, encodeNodeKeyPublication, nodeKeySigningBytes, nodeKeyStatement } from '../../src/codec/key-requests.ts';
import { commitShareBytes, requestSigningBytes } from '../../src/codec/signing.ts';
import type { SimKeyRegistry } from './harness/sim-crypto.ts';
import { World } from './harness/world.ts';
import type { Behaviour } from './harness/node.ts';
import { assertConverged, done } from './harness/expect.ts';

const KEYS = { keyExchange: true } as const;

/** Every honest running replica knows the same key history, and `ids` are all on epoch 1 from `seq` on. */
function assertKeys(w: World, ids: number[], seq: number): void {
  const nodes = w.honestReplicas().filter((r) => r.alive);
  const histories = nodes.map((r) => JSON.stringify(r.keys.consensus.published().map((k) => [k.replica, k.epoch, k.effectiveSeq])));
  assert.equal(new Set(histories).size, 1, `seed ${w.seed}: replicas disagree on the key history: ${histories.join(' | ')}`);
  for (const id of ids) assert.equal(nodes[0]!.keys.consensus.recordAt(id, seq).epoch, 1, `replica ${id} on its own key at ${seq}`);
}

test('every replica publishes its own key, clients are served after the exchange, and bootstrap keys are deleted', async () => {
  const w = await new World({ seed: 71, f: 1, clients: 2, requestsPerClient: 10, consensus: KEYS }).start();
  await done(w, 60_000);
  await w.run(20_000); // the keys take effect at a checkpoint boundary ahead, driven there by empty batches
  w.assertSafe();
  const r0 = w.replicas[0]!;
  assert.equal(r0.keys.consensus.exchangedCount(), 4);
  const effective = Math.max(...r0.keys.consensus.published().map((k) => k.effectiveSeq));
  assert.ok(r0.state!.lastStable + 1 >= effective, `the keys took effect (stable ${r0.state!.lastStable}, keys from ${effective})`);
  assertKeys(w, [0, 1, 2, 3], effective);
  for (const r of w.replicas) {
    assert.deepEqual(r.retired, [0], `replica ${r.id} deleted its bootstrap key`);
    assert.deepEqual(r.crypto.secretEpochs(), [1]);
  }
  // Ordering goes on under the new keys, on the fast path.
  const before = w.count('committed:fast');
  for (const c of w.clients) c.add(5);
  await done(w, 30_000);
  assert.ok(w.count('committed:fast') > before, 'fast-path commits after the new keys took effect');
  assert.equal(w.count('view-change-started'), 0);
  await w.run(1_000);
  assertConverged(w);
});

test('a backup down during the exchange catches up, learns everyone\'s keys, then publishes its own', async () => {
  const w = new World({ seed: 72, f: 1, clients: 2, requestsPerClient: 8, consensus: KEYS });
  // Down from the first moment: cut off before it sends anything, then stopped.
  w.isolate(3);
  await w.start();
  w.crash(3);
  w.heal();
  // Three of four (2f + c + 1) exchanging is enough for the clients.
  await done(w, 60_000);
  await w.run(20_000);
  assert.equal(w.replicas[0]!.keys.consensus.exchangedCount(), 3);
  await w.restart(3);
  await w.run(30_000);
  w.assertSafe();
  const r0 = w.replicas[0]!;
  assert.equal(r0.keys.consensus.exchangedCount(), 4, 'replica 3 published its key after catching up');
  assert.deepEqual(w.replicas[3]!.keys.consensus.published().map((k) => k.replica).sort(), [0, 1, 2, 3]);
  for (const c of w.clients) c.add(4);
  await done(w, 30_000);
  await w.run(20_000);
  const effective = Math.max(...r0.keys.consensus.published().map((k) => k.effectiveSeq));
  assertKeys(w, [0, 1, 2, 3], effective);
  assert.deepEqual(w.replicas[3]!.retired, [0]);
  assertConverged(w);
});

test('the primary down during the exchange: a view change, then the exchange and the clients go on', async () => {
  const w = new World({ seed: 73, f: 1, clients: 2, requestsPerClient: 8, consensus: KEYS });
  w.isolate(0);
  await w.start();
  w.crash(0);
  w.heal();
  await done(w, 90_000);
  assert.ok(w.count('view-entered') > 0);
  await w.run(20_000);
  assert.equal(w.replicas[1]!.keys.consensus.exchangedCount(), 3);
  assertConverged(w, [1, 2, 3]);
});

test('a key without a valid proof of possession is refused, and so is a replayed exchange', async () => {
  const w = new World({ seed: 74, f: 1, clients: 1, requestsPerClient: 4, consensus: KEYS });
  // Replica 3's shell publishes replica 2's key as its own with its own proof, a rogue key: its
  // exchange request, on its way to the other replicas, carries the stolen key (signed by replica 3).
  const stolen = w.registry.newConsensusKey(2, 9);
  w.replicas[3]!.behaviours.push({
    name: 'rogue-key',
    onSend(node, s) {
      const m = s.message;
      const k = m.type === 'Request' && m.request.clientId === node.id ? decodeKeyExchange(m.request.payload) : null;
      if (m.type !== 'Request' || k === null) return [s];
      const unsigned = { ...m.request, payload: encodeKeyExchange({ ...k, publicKey: stolen.publicKey }) };
      const request = { ...unsigned, signature: node.crypto.signRequest(requestSigningBytes(unsigned), node.state!.lastExecuted + 1) };
      return [{ to: s.to, message: { ...m, request } }];
    },
  });
  await w.start();
  await done(w, 60_000);
  await w.run(5_000);
  w.assertSafe();
  const r0 = w.replicas[0]!;
  assert.equal(r0.keys.consensus.latest(3).epoch, 0, 'the rogue key was not taken');
  assert.equal(r0.keys.consensus.exchangedCount(), 3);
  // Replica 1 replays its epoch-1 exchange as a new request: the epoch is not the next one.
  const published = r0.keys.consensus.latest(1);
  const replay = { clientId: 1, requestSeq: 7, flags: 0, payload: encodeKeyExchange({ epoch: 1, publicKey: published.publicKey, proofOfPossession: published.proofOfPossession }) };
  const r1 = w.replicas[1]!;
  const request = { ...replay, signature: r1.crypto.signRequest(requestSigningBytes(replay), r1.state!.lastExecuted + 1) };
  r1.feed({ from: 1, message: { type: 'Request', request } });
  await w.run(5_000);
  assert.equal(r0.keys.consensus.latest(1).epoch, 1);
  assert.deepEqual(
    r0.keys.consensus.published().filter((k) => k.replica === 1).map((k) => k.epoch),
    [1],
    'the replayed exchange added nothing',
  );
  w.assertSafe();
});

test('shares signed with a retired key are refused once the new key is in effect', async () => {
  // Replica 2, once on its new key, also signs each share with its bootstrap key (as a thief of the
  // deleted key would): those copies never verify, and the network goes on.
  const w = new World({ seed: 75, f: 1, clients: 2, requestsPerClient: 6, consensus: KEYS });
  const oldKeySigner: Behaviour = {
    name: 'retired-key-signer',
    onSend(node, s) {
      const m = s.message;
      if (m.type !== 'CommitShare' || node.keys.consensus.recordAt(node.id, m.seq).epoch === 0) return [s];
      const signature = (w.registry as SimKeyRegistry).share(node.id, 'consensus', commitShareBytes(m.view, m.seq, m.digest));
      return [{ to: s.to, message: { ...m, signature } }];
    },
  };
  w.replicas[2]!.behaviours.push(oldKeySigner);
  await w.start();
  await done(w, 60_000);
  await w.run(20_000);
  for (const c of w.clients) c.add(6);
  await done(w, 60_000);
  assert.ok(w.rejected('bad-share') > 0, 'shares under the retired key were refused');
  w.assertSafe();
});

test('with the production cryptography (BLS12-381): the exchange, the switch, the deletion', async () => {
  const w = await new World({ seed: 76, f: 1, clients: 1, requestsPerClient: 6, consensus: KEYS, realCrypto: true }).start();
  await done(w, 60_000);
  await w.run(20_000);
  w.assertSafe();
  const r0 = w.replicas[0]!;
  const effective = Math.max(...r0.keys.consensus.published().map((k) => k.effectiveSeq));
  assert.ok(r0.state!.lastStable + 1 >= effective);
  assertKeys(w, [0, 1, 2, 3], effective);
  for (const r of w.replicas) assert.deepEqual(r.retired, [0]);
  for (const c of w.clients) c.add(3);
  await done(w, 30_000);
  assertConverged(w);
});

test('a key exchange is executed once, even re-sent to a replica that restarted after executing it', async () => {
  // Found by the sweep: the client table did not record replicas' own requests, so a replica that
  // restarted forgot it had executed one, and a late copy was ordered and executed again.
  const w = await new World({ seed: 77, f: 1, clients: 1, requestsPerClient: 4, consensus: KEYS }).start();
  while (w.replicas[0]!.keys.consensus.latest(2).epoch === 0) await w.run(5);
  // Published, not yet in effect: the primary restarts from its store, then gets a late copy of
  // replica 2's exchange (still validly signed: the bootstrap key is in effect until the boundary).
  assert.ok(w.replicas[0]!.state!.lastExecuted < w.replicas[0]!.keys.consensus.latest(2).effectiveSeq);
  w.crash(0);
  await w.restart(0);
  const published = w.replicas[0]!.keys.consensus.latest(2);
  const again = { clientId: 2, requestSeq: 1, flags: 0, payload: encodeKeyExchange({ epoch: 1, publicKey: published.publicKey, proofOfPossession: published.proofOfPossession }) };
  // Signed with replica 2's bootstrap key, as the original was (replica 2 itself has erased it by now).
  const request = { ...again, signature: (w.registry as SimKeyRegistry).share(2, 'consensus', requestSigningBytes(again)) };
  w.replicas[0]!.feed({ from: 2, message: { type: 'Request', request } });
  for (const c of w.clients) c.add(2);
  await done(w, 30_000);
  await w.run(2_000);
  w.assertSafe();
  assert.deepEqual(w.replicas[0]!.keys.consensus.published().filter((k) => k.replica === 2).map((k) => k.epoch), [1]);
});

// ---- operator rotation -------------------------------------------------------------------------

function rotateCommand(w: World, replicas: number[], nonce: number, chainId = BigInt(DEFAULT_CONSENSUS_CONFIG.chainId)): Uint8Array {
  const bytes = encodeOperatorCommand({ kind: 'rotate-consensus-keys', replicas, nonce }, chainId);
  return encodeOperatorPayload(bytes, (w.registry as SimKeyRegistry).signOperator(bytes));
}

/** The same command as version 1 signed it: no chain id after the tag. */
function rotateCommandV1(w: World, replicas: number[], nonce: number): Uint8Array {
  const v2 = encodeOperatorCommand({ kind: 'rotate-consensus-keys', replicas, nonce }, 1n);
  const tag = new TextEncoder().encode('bulwark/operator-command/v1');
  const bytes = new Uint8Array([...tag, ...v2.subarray(tag.length + 8)]);
  return encodeOperatorPayload(bytes, (w.registry as SimKeyRegistry).signOperator(bytes));
}

const resultOf = (w: World, client: number) => Buffer.from(w.clients[client]!.accepted.at(-1)!.result, 'hex').toString('utf8');

test('the operator rotates the key of every replica under a stream of requests: nothing lost, the fast path back, old keys deleted', async () => {
  const w = await new World({ seed: 81, f: 1, clients: 2, requestsPerClient: 6, consensus: { ...KEYS, minRotationIntervalSec: 0 } }).start();
  await done(w, 60_000);
  await w.run(20_000);
  for (const r of w.replicas) assert.deepEqual(r.retired, [0]);
  w.clients[0]!.submit(rotateCommand(w, [0, 1, 2, 3], 1));
  for (const c of w.clients) c.add(20);
  await done(w, 120_000);
  const results = w.clients[0]!.accepted.map((a) => Buffer.from(a.result, 'hex').toString('utf8'));
  assert.ok(results.includes('rotation: replica 0 to consensus key epoch 2, replica 1 to consensus key epoch 2, replica 2 to consensus key epoch 2, replica 3 to consensus key epoch 2'));
  await w.run(30_000);
  w.assertSafe();
  const r0 = w.replicas[0]!;
  for (let id = 0; id < 4; id++) assert.equal(r0.keys.consensus.latest(id).epoch, 2, `replica ${id} published epoch 2`);
  for (const r of w.replicas) {
    assert.deepEqual(r.retired, [0, 1], `replica ${r.id} deleted epochs 0 and 1`);
    assert.deepEqual(r.crypto.secretEpochs(), [2]);
  }
  const before = w.count('committed:fast');
  for (const c of w.clients) c.add(5);
  await done(w, 30_000);
  assert.ok(w.count('committed:fast') > before, 'the fast path is back after the rotation');
  // Every request of every client was answered: none lost across two key switches.
  for (const c of w.clients) assert.equal(c.accepted.length, 6 + 20 + 5 + (c.id === w.clients[0]!.id ? 1 : 0));
  await w.run(1_000);
  assertConverged(w);
});

test('operator commands: a bad signature, another chain id, an unbound command signed late, a replay and a rotation too soon after the last are refused', async () => {
  const w = await new World({ seed: 82, f: 1, clients: 1, requestsPerClient: 2, consensus: { ...KEYS, minRotationIntervalSec: 3_600 } }).start();
  await done(w, 60_000);
  await w.run(5_000);
  const c = w.clients[0]!;
  const forged = rotateCommand(w, [1], 5);
  forged[forged.length - 1]! ^= 1;
  c.submit(forged);
  await done(w, 30_000);
  assert.equal(resultOf(w, 0), 'refused: not signed with the operator key');
  // Well signed, but for another network that shares the operator's key.
  c.submit(rotateCommand(w, [1], 5, 7n));
  await done(w, 30_000);
  assert.equal(resultOf(w, 0), 'refused: the command was signed for chain id 7, this network is chain id 1337');
  // Version 1 named no chain id: executed only if signed before the cut-off (history), else refused.
  c.submit(rotateCommandV1(w, [1], V1_SIGNED_BEFORE_MS));
  await done(w, 30_000);
  assert.equal(resultOf(w, 0), 'refused: the command names no chain id (version 1): sign it again with this version of bulwark keys rotate');
  c.submit(rotateCommandV1(w, [1], 4));
  await done(w, 30_000);
  assert.equal(resultOf(w, 0), 'rotation: replica 1 to consensus key epoch 2');
  c.submit(rotateCommand(w, [1], 4));
  await done(w, 30_000);
  assert.equal(resultOf(w, 0), 'refused: nonce 4 is not above the last one executed (4)');
  c.submit(rotateCommand(w, [2], 6));
  await done(w, 30_000);
  assert.match(resultOf(w, 0), /^refused: too soon: the previous rotation was \d+ s ago, the minimum interval is 3600 s$/);
  await w.run(20_000);
  assert.equal(w.replicas[0]!.keys.consensus.latest(1).epoch, 2);
  assert.equal(w.replicas[0]!.keys.consensus.latest(2).epoch, 1);
  w.assertSafe();
});

/** A client node's publication of its authentication key `epoch` (`node-keys.ts`), signed by `newSecret` and endorsed by `oldSecret`. */
function authPublication(w: World, node: number, epoch: number, newSecret: Uint8Array, oldSecret: Uint8Array): Uint8Array {
  const reg = w.registry as SimKeyRegistry;
  const publicKey = reg.nodePublicKey(newSecret);
  const statement = nodeKeyStatement({ kind: 'auth', node, epoch, publicKey });
  return encodeNodeKeyPublication({
    kind: 'auth',
    node,
    epoch,
    publicKey,
    possession: reg.signNodeKey(newSecret, nodeKeySigningBytes(POSSESSION_DOMAIN, statement)),
    endorsement: reg.signNodeKey(oldSecret, nodeKeySigningBytes(ENDORSEMENT_DOMAIN, statement)),
  });
}

test('a client node rotates its authentication key: refused unasked, unendorsed or replayed; taken at one agreed point by all; requests under the new key served', async () => {
  const w = await new World({ seed: 83, f: 1, clients: 1, requestsPerClient: 2, consensus: { ...KEYS, minRotationIntervalSec: 0 } }).start();
  await done(w, 60_000);
  await w.run(5_000);
  const reg = w.registry as SimKeyRegistry;
  const c = w.clients[0]!;
  const id = c.id;
  const old = reg.secret('client', id);
  const fresh = reg.secret('client', id, 1);
  c.submit(authPublication(w, id, 1, fresh, old));
  await done(w, 30_000);
  assert.equal(resultOf(w, 0), `refused: no rotation asked for auth key epoch 1 of node ${id}`);
  const command = encodeOperatorCommand({ kind: 'rotate-keys', consensus: [], execution: [], auth: [id], tls: [], nonce: 9 }, BigInt(DEFAULT_CONSENSUS_CONFIG.chainId));
  c.submit(encodeOperatorPayload(command, reg.signOperator(command)));
  await done(w, 30_000);
  assert.equal(resultOf(w, 0), `rotation: client node ${id} to auth key epoch 1`);
  c.submit(authPublication(w, id, 1, fresh, reg.secret('client', id, 7)));
  await done(w, 30_000);
  assert.equal(resultOf(w, 0), 'refused: not endorsed by auth key epoch 0');
  c.submit(authPublication(w, id, 1, fresh, old));
  await done(w, 30_000);
  const taken = /^auth key epoch 1 of node \d+ takes effect at sequence (\d+)$/.exec(resultOf(w, 0));
  assert.ok(taken, resultOf(w, 0));
  c.submit(authPublication(w, id, 1, fresh, old));
  await done(w, 30_000);
  assert.equal(resultOf(w, 0), 'refused: epoch 1 is not the next one (2)');
  // Every replica took the same record, to take effect at the same sequence number.
  const histories = w.honestReplicas().map((r) => JSON.stringify(r.keys.node.published().map((k) => [k.kind, k.node, k.epoch, k.effectiveSeq])));
  assert.equal(new Set(histories).size, 1, histories.join(' | '));
  assert.equal(w.replicas[0]!.keys.node.latest('auth', id)!.effectiveSeq, Number(taken[1]));
  // Past the switch (the primary drives an idle network there), requests signed with the new key are served.
  await w.run(20_000);
  assert.ok(w.replicas[0]!.state!.lastExecuted + 1 >= Number(taken[1]));
  reg.clientEpoch.set(id, 1);
  c.add(3);
  await done(w, 30_000);
  w.assertSafe();
  await w.run(1_000);
  assertConverged(w);
});
