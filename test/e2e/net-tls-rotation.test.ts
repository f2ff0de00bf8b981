// TLS certificate rotation on real sockets: a node's peers pin its old and new certificate, it
// switches to the new one, every link comes back under it with no frame lost either way, and once
// the old pin is dropped the links stay up and the old certificate is refused. Pins changed out of
// that order close the links they no longer allow; pins and identities that cannot be right are
// refused outright. A node that missed its peers' rotations (it pins their old certificates) links
// up with them again once their introductions are accepted; without one it is refused as ever.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { equalBytes } from '../../src/common/bytes.ts';
import { isBulwarkError } from '../../src/common/errors.ts';
import type { TransportEvent } from '../../src/net/events.ts';
import { ALPN } from '../../src/net/pinning.ts';
import type { TlsTransportOptions } from '../../src/net/tls-options.ts';
import { TlsTransport } from '../../src/net/tls-transport.ts';
import type { NodeId } from '../../src/net/transport.ts';
import { generateTlsIdentity } from '../../src/setup/tls-identity.ts';
import type { TlsIdentity } from '../../src/setup/node-keys.ts';
import { tlsNodesOf } from '../../src/setup/transport-config.ts';
import { credentialsOf, FAST, Probe, rawTls, secretsOf, startAll, testNetwork, transportFor } from '../helpers/net.ts';

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

// Introductions. The real introduction is a chain of endorsements checked by the key lifecycle; the
// transport only carries it and asks. Here a node's introduction is its certificate followed by a
// token, and a node accepts an introduction that is the presented certificate followed by the token.
const TOKEN = Buffer.from('introduced by the test');
const introductionOf = (der: Uint8Array, token: Uint8Array = TOKEN): Uint8Array => Buffer.concat([der, token]);
type IntroduceCall = { node: NodeId; presented: Uint8Array; pinned: readonly Uint8Array[] };

/**
 * A transport for node `id` that knows the identities in `known` (the current certificates of the
 * nodes it has seen rotate, its own included) and the original ones otherwise; it introduces itself
 * with its certificate and `TOKEN`, and accepts introductions carrying `accept` (records the calls).
 */
function introducing(
  t: TestContext,
  id: NodeId,
  known: ReadonlyMap<NodeId, TlsIdentity>,
  opts: { accept?: Uint8Array; introduce?: boolean; introduction?: boolean; tuning?: TlsTransportOptions['tuning'] } = {},
): Probe & { calls: IntroduceCall[] } {
  const own = known.get(id);
  const secrets = secretsOf(net, id);
  const der = own?.certificate.der ?? oldDer(id);
  const calls: IntroduceCall[] = [];
  const accept = opts.accept ?? TOKEN;
  const transport = new TlsTransport({
    self: id,
    nodes: tlsNodesOf(net.network).map((n) => {
      const k = known.get(n.id);
      return k === undefined ? n : { ...n, certificate: k.certificate.der };
    }),
    key: own?.key ?? secrets.tls.key,
    certificate: own?.certificate.pem ?? secrets.tls.certificate.pem,
    tuning: { ...FAST, ...opts.tuning },
    ...(opts.introduction === false ? {} : { introduction: () => introductionOf(der) }),
    ...(opts.introduce === false
      ? {}
      : {
          introduce: (node: NodeId, presented: Uint8Array, pinned: readonly Uint8Array[], introduction: Uint8Array) => {
            calls.push({ node, presented, pinned });
            return equalBytes(introduction, introductionOf(presented, accept));
          },
        }),
  });
  const probe = Object.assign(new Probe(transport), { calls });
  t.after(() => transport.close());
  return probe;
}

/** Fresh identities for `ids`: the rotations their peer missed. */
const rotated = (ids: readonly NodeId[]): Map<NodeId, TlsIdentity> => new Map(ids.map((id) => [id, newIdentity(id)]));
const ofKind = <K extends TransportEvent['kind']>(p: Probe, kind: K): Array<Extract<TransportEvent, { kind: K }>> =>
  p.events.filter((e): e is Extract<TransportEvent, { kind: K }> => e.kind === kind);

test('a replica that missed every peer rotation links up again once their introductions are accepted, as dialer and listener', async (t) => {
  // Replicas 0 and 2 and client node 3 rotated while replica 1 was down; 1 restarts pinning their old
  // certificates. It dials 0 and is dialled by 2 and 3.
  const fresh = rotated([0, 2, 3]);
  const lagging = introducing(t, 1, new Map());
  const peers = [0, 2, 3].map((id) => introducing(t, id, fresh));
  const probes = [peers[0]!, lagging, peers[1]!, peers[2]!];
  await startAll(probes, ALL_LINKS);

  const introduced = ofKind(lagging, 'introduced').map((e) => `${e.peer} ${e.direction}`).sort();
  assert.deepEqual(introduced, ['0 outbound', '2 inbound', '3 inbound']);
  assert.deepEqual(lagging.transport.counters().introductions, { accepted: 3, refused: 0 });
  assert.equal(lagging.transport.counters().refused['unknown-certificate'], 0);
  for (const call of lagging.calls) {
    assert.deepEqual(call.presented, fresh.get(call.node)!.certificate.der, `node ${call.node} presented its new certificate`);
    assert.deepEqual(call.pinned, [oldDer(call.node)], `node ${call.node}: the old certificate is what 1 pinned`);
  }
  // Nodes that pinned each other's certificates all along judged nothing.
  for (const p of peers) assert.deepEqual(p.transport.counters().introductions, { accepted: 0, refused: 0 });

  for (const peer of [0, 2, 3]) {
    assert.equal(lagging.transport.send(peer, Buffer.from(`to ${peer}`)), true);
    assert.equal(probes[peer]!.transport.send(1, Buffer.from(`from ${peer}`)), true);
  }
  for (const peer of [0, 2, 3]) {
    assert.deepEqual(text(await probes[peer]!.framesFrom(1, 1)), [`to ${peer}`]);
    assert.deepEqual(text(await lagging.framesFrom(peer, 1)), [`from ${peer}`]);
    assert.equal(stat(lagging, peer).errors, 0);
    assert.equal(stat(probes[peer]!, 1).errors, 0);
  }
  // Introductions are transport frames: no handler ever saw one.
  assert.ok(probes.every((p) => p.frames.every((f) => /^(to|from) \d$/.test(Buffer.from(f.frame).toString()))));
});

test('an introduction the judge refuses is refused like an unknown certificate, both ways, and no link comes up', async (t) => {
  const fresh = rotated([0, 2]);
  const lagging = introducing(t, 1, new Map(), { accept: Buffer.from('another token') });
  const [r0, r2] = [introducing(t, 0, fresh), introducing(t, 2, fresh)];
  await Promise.all([r0, lagging, r2].map((p) => p.transport.start()));

  const outbound = await lagging.event((e) => e.kind === 'introduction-refused' && e.peer === 0, 'introduction of 0 refused');
  assert.equal(outbound.kind === 'introduction-refused' && outbound.direction, 'outbound');
  await lagging.event((e) => e.kind === 'link-down' && e.peer === 0 && e.reason === 'certificate-mismatch' && !e.wasUp, 'dial to 0 closed');
  const inbound = await lagging.event(
    (e) => e.kind === 'refused' && e.reason === 'unknown-certificate' && /introduced as node 2/.test(e.detail ?? ''),
    'inbound from 2 refused',
  );
  assert.equal(inbound.kind === 'refused' && inbound.peer, undefined, 'the certificate matched no node');
  await lagging.event((e) => e.kind === 'introduction-refused' && e.peer === 2 && e.direction === 'inbound', 'introduction of 2 refused');

  assert.deepEqual(ofKind(lagging, 'introduced'), []);
  assert.deepEqual(ofKind(lagging, 'link-up'), []);
  assert.deepEqual(lagging.frames, []);
  const c = lagging.transport.counters();
  assert.equal(c.introductions.accepted, 0);
  assert.ok(c.introductions.refused >= 2);
  assert.ok(c.refused['unknown-certificate'] >= 1);
  assert.ok(stat(lagging, 0).errors >= 1, 'the refused dial counts against the peer, as a mismatch does');
  assert.equal(stat(lagging, 2).connected, false);
});

test('a peer whose introduction does not come in time, or that sends a frame first, is refused', async (t) => {
  const fresh = rotated([0, 2]);
  const tuning = { handshakeTimeoutMs: 1_000 };
  const lagging = introducing(t, 1, new Map(), { tuning });
  // The rotated peers send no introduction at all.
  const [r0, r2] = [introducing(t, 0, fresh, { introduction: false }), introducing(t, 2, fresh, { introduction: false })];
  await Promise.all([r0, lagging, r2].map((p) => p.transport.start()));

  const timedOut = (direction: 'inbound' | 'outbound', peer: NodeId) => (e: TransportEvent) =>
    e.kind === 'introduction-refused' && e.direction === direction && e.peer === peer && /no introduction within 1000 ms/.test(e.detail);
  // Inbound (2 dials 1): held, then refused as an unknown certificate.
  await lagging.event(
    (e) => e.kind === 'introduction-refused' && e.direction === 'inbound' && /no introduction within 1000 ms/.test(e.detail),
    'inbound introduction timed out',
  );
  await lagging.event((e) => e.kind === 'refused' && e.reason === 'unknown-certificate' && /no introduction/.test(e.detail ?? ''), 'refused');
  // Outbound (1 dials 0): the dial is closed as a certificate mismatch.
  await lagging.event(timedOut('outbound', 0), 'outbound introduction timed out');
  await lagging.event(
    (e) => e.kind === 'link-down' && e.peer === 0 && e.reason === 'certificate-mismatch' && /no introduction/.test(e.detail ?? ''),
    'dial to 0 closed',
  );
  assert.deepEqual(ofKind(lagging, 'link-up'), []);
  assert.deepEqual(lagging.calls, [], 'nothing to judge');

  // A peer that sends application frames before (instead of) its introduction: replica 0 has frames
  // queued for 1 and sends them as soon as it accepts 1's dial.
  r0.transport.send(1, Buffer.from('too early'));
  await lagging.event(
    (e) => e.kind === 'link-down' && e.peer === 0 && e.reason === 'certificate-mismatch' && /application frame before its introduction/.test(e.detail ?? ''),
    'early frame refused',
  );
  assert.deepEqual(lagging.frames, [], 'the early frame was not delivered');
  assert.equal(lagging.transport.counters().introductions.accepted, 0);
});

test('an introduced certificate stays pinned through pin sets that omit it, until one includes it', async (t) => {
  const fresh = rotated([0]);
  const lagging = introducing(t, 1, new Map());
  const r0 = introducing(t, 0, fresh);
  await startAll([r0, lagging], [[1, 0]]);
  assert.equal(lagging.calls.length, 1);
  const newDer0 = fresh.get(0)!.certificate.der;
  const downs = (): TransportEvent[] => lagging.events.filter((e) => e.kind === 'link-down' && e.peer === 0);

  // The key lifecycle, behind, still pins only 0's old certificate: the introduced one stays.
  lagging.transport.setPins(0, [oldDer(0)]);
  lagging.transport.send(0, Buffer.from('still linked'));
  r0.transport.send(1, Buffer.from('still linked'));
  assert.deepEqual(text(await r0.framesFrom(1, 1)), ['still linked']);
  assert.deepEqual(text(await lagging.framesFrom(0, 1)), ['still linked']);
  assert.deepEqual(downs(), [], 'no link went down');

  // Caught up: the new certificate is named, so it is an ordinary pin from now on.
  lagging.transport.setPins(0, [oldDer(0), newDer0]);
  lagging.transport.send(0, Buffer.from('caught up'));
  assert.deepEqual(text(await r0.framesFrom(1, 2)), ['still linked', 'caught up']);
  assert.deepEqual(downs(), []);

  // And an ordinary pin is dropped by the next pin set that omits it: the link is closed.
  lagging.transport.setPins(0, [oldDer(0)]);
  await lagging.event((e) => e.kind === 'link-down' && e.peer === 0 && e.reason === 'certificate-mismatch' && e.wasUp, 'link closed');
  // The redial meets a certificate not pinned any more: introduced again, judged against the old pin alone.
  await lagging.until(() => (lagging.calls.length >= 2 ? true : undefined), 'a second introduction');
  assert.deepEqual(lagging.calls[1]!.pinned, [oldDer(0)]);
  assert.deepEqual(lagging.calls[1]!.presented, newDer0);
  await relinked(lagging, 0);
});
