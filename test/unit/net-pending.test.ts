// Unauthenticated connections: the pending pool's choices on stand-in sockets, then on real TLS over
// loopback, a replica that strangers fill with idle sockets — from its peer's own address and from
// others — still lets its peer reconnect, and holds no more than its limits.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { addressGroup, PendingPool, type EvictionReason } from '../../src/net/pending.ts';
import { resolveTuning } from '../../src/net/tls-options.ts';
import { isBulwarkError } from '../../src/common/errors.ts';
import { linkUp, Probe, testNetwork, transportFor } from '../helpers/net.ts';
import { idleSocket } from '../helpers/hostile-net.ts';

class FakeSocket extends EventEmitter {
  destroyed = false;
  constructor(
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {
    super();
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    setImmediate(() => this.emit('close'));
  }
}

function pool(t: TestContext, limits: { maxPending: number; maxPerAddress: number; deadlineMs?: number }) {
  const evicted: Array<{ socket: FakeSocket; reason: EvictionReason }> = [];
  const p = new PendingPool({ deadlineMs: 60_000, ...limits }, (socket, reason) => {
    evicted.push({ socket: socket as FakeSocket, reason });
    socket.destroy();
  });
  let port = 1000;
  const sockets: FakeSocket[] = [];
  const add = (address: string): FakeSocket => {
    const s = new FakeSocket(address, port++);
    sockets.push(s);
    p.add(s);
    return s;
  };
  t.after(() => sockets.forEach((s) => s.destroy()));
  return { p, add, evicted };
}
const key = (s: FakeSocket): string => `${s.remoteAddress}|${s.remotePort}`;

test('a full address loses its oldest connection, idle ones first', (t) => {
  const { p, add, evicted } = pool(t, { maxPending: 10, maxPerAddress: 3 });
  const [a, b, c] = [add('10.0.0.1'), add('10.0.0.1'), add('10.0.0.1')];
  p.hello(key(a)); // a's handshake is under way
  add('10.0.0.1');
  assert.deepEqual(evicted.map((e) => [e.socket, e.reason]), [[b, 'address-full']]);
  add('10.0.0.2');
  assert.equal(p.size, 4);
  assert.equal(p.wasEvicted(b, key(b)), true);
  assert.equal(p.wasEvicted(undefined, key(b)), true);
  assert.equal(p.wasEvicted(c, key(c)), false);
});

test('a full pool loses the oldest connection of the address holding the most', (t) => {
  const { p, add, evicted } = pool(t, { maxPending: 6, maxPerAddress: 6 });
  const flood = ['10.0.0.9', '10.0.0.9', '10.0.0.9', '10.0.0.9'].map(add);
  const peer = add('10.0.0.1');
  const other = add('10.0.0.2');
  const late = [add('10.0.0.3'), add('10.0.0.3')];
  assert.deepEqual(evicted.map((e) => [e.socket, e.reason]), [[flood[0], 'pending-full'], [flood[1], 'pending-full']]);
  // Once every connection has sent its ClientHello, the rule is the same among them.
  for (const s of [peer, other, ...flood, ...late]) p.hello(key(s));
  add('10.0.0.4');
  assert.equal(evicted[2]!.socket, flood[2]);
  assert.equal(p.size, 6);
  assert.equal(peer.destroyed, false, 'the connection with a share of one outlives the flood');
});

test('settled connections leave the pool; unsettled ones are dropped at the deadline', async (t) => {
  const { p, add, evicted } = pool(t, { maxPending: 4, maxPerAddress: 4, deadlineMs: 50 });
  const done = add('10.0.0.1');
  const slow = add('10.0.0.1');
  const owned = add('10.0.0.1');
  const refusals: EvictionReason[] = [];
  p.own(key(owned), (reason) => refusals.push(reason));
  p.settle(key(done));
  assert.equal(p.size, 2);
  await new Promise((r) => setTimeout(r, 120));
  assert.deepEqual(evicted.map((e) => [e.socket, e.reason]), [[slow, 'pre-auth-timeout']]);
  assert.deepEqual(refusals, ['pre-auth-timeout'], 'an owned connection is refused by its owner');
  assert.equal(p.size, 0);
  assert.equal(done.destroyed, false);
});

test('addresses are grouped per IPv4 address and per IPv6 /64', () => {
  assert.equal(addressGroup('127.0.0.2'), '127.0.0.2');
  assert.equal(addressGroup('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(addressGroup('2001:db8:0:1::5'), '2001:db8:0:1::/64');
  assert.equal(addressGroup('2001:db8:0:1:ffff:1:2:3'), '2001:db8:0:1::/64');
  assert.equal(addressGroup('2001:DB8::1'), '2001:db8:0:0::/64');
  assert.equal(addressGroup('::1'), '0:0:0:0::/64');
});

test('the limits are validated with the others', () => {
  const invalid = (tuning: Parameters<typeof resolveTuning>[0], what: RegExp): void =>
    assert.throws(() => resolveTuning(tuning), (e: unknown) => isBulwarkError(e, 'NET_OPTIONS_INVALID') && what.test((e as Error).message));
  invalid({ maxPendingPerAddress: 65 }, /maxPendingPerAddress must not exceed maxPendingHandshakes/);
  invalid({ preAuthTimeoutMs: 0 }, /preAuthTimeoutMs/);
  invalid({ introductionsPerSecond: 0 }, /introductionsPerSecond/);
  invalid({ maxIntroductionRecords: 2000 }, /maxIntroductionRecords/);
  invalid({ receiveBytesPerSecond: -1 }, /receiveBytesPerSecond/);
  invalid({ penaltyBaseMs: 5_000, penaltyMaxMs: 1_000 }, /penaltyMaxMs must be at least penaltyBaseMs/);
  const t = resolveTuning({});
  assert.equal(t.maxPendingPerAddress, 8);
  assert.equal(t.preAuthTimeoutMs, 5_000);
  assert.equal(t.maxIntroductionRecords, 16);
  assert.equal(resolveTuning({ receiveBytesPerSecond: 0 }).receiveBytesPerSecond, 0, '0: no limit');
});

test('a peer reconnects while strangers keep a replica full of idle sockets, from its address and others', async (t) => {
  const net = await testNetwork(4, 0, 'net-pending');
  const limits = { maxPendingHandshakes: 8, maxPendingPerAddress: 4, preAuthTimeoutMs: 1_000 };
  const victim = new Probe(transportFor(net, 1, limits));
  t.after(() => victim.transport.close());
  await victim.transport.start();
  const port = net.network.replicas[1]!.port;
  // 60 idle sockets, each renewed 20 ms after it closes, from 127.0.0.1 (the peer's address) to .5.
  let stop = false;
  const open = new Set<Socket>();
  const keep = (address: string): void => {
    if (stop) return;
    const s = idleSocket(port, address);
    open.add(s);
    s.once('close', () => {
      open.delete(s);
      setTimeout(() => keep(address), 20);
    });
  };
  for (let i = 0; i < 60; i++) keep(`127.0.0.${1 + (i % 5)}`);
  t.after(() => {
    stop = true;
    for (const s of open) s.destroy();
  });
  const evictions = (): number => victim.transport.counters().refused['pending-full'] + victim.transport.counters().refused['address-full'];
  await victim.until(() => (evictions() > 100 ? true : undefined), 'the flood under way');
  const peer = new Probe(transportFor(net, 2));
  t.after(() => peer.transport.close());
  await peer.transport.start();
  await victim.event(linkUp(2), 'the peer linked', 5_000);
  peer.transport.send(1, Buffer.from('through'));
  assert.equal(Buffer.from((await victim.framesFrom(2, 1))[0]!).toString(), 'through');
  const c = victim.transport.counters();
  assert.ok(c.pending <= 8, `${c.pending} pending`);
  // Evicted fairly, the addresses stay below their own limit: the pool's is the one that bites.
  assert.ok(c.refused['pending-full'] > 100, `${c.refused['pending-full']} evicted`);
  assert.equal(c.refused['too-many-handshakes'], 0, 'nobody was turned away unseen');

  // Without the churn, idle sockets last until the pre-authentication deadline.
  stop = true;
  for (const s of open) s.destroy();
  const before = c.refused['pre-auth-timeout'];
  const quiet = [0, 1, 2].map(() => idleSocket(port, '127.0.0.9'));
  t.after(() => quiet.forEach((s) => s.destroy()));
  await victim.until(() => (victim.transport.counters().refused['pre-auth-timeout'] >= before + 3 ? true : undefined), 'idle ones timed out', 5_000);
  assert.equal(victim.transport.counters().pending, 0);
  assert.equal(victim.transport.stats().find((x) => x.peer === 2)!.connected, true, 'the link stayed up throughout');
});
