// The TLS transport between real nodes on loopback: mutual TLS 1.3 with the pinned settings, frames
// of every size in order both ways, per-peer counters, a bounded queue that sheds load, and refusal
// of options that cannot work.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { isBulwarkError } from '../../src/common/errors.ts';
import { ALPN } from '../../src/net/pinning.ts';
import { TlsTransport } from '../../src/net/tls-transport.ts';
import { tlsNodesOf } from '../../src/setup/transport-config.ts';
import { credentialsOf, Probe, rawTls, startAll, testNetwork, transportFor } from '../helpers/net.ts';

// Replicas 0, 1, 2 and client node 3.
const net = await testNetwork(3, 1, 'net-tls');
// Queues of 8 MiB, so that the bulk sender below meets back-pressure.
const MiB = 1024 * 1024;
const probes = [0, 1, 2, 3].map((id) => new Probe(transportFor(net, id, { maxFrameBytes: 8 * MiB, maxQueueBytes: 8 * MiB })));
const [p0, p1, p2, p3] = probes as [Probe, Probe, Probe, Probe];
after(() => Promise.all(probes.map((p) => p.transport.close())));

test('every replica pair and every client-replica pair links up, once', async () => {
  await startAll(probes, [[1, 0], [2, 0], [2, 1], [3, 0], [3, 1], [3, 2]]);
  assert.deepEqual(p0.transport.stats().map((s) => [s.peer, s.connected]), [[1, true], [2, true], [3, true]]);
  assert.deepEqual(p3.transport.stats().map((s) => s.peer), [0, 1, 2], 'a client node links to replicas only');
  for (const p of probes) {
    const ups = p.events.filter((e) => e.kind === 'link-up');
    assert.equal(new Set(ups.map((e) => e.kind === 'link-up' && e.peer)).size, ups.length, `node ${p.transport.self}: one link per peer`);
    const dir = (peer: number) => ups.find((e) => e.kind === 'link-up' && e.peer === peer);
    for (const s of p.transport.stats()) {
      const expected = p.transport.self > s.peer ? 'outbound' : 'inbound';
      assert.equal(dir(s.peer)?.kind === 'link-up' && dir(s.peer)!.direction, expected, `the higher id dials (${p.transport.self}↔${s.peer})`);
    }
  }
});

test('the handshake is TLS 1.3, AES-256-GCM, secp384r1, and the acceptor greets first', async () => {
  const socket = rawTls(net.network.replicas[0]!.port, { ...credentialsOf(net, 3), alpn: [ALPN.client] });
  const greeting = await new Promise<Buffer>((resolve, reject) => {
    socket.once('data', resolve);
    socket.once('error', reject);
  });
  assert.equal(socket.getProtocol(), 'TLSv1.3');
  assert.equal(socket.getCipher().name, 'TLS_AES_256_GCM_SHA384');
  assert.equal((socket.getEphemeralKeyInfo() as { name?: string } | null)?.name, 'secp384r1');
  assert.equal(socket.alpnProtocol, ALPN.client);
  assert.deepEqual([...greeting.subarray(0, 4)], [0, 0, 0, 0], 'a keepalive frame: you are accepted');
  socket.destroy();
  // That connection replaced client 3's real link at replica 0; the real one comes back on its own.
  await p3.until(() => p3.transport.stats().find((s) => s.peer === 0 && s.connected && s.reconnects >= 1), 'client 3 relinked to 0');
});

test('frames of every size arrive whole and in order, both ways', async () => {
  const sizes = [1, 1024, 16 * 1024 - 1, 16 * 1024, 100_000, 5 * MiB];
  const toZero = sizes.map((n) => randomBytes(n));
  const toTwo = sizes.map((n) => randomBytes(n));
  for (const f of toZero) assert.equal(p2.transport.send(0, f), true);
  for (const f of toTwo) assert.equal(p0.transport.send(2, f), true);
  assert.deepEqual((await p0.framesFrom(2, sizes.length)).map((f) => Buffer.from(f)), toZero);
  assert.deepEqual((await p2.framesFrom(0, sizes.length)).map((f) => Buffer.from(f)), toTwo);
});

test('many small frames keep their order and are counted on both ends', async () => {
  const before = p1.transport.stats().find((s) => s.peer === 3)!;
  const frames = Array.from({ length: 5000 }, (_, i) => Buffer.from(`frame ${i}`));
  for (const f of frames) assert.equal(p3.transport.send(1, f), true);
  const got = await p1.framesFrom(3, frames.length);
  assert.deepEqual(got.map((f) => Buffer.from(f).toString()), frames.map((f) => f.toString()));
  const sent = p3.transport.stats().find((s) => s.peer === 1)!;
  const received = p1.transport.stats().find((s) => s.peer === 3)!;
  const bytes = frames.reduce((n, f) => n + f.length, 0);
  assert.equal(sent.framesSent, frames.length);
  assert.equal(sent.bytesSent, bytes);
  assert.equal(received.framesReceived - before.framesReceived, frames.length);
  assert.equal(received.bytesReceived - before.bytesReceived, bytes);
});

test('a full queue refuses frames and counts the drops; empty, oversized and unknown-peer sends are refused', async () => {
  const tight = new Probe(
    new TlsTransport({
      self: 3,
      nodes: tlsNodesOf(net.network),
      key: net.clients[0]!.tls.key,
      certificate: net.clients[0]!.tls.certificate.pem,
      tuning: { maxQueueBytes: 16 * 1024, maxFrameBytes: 8 * 1024 },
    }),
  );
  // Not started: nothing drains the queue, so the limit is exact.
  const results = Array.from({ length: 40 }, () => tight.transport.send(0, randomBytes(1024)));
  assert.equal(results.filter(Boolean).length, 16);
  assert.equal(tight.transport.send(0, new Uint8Array(0)), false, 'empty frames are reserved for keepalives');
  assert.equal(tight.transport.send(1, new Uint8Array(8 * 1024 + 1)), false, 'over the frame limit');
  assert.equal(tight.transport.send(99, Uint8Array.of(1)), false, 'no such node');
  assert.equal(tight.transport.send(3, Uint8Array.of(1)), false, 'not itself');
  const stats = tight.transport.stats();
  assert.equal(stats.find((s) => s.peer === 0)!.framesDropped, 24 + 1);
  assert.equal(stats.find((s) => s.peer === 1)!.framesDropped, 1);
  assert.equal(tight.transport.counters().framesToUnknownPeer, 2);
  await tight.transport.close();
});

test('a bulk sender that waits for space loses nothing', async () => {
  const frame = randomBytes(1024);
  let dropped = 0;
  for (let i = 0; i < 20_000; i++) {
    if (!p3.transport.send(2, frame)) {
      dropped++;
      await p3.transport.waitForSpace(2);
      i--;
    }
  }
  await p2.framesFrom(3, 20_000, 30_000);
  assert.equal(p2.transport.stats().find((s) => s.peer === 3)!.framesReceived, 20_000);
  assert.ok(dropped > 0, 'the queue filled at least once');
  assert.equal(p3.transport.stats().find((s) => s.peer === 2)!.framesDropped, dropped);
});

test('start-up refuses a certificate that is not this node\'s pin, and a port that is taken', async () => {
  assert.throws(
    () =>
      new TlsTransport({ self: 1, nodes: tlsNodesOf(net.network), key: net.replicas[1]!.tls.key, certificate: net.replicas[2]!.tls.certificate.pem }),
    (e) => isBulwarkError(e, 'NET_IDENTITY_INVALID'),
  );
  assert.throws(
    () =>
      new TlsTransport({ self: 1, nodes: tlsNodesOf(net.network), key: net.replicas[2]!.tls.key, certificate: net.replicas[1]!.tls.certificate.pem }),
    (e) => isBulwarkError(e, 'NET_IDENTITY_INVALID') && /key/i.test(e.message),
    'a key that does not match the certificate',
  );
  assert.throws(
    () => new TlsTransport({ self: 7, nodes: tlsNodesOf(net.network), key: net.replicas[1]!.tls.key, certificate: net.replicas[1]!.tls.certificate.pem }),
    (e) => isBulwarkError(e, 'NET_OPTIONS_INVALID'),
  );
  const squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  const port = (squatter.address() as { port: number }).port;
  const blocked = new TlsTransport({
    self: 1,
    nodes: tlsNodesOf(net.network),
    key: net.replicas[1]!.tls.key,
    certificate: net.replicas[1]!.tls.certificate.pem,
    listen: { port },
  });
  await assert.rejects(blocked.start(), (e) => isBulwarkError(e, 'NET_LISTEN_FAILED') && e.message.includes(String(port)));
  await blocked.close();
  await new Promise((resolve) => squatter.close(resolve));
});

test('a frame handler that throws is reported, and the link and the frames after it carry on', async () => {
  const got: string[] = [];
  const three = new Promise<void>((resolve) =>
    p1.transport.onFrame((_from, frame) => {
      const text = Buffer.from(frame).toString();
      if (text === 'boom') throw new Error('handler bug');
      if (got.push(text) === 3) resolve();
    }),
  );
  for (const text of ['a', 'boom', 'b', 'c']) p2.transport.send(1, Buffer.from(text));
  await three;
  assert.deepEqual(got, ['a', 'b', 'c']);
  const e = await p1.event((x) => x.kind === 'handler-error', 'handler-error');
  assert.equal(e.kind === 'handler-error' && e.peer, 2);
  assert.equal(p1.transport.stats().find((s) => s.peer === 2)!.connected, true);
});
