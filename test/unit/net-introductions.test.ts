// The transport's own bounds on introductions, on real TLS over loopback: the judge is asked only
// for a claim that could be true (an existing node that may use this link, a certificate whose key
// and subject are no other node's), for an introduction of bounded size, and a few times a second
// at most; a connection held for its introduction is evicted or timed out like any unauthenticated
// one. Every refusal is counted by reason.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { ALPN } from '../../src/net/pinning.ts';
import type { TlsTuning } from '../../src/net/tls-options.ts';
import { TlsTransport } from '../../src/net/tls-transport.ts';
import type { NodeId } from '../../src/net/transport.ts';
import { createCertificate, randomSerial } from '../../src/setup/certificate.ts';
import { tlsKeyToPem } from '../../src/setup/tls-key.ts';
import type { TlsIdentity } from '../../src/setup/node-keys.ts';
import { tlsNodesOf } from '../../src/setup/transport-config.ts';
import { closed, FAST, Probe, rawTls, testNetwork } from '../helpers/net.ts';
import { attackerIdentity, forgedIntroduction, heavyIntroduction } from '../helpers/hostile-net.ts';

// Replicas 0..3 and client node 4; replica 1 is the victim (it listens for 2, 3 and 4).
const net = await testNetwork(4, 1, 'net-introductions');
const port = net.network.replicas[1]!.port;

/** Replica 1 judging introductions with a judge that counts its calls and accepts none. */
async function victim(t: TestContext, tuning: Partial<TlsTuning> = {}): Promise<Probe & { calls: NodeId[] }> {
  const s = net.replicas[1]!;
  const calls: NodeId[] = [];
  const transport = new TlsTransport({
    self: 1,
    nodes: tlsNodesOf(net.network),
    key: s.tls.key,
    certificate: s.tls.certificate.pem,
    tuning: { ...FAST, ...tuning },
    introduce: (node) => {
      calls.push(node);
      return 'the test accepts none';
    },
  });
  t.after(() => transport.close());
  await transport.start();
  return Object.assign(new Probe(transport), { calls });
}

/** A TLS connection presenting `who`, sending `frame` once TLS is up; resolves when the victim has closed it. */
async function present(who: TlsIdentity, frame: Buffer | null, alpn = ALPN.replica): Promise<void> {
  const socket = rawTls(port, { keyPem: tlsKeyToPem(who.key), certPem: who.certificate.pem, alpn: [alpn] });
  socket.on('error', () => {});
  socket.once('secureConnect', () => {
    if (frame !== null) socket.write(frame);
  });
  await closed(socket);
}

const refusedFor = (p: Probe, reason: string): number => (p.transport.counters().introductionsRefused as Record<string, number>)[reason]!;

test('beyond its burst, introductions are refused without being judged, counted as rate-limited', async (t) => {
  const v = await victim(t, { introductionsPerSecond: 0.01, introductionBurst: 2 });
  for (let i = 0; i < 5; i++) {
    const a = attackerIdentity(`intruder ${i}`);
    await present(a, forgedIntroduction(3, a, 4));
  }
  assert.deepEqual(v.calls, [3, 3], 'the judge was asked twice');
  assert.equal(refusedFor(v, 'rate-limited'), 3);
  assert.equal(refusedFor(v, 'not-accepted'), 2);
  const c = v.transport.counters();
  assert.equal(c.introductions.refused, 5);
  assert.equal(c.refused['unknown-certificate'], 5, 'each refused as the unknown certificate it is');
  assert.equal(c.pending, 0);
});

test('an introduction larger than maxIntroductionBytes is refused at its header', async (t) => {
  const v = await victim(t, { maxIntroductionBytes: 4096 });
  const a = attackerIdentity();
  const started = performance.now();
  await present(a, heavyIntroduction(3, { key: net.replicas[3]!.tls.key, certificate: net.replicas[3]!.tls.certificate }, a));
  assert.deepEqual(v.calls, []);
  assert.equal(refusedFor(v, 'too-large'), 1);
  const e = await v.event((x) => x.kind === 'introduction-refused', 'refusal');
  assert.match(e.kind === 'introduction-refused' ? e.detail : '', /too large: frame of \d+ bytes, limit 4096/);
  assert.ok(performance.now() - started < 1_500, 'not after reading 740 kB');
});

test("a certificate with another node's subject or key, or a claim the peer cannot make, is refused without being judged", async (t) => {
  const v = await victim(t);
  // Node 2's name on a certificate claiming to be node 3.
  const lookalike = attackerIdentity('bulwark replica 2');
  await present(lookalike, forgedIntroduction(3, lookalike, 1));
  // Node 2's own key (a Byzantine node 2, or its stolen key) in a new certificate claiming node 3.
  const key2 = net.replicas[2]!.tls.key;
  const cert = createCertificate({ privateKey: key2, commonName: 'bulwark replica 3', hosts: ['127.0.0.1'], notBefore: new Date('2025-01-01'), notAfter: new Date('2125-01-01'), serial: randomSerial(), deterministic: false });
  const sameKey = { key: key2, certificate: cert };
  await present(sameKey, forgedIntroduction(3, sameKey, 1));
  assert.equal(refusedFor(v, 'another-node'), 2);
  // Replica 0, which replica 1 dials; and a replica claimed over a client link.
  const a = attackerIdentity();
  await present(a, forgedIntroduction(0, a, 1));
  await present(a, forgedIntroduction(3, a, 1), ALPN.client);
  assert.equal(refusedFor(v, 'impossible-claim'), 2);
  assert.deepEqual(v.calls, [], 'the judge was never asked');
  const details = v.events.flatMap((e) => (e.kind === 'introduction-refused' ? [e.detail] : []));
  assert.match(details[0]!, /subject is node 2's/);
  assert.match(details[1]!, /public key is node 2's/);
});

test('a connection held for its introduction is evicted like any pending one, and timed out before authentication', async (t) => {
  const v = await victim(t, { maxPendingHandshakes: 2, maxPendingPerAddress: 2, preAuthTimeoutMs: 600 });
  const a = attackerIdentity();
  // Two connections complete TLS and say nothing: both held.
  const held = [0, 1].map(() => present(a, null));
  await v.until(() => (v.transport.counters().pending === 2 ? true : undefined), 'two pending');
  await new Promise((r) => setTimeout(r, 100)); // their handshakes are done: held, not idle
  // A third from the same address evicts the oldest.
  const third = present(a, null);
  await held[0];
  assert.equal(v.transport.counters().refused['address-full'], 1);
  assert.equal(refusedFor(v, 'evicted'), 1);
  // The others are not authenticated within 600 ms.
  await Promise.all([held[1], third]);
  assert.equal(v.transport.counters().refused['pre-auth-timeout'], 2);
  assert.equal(refusedFor(v, 'evicted'), 3);
  assert.equal(v.transport.counters().pending, 0);
  assert.deepEqual(v.calls, []);
});
