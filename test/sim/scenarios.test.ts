// The named scenarios, after Concord-BFT's own suite (its `tests/apollo`): each runs the real
// replica state machines in the deterministic simulator and asserts what must have happened.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { World, type NetProfile } from './harness/world.ts';
import { silent } from './harness/byzantine.ts';
import { assertConverged, done, executedAt, viewOf } from './harness/expect.ts';

const SHAPES = [
  { f: 1, c: 0 },
  { f: 2, c: 0 },
  { f: 1, c: 1 },
];

for (const { f, c } of SHAPES) {
  describe(`n = 3f + 2c + 1 with f=${f}, c=${c}`, () => {
    test('the fast path is taken by default', async () => {
      const w = await new World({ seed: 11, f, c, clients: 3, requestsPerClient: 15 }).start();
      await done(w, 30_000);
      assert.ok(w.count('committed:fast') > 0);
      assert.equal(w.count('committed:slow'), 0, 'no slow-path commits on a healthy network');
      assert.equal(w.count('view-change-started'), 0);
      await w.run(1_000);
      assertConverged(w);
    });

    test('view change when the primary crashes', async () => {
      const w = await new World({ seed: 12, f, c, clients: 2, requestsPerClient: 10 }).start();
      await w.run(300);
      w.crash(0);
      for (const cl of w.clients) cl.add(5);
      await done(w, 60_000);
      assert.ok(w.count('view-entered') > 0, 'a new view was entered');
      for (const r of w.honestReplicas().filter((r) => r.alive)) assert.ok(viewOf(w, r.id) >= 1);
      await w.run(1_000);
      assertConverged(w);
    });
  });
}

test('client node ids from firstClient (replica ids kept free to grow): requests ordered, executed and answered, through a view change', async () => {
  const w = await new World({ seed: 17, f: 1, clients: 2, requestsPerClient: 12, consensus: { firstClient: 7 } }).start();
  assert.deepEqual(w.clients.map((c) => c.id), [7, 8]);
  w.crash(0); // and through a view change
  await done(w, 60_000);
  await w.run(1_000);
  assertConverged(w);
  const r = w.honestReplicas().find((r) => r.alive)!;
  assert.deepEqual([...r.state!.clients.keys()].sort(), [7, 8], 'the client table holds the clients under their ids');
});

test('every block is announced to every client node by f + 1 matching signed notices', async () => {
  const w = await new World({ seed: 29, f: 1, clients: 2, requestsPerClient: 12 }).start();
  await done(w, 30_000);
  await w.run(1_000);
  const blocks = w.replicas[1]!.app.state.summary.blockNumber;
  assert.ok(blocks > 10);
  for (const c of w.clients) {
    const certified = [...c.notices.values()].filter((bySummary) => [...bySummary.values()].some((who) => who.size >= 2));
    assert.equal(certified.length, blocks, `client ${c.id} can certify every block`);
    assert.equal(c.badReplies, 0);
  }
});

test('execution slower than the request timeout is no reason to change view', async () => {
  // Each batch takes 900 ms to execute, so ordered requests wait well past the 2 s request timeout
  // for the batches ahead of them: the primary ordered them, and keeps its view.
  const w = await new World({ seed: 31, f: 1, clients: 3, requestsPerClient: 12, executionMs: 900, consensus: { maxBatchRequests: 1 } }).start();
  await done(w, 120_000);
  assert.equal(w.count('view-change-started'), 0);
  await w.run(5_000);
  assertConverged(w);
});

test('fast path to slow path with one silent replica', async () => {
  const w = await new World({ seed: 21, f: 1, clients: 2, requestsPerClient: 10, byzantine: { 3: [silent] } }).start();
  await done(w, 30_000);
  assert.ok(w.count('committed:slow') > 0, 'commits went through the slow path');
  assert.equal(w.count('view-change-started'), 0, 'a silent backup is no reason to change view');
});

test('view change with f replicas down', async () => {
  const w = await new World({ seed: 22, f: 2, clients: 2, requestsPerClient: 8 }).start();
  await w.run(200);
  w.crash(0);
  w.crash(4);
  for (const cl of w.clients) cl.add(4);
  await done(w, 60_000);
  assert.ok(w.count('view-entered') > 0);
});

test('two view changes in a row: the current and the next primary are down', async () => {
  const w = await new World({ seed: 23, f: 2, clients: 2, requestsPerClient: 8 }).start();
  await w.run(200);
  w.crash(0);
  w.crash(1);
  for (const cl of w.clients) cl.add(4);
  await done(w, 90_000);
  const views = w.honestReplicas().filter((r) => r.alive).map((r) => viewOf(w, r.id));
  assert.ok(views.every((v) => v >= 2), `views ${views.join(',')}: view 1's primary was down too`);
});

test('the primary isolated, then returning', async () => {
  const w = await new World({ seed: 24, f: 1, clients: 2, requestsPerClient: 6 }).start();
  await w.run(300);
  w.isolate(0);
  for (const cl of w.clients) cl.add(6);
  await done(w, 60_000);
  assert.ok(viewOf(w, 1) >= 1);
  w.heal();
  for (const cl of w.clients) cl.add(4);
  await done(w, 60_000);
  await w.run(3_000);
  assert.equal(viewOf(w, 0), viewOf(w, 1), 'the old primary learnt the new view');
  assertConverged(w);
});

test('checkpoints are created, become stable everywhere, and free the window', async () => {
  // K = 10 in the simulator: 60 sequence numbers make six checkpoints.
  const w = await new World({ seed: 25, f: 1, clients: 2, requestsPerClient: 40 }).start();
  await done(w, 60_000);
  await w.run(1_000);
  for (const r of w.honestReplicas()) {
    const s = r.state!;
    assert.ok(s.lastStable >= 30, `${r.label} stable at ${s.lastStable}`);
    assert.ok([...s.slots.keys()].every((seq) => seq > s.lastStable), 'nothing kept at or below the stable checkpoint');
    assert.ok(r.persisted.stable !== null && r.persisted.stable.seq === s.lastStable, 'the certificate is persisted');
  }
});

test('a crashed replica catches up by state transfer', async () => {
  const w = await new World({ seed: 26, f: 1, clients: 2, requestsPerClient: 5 }).start();
  await done(w, 20_000);
  w.crash(3);
  for (const cl of w.clients) cl.add(60); // far beyond the window of 40
  await done(w, 120_000);
  const ahead = executedAt(w, 0);
  assert.ok(ahead - executedAt(w, 3) > 40, 'the crashed replica fell behind by more than a window');
  await w.restart(3);
  await w.run(10_000);
  assert.ok(w.count('catching-up') > 0);
  assert.equal(executedAt(w, 3), executedAt(w, 0));
  assertConverged(w);
});

test('a replica isolated past the window catches up', async () => {
  const w = await new World({ seed: 27, f: 1, clients: 2, requestsPerClient: 5 }).start();
  await done(w, 20_000);
  w.isolate(2);
  for (const cl of w.clients) cl.add(60);
  await done(w, 120_000);
  assert.ok(executedAt(w, 0) - executedAt(w, 2) > 40);
  w.heal();
  await w.run(10_000);
  assert.equal(executedAt(w, 2), executedAt(w, 0));
  assertConverged(w);
});

test('all replicas restarted read their committed data and go on', async () => {
  const w = await new World({ seed: 28, f: 1, clients: 2, requestsPerClient: 12 }).start();
  await done(w, 30_000);
  await w.run(500);
  const before = w.replicas.map((r) => r.app.state.lastExecuted);
  for (let id = 0; id < w.n; id++) w.crash(id);
  await w.run(100);
  for (let id = 0; id < w.n; id++) await w.restart(id);
  assert.deepEqual(w.replicas.map((r) => r.state!.lastExecuted), before, 'nothing executed was lost');
  for (const cl of w.clients) cl.add(5);
  await done(w, 60_000);
  await w.run(1_000);
  assertConverged(w);
  // Exactly once: no request ran twice across the restart.
  for (const cl of w.clients) assert.equal(new Set(cl.accepted.map((a) => a.requestSeq)).size, cl.accepted.length);
});

/**
 * Mid-traffic, `rounds` times per seed, one replica picked at random goes `down` (a crash or a
 * power cut) and comes back `downFor` ms or less later; every client must be answered. The safety
 * checkers fail the run on any second digest for a slot, second outcome for a sequence number or
 * request.
 */
async function downOneAtATime(o: {
  readonly seeds: readonly number[];
  readonly rounds: number;
  readonly requestsPerClient: number;
  readonly net: Partial<NetProfile>;
  readonly downFor: number;
  readonly down: (w: World, id: number) => Promise<unknown> | void;
}): Promise<World[]> {
  const worlds: World[] = [];
  for (const seed of o.seeds) {
    const w = await new World({ seed, f: 1, clients: 3, requestsPerClient: o.requestsPerClient, net: o.net }).start();
    for (let i = 0; i < o.rounds; i++) {
      await w.run(80 + w.prng.int(0, 200));
      const id = w.prng.int(0, 3);
      await o.down(w, id);
      await w.run(w.prng.int(0, o.downFor));
      await w.restart(id);
    }
    await done(w, 120_000);
    worlds.push(w);
  }
  return worlds;
}

test('a restarted replica never signs a second digest for a slot it voted on', async () => {
  // Crash and restart replicas in the middle of traffic, many times: the safety checker fails the
  // run if any honest replica persists two different votes for one (view, seq).
  const seeds = Array.from({ length: 10 }, (_, i) => 30 + i);
  await downOneAtATime({ seeds, rounds: 6, requestsPerClient: 20, net: { maxDelay: 15, drop: 0.02 }, downFor: 100, down: (w, id) => w.crash(id) });
});

// Power cuts (issue #16's unsynced writes): a replica's committed batches, replies and executed
// blocks are written without a sync of their own (`replica/consensus-store.ts`, `EthereumApp`),
// so a power cut can take them back to the store's last synced write. The checkers fail the run
// if that ever lets a replica sign a second digest for a slot, commit or execute a sequence number
// differently, or answer a request with a different outcome; the clients must all be answered.
test('every replica loses power at once, again and again, mid-traffic: nothing committed is lost or changed', async () => {
  let lostAtAll = 0;
  let wentBack = 0;
  for (let seed = 50; seed < 56; seed++) {
    const w = await new World({ seed, f: 1, clients: 3, requestsPerClient: 25, net: { maxDelay: 10, drop: 0.01 } }).start();
    for (let i = 0; i < 4; i++) {
      await w.run(60 + w.prng.int(0, 150));
      const executed = w.replicas.map((r) => r.app.state.lastExecuted);
      lostAtAll += await w.powerCut(w.replicas.map((r) => r.id));
      wentBack += w.replicas.filter((r, id) => r.app.state.lastExecuted < executed[id]!).length;
      await w.run(w.prng.int(0, 50));
      for (let id = 0; id < w.n; id++) await w.restart(id);
    }
    await done(w, 120_000);
    await w.run(1_000);
    assertConverged(w);
    for (const cl of w.clients) assert.equal(new Set(cl.accepted.map((a) => a.requestSeq)).size, cl.accepted.length, `seed ${seed}: a request ran twice`);
  }
  assert.ok(lostAtAll > 0, 'the power cuts lost unsynced writes');
  assert.ok(wentBack > 0, 'some replica lost executed blocks and executed them again');
});

test('one replica at a time loses power while the others go on', async () => {
  const worlds = await downOneAtATime({ seeds: [60, 61, 62, 63], rounds: 5, requestsPerClient: 25, net: { maxDelay: 10, drop: 0.01 }, downFor: 150, down: (w, id) => w.powerCut([id]) });
  for (const w of worlds) {
    await w.run(2_000);
    assertConverged(w);
  }
});
