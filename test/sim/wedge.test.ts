// Wedge and unwedge (issue #19): the operator stops the network at an agreed checkpoint for an
// upgrade — every replica at the same state, nothing in flight, no view change however long it
// lasts, across a restart of every replica — and resumes it with nothing lost. Also while the
// primary fails on the way to the wedge point, and that a second wedge or an unwedge of a running
// network is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World } from './harness/world.ts';
import { operatorPayload } from './harness/operator.ts';
import { assertConverged, done } from './harness/expect.ts';

const utf8 = (hex: string) => Buffer.from(hex, 'hex').toString('utf8');

/** Runs until the operator's client has `n` answers; returns the last. */
async function answered(w: World, carrier: number, n: number, ms = 30_000): Promise<string> {
  const c = w.clients[carrier]!;
  const until = w.queue.now + ms;
  while (c.accepted.length < n) {
    assert.ok(w.queue.now < until, `seed ${w.seed}: operator command ${n} not answered in ${ms} ms`);
    await w.run(20);
    w.assertSafe();
  }
  return utf8(c.accepted[n - 1]!.result);
}

function wedgePoint(result: string): number {
  const m = /^wedge: nothing is ordered after sequence number (\d+) until unwedged$/.exec(result);
  assert.ok(m !== null, `not a wedge result: ${result}`);
  return Number(m[1]);
}

/** Every running honest replica executed exactly to `at`, has its stable checkpoint there, and all agree. */
function assertWedged(w: World, at: number): void {
  for (const r of w.honestReplicas().filter((r) => r.alive)) {
    assert.equal(r.state!.lastExecuted, at, `${r.label} executed to ${r.state!.lastExecuted}, the wedge point is ${at}`);
    assert.equal(r.state!.lastStable, at, `${r.label} has its stable checkpoint at ${r.state!.lastStable}`);
    assert.equal(r.state!.operator.wedgeAt, at);
  }
  assertConverged(w);
}

test('wedged under load: every replica stops at one checkpoint and stays there, through a restart of all, without a view change; unwedged, every request is answered', async () => {
  const w = await new World({ seed: 91, f: 1, clients: 2, requestsPerClient: 40, idleClients: 1 }).start();
  const carrier = 2;
  await w.run(300);
  w.clients[carrier]!.submit(operatorPayload(w, { kind: 'wedge', nonce: 1 }));
  const at = wedgePoint(await answered(w, carrier, 1));
  assert.equal(at % w.cfg.checkpointInterval, 0, 'the wedge point is a checkpoint boundary');
  await w.run(3_000);
  assertWedged(w, at);
  const open = w.clients.slice(0, 2).map((c) => c.remaining);
  assert.ok(open.every((n) => n > 0), `the load was still running when the network wedged (open: ${open.join(', ')})`);
  // A long wedge: the requests waiting meanwhile are no reason to suspect the primary.
  const viewChanges = w.count('view-change-started');
  await w.run(30_000);
  assert.equal(w.count('view-change-started'), viewChanges, 'no view change while wedged');
  assertWedged(w, at);
  // The upgrade: every replica stops and starts again, and is still wedged at the same point.
  for (const r of w.replicas) w.crash(r.id);
  await w.run(500);
  for (const r of w.replicas) await w.restart(r.id);
  await w.run(5_000);
  assertWedged(w, at);
  // The unwedge resumes ordering right after the wedge point.
  w.clients[carrier]!.submit(operatorPayload(w, { kind: 'unwedge', nonce: 2 }));
  await done(w, 90_000);
  assert.equal(utf8(w.clients[carrier]!.accepted[1]!.result), `unwedge: ordering resumes after sequence number ${at}`);
  for (const c of w.clients.slice(0, 2)) assert.equal(c.accepted.length, 40, `client ${c.id}: every request answered once`);
  await w.run(2_000);
  w.assertSafe();
  assertConverged(w);
  for (const r of w.replicas) assert.ok(r.state!.lastExecuted > at);
});

test('the primary crashes on the way to the wedge point: the next one drives the network there', async () => {
  const w = await new World({ seed: 92, f: 1, clients: 2, requestsPerClient: 20, idleClients: 1 }).start();
  const carrier = 2;
  await w.run(200);
  w.clients[carrier]!.submit(operatorPayload(w, { kind: 'wedge', nonce: 1 }));
  const at = wedgePoint(await answered(w, carrier, 1));
  w.crash(0);
  await w.run(15_000);
  assert.ok(w.count('view-entered') > 0, 'a view change');
  assertWedged(w, at);
  await w.restart(0);
  await w.run(5_000);
  assertWedged(w, at);
  w.clients[carrier]!.submit(operatorPayload(w, { kind: 'unwedge', nonce: 2 }));
  await done(w, 60_000);
  w.assertSafe();
  assertConverged(w);
});

test('refused: an unwedge of a running network, a second wedge, and a replayed unwedge (never ordered beyond the wedge point)', async () => {
  const w = await new World({ seed: 93, f: 1, clients: 1, requestsPerClient: 3, idleClients: 1 }).start();
  const carrier = 1;
  w.clients[carrier]!.submit(operatorPayload(w, { kind: 'unwedge', nonce: 1 }));
  assert.equal(await answered(w, carrier, 1), 'refused: the network is not wedged');
  w.clients[carrier]!.submit(operatorPayload(w, { kind: 'wedge', nonce: 5 }));
  const at = wedgePoint(await answered(w, carrier, 2));
  // On the way to the wedge point: a second wedge is executed, and refused.
  w.clients[carrier]!.submit(operatorPayload(w, { kind: 'wedge', nonce: 6 }));
  assert.equal(await answered(w, carrier, 3), `refused: the network is already wedged at sequence number ${at}`);
  await w.run(3_000);
  assertWedged(w, at);
  // Beyond it, an unwedge with the nonce of the last command executed (a replay; the refused
  // wedge used none) is not even ordered: the carrier gets no answer.
  const replica = w.replicas[0]!;
  w.clients[carrier]!.submit(operatorPayload(w, { kind: 'unwedge', nonce: 5 }));
  await w.run(5_000);
  assert.equal(w.clients[carrier]!.accepted.length, 3);
  assertWedged(w, at);
  assert.equal(replica.state!.lastExecuted, at);
  // (The carrier's replay stays pending: a fresh client carries the real unwedge.)
  assert.equal(w.clients[0]!.accepted.length, 3);
});
