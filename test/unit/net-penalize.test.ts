// `penalize`, on real TLS over loopback: the layer above names a misbehaving peer, and the transport
// closes its link and cuts it off — no dial, its connections refused — for a back-off that doubles
// with each penalty; frames queued meanwhile wait. Counted per peer and reason, and reported. The
// simulator's transport only counts.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { TransportEvent } from '../../src/net/events.ts';
import { SimNetwork } from '../../src/net/sim-transport.ts';
import type { TlsTuning } from '../../src/net/tls-options.ts';
import type { NodeId } from '../../src/net/transport.ts';
import { linkUp, Probe, startAll, testNetwork, transportFor } from '../helpers/net.ts';

const net = await testNetwork(4, 0, 'net-penalize');
const PENALTY: Partial<TlsTuning> = { penaltyBaseMs: 400, penaltyMaxMs: 1_000 };

async function pair(t: TestContext, tuning: Partial<TlsTuning> = PENALTY): Promise<[Probe, Probe]> {
  const probes = [0, 1].map((id) => new Probe(transportFor(net, id, tuning))) as [Probe, Probe];
  t.after(() => Promise.all(probes.map((p) => p.transport.close())));
  await startAll(probes, [[1, 0]]);
  return probes;
}
const ups = (p: Probe, peer: NodeId): number => p.events.filter(linkUp(peer)).length;
const penalizedEvents = (p: Probe) => p.events.filter((e): e is Extract<TransportEvent, { kind: 'penalized' }> => e.kind === 'penalized');

test('a listener penalizes a dialing peer: link closed, its redials refused for the back-off, which doubles', async (t) => {
  const [r0, r1] = await pair(t);
  const start = performance.now();
  r0.transport.penalize(1, 'invalid-message');
  await r0.event((e) => e.kind === 'link-down' && e.peer === 1 && e.reason === 'penalized' && e.wasUp, 'link closed');
  assert.deepEqual(penalizedEvents(r0)[0], { kind: 'penalized', peer: 1, reason: 'invalid-message', backoffMs: 400, count: 1, escalated: true });
  // Replica 1 redials at once (20 ms back-off) and is refused until the penalty is over.
  await r0.event((e) => e.kind === 'refused' && e.reason === 'penalized' && e.peer === 1, 'redial refused');
  // A penalty while one is in force is counted, not escalated.
  r0.transport.penalize(1, 'invalid-message');
  assert.deepEqual(penalizedEvents(r0)[1]!.escalated, false);
  assert.ok(r0.transport.send(1, Buffer.from('kept for later')), 'frames for the peer wait in its queue');
  await r0.until(() => (ups(r0, 1) >= 2 ? true : undefined), 'relinked');
  const first = performance.now() - start;
  assert.ok(first >= 380, `back after ${first.toFixed(0)} ms`);
  assert.equal(Buffer.from((await r1.framesFrom(0, 1))[0]!).toString(), 'kept for later');

  const again = performance.now();
  r0.transport.penalize(1, 'invalid-signature');
  assert.equal(penalizedEvents(r0)[2]!.backoffMs, 800, 'doubled');
  await r0.until(() => (ups(r0, 1) >= 3 ? true : undefined), 'relinked again');
  assert.ok(performance.now() - again >= 780);
  const c = r0.transport.counters();
  assert.deepEqual(c.penalties, { 1: { 'invalid-message': 2, 'invalid-signature': 1 } });
  assert.ok(c.refused.penalized >= 1);
  assert.ok(r0.transport.stats().find((s) => s.peer === 1)!.errors >= 2, 'each closed link counts against the peer');
});

test('a dialer penalizes the node it dials: it does not dial it until the back-off is over', async (t) => {
  const [r0, r1] = await pair(t);
  const start = performance.now();
  r1.transport.penalize(0, 'invalid-message');
  await r1.event((e) => e.kind === 'link-down' && e.peer === 0 && e.reason === 'penalized', 'link closed');
  await r1.until(() => (ups(r1, 0) >= 2 ? true : undefined), 'relinked');
  assert.ok(performance.now() - start >= 380);
  // No dial while the penalty was in force: the only failed attempt is none at all.
  const downs = r1.events.filter((e) => e.kind === 'link-down' && e.peer === 0);
  assert.deepEqual(downs.map((e) => e.kind === 'link-down' && e.reason), ['penalized']);
  assert.equal(r0.transport.counters().refused.penalized, 0);
});

test('the back-off is capped, and starts again from the base after a quiet spell', async (t) => {
  const [r0] = await pair(t, { penaltyBaseMs: 50, penaltyMaxMs: 150, penaltyResetMs: 400 });
  const backoffs: number[] = [];
  for (let i = 0; i < 4; i++) {
    r0.transport.penalize(1, 'x');
    backoffs.push(penalizedEvents(r0).at(-1)!.backoffMs);
    await r0.until(() => (ups(r0, 1) >= i + 2 ? true : undefined), `relinked ${i}`);
  }
  assert.deepEqual(backoffs, [50, 100, 150, 150]);
  await new Promise((r) => setTimeout(r, 450));
  r0.transport.penalize(1, 'x');
  assert.equal(penalizedEvents(r0).at(-1)!.backoffMs, 50);
});

test('reasons are bounded per peer; unknown peers and this node are ignored; the simulator counts', async (t) => {
  const [r0] = await pair(t, { penaltyBaseMs: 10_000, penaltyMaxMs: 10_000 });
  for (let i = 0; i < 20; i++) r0.transport.penalize(1, `reason-${i}`);
  const mine = r0.transport.counters().penalties[1]!;
  assert.equal(Object.keys(mine).length, 17);
  assert.equal(mine.other, 4);
  r0.transport.penalize(9, 'nobody');
  r0.transport.penalize(0, 'myself');
  assert.deepEqual(Object.keys(r0.transport.counters().penalties), ['1']);

  const sim = new SimNetwork({ schedule: (_ms, run) => run(), link: () => ({ delays: [0] }) });
  const a = sim.transport(0);
  a.open();
  a.penalize(1, 'invalid-message');
  a.penalize(1, 'invalid-message');
  assert.deepEqual([...a.penalties().get(1)!], [['invalid-message', 2]]);
});
