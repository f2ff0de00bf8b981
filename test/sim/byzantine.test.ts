// Byzantine replicas as decorators over honest ones; the safety checker fails any run in which
// honest replicas disagree, and each test asserts the attack was noticed and the network went on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeMessage } from '../../src/codec/message-codec.ts';
import type { ClientRequest } from '../../src/codec/messages.ts';
import { World } from './harness/world.ts';
import {
  badShares,
  corruptCheckpoint,
  equivocatingPrimary,
  forgedBitVector,
  replayer,
  silentPrimary,
  wrongDigest,
} from './harness/byzantine.ts';
import { assertConverged, done, viewOf } from './harness/expect.ts';
import { Prng } from './harness/prng.ts';

test('an equivocating primary is replaced without a safety violation', async () => {
  for (let seed = 40; seed < 46; seed++) {
    const w = await new World({ seed, f: 1, clients: 2, requestsPerClient: 8, byzantine: { 0: [equivocatingPrimary] } }).start();
    await done(w, 60_000);
    assert.ok(viewOf(w, 1) >= 1, `seed ${seed}: the equivocating primary was voted out`);
    await w.run(2_000);
    assertConverged(w, [1, 2, 3]);
  }
});

test('a silent primary is replaced', async () => {
  const w = await new World({ seed: 47, f: 1, clients: 2, requestsPerClient: 6, byzantine: { 0: [silentPrimary] } }).start();
  await done(w, 60_000);
  assert.ok(w.count('view-entered') > 0);
});

test('a collector excludes a bad signature share and still completes', async () => {
  // Replica 3 sends shares that do not verify; with n = 4 the fast path needs all four, so the
  // collector falls back to checking shares one by one, excludes 3's and commits on the slow path.
  const w = await new World({ seed: 48, f: 1, clients: 2, requestsPerClient: 8, byzantine: { 3: [badShares] } }).start();
  await done(w, 60_000);
  assert.ok(w.count('bad-share-excluded') > 0);
  assert.ok(w.rejected('bad-share') > 0, 'counted');
  assert.ok(w.count('committed:slow') > 0);
  assert.equal(w.count('view-change-started'), 0);
});

test('a bad share among n − c good ones: the fast path still completes (c = 1)', async () => {
  const w = await new World({ seed: 49, f: 1, c: 1, clients: 2, requestsPerClient: 8, byzantine: { 5: [badShares] } }).start();
  await done(w, 60_000);
  assert.ok(w.count('committed:fast') > 0);
});

test('votes for a digest nobody proposed are ignored', async () => {
  const w = await new World({ seed: 50, f: 1, clients: 2, requestsPerClient: 8, byzantine: { 2: [wrongDigest] } }).start();
  await done(w, 60_000);
  assert.equal(w.count('view-change-started'), 0);
});

test('replayed messages from old views change nothing', async () => {
  const p = new Prng(51);
  const w = await new World({ seed: 51, f: 1, clients: 2, requestsPerClient: 10, byzantine: { 1: [replayer(p, 4)] } }).start();
  await w.run(300);
  w.crash(0); // a view change, so that there are old views to replay from
  for (const cl of w.clients) cl.add(10);
  await done(w, 90_000);
  assert.ok(w.count('view-entered') > 0);
});

test('certificates with a forged signer bit-vector are refused', async () => {
  const w = await new World({ seed: 52, f: 1, clients: 3, requestsPerClient: 10, byzantine: { 1: [forgedBitVector] } }).start();
  await done(w, 60_000);
  assert.ok(w.rejected('bad-certificate') > 0, 'the forged certificates were seen and refused');
});

test('a corrupt checkpoint from one replica is ignored', async () => {
  const w = await new World({ seed: 53, f: 1, clients: 2, requestsPerClient: 30, byzantine: { 3: [corruptCheckpoint()] } }).start();
  await done(w, 60_000);
  await w.run(1_000);
  assert.ok(w.rejected('bad-checkpoint') > 0, 'the badly signed ones were counted');
  for (const r of w.honestReplicas()) assert.ok(r.state!.lastStable >= 20, `${r.label} still reaches stable checkpoints`);
});

test('Twins: two replicas sharing one identity cannot split the honest ones', async () => {
  for (let seed = 54; seed < 60; seed++) {
    const w = new World({ seed, f: 1, clients: 2, requestsPerClient: 8, twins: [seed % 4] });
    w.splitLabels(['r0', 'r1', 'r2', 'r3', 'c4'].filter((l) => l !== `r${(seed + 1) % 4}`), [`r${seed % 4}'`, `r${(seed + 1) % 4}`, 'c5']);
    await (await w.start()).run(5_000);
    w.heal();
    await done(w, 90_000);
  }
});

test('the checkers catch a planted bug: every quorum one too small (Twins and a partition)', async () => {
  // With quorums of 2f + c and 2f + 2c out of n = 4, the side {r2, r3'} of a partition can change
  // view and commit on its own while {r0, r1, r3} commits other batches at the same sequence numbers.
  const run = async (planted: boolean) => {
    const w = new World({ seed: 61, f: 1, clients: 2, requestsPerClient: 20, twins: [3], ...(planted ? { plantedBug: 'quorum-one-too-small' as const } : {}) });
    w.splitLabels(['r0', 'r1', 'r3', 'c4'], ['r2', "r3'", 'c5']);
    await (await w.start()).run(20_000);
    return w.violations;
  };
  const caught = await run(true);
  assert.ok(caught.some((v) => v.startsWith('safety: ') && v.includes('committed different batches')), `not caught: ${caught.join('; ')}`);
  assert.deepEqual(await run(false), [], 'the same run with correct quorums is safe');
});

test('client requests with a corrupt signature, a wrong client id, or another client\'s id are refused', async () => {
  const w = await new World({ seed: 62, f: 1, clients: 2, requestsPerClient: 3 }).start();
  await done(w, 20_000);
  const [c4, c5] = [w.n, w.n + 1];
  const sign = (r: Omit<ClientRequest, 'signature'>): ClientRequest => ({ ...r, signature: w.registry.signClientRequest(r) });
  const attacker = w.network.transport(c5, 'attacker');
  attacker.open();
  const send = (r: ClientRequest) => {
    for (let id = 0; id < w.n; id++) attacker.send(id, encodeMessage({ type: 'Request', request: r }));
  };
  const corrupt = sign({ clientId: c5, requestSeq: 100, flags: 0, payload: new Uint8Array([1]) });
  send({ ...corrupt, signature: corrupt.signature.map((b) => b ^ 1) });
  send(sign({ clientId: 999, requestSeq: 101, flags: 0, payload: new Uint8Array([2]) })); // no such client
  send(sign({ clientId: c4, requestSeq: 102, flags: 0, payload: new Uint8Array([3]) })); // c5 speaking as c4
  await w.run(3_000);
  assert.ok(w.rejected('bad-request-signature') >= 4);
  assert.ok(w.rejected('wrong-client-id') >= 8);
  for (const r of w.replicas) {
    assert.ok(![...r.ledger.values()].some((rec) => rec.batch.requests.some((q) => q.requestSeq >= 100)), 'none was ordered');
  }
});
