// Attacks on a replica's transport, each from a hostile process of its own against the real
// transports (TLS 1.3 on loopback, the real introduction judge over a book of TLS records), while an
// honest replica's link to the victim stays up and carries frames — a round trip well within 100 ms
// — and the victim's pending connections and memory stay bounded:
//
//  1. 200 idle sockets, renewed as they close, from the honest peers' own address and four others:
//     the peers that were away reconnect meanwhile;
//  2. introductions by the hundred: 1,024-record ones (the old judge spent seconds on each) and
//     forged 16-record ones that pass every check short of a signature;
//  3. a stolen retired TLS key endorsing a certificate for an epoch the victim knows;
//  4. a peer (a client node's stolen credentials) flooding frames: paused at its byte rate, then
//     penalized by the layer above and refused for the back-off.
import { test, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ALPN } from '../../src/net/pinning.ts';
import { TlsTransport } from '../../src/net/tls-transport.ts';
import type { NodeId } from '../../src/net/transport.ts';
import { tlsIntroductions } from '../../src/setup/node-key-lifecycle.ts';
import { tlsKeyToPem } from '../../src/setup/tls-key.ts';
import { tlsNodesOf } from '../../src/setup/transport-config.ts';
import { credentialsOf, FAST, linkUp, Probe, secretsOf, testNetwork, transportFor } from '../helpers/net.ts';
import { attackerIdentity, eventually, forgedIntroduction, heavyIntroduction, introductionFrame, rotations, tlsBook, tlsRecord } from '../helpers/hostile-net.ts';

const FIXTURE = new URL('./fixtures/hostile-transport-peer.ts', import.meta.url).pathname;
const MiB = 1024 * 1024;

// Replicas 0..3 and client nodes 4 and 5; replica 1 is the victim. Replica 3 rotated its TLS
// certificate twice and the victim executed both records (it pins epochs 1 and 2, as its key
// lifecycle would just after the switch to epoch 1 with epoch 2 published).
const net = await testNetwork(4, 2, 'hostile-transport');
const port = net.network.replicas[1]!.port;
const original3 = { key: net.replicas[3]!.tls.key, certificate: net.replicas[3]!.tls.certificate };
const replica3 = rotations(3, original3, 2);
const book = tlsBook(net);
for (const r of replica3.records) assert.ok(book.add(r));

const judged = { calls: 0, ms: 0 };
const { introduction, introduce } = tlsIntroductions(book, 1);
const victimSecrets = secretsOf(net, 1);
const victim = new Probe(
  new TlsTransport({
    self: 1,
    nodes: tlsNodesOf(net.network),
    key: victimSecrets.tls.key,
    certificate: victimSecrets.tls.certificate.pem,
    // Production limits, test timers; a receive rate a test can reach.
    tuning: { ...FAST, receiveBytesPerSecond: 2 * MiB, receiveBurstBytes: 4 * MiB },
    introduction,
    introduce: (...args) => {
      const t = performance.now();
      judged.calls++;
      try {
        return introduce(...args);
      } finally {
        judged.ms += performance.now() - t;
      }
    },
  }),
);
victim.transport.setPins(3, book.tlsPins(3, 150, 100));
const received = new Map<NodeId, number>();
let onFlood: () => void = () => {};
victim.transport.onFrame((from, frame) => {
  received.set(from, (received.get(from) ?? 0) + 1);
  if (from === 2) victim.transport.send(2, frame); // the echo the honest peer times
  if (from === 5) onFlood();
});
await victim.transport.start();

const honest = new Probe(transportFor(net, 2));
await honest.transport.start();
await victim.event(linkUp(2), 'honest replica 2 linked');
const others: TlsTransport[] = [];
after(async () => {
  await Promise.all([victim.transport.close(), honest.transport.close(), ...others.map((o) => o.close())]);
});

let pings = 0;
/**
 * Round trips 2 → 1 → 2 every 50 ms until `done` resolves, and at least 10; their times in ms.
 * With `t`, also reports the CPU this process (the victim and the honest peers) used and its event
 * loop's delays.
 */
async function roundTripsUntil(done: Promise<unknown>, t?: TestContext): Promise<number[]> {
  let over = false;
  void done.finally(() => (over = true));
  const times: number[] = [];
  const started = performance.now();
  const cpu = process.cpuUsage();
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  while (!over || times.length < 10) {
    const start = performance.now();
    honest.transport.send(1, Buffer.from(`ping ${pings++}`));
    await honest.framesFrom(1, pings, 2_000);
    times.push(performance.now() - start);
    await new Promise((r) => setTimeout(r, 50));
  }
  loop.disable();
  const used = process.cpuUsage(cpu);
  const share = (used.user + used.system) / 1e3 / (performance.now() - started);
  t?.diagnostic(`this process: ${(share * 100).toFixed(0)}% of a core; event loop delay p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms, max ${(loop.max / 1e6).toFixed(1)} ms`);
  return times;
}

function percentiles(times: readonly number[]): { median: number; p90: number; max: number } {
  const sorted = [...times].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, p90: sorted[Math.floor(sorted.length * 0.9)]!, max: sorted.at(-1)! };
}
/** The round trip before any attack (on a machine shared with other work it is not 1 ms). */
let quiet = { median: 1, p90: 1, max: 1 };

/**
 * Round trips during an attack: the median within 100 ms, none near the second the old judge
 * blocked the thread for per introduction. (The slowest few depend on what else runs on the
 * machine: they are reported, with the round trips before the attacks for comparison.)
 */
function assertResponsive(t: TestContext, times: readonly number[]): void {
  const { median, p90, max } = percentiles(times);
  t.diagnostic(`${times.length} round trips: median ${median.toFixed(1)} ms, p90 ${p90.toFixed(1)} ms, max ${max.toFixed(1)} ms (before the attacks: ${quiet.median.toFixed(1)}, ${quiet.p90.toFixed(1)})`);
  assert.ok(times.length >= 10, `${times.length} round trips`);
  assert.ok(median < 100, `round trips: median ${median.toFixed(1)} ms`);
  assert.ok(max < 1_000, `round trips: max ${max.toFixed(1)} ms`);
  assert.equal(honest.transport.stats().find((s) => s.peer === 1)!.connected, true, 'the honest link stayed up');
  assert.equal(honest.events.filter((e) => e.kind === 'link-down' && e.peer === 1).length, 0);
}

/** Memory of this process (victim and honest peers; the attacker runs elsewhere). */
const baseline = process.memoryUsage();
function assertMemoryBounded(t: TestContext): void {
  const now = process.memoryUsage();
  const grew = (now.rss - baseline.rss) / MiB;
  t.diagnostic(`rss +${grew.toFixed(0)} MiB, heap ${(now.heapUsed / MiB).toFixed(0)} MiB, buffers ${(now.arrayBuffers / MiB).toFixed(0)} MiB`);
  assert.ok(grew < 200, `rss grew ${grew.toFixed(0)} MiB`);
}

interface Attacker {
  readonly counts: () => { opened: number; closed: number; secured: number; bytes: number };
  readonly stop: () => Promise<void>;
}

function attack(t: TestContext, config: Record<string, unknown>): Attacker {
  const dir = mkdtempSync(join(tmpdir(), 'hostile-transport-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ port, ...config }));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', FIXTURE, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  let last = { opened: 0, closed: 0, secured: 0, bytes: 0 };
  let buffered = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    if (lines.length > 0) last = JSON.parse(lines.at(-1)!) as typeof last;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM');
    await exited;
  };
  t.after(stop);
  return { counts: () => last, stop };
}

function assertPendingBounded(): void {
  const c = victim.transport.counters();
  assert.ok(c.pending <= 64, `${c.pending} pending`);
  assert.equal(c.refused['too-many-handshakes'], 0, 'no connection dropped unseen by the pool');
}

test('before any attack: the honest round trip', async (t) => {
  const times = await roundTripsUntil(new Promise((r) => setTimeout(r, 1_500)));
  quiet = percentiles(times);
  t.diagnostic(`${times.length} round trips: median ${quiet.median.toFixed(1)} ms, p90 ${quiet.p90.toFixed(1)} ms`);
});

test('200 idle sockets from the peers’ address and four others: the honest link carries on, and peers that were away reconnect', async (t) => {
  const addresses = ['127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
  const attacker = attack(t, { attack: 'idle', addresses, count: 200, renewMs: 20 });
  await eventually(() => attacker.counts().opened >= 200, 'the attacker’s 200 sockets', 20_000);
  const evictions = (): number => victim.transport.counters().refused['pending-full'] + victim.transport.counters().refused['address-full'];
  await eventually(() => evictions() > 200, 'the flood under way');

  const returning = (async () => {
    // Replica 3 (with its epoch-2 certificate) and client node 4 come up while the flood runs.
    const r3 = new TlsTransport({
      self: 3,
      nodes: tlsNodesOf(net.network).map((n) => (n.id === 3 ? { ...n, certificate: replica3.certs[2]!.certificate.der } : n)),
      key: replica3.certs[2]!.key,
      certificate: replica3.certs[2]!.certificate.pem,
      tuning: FAST,
    });
    const c4 = transportFor(net, 4);
    others.push(r3, c4);
    const started = performance.now();
    await Promise.all([r3.start(), c4.start()]);
    await Promise.all([victim.event(linkUp(3), 'replica 3 linked', 10_000), victim.event(linkUp(4), 'client 4 linked', 10_000)]);
    t.diagnostic(`replica 3 and client node 4 linked in ${(performance.now() - started).toFixed(0)} ms`);
    await new Promise((r) => setTimeout(r, 1_500));
  })();
  const times = await roundTripsUntil(returning, t);
  await returning;
  assertResponsive(t, times);
  assertPendingBounded();
  assertMemoryBounded(t);
  const c = victim.transport.counters();
  t.diagnostic(`attacker opened ${attacker.counts().opened}; evicted: ${c.refused['pending-full']} pool full, ${c.refused['address-full']} address full; ${c.refused['pre-auth-timeout']} timed out`);
  await attacker.stop();
});

test('introductions by the hundred: oversized ones refused at their header, forged ones judged a few times a second, cheaply', async (t) => {
  const a = attackerIdentity();
  const frames = [heavyIntroduction(3, original3, a), forgedIntroduction(3, a, 16)].map((f) => f.toString('hex'));
  const before = { ...victim.transport.counters().introductionsRefused };
  const judgedBefore = { ...judged };
  const attacker = attack(t, { attack: 'introductions', keyPem: tlsKeyToPem(a.key), certPem: a.certificate.pem, alpn: ALPN.replica, frames, concurrency: 1 });
  await eventually(() => attacker.counts().secured >= 20, 'the attack under way', 20_000);
  const started = performance.now();
  const times = await roundTripsUntil(new Promise((r) => setTimeout(r, 3_000)), t);
  const seconds = (performance.now() - started) / 1000;
  const refused = victim.transport.counters().introductionsRefused;
  const tooLarge = refused['too-large'] - before['too-large'];
  const limited = refused['rate-limited'] - before['rate-limited'];
  const calls = judged.calls - judgedBefore.calls;
  const ms = judged.ms - judgedBefore.ms;
  t.diagnostic(`${attacker.counts().secured} attacker handshakes; ${tooLarge} too large, ${limited} rate-limited, ${calls} judged in ${ms.toFixed(1)} ms`);
  assertResponsive(t, times);
  assert.ok(tooLarge > 5, 'oversized introductions refused');
  assert.ok(limited > 0, 'forged introductions beyond the rate refused unjudged');
  assert.ok(calls <= 8 + 4 * (seconds + 2), `${calls} judged in ${seconds.toFixed(1)} s`);
  assert.ok(ms / Math.max(1, calls) < 20, `${(ms / Math.max(1, calls)).toFixed(2)} ms per judgement`);
  assertPendingBounded();
  assertMemoryBounded(t);
  await attacker.stop();
});

test('a stolen retired TLS key cannot pin a certificate for an epoch the victim knows', async (t) => {
  // Replica 3's retired epoch-1 key endorses the thief's certificate as epoch 2.
  const thief = attackerIdentity('bulwark replica 3');
  const forged = tlsRecord(3, 2, thief, replica3.certs[1]!.key);
  const frame = introductionFrame(3, [replica3.records[0]!, forged]);
  const before = judged.calls;
  const attacker = attack(t, { attack: 'introductions', keyPem: tlsKeyToPem(thief.key), certPem: thief.certificate.pem, alpn: ALPN.replica, frames: [frame.toString('hex')], concurrency: 1 });
  const refusal = await victim.event((e) => e.kind === 'introduction-refused' && e.reason === 'not-accepted' && /epoch 2 record/.test(e.detail), 'the stolen key refused', 20_000);
  t.diagnostic(refusal.kind === 'introduction-refused' ? refusal.detail : '');
  await attacker.stop();
  assert.ok(judged.calls > before);
  assert.equal(victim.events.filter((e) => e.kind === 'introduced').length, 0, 'nothing was introduced');
  // Replica 3's genuine certificate is still the one linked.
  assert.equal(victim.transport.stats().find((s) => s.peer === 3)!.connected, true);
});

test('a peer flooding frames is read at its byte rate, then penalized and refused for the back-off', async (t) => {
  const attacker = attack(t, { attack: 'flood', ...credentialsOf(net, 5), alpn: ALPN.client, frameBytes: 64 * 1024 });
  await eventually(() => (victim.transport.counters().receivePauses[5]?.rate ?? 0) >= 3, 'the flood paused at its rate', 20_000);
  const times = await roundTripsUntil(new Promise((r) => setTimeout(r, 2_000)), t);
  assertResponsive(t, times);
  const stat5 = victim.transport.stats().find((s) => s.peer === 5)!;
  t.diagnostic(`attacker wrote ${(attacker.counts().bytes / MiB).toFixed(0)} MiB; victim read ${(stat5.bytesReceived / MiB).toFixed(1)} MiB`);
  assert.ok(stat5.bytesReceived < 4 * MiB + 2 * MiB * 4, 'read no faster than the rate allows');
  assertMemoryBounded(t);

  // The layer above finds the frames invalid and penalizes the peer.
  const penalized = victim.event((e) => e.kind === 'penalized' && e.peer === 5, 'penalized');
  onFlood = () => victim.transport.penalize(5, 'invalid-message');
  await penalized;
  onFlood = () => {};
  await victim.event((e) => e.kind === 'link-down' && e.peer === 5 && e.reason === 'penalized', 'link closed');
  await eventually(() => victim.transport.counters().refused.penalized >= 3, 'its reconnections refused', 5_000);
  const times2 = await roundTripsUntil(new Promise((r) => setTimeout(r, 1_000)));
  assertResponsive(t, times2);
  assert.deepEqual(victim.transport.counters().penalties[5], { 'invalid-message': victim.transport.counters().penalties[5]!['invalid-message'] });
  assertPendingBounded();
  await attacker.stop();
});
