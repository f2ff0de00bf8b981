// TLS certificate rotation on real sockets: a node's peers pin its old and new certificate, it
// switches to the new one, every link comes back under it with no frame lost either way, and once
// the old pin is dropped the links stay up and the old certificate is refused. Pins changed out of
// that order close the links they no longer allow; pins and identities that cannot be right are
// refused outright.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { isBulwarkError } from '../../src/common/errors.ts';
import type { TransportEvent } from '../../src/net/events.ts';
import { ALPN } from '../../src/net/pinning.ts';
import type { NodeId } from '../../src/net/transport.ts';
import { generateTlsIdentity } from '../../src/setup/tls-identity.ts';
import type { TlsIdentity } from '../../src/setup/node-keys.ts';
import { credentialsOf, Probe, rawTls, secretsOf, startAll, testNetwork, transportFor } from '../helpers/net.ts';

// Replicas 0, 1, 2 and client node 3.
const net = await testNetwork(3, 1, 'net-tls-rotation');
const ALL_LINKS: Array<[NodeId, NodeId]> = [[1, 0], [2, 0], [2, 1], [3, 0], [3, 1], [3, 2]];

/** Transports for `ids`, closed when the test `t` ends however it ends (the next test needs the ports). */
function nodes(t: TestContext, ids: readonly NodeId[]): Probe[] {
  const probes = ids.map((id) => new Probe(transportFor(net, id)));
  t.after(() => Promise.all(probes.map((p) => p.transport.close())));
  return probes;
}

async function network(t: TestContext): Promise<Probe[]> {
  const probes = nodes(t, [0, 1, 2, 3]);
  await startAll(probes, ALL_LINKS);
  return probes;
}

const oldDer = (id: NodeId): Uint8Array => secretsOf(net, id).tls.certificate.der;
const newIdentity = (id: NodeId): TlsIdentity =>
  generateTlsIdentity({ commonName: `bulwark ${id === 3 ? 'client' : 'replica'} ${id}`, host: '127.0.0.1' });
const stat = (p: Probe, peer: NodeId) => p.transport.stats().find((s) => s.peer === peer)!;
const peersOf = (id: NodeId): NodeId[] => ALL_LINKS.flatMap(([a, b]) => (a === id ? [b] : b === id ? [a] : []));
const text = (frames: readonly Uint8Array[]): string[] => frames.map((f) => Buffer.from(f).toString());
const numbered = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

/** Until `p`'s link with `peer` has come up again `times` times after the start. */
function relinked(p: Probe, peer: NodeId, times = 1): Promise<unknown> {
  return p.until(() => {
    const s = stat(p, peer);
    return s.connected && s.reconnects >= times ? s : undefined;
  }, `node ${p.transport.self} relinked to ${peer}`);
}

/**
 * The whole rotation of node `x`: everyone pins old and new, x switches (with frames queued both
 * ways at that moment and more sent while the links are remade), the links come back and every frame
 * arrives once, in order; then everyone drops the old pin and the links stay up.
 */
async function rotate(probes: readonly Probe[], x: NodeId): Promise<TlsIdentity> {
  const byId = (id: NodeId): Probe => probes[id]!;
  const fresh = newIdentity(x);
  for (const p of probes) p.transport.setPins(x, [oldDer(x), fresh.certificate.der]);
  const peers = peersOf(x);
  const before = 100;
  const during = 20;
  for (const peer of peers) {
    for (const f of numbered(`to-${peer}`, before)) assert.equal(byId(x).transport.send(peer, Buffer.from(f)), true);
    for (const f of numbered(`from-${peer}`, before)) assert.equal(byId(peer).transport.send(x, Buffer.from(f)), true);
  }
  byId(x).transport.setIdentity(fresh.certificate.pem, fresh.key);
  for (const peer of peers) {
    for (const f of numbered(`to-${peer}-during`, during)) byId(x).transport.send(peer, Buffer.from(f));
    for (const f of numbered(`from-${peer}-during`, during)) byId(peer).transport.send(x, Buffer.from(f));
  }
  await Promise.all(peers.flatMap((peer) => [relinked(byId(x), peer), relinked(byId(peer), x)]));
  for (const peer of peers) {
    const expectedAtPeer = [...numbered(`to-${peer}`, before), ...numbered(`to-${peer}-during`, during)];
    const expectedAtX = [...numbered(`from-${peer}`, before), ...numbered(`from-${peer}-during`, during)];
    assert.deepEqual(text(await byId(peer).framesFrom(x, before + during)), expectedAtPeer, `${x} → ${peer}: all, once, in order`);
    assert.deepEqual(text(await byId(x).framesFrom(peer, before + during)), expectedAtX, `${peer} → ${x}: all, once, in order`);
    assert.equal(stat(byId(x), peer).errors, 0, `a rotation is no error (${x}↔${peer})`);
    assert.equal(stat(byId(peer), x).errors, 0, `a rotation is no error (${peer}↔${x})`);
  }

  // Only the new certificate from now on: links made under it are not touched.
  const eventsBefore = probes.map((p) => p.events.length);
  for (const p of probes) p.transport.setPins(x, [fresh.certificate.der]);
  for (const peer of peers) {
    byId(x).transport.send(peer, Buffer.from('after'));
    byId(peer).transport.send(x, Buffer.from('after'));
  }
  for (const peer of peers) {
    assert.equal(text(await byId(peer).framesFrom(x, before + during + 1)).at(-1), 'after');
    assert.equal(text(await byId(x).framesFrom(peer, before + during + 1)).at(-1), 'after');
  }
  probes.forEach((p, i) => {
    const downs = p.events.slice(eventsBefore[i]).filter((e) => e.kind === 'link-down');
    assert.deepEqual(downs, [], `node ${i}: no link went down when the old pin was dropped`);
  });
  return fresh;
}

/** Opens a connection to replica `target` presenting `credentials` and waits for its refusal. */
async function refusedAt(target: Probe, credentials: { keyPem: string; certPem: string }, alpn: string): Promise<TransportEvent> {
  const isRefusal = (e: TransportEvent): boolean => e.kind === 'refused' && e.reason === 'unknown-certificate';
  const seen = target.events.filter(isRefusal).length;
  const socket: Socket = rawTls(net.network.replicas[target.transport.self]!.port, { ...credentials, alpn: [alpn] });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const event = await target.until(() => target.events.filter(isRefusal)[seen], 'unknown-certificate refusal');
  await closed;
  return event;
}

test("a replica's certificate rotates: links to and from it come back under the new one, no frame lost", async (t) => {
  const probes = await network(t);
  // Replica 1 dials replica 0 and is dialled by replica 2 and client node 3: both directions.
  await rotate(probes, 1);
  const r0 = probes[0]!;
  const refusedBefore = r0.transport.counters().refused['unknown-certificate'];
  await refusedAt(r0, credentialsOf(net, 1), ALPN.replica);
  assert.equal(r0.transport.counters().refused['unknown-certificate'], refusedBefore + 1, 'the old certificate is refused');
});

test("a client node's certificate rotates: it redials every replica under the new one", async (t) => {
  const probes = await network(t);
  await rotate(probes, 3);
  const r2 = probes[2]!;
  const refusedBefore = r2.transport.counters().refused['unknown-certificate'];
  await refusedAt(r2, credentialsOf(net, 3), ALPN.client);
  assert.equal(r2.transport.counters().refused['unknown-certificate'], refusedBefore + 1, 'the old certificate is refused');
});

test('a pin dropped before its node switched closes the link it allowed, until the node presents a pinned one', async (t) => {
  const probes = await network(t);
  const [r0, r1] = probes as [Probe, Probe];
  const fresh = newIdentity(1);
  // Replica 0 (dialled by 1) already pins only 1's new certificate, while 1 still presents the old.
  r0.transport.setPins(1, [fresh.certificate.der]);
  await r0.until(
    () => r0.events.find((e) => e.kind === 'link-down' && e.peer === 1 && e.reason === 'certificate-mismatch' && e.wasUp),
    'link closed at 0',
  );
  assert.equal(stat(r0, 1).errors, 1, 'counted against the peer');
  // Replica 1 redials with the old certificate and is refused as unknown.
  await r0.until(() => r0.events.find((e) => e.kind === 'refused' && e.reason === 'unknown-certificate'), 'redial refused');
  assert.equal(stat(r0, 1).connected, false);

  r1.transport.setPins(1, [oldDer(1), fresh.certificate.der]);
  r1.transport.setIdentity(fresh.certificate.pem, fresh.key);
  await relinked(r0, 1);
  r1.transport.send(0, Buffer.from('new me'));
  assert.deepEqual(text(await r0.framesFrom(1, 1)), ['new me']);

  // The dialing side checks its pins too: replica 1 no longer accepting 0's certificate drops the link.
  const other = newIdentity(0);
  r1.transport.setPins(0, [other.certificate.der]);
  await r1.until(
    () => r1.events.find((e) => e.kind === 'link-down' && e.peer === 0 && e.reason === 'certificate-mismatch' && e.wasUp),
    'link closed at 1',
  );
  await r1.until(
    () => r1.events.filter((e) => e.kind === 'link-down' && e.peer === 0 && e.reason === 'certificate-mismatch' && !e.wasUp)[0],
    'redial refused by 1 itself',
  );
  r1.transport.setPins(0, [oldDer(0)]);
  await relinked(r1, 0, 2);
});

test('pins and identities that cannot be right are refused, and change nothing', async (t) => {
  const [r0, r1] = nodes(t, [0, 1]) as [Probe, Probe];
  const refused = (what: string, run: () => void): void =>
    assert.throws(run, (e: unknown) => isBulwarkError(e, 'NET_IDENTITY_INVALID'), what);
  const fresh = newIdentity(1);

  refused("another node's certificate", () => r0.transport.setPins(1, [oldDer(1), oldDer(2)]));
  refused("this node's own certificate for a peer", () => r0.transport.setPins(1, [oldDer(0)]));
  refused('no certificate at all', () => r0.transport.setPins(1, []));
  refused('an unknown node', () => r0.transport.setPins(9, [fresh.certificate.der]));
  refused('own pins without the certificate presented', () => r1.transport.setPins(1, [fresh.certificate.der]));
  refused('an identity not pinned for this node', () => r1.transport.setIdentity(fresh.certificate.pem, fresh.key));
  refused('not a certificate', () => r1.transport.setIdentity('garbage', fresh.key));
  r1.transport.setPins(1, [oldDer(1), fresh.certificate.der]);
  refused('a key that is not the certificate’s', () => r1.transport.setIdentity(fresh.certificate.pem, secretsOf(net, 1).tls.key));
  refused('a new certificate once pinned for another node', () => r1.transport.setPins(0, [oldDer(0), fresh.certificate.der]));

  // Nothing changed: the two link up with their original certificates.
  await startAll([r0, r1], [[1, 0]]);
  r1.transport.send(0, Buffer.from('still me'));
  assert.deepEqual(text(await r0.framesFrom(1, 1)), ['still me']);
});
