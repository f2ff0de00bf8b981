// Links come back by themselves: after a replica restarts, after a client node restarts, and after
// a link was closed for an oversized frame. Frames queued while a peer was away go out when it returns.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { TlsTuning } from '../../src/net/tls-options.ts';
import { linkUp, Probe, startAll, testNetwork, transportFor } from '../helpers/net.ts';

// Replicas 0, 1, 2 (f = 0, c = 1) and client node 3.
const net = await testNetwork(3, 1, 'net-reconnect');
const open: Probe[] = [];
after(() => Promise.all(open.map((p) => p.transport.close())));

function node(id: number, tuning: Partial<TlsTuning> = {}): Probe {
  const p = new Probe(transportFor(net, id, tuning));
  open.push(p);
  return p;
}

async function stop(p: Probe): Promise<void> {
  await p.transport.close();
  open.splice(open.indexOf(p), 1);
}

const linkDown = (peer: number) => (e: { kind: string; peer?: number }) => e.kind === 'link-down' && e.peer === peer;

test('frames queued before a peer is reachable are delivered once it is', async () => {
  const client = node(3);
  await client.transport.start();
  assert.equal(client.transport.send(0, Buffer.from('early')), true, 'queued while replica 0 is down');
  const replica = node(0);
  await replica.transport.start();
  const [frame] = await replica.framesFrom(3, 1);
  assert.equal(Buffer.from(frame!).toString(), 'early');
  await stop(client);
  await stop(replica);
});

test('a restarted replica is redialled by the nodes above it, and frames flow again', async () => {
  const [r0, r1, c3] = [node(0), node(1), node(3)];
  await startAll([r0, r1, c3], [[1, 0], [3, 0], [3, 1]]);
  const downs = Promise.all([r1.event(linkDown(0), '1 sees 0 go'), c3.event(linkDown(0), '3 sees 0 go')]);
  await stop(r0);
  await downs;
  assert.equal(r1.transport.stats().find((s) => s.peer === 0)!.connected, false);

  const r0b = node(0);
  await r0b.transport.start();
  await Promise.all([r1.event(linkUp(0), '1 relinks'), c3.event(linkUp(0), '3 relinks'), r0b.event(linkUp(1), '0 sees 1'), r0b.event(linkUp(3), '0 sees 3')]);
  // linkUp finds the first link-up; wait for the second one on the survivors' side.
  await r1.until(() => r1.transport.stats().find((s) => s.peer === 0 && s.connected && s.reconnects === 1), 'reconnect counted');
  r1.transport.send(0, Buffer.from('welcome back'));
  r0b.transport.send(3, Buffer.from('hello again'));
  assert.equal(Buffer.from((await r0b.framesFrom(1, 1))[0]!).toString(), 'welcome back');
  assert.equal(Buffer.from((await c3.framesFrom(0, 1))[0]!).toString(), 'hello again');
  await Promise.all([stop(r0b), stop(r1), stop(c3)]);
});

test('a restarted client node links again to the replicas it dials', async () => {
  const [r0, c3] = [node(0), node(3)];
  await startAll([r0, c3], [[3, 0]]);
  const down = r0.event(linkDown(3), '0 sees 3 go');
  await stop(c3);
  await down;
  const c3b = node(3);
  await c3b.transport.start();
  await r0.until(() => r0.transport.stats().find((s) => s.peer === 3 && s.connected && s.reconnects === 1), '3 back at 0');
  c3b.transport.send(0, Buffer.from('again'));
  const frames = await r0.framesFrom(3, 1);
  assert.equal(Buffer.from(frames.at(-1)!).toString(), 'again');
  await Promise.all([stop(r0), stop(c3b)]);
});

test('an oversized frame costs the link, not the process: counted, relinked, and the next frame arrives', async () => {
  // Replica 2 accepts frames up to 8 KiB; replica 1 (which it accepts) would send up to 1 MiB.
  const r1 = node(1, { maxFrameBytes: 1024 * 1024 });
  const r2 = node(2, { maxFrameBytes: 8 * 1024 });
  await startAll([r1, r2], [[2, 1]]);
  // Replica 1 sends 2 a frame 2 will not take.
  assert.equal(r1.transport.send(2, Buffer.alloc(8 * 1024 + 1)), true);
  const down = await r2.until(
    () => r2.events.find((e) => e.kind === 'link-down' && e.peer === 1 && e.reason === 'frame-too-large'),
    'frame-too-large at 2',
  );
  assert.equal(down.kind === 'link-down' && down.wasUp, true);
  assert.equal(r2.transport.stats().find((s) => s.peer === 1)!.errors, 1);
  await r2.until(() => r2.transport.stats().find((s) => s.peer === 1 && s.connected && s.reconnects === 1), '2 relinked to 1');
  await r1.until(() => r1.transport.stats().find((s) => s.peer === 2 && s.connected), '1 sees 2 again');
  r1.transport.send(2, Buffer.from('small'));
  const frames = await r2.framesFrom(1, 1);
  assert.deepEqual(frames.map((f) => Buffer.from(f).toString()), ['small']);
  await Promise.all([stop(r1), stop(r2)]);
});
