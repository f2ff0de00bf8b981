// Membership changes (issue #19), Concord-BFT's way, in the simulator: the operator's signed
// `reconfigure` names the new network file, the network wedges, every replica is restarted with
// the new configuration and takes it up at the wedge point, and new members join from a snapshot
// (here a stand-in: `World.reconfigure`, `SimReplica.installSnapshot`). Under load, through
// 4 → 5 → 7 → 4, with the primary crashing on the way to the wedge point, a Byzantine or crashed
// replica in the new set, and a replica down through the whole change (whose store is behind the
// wedge point: it cannot replay into the new configuration, and comes in by snapshot).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { primaryOf, quorumsOf } from '../../src/consensus/config.ts';
import { World } from './harness/world.ts';
import { operatorPayload } from './harness/operator.ts';
import { badShares, corruptCheckpoint } from './harness/byzantine.ts';
import { assertConverged, done } from './harness/expect.ts';

const utf8 = (hex: string) => Buffer.from(hex, 'hex').toString('utf8');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Stands for the new network file: its SHA-256, as `bulwark reconfigure` prints it. */
function networkFile(text: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(text).digest());
}

/** Client ids start at 7, above every replica id these scenarios use (`firstClient`). */
const world = (seed: number, requestsPerClient: number) =>
  new World({ seed, f: 1, clients: 2, requestsPerClient, idleClients: 1, consensus: { firstClient: 7 } });
const CARRIER = 2;

/** Runs until the operator's client has `n` answers; returns the last. */
async function answered(w: World, n: number, ms = 30_000): Promise<string> {
  const c = w.clients[CARRIER]!;
  const until = w.queue.now + ms;
  while (c.accepted.length < n) {
    assert.ok(w.queue.now < until, `seed ${w.seed}: operator command ${n} not answered in ${ms} ms`);
    await w.run(20);
    w.assertSafe();
  }
  return utf8(c.accepted[n - 1]!.result);
}

/** Submits the signed `reconfigure` naming `file`; the wedge point from its answer. */
async function reconfigure(w: World, file: Uint8Array, nonce: number): Promise<number> {
  w.clients[CARRIER]!.submit(operatorPayload(w, { kind: 'reconfigure', network: file, nonce }));
  const result = await answered(w, nonce);
  const m = /^reconfigure: nothing is ordered after sequence number (\d+); restart every node there with the network file of sha256 ([0-9a-f]{64}) \(configuration epoch (\d+)\)$/.exec(result);
  assert.ok(m !== null, `not a reconfigure result: ${result}`);
  assert.equal(m[2], hex(file));
  assert.equal(Number(m[3]), w.epoch + 1);
  const at = Number(m[1]);
  assert.equal(at % w.cfg.checkpointInterval, 0, 'the wedge point is a checkpoint boundary');
  return at;
}

/** Runs until every running honest replica executed to `at` and holds its stable checkpoint there. */
async function untilWedged(w: World, at: number, ms = 30_000): Promise<void> {
  const until = w.queue.now + ms;
  const wedged = () => w.honestReplicas().filter((r) => r.alive).every((r) => r.state!.lastExecuted === at && r.state!.lastStable === at);
  while (!wedged()) {
    const where = w.replicas.map((r) => `${r.label}:${r.state?.lastExecuted ?? '-'}/${r.state?.lastStable ?? '-'}`).join(' ');
    assert.ok(w.queue.now < until, `seed ${w.seed}: not wedged at ${at} in ${ms} ms (${where})`);
    await w.run(50);
    w.assertSafe();
  }
  for (const r of w.honestReplicas().filter((r) => r.alive)) {
    assert.equal(r.state!.operator.wedgeAt, at);
    assert.ok(r.state!.operator.reconfiguration !== null);
  }
  assertConverged(w);
}

/** Every running replica runs the configuration of epoch `epoch` from `at` + 1 on, with the world's quorums. */
function assertConfiguration(w: World, epoch: number, file: Uint8Array, at: number): void {
  for (const r of w.replicas.filter((r) => r.alive)) {
    const op = r.state!.operator;
    assert.equal(op.configuration.epoch, epoch, `${r.label}: configuration epoch`);
    assert.equal(hex(op.configuration.network!), hex(file), `${r.label}: network file`);
    assert.equal(op.configuration.fromSeq, at + 1, `${r.label}: first sequence number of the epoch`);
    assert.equal(op.wedgeAt, 0, `${r.label}: the wedge is over`);
    assert.equal(op.reconfiguration, null, `${r.label}: no reconfiguration under way`);
    assert.deepEqual(r.state!.q, quorumsOf(w.cfg), `${r.label}: quorums of n = ${w.n}`);
    assert.equal(r.state!.q.n, w.n);
  }
}

/** Each loaded client had every one of its `count` requests answered, once each, in order. */
function assertAnsweredOnce(w: World, count: number): void {
  for (const c of w.clients.slice(0, 2)) {
    assert.deepEqual(
      c.accepted.map((a) => a.requestSeq),
      Array.from({ length: count }, (_, i) => i + 1),
      `client ${c.id}: every request answered exactly once`,
    );
  }
}

test('4 → 5 under load: the fifth replica joins at the wedge point and executes what the others do, on the fast path of five', async () => {
  const w = await world(101, 40).start();
  await w.run(300);
  const file = networkFile('network n=5 f=1 c=0');
  const at = await reconfigure(w, file, 1);
  await untilWedged(w, at);
  const open = w.clients.slice(0, 2).map((c) => c.remaining);
  assert.ok(open.every((n) => n > 0), `the load was still running when the network wedged (open: ${open.join(', ')})`);
  const checks = await w.reconfigure({ n: 5, f: 1 }, file);
  assert.deepEqual([...checks], [[0, 'take-up'], [1, 'take-up'], [2, 'take-up'], [3, 'take-up'], [4, 'behind']]);
  assert.equal(w.replicas.length, 5);
  assert.equal(w.replicas[4]!.app.state.lastExecuted, at, 'the new replica starts at the wedge point');
  const fastBefore = w.count('committed:fast');
  await done(w, 90_000);
  await w.run(2_000);
  w.assertSafe();
  assertAnsweredOnce(w, 40);
  assertConverged(w);
  assertConfiguration(w, 1, file, at);
  const fifth = w.replicas[4]!;
  assert.ok(fifth.app.state.lastExecuted > at + 10, `r4 executed beyond the wedge point (${fifth.app.state.lastExecuted})`);
  assert.ok(fifth.state!.lastStable > at, 'r4 signed stable checkpoints of the new configuration');
  // Fast = n − c = 5: a batch committed fast after the change carried r4's share.
  assert.ok(w.count('committed:fast') > fastBefore, 'the fast path of five commits after the change');
  assert.equal(w.rejected('bad-checkpoint'), 0, 'no replica refused an honest peer\'s checkpoint');
});

test('4 → 5 → 7 (f = 2) → 4 under load: every request answered once, each epoch taken up everywhere', async () => {
  const w = await world(102, 30).start();
  const steps = [
    { n: 5, f: 1 },
    { n: 7, f: 2 },
    { n: 4, f: 1 },
  ];
  for (const [i, step] of steps.entries()) {
    // More load at each step, so that requests are open across every wedge.
    for (const c of w.clients.slice(0, 2)) c.add(25);
    await w.run(400);
    const answeredBefore = w.clients[0]!.accepted.length + w.clients[1]!.accepted.length;
    const file = networkFile(`network n=${step.n} f=${step.f} c=0 (epoch ${i + 1})`);
    const at = await reconfigure(w, file, i + 1);
    await untilWedged(w, at);
    assert.ok(w.clients.slice(0, 2).every((c) => c.remaining > 0), `step ${i + 1}: the load was still running when the network wedged`);
    const before = w.n;
    const checks = await w.reconfigure(step, file);
    for (const [id, check] of checks) assert.equal(check, id < Math.min(before, step.n) ? 'take-up' : 'behind', `r${id}`);
    assert.equal(w.replicas.length, step.n);
    await w.run(3_000);
    w.assertSafe();
    assertConfiguration(w, i + 1, file, at);
    const answeredAfter = w.clients[0]!.accepted.length + w.clients[1]!.accepted.length;
    assert.ok(answeredAfter > answeredBefore, `step ${i + 1}: the load goes on in the new configuration`);
    assert.ok(w.replicas.every((r) => r.state!.lastExecuted > at), `step ${i + 1}: every replica executes beyond the wedge point`);
  }
  assert.deepEqual(w.removed.map((r) => r.id), [4, 5, 6], 'the highest ids were removed');
  assert.ok(w.removed.every((r) => !r.alive));
  await done(w, 120_000);
  await w.run(2_000);
  w.assertSafe();
  assertAnsweredOnce(w, 30 + 3 * 25);
  assertConverged(w);
  for (const r of w.replicas) assert.equal(r.state!.operator.configuration.epoch, 3);
});

test('faults: the primary crashes on the way to the wedge point, and the added replica is Byzantine (bad shares, corrupt checkpoints)', async () => {
  const w = await world(103, 40).start();
  await w.run(300);
  const file = networkFile('network n=5 f=1 c=0, r4 Byzantine');
  const at = await reconfigure(w, file, 1);
  const primary = primaryOf(w.replicas[1]!.state!.view, w.n);
  w.crash(primary);
  await untilWedged(w, at, 60_000);
  assert.ok(w.count('view-entered') > 0, 'a view change on the way to the wedge point');
  // The old primary was down at the wedge point: its store is behind it, and it comes back
  // through the (stand-in) snapshot; the three others take the reconfiguration up.
  const checks = await w.reconfigure({ n: 5, f: 1 }, file, { byzantine: { 4: [badShares, corruptCheckpoint()] } });
  assert.equal(checks.get(primary), 'behind', `r${primary} crashed before the wedge point`);
  for (const id of [0, 1, 2, 3].filter((id) => id !== primary)) assert.equal(checks.get(id), 'take-up');
  assert.equal(w.replicas[4]!.honest, false);
  await done(w, 90_000);
  await w.run(2_000);
  w.assertSafe();
  assertAnsweredOnce(w, 40);
  assertConverged(w);
  assertConfiguration(w, 1, file, at);
  assert.ok(w.count('bad-share-excluded') > 0, 'the Byzantine replica\'s shares were seen and excluded');
  assert.ok(w.rejected('bad-checkpoint') > 0, 'its checkpoints were refused');
  assert.ok(w.count('committed:slow') > 0, 'the four honest replicas commit on the slow path');
});

test('faults: after 4 → 5 the primary crashes under load before the new configuration\'s first stable checkpoint: a view change from its base', async () => {
  const w = await world(104, 40).start();
  await w.run(300);
  const file = networkFile('network n=5 f=1 c=0, then a crash');
  const at = await reconfigure(w, file, 1);
  await untilWedged(w, at);
  await w.reconfigure({ n: 5, f: 1 }, file);
  await w.run(200);
  const view = w.replicas[1]!.state!.view;
  const primary = primaryOf(view, w.n);
  // Before the new configuration has a stable checkpoint of its own: the view change starts from its base.
  for (const r of w.replicas) assert.equal(r.state!.lastStable, at, `${r.label}: stable at the wedge point`);
  w.crash(primary);
  const up = w.replicas.filter((r) => r.alive).map((r) => r.id);
  await done(w, 90_000);
  await w.run(2_000);
  w.assertSafe();
  assertAnsweredOnce(w, 40);
  for (const id of up) assert.ok(w.replicas[id]!.state!.view > view, `r${id} left view ${view}`);
  assert.equal(w.rejected('bad-view-change'), 0, 'every ViewChange verified, the new member\'s and its peers\'');
  assertConverged(w);
  assertConfiguration(w, 1, file, at);
  assert.ok(w.replicas[4]!.app.state.lastExecuted > at + 10);
});

test('a replica down through the whole change is behind the wedge point: replay does not bring it in, the snapshot does', async () => {
  const w = await world(105, 30).start();
  await w.run(300);
  w.crash(3);
  const behindAt = w.replicas[3]!.app.state.lastExecuted;
  await w.run(300);
  const file = networkFile('network n=5 f=1 c=0, r3 down');
  const at = await reconfigure(w, file, 1);
  await untilWedged(w, at);
  assert.ok(behindAt < at, `r3 stopped at ${behindAt}, before the wedge point ${at}`);
  const checks = await w.reconfigure({ n: 5, f: 1 }, file, { down: [3] });
  assert.deepEqual([...checks], [[0, 'take-up'], [1, 'take-up'], [2, 'take-up'], [4, 'behind']]);
  for (const c of w.clients.slice(0, 2)) c.add(10);
  await w.run(5_000);
  w.assertSafe();
  // Started on its own store (which `node/configuration.ts` does not allow: its check says
  // behind), it cannot replay up to the wedge point: those batches are certified by the old
  // replica set's quorums, which the new configuration's do not accept.
  const rejectedBefore = w.rejected('bad-certificate');
  assert.equal(await w.rejoin(3, { snapshot: false }), 'behind');
  await w.run(10_000);
  w.assertSafe();
  const r3 = w.replicas[3]!;
  assert.ok(r3.app.state.lastExecuted < at, `r3 replayed to ${r3.app.state.lastExecuted}, up to the wedge point ${at}`);
  assert.equal(r3.app.state.operator.configuration.epoch, 0, 'r3 is still in the old configuration');
  assert.ok(w.rejected('bad-certificate') > rejectedBefore, 'r3 refused the old configuration\'s certificates');
  const newest = Math.max(...[0, 1, 2, 4].map((id) => w.replicas[id]!.app.state.lastExecuted));
  assert.ok(newest > at + 10, 'the others went on without it');
  // As a real replica does: behind, so the snapshot first (the stand-in: the newest stable
  // checkpoint of a peer, in the new configuration), then the batches after it.
  assert.equal(await w.rejoin(3), 'behind');
  assert.equal(r3.app.state.operator.configuration.epoch, 1);
  assert.ok(r3.app.state.lastExecuted > at);
  for (const c of w.clients.slice(0, 2)) c.add(10);
  await done(w, 90_000);
  await w.run(3_000);
  w.assertSafe();
  assertAnsweredOnce(w, 50);
  assertConverged(w);
  assertConfiguration(w, 1, file, at);
  assert.equal(r3.app.state.lastExecuted, w.replicas[0]!.app.state.lastExecuted);
});

test('4 → 5 with a wedge point beyond the window and one old replica down through the change: the new member, from a snapshot with no certificate, is needed at once, and takes part', async () => {
  // The new member's store holds no stable certificate (a snapshot installs none), and the one at
  // the wedge point was signed by the old replica set under the old quorums, which the new ones
  // cannot check: the configuration's base is its first stable point (`configurationBase`). Without
  // that, the new member would see every slot beyond the wedge point outside its window, and the
  // old certificate as misconduct by its peers; with r3 down, n = 5 needs all four others.
  const w = await world(106, 30).start();
  await w.run(600);
  w.crash(3);
  const file = networkFile('network n=5 f=1 c=0, wedge point beyond the window');
  const at = await reconfigure(w, file, 1);
  await untilWedged(w, at);
  assert.ok(at >= w.cfg.window, `the wedge point ${at} is beyond the window (${w.cfg.window})`);
  const checks = await w.reconfigure({ n: 5, f: 1 }, file, { down: [3] });
  assert.equal(checks.get(4), 'behind');
  for (const c of w.clients.slice(0, 2)) c.add(10);
  await done(w, 30_000);
  await w.run(2_000);
  w.assertSafe();
  assertAnsweredOnce(w, 40);
  assertConverged(w);
  assertConfiguration(w, 1, file, at);
  assert.equal(w.rejected('bad-checkpoint'), 0, 'no peer sent a certificate the new member cannot check');
  assert.equal(w.rejected('outside-window'), 0);
  assert.ok(w.replicas[4]!.state!.lastStable > at, 'r4 signed the first stable checkpoint of the new configuration');
});
