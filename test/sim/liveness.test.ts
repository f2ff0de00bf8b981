// Liveness under load (issue #14): the causes of the view-change storm a sustained load drove the
// real network into, each as a scenario of its own. They run in the random sweep too (random.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ViewChange } from '../../src/codec/messages.ts';
import { World } from './harness/world.ts';
import { viewChangeFlood } from './harness/byzantine.ts';
import { assertConverged, done, viewOf } from './harness/expect.ts';

test('a primary whose execution is slower than the request timeout keeps its view under a stream', async () => {
  // Replica 0 leads view 0 and takes 2.5 s per batch, the others 0.2 s (the primary of a loaded
  // machine also proposes and collects). It proposes only while few of its batches wait for its
  // own execution, so requests wait at it past the 1 s request timeout while the backups, done with
  // their execution long ago, see nothing of their own to wait for. Its Status shows it executing,
  // with its pipeline full: that is no fault, and no reason to change view.
  const w = await new World({
    seed: 41,
    f: 1,
    clients: 4,
    requestsPerClient: 12,
    executionMs: { 0: 2_500, 1: 200, 2: 200, 3: 200 },
    consensus: { maxBatchRequests: 1 },
  }).start();
  await done(w, 300_000);
  assert.equal(w.count('view-change-started'), 0, 'no view change');
  await w.run(10_000);
  assertConverged(w);
});

test('a primary that orders nothing is still replaced, slow execution elsewhere or not', async () => {
  // The other side of the rule above: a primary that stops proposing (its Status shows nothing of
  // its own waiting for execution) is replaced as before.
  const w = await new World({ seed: 42, f: 1, clients: 2, requestsPerClient: 6, executionMs: { 1: 1_500 } }).start();
  await w.run(2_000);
  w.replicas[0]!.behaviours.push({ name: 'silent-primary', onSend: (_n, s) => (s.message.type === 'PrePrepare' ? [] : [s]) });
  for (const c of w.clients) c.add(3);
  await done(w, 120_000);
  assert.ok(w.count('view-entered') > 0, 'a new view was entered');
  await w.run(30_000); // replica 1 executes what it ordered, 1.5 s a batch
  assertConverged(w);
});

test('a replica that dies during a view change: the n − f left complete one', async () => {
  // The primary is cut off, the others start a view change to view 1; its primary (replica 1)
  // dies in the middle of it, and the old primary comes back. Replicas 0, 2 and 3 — n − f — must
  // still reach a view whose primary is alive, and go on committing.
  const w = await new World({ seed: 43, f: 1, clients: 3, requestsPerClient: 10 }).start();
  const vcs: ViewChange[] = [];
  w.replicas[2]!.behaviours.push({ name: 'recorder', onSend: (_n, s) => (s.message.type === 'ViewChange' && vcs.push(s.message), [s]) });
  await w.run(500);
  for (const c of w.clients) c.add(10);
  w.isolate(0);
  await w.run(2_500);
  assert.ok([1, 2, 3].some((id) => viewOf(w, id) >= 1), 'a view change started');
  // Committed slots travel as certificates: the batches inside a ViewChange are those of slots
  // still undecided (the committed ones made NewViews too large to send under load).
  assert.ok(vcs.some((m) => m.slots.some((sl) => sl.commit !== null)), 'the ViewChanges name committed slots');
  for (const m of vcs) for (const sl of m.slots) if (sl.commit !== null) assert.equal(sl.batches.length, 0, `slot ${sl.seq}`);
  w.crash(1);
  w.heal();
  for (const c of w.clients) c.add(4);
  await done(w, 120_000);
  for (const id of [0, 2, 3]) assert.ok(viewOf(w, id) >= 2, `replica ${id} left view 1, whose primary is down`);
  await w.run(5_000);
  assertConverged(w, [0, 2, 3]);
});

test('a Byzantine replica asking for ever-higher views is never followed, and costs one message held', async () => {
  const w = await new World({ seed: 44, f: 1, clients: 3, requestsPerClient: 15, byzantine: { 3: [viewChangeFlood()] } }).start();
  let most = 0;
  for (let i = 0; i < 40; i++) {
    await w.run(500);
    for (const r of w.honestReplicas()) {
      const held = [...r.state!.viewChanges.values()].reduce((a, m) => a + m.size, 0);
      most = Math.max(most, held);
    }
  }
  await done(w, 60_000);
  assert.ok(most <= w.n, `at most one ViewChange per replica held (${most})`);
  assert.equal(w.count('view-change-started'), 0, 'the flooder is never followed');
  for (const r of w.honestReplicas()) assert.ok(r.state!.view < 1_000, `replica ${r.id} stayed in a low view`);
  await w.run(2_000);
  assertConverged(w, [0, 1, 2]);
});

test('a view change completes from high views too, with a replica down', async () => {
  // Views climbed high (a long storm): timeouts have doubled to their cap. With the primary of
  // the next view down as well, the live replicas still get through in bounded time.
  const w = await new World({ seed: 45, f: 1, clients: 2, requestsPerClient: 40 }).start();
  for (let k = 0; k < 6; k++) {
    const primary = Math.max(...[0, 1, 2, 3].map((id) => viewOf(w, id))) % w.n;
    for (const c of w.clients) c.add(5);
    w.isolate(primary);
    await w.run(4_000);
    w.heal();
    await w.run(1_000);
  }
  const before = Math.max(...[0, 1, 2, 3].map((id) => viewOf(w, id)));
  assert.ok(before >= 4, `views climbed (${before})`);
  w.crash((before + 1) % w.n);
  for (const c of w.clients) c.add(3);
  await done(w, 120_000);
  await w.run(5_000);
  assertConverged(w, [0, 1, 2, 3].filter((id) => id !== (before + 1) % w.n));
});
