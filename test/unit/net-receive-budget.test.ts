// Receive-side back-pressure, on real TLS over loopback: a peer's frames are read at most at its
// byte rate, and not at all while the consumer says it is not ready; reading pauses (TCP pushes back
// on the sender) and resumes, nothing is lost or reordered, and a pause is not the peer's silence.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { TlsTuning } from '../../src/net/tls-options.ts';
import { TlsTransport } from '../../src/net/tls-transport.ts';
import { tlsNodesOf } from '../../src/setup/transport-config.ts';
import { FAST, Probe, secretsOf, startAll, testNetwork, transportFor } from '../helpers/net.ts';
import { eventually } from '../helpers/hostile-net.ts';

const net = await testNetwork(4, 0, 'net-receive-budget');
const KiB = 1024;

/** Replica 0 receiving with `tuning` and `ready`; replica 1 sending with defaults. */
async function pair(t: TestContext, tuning: Partial<TlsTuning>, ready?: () => boolean): Promise<[Probe, Probe]> {
  const s = secretsOf(net, 0);
  const r0 = new Probe(
    new TlsTransport({
      self: 0,
      nodes: tlsNodesOf(net.network),
      key: s.tls.key,
      certificate: s.tls.certificate.pem,
      tuning: { ...FAST, ...tuning },
      ...(ready === undefined ? {} : { receiveReady: () => ready() }),
    }),
  );
  const r1 = new Probe(transportFor(net, 1));
  t.after(() => Promise.all([r0.transport.close(), r1.transport.close()]));
  await startAll([r0, r1], [[1, 0]]);
  return [r0, r1];
}
const numbered = (n: number, bytes: number): Buffer[] =>
  Array.from({ length: n }, (_, i) => {
    const b = Buffer.alloc(bytes, i % 251);
    b.writeUInt32BE(i);
    return b;
  });
const order = (frames: readonly Uint8Array[]): number[] => frames.map((f) => Buffer.from(f).readUInt32BE(0));

test("a peer's frames are read no faster than its byte rate", async (t) => {
  const [r0, r1] = await pair(t, { receiveBytesPerSecond: 256 * KiB, receiveBurstBytes: 32 * KiB });
  const frames = numbered(64, 8 * KiB); // 512 KiB: about 1.9 s at 256 KiB/s after the burst
  const start = performance.now();
  for (const f of frames) assert.ok(r1.transport.send(0, f));
  const got = await r0.framesFrom(1, 64, 15_000);
  const elapsed = performance.now() - start;
  assert.deepEqual(order(got), frames.map((_, i) => i));
  assert.ok(elapsed > 1_500, `read in ${elapsed.toFixed(0)} ms`);
  assert.ok(r0.transport.counters().receivePauses[1]!.rate > 0);
  assert.equal(r0.transport.stats().find((s) => s.peer === 1)!.errors, 0);
});

test('reading stops while the consumer is not ready, for longer than the idle timeout, then resumes with nothing lost', async (t) => {
  let ready = true;
  let asked = 0;
  const [r0, r1] = await pair(t, { idleTimeoutMs: 1_000, keepaliveIntervalMs: 300, receiveRetryMs: 20 }, () => {
    asked++;
    return ready;
  });
  const frames = numbered(400, 16 * KiB);
  ready = false;
  for (const f of frames) r1.transport.send(0, f);
  await eventually(() => r0.transport.counters().receivePauses[1]!.consumer > 0, 'paused');
  const during = r0.frames.length;
  await new Promise((r) => setTimeout(r, 1_500));
  assert.equal(r0.frames.length, during, 'nothing read while paused');
  assert.ok(during < 400, `${during} frames before the pause took hold`);
  assert.ok(asked > 20, 'asked again every receiveRetryMs');
  ready = true;
  const got = await r0.framesFrom(1, 400, 15_000);
  assert.deepEqual(order(got), frames.map((_, i) => i));
  assert.ok(r0.transport.stats().find((s) => s.peer === 1)!.connected, 'the link stayed up');
  assert.equal(r0.events.filter((e) => e.kind === 'link-down').length, 0);
});

test('a consumer callback that throws counts as ready, and is reported', async (t) => {
  const [r0, r1] = await pair(t, {}, () => {
    throw new Error('broken consumer');
  });
  r1.transport.send(0, Buffer.from('still delivered'));
  assert.equal(Buffer.from((await r0.framesFrom(1, 1))[0]!).toString(), 'still delivered');
  await r0.event((e) => e.kind === 'handler-error' && /receiveReady: broken consumer/.test(e.detail), 'reported');
});
