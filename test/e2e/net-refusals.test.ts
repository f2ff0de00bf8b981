// What a replica's listener refuses, on real sockets: unknown and look-alike certificates, the wrong
// kind of link for a certificate, TLS 1.2, no certificate, garbage before and after the handshake,
// oversized frames, and peers that never speak. Each refusal is counted and the replica carries on;
// and a dialing node refuses a listener that is not the pinned node.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { RefusalReason, TransportEvent } from '../../src/net/events.ts';
import { ALPN } from '../../src/net/pinning.ts';
import { createCertificate, randomSerial } from '../../src/setup/certificate.ts';
import { generateTlsKey, tlsKeyToPem } from '../../src/setup/tls-key.ts';
import { TlsTransport } from '../../src/net/tls-transport.ts';
import { tlsNodesOf } from '../../src/setup/transport-config.ts';
import { credentialsOf, FAST, freePorts, linkUp, Probe, rawTls, testNetwork, transportFor } from '../helpers/net.ts';

// Four replicas and client nodes 4 and 5. Only replica 1 runs; everyone else is played by hand.
const net = await testNetwork(4, 2, 'net-refusals');
const target = new Probe(
  transportFor(net, 1, { handshakeTimeoutMs: 400, idleTimeoutMs: 800, keepaliveIntervalMs: 200, maxFrameBytes: 64 * 1024 }),
);
await target.transport.start();
after(() => target.transport.close());
const port = net.network.replicas[1]!.port;

function refused(reason: RefusalReason): Promise<TransportEvent> {
  const before = target.events.filter((e) => e.kind === 'refused' && e.reason === reason).length;
  return target.until(() => target.events.filter((e) => e.kind === 'refused' && e.reason === reason)[before], `refusal ${reason}`);
}

/** Every socket a test opens ends closed, however the other side ended it. */
function ended(socket: Socket): Promise<void> {
  socket.on('error', () => {});
  return new Promise((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
}

function attackerCertificate(commonName: string): { keyPem: string; certPem: string } {
  const key = generateTlsKey();
  const cert = createCertificate({
    privateKey: key,
    commonName,
    hosts: ['127.0.0.1'],
    notBefore: new Date('2025-01-01'),
    notAfter: new Date('2125-01-01'),
    serial: randomSerial(),
    deterministic: false,
  });
  return { keyPem: tlsKeyToPem(key), certPem: cert.pem };
}

/** Sends a frame as soon as TLS allows: the replica must drop it with the connection. */
function tryToSpeak(socket: TLSSocket): void {
  socket.once('secureConnect', () => socket.write(Buffer.from([0, 0, 0, 5, 104, 101, 108, 108, 111])));
}

function assertNothingDelivered(): void {
  assert.deepEqual(target.frames, [], 'no frame from a refused connection reaches the protocol');
}

test('an unknown certificate is refused', async () => {
  const wait = refused('unknown-certificate');
  const socket = rawTls(port, { ...attackerCertificate('intruder'), alpn: [ALPN.client] });
  tryToSpeak(socket);
  await Promise.all([wait, ended(socket)]);
  assertNothingDelivered();
});

test("an attacker's self-signed certificate with a client node's exact subject is refused", async () => {
  const wait = refused('unknown-certificate');
  const socket = rawTls(port, { ...attackerCertificate('bulwark client 4'), alpn: [ALPN.client] });
  tryToSpeak(socket);
  await Promise.all([wait, ended(socket)]);
  const e = await wait;
  assert.equal(e.kind === 'refused' && e.peer, undefined, 'the look-alike is not attributed to client 4');
  assertNothingDelivered();
});

test('a client certificate on a replica link is refused and counted against that client', async () => {
  const wait = refused('wrong-role');
  const socket = rawTls(port, { ...credentialsOf(net, 4), alpn: [ALPN.replica] });
  tryToSpeak(socket);
  const [e] = await Promise.all([wait, ended(socket)]);
  assert.equal(e.kind === 'refused' && e.peer, 4);
  assert.equal(target.transport.stats().find((s) => s.peer === 4)!.errors, 1);
  assertNothingDelivered();
});

test('a replica certificate on a client link is refused', async () => {
  const wait = refused('wrong-role');
  const socket = rawTls(port, { ...credentialsOf(net, 3), alpn: [ALPN.client] });
  tryToSpeak(socket);
  const [e] = await Promise.all([wait, ended(socket)]);
  assert.equal(e.kind === 'refused' && e.peer, 3);
  assertNothingDelivered();
});

test('a lower replica dialing a higher one is refused (one link per pair)', async () => {
  const wait = refused('wrong-direction');
  const socket = rawTls(port, { ...credentialsOf(net, 0), alpn: [ALPN.replica] });
  await Promise.all([wait, ended(socket)]);
  assertNothingDelivered();
});

test('a TLS 1.2-only peer is refused during the handshake', async () => {
  const wait = refused('handshake-failed');
  const socket = rawTls(port, { ...credentialsOf(net, 4), alpn: [ALPN.client], minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
  const failure = new Promise<Error>((resolve) => socket.once('error', resolve));
  await Promise.all([wait, ended(socket)]);
  assert.match((await failure).message, /protocol version|alert/i);
  assertNothingDelivered();
});

test('a peer without a certificate is refused', async () => {
  const wait = refused('no-certificate');
  const socket = rawTls(port, { alpn: [ALPN.client] });
  tryToSpeak(socket);
  await Promise.all([wait, ended(socket)]);
  assertNothingDelivered();
});

test('garbage instead of a handshake is refused', async () => {
  const wait = refused('handshake-failed');
  const socket = netConnect(port, '127.0.0.1', () => socket.write(randomBytes(512)));
  await Promise.all([wait, ended(socket)]);
});

test('a connection that never speaks is timed out before the handshake', async () => {
  const wait = refused('handshake-failed');
  const socket = netConnect(port, '127.0.0.1');
  const [e] = await Promise.all([wait, ended(socket)]);
  assert.match(e.kind === 'refused' ? (e.detail ?? '') : '', /TIMEOUT/i);
});

/** A pinned client's TLS connection over a TCP socket we keep, so raw bytes can be slipped under TLS. */
function interceptableClient(): { tls: TLSSocket; tcp: Socket; accepted: Promise<void> } {
  const tcp = netConnect(port, '127.0.0.1');
  const shim = new Duplex({
    read() {},
    write(chunk, _encoding, callback) {
      tcp.write(chunk, callback);
    },
  });
  tcp.on('data', (d) => shim.push(d));
  tcp.on('close', () => shim.destroy());
  tcp.on('error', () => {});
  const { keyPem, certPem } = credentialsOf(net, 5);
  const tls = tlsConnect({
    socket: shim,
    key: keyPem,
    cert: certPem,
    minVersion: 'TLSv1.3',
    ecdhCurve: 'secp384r1',
    rejectUnauthorized: false,
    ALPNProtocols: [ALPN.client],
  });
  tls.on('error', () => {});
  const accepted = new Promise<void>((resolve) => tls.once('data', () => resolve()));
  return { tls, tcp, accepted };
}

test('garbage under TLS after the handshake closes the link, counted against the peer', async () => {
  const { tls, tcp, accepted } = interceptableClient();
  await accepted;
  await target.event(linkUp(5), 'client 5 linked');
  const errorsBefore = target.transport.stats().find((s) => s.peer === 5)!.errors;
  const down = target.event((e) => e.kind === 'link-down' && e.peer === 5, 'link to 5 down');
  tcp.write(randomBytes(300));
  const [e] = await Promise.all([down, ended(tls)]);
  assert.equal(e.kind === 'link-down' && e.reason, 'tls-error');
  assert.equal(target.transport.stats().find((s) => s.peer === 5)!.errors, errorsBefore + 1);
  tcp.destroy();
});

test('an oversized frame closes the link and is counted; the replica carries on', async () => {
  const socket = rawTls(port, { ...credentialsOf(net, 4), alpn: [ALPN.client] });
  await new Promise((resolve) => socket.once('data', resolve));
  const errorsBefore = target.transport.stats().find((s) => s.peer === 4)!.errors;
  const down = target.until(
    () => target.events.find((e) => e.kind === 'link-down' && e.peer === 4 && e.reason === 'frame-too-large'),
    'frame-too-large',
  );
  const header = Buffer.alloc(4);
  header.writeUInt32BE(64 * 1024 + 1);
  socket.write(header);
  await Promise.all([down, ended(socket)]);
  assert.equal(target.transport.stats().find((s) => s.peer === 4)!.errors, errorsBefore + 1);

  // Still serving: the same client connects again and its frames arrive.
  const again = rawTls(port, { ...credentialsOf(net, 4), alpn: [ALPN.client] });
  await new Promise((resolve) => again.once('data', resolve));
  again.write(Buffer.from([0, 0, 0, 2, 111, 107]));
  const [frame] = await target.framesFrom(4, 1);
  assert.equal(Buffer.from(frame!).toString(), 'ok');
  again.destroy();
  await ended(again);
});

test('an authenticated peer that never speaks is timed out (idle)', async () => {
  const socket = rawTls(port, { ...credentialsOf(net, 5), alpn: [ALPN.client] });
  await new Promise((resolve) => socket.once('data', resolve));
  const down = target.until(
    () => target.events.find((e) => e.kind === 'link-down' && e.peer === 5 && e.reason === 'idle-timeout'),
    'idle-timeout',
  );
  await Promise.all([down, ended(socket)]);
});

test('the counters add up, and the listener still accepts honest nodes', async () => {
  const counters = target.transport.counters().refused;
  assert.ok(counters['unknown-certificate'] >= 2);
  assert.ok(counters['wrong-role'] >= 2);
  assert.ok(counters['wrong-direction'] >= 1);
  assert.ok(counters['no-certificate'] >= 1);
  assert.ok(counters['handshake-failed'] >= 3);
  const honest = new Probe(transportFor(net, 3));
  await honest.transport.start();
  await target.event(linkUp(3), 'replica 3 linked');
  honest.transport.send(1, Buffer.from('still here'));
  const [frame] = await target.framesFrom(3, 1);
  assert.equal(Buffer.from(frame!).toString(), 'still here');
  await honest.transport.close();
});

test('a dialing node refuses a listener that does not present the pinned certificate', async () => {
  // Client node 4 dials replica 0's endpoint, where an impostor listens: first with a certificate of
  // its own, then with replica 2's genuine one (right certificate, wrong node).
  const [impostorPort] = await freePorts(1);
  const victim = await testNetwork(1, 1, 'net-refusals-dialer');
  // The dialer's view of replica 0 points at the impostor's port.
  const nodes = tlsNodesOf(victim.network).map((n) => (n.id === 0 ? { ...n, port: impostorPort! } : n));
  for (const creds of [attackerCertificate('bulwark replica 0'), credentialsOf(net, 2)]) {
    const server = createTlsServer({
      key: creds.keyPem,
      cert: creds.certPem,
      minVersion: 'TLSv1.3',
      ecdhCurve: 'secp384r1',
      requestCert: true,
      rejectUnauthorized: false,
      ALPNProtocols: [ALPN.client],
    });
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => server.listen(impostorPort, '127.0.0.1', resolve));
    const client = victim.clients[0]!;
    const redirected = new Probe(new TlsTransport({ self: 1, nodes, key: client.tls.key, certificate: client.tls.certificate.pem, tuning: FAST }));
    await redirected.transport.start();
    const e = await redirected.event((x) => x.kind === 'link-down' && x.peer === 0, 'dial refused');
    assert.equal(e.kind === 'link-down' && e.reason, 'certificate-mismatch');
    assert.equal(redirected.transport.stats()[0]!.connected, false);
    assert.ok(redirected.transport.stats()[0]!.errors >= 1);
    await redirected.transport.close();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('closing a replica does not wait for a connection stuck before its handshake', async () => {
  const stuck = netConnect(port, '127.0.0.1');
  await new Promise((resolve) => stuck.once('connect', resolve));
  const started = performance.now();
  await Promise.all([target.transport.close(), ended(stuck)]);
  assert.ok(performance.now() - started < 300, 'closed without waiting for the 400 ms handshake timeout');
});
