// A replica joining by snapshot under the deterministic simulator (issue #19), with a Byzantine peer
// in the snapshot service. Four production shells (`ReplicaNode`, real executor and Ethereum
// application, the trusted setup's BLS keys) on a simulated clock and network commit token and
// contract calls and transfers to many accounts, checkpointing every 4 batches. Replica 3 is stopped
// and its store wiped; the others go on for several checkpoints. Replica 3 then runs the replica
// process's fetch phase (`node/snapshot.ts`, the real `SnapshotSync`) over the simulated network,
// while replica 2 — honest in consensus — serves snapshots wrongly: (a) some items with a byte
// flipped, (b) a different image of the checkpoint, (c) nothing at all. The snapshot must install
// from the honest peers, replica 2 named as faulty (outcome or log), the store's head, state root and
// reserved pages those of the honest peers at the checkpoint; then replica 3's shell starts on it,
// catches up by the shell's own catch-up and commits the next requests with the others, into the
// same blocks. Seeded, simulated time only.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createAddressFromString, createContractAddress } from '@ethereumjs/util';
import { pino, type Logger } from 'pino';
import { decodeMessage, encodeMessage } from '../../src/codec/message-codec.ts';
import { requestSigningBytes } from '../../src/codec/signing.ts';
import { decodeCheckpointImage, encodeCheckpointImage } from '../../src/codec/snapshot.ts';
import { encodeTxPayload } from '../../src/codec/tx-payload.ts';
import { toHex } from '../../src/common/bytes.ts';
import { initHashes, signNodeAuth, type NodeAuthPrivateKey } from '../../src/crypto/index.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { Executor } from '../../src/execution/executor.ts';
import { ReservedPages } from '../../src/ledger/reserved-pages.ts';
import { SimNetwork } from '../../src/net/sim-transport.ts';
import { fetchSnapshot } from '../../src/node/snapshot.ts';
import type { ReplicaApplication, SnapshotServer } from '../../src/replica/application.ts';
import type { EthereumApp } from '../../src/replica/ethereum-app.ts';
import type { SnapshotOutcome } from '../../src/replica/snapshot-sync.ts';
import { runInit } from '../../src/setup/init.ts';
import { loadNodeDirectory, type ReplicaMaterial } from '../../src/setup/node-directory.ts';
import { MemoryStore } from '../../src/storage/index.ts';
import { bytecode, encodeCall } from '../helpers/abi.ts';
import { addressOf, CHAIN_ID, signTx, testConfig, testKey } from '../helpers/chain.ts';
import { Prng } from './harness/prng.ts';
import { EventQueue } from './harness/queue.ts';
import { openEthereumShell, simClock, turn, type EthereumShell } from './harness/real-shell.ts';

await initHashes();

const INTERVAL = 4;
const CONSENSUS = { keyExchange: false, checkpointInterval: INTERVAL, window: 2 * INTERVAL, maxInFlight: 4 };
/** The joining replica, and the one that serves snapshots wrongly (honest in consensus). */
const JOINER = 3;
const BYZANTINE = 2;
/** Requests committed by all four, then by 0–2 alone while replica 3 is wiped, then by all four again. */
const BEFORE_WIPE = 3;
const WHILE_WIPED = 12;
const AFTER_JOIN = 4;

let root = '';
const materials: ReplicaMaterial[] = [];
let clientId = 0;
let authKey: NodeAuthPrivateKey | null = null;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'bulwark-sim-snapshot-'));
  await runInit({
    outDir: join(root, 'net'),
    topology: { replicas: 4, clients: 1, replicaEndpoints: [0, 1, 2, 3].map((i) => ({ host: '127.0.0.1', port: 1 + i })) },
    chainConfig: testConfig(),
    seed: new Uint8Array(32).fill(0x5a),
  });
  for (let id = 0; id < 4; id++) {
    const m = await loadNodeDirectory(join(root, 'net', `replica-${id}`));
    if (m.role !== 'replica') throw new Error(`replica-${id} is not a replica's directory`);
    materials.push(m);
  }
  const client = await loadNodeDirectory(join(root, 'net', 'client-4'));
  if (client.role !== 'client') throw new Error('client-4 is not a client node directory');
  clientId = client.id;
  authKey = client.nodeKeys.key('auth', 0)!.privateKey;
});

after(() => rmSync(root, { recursive: true, force: true }));

/** How replica 2 serves snapshots: honestly, flipping a byte of some items, with another image, or not at all. */
type Fault = 'flip' | 'manifest' | 'mute';

/** Replica 2's application, serving snapshots as `fault` says once `on()` is true (honestly before). */
function byzantineSnapshots(app: EthereumApp, fault: Fault, on: () => boolean): ReplicaApplication {
  const honest = app.snapshots();
  const server: SnapshotServer = {
    async manifest(id, seq, stable) {
      const m = await honest.manifest(id, seq, stable);
      if (!on() || fault !== 'manifest' || m.image.length === 0) return m;
      // Another image of the same checkpoint: a made-up state root and timestamp (block and headers as they are).
      const image = decodeCheckpointImage(m.image);
      const stateRoot = Uint8Array.from(image.summary.stateRoot, (b, i) => (i === 0 ? b ^ 0xff : b));
      return { ...m, image: encodeCheckpointImage({ ...image, lastTimestamp: image.lastTimestamp + 1, summary: { ...image.summary, stateRoot } }) };
    },
    async items(refs) {
      const items = await honest.items(refs);
      if (!on() || fault !== 'flip') return items;
      // Every other item it holds, one byte flipped: the rest right (a wrong answer need not be all wrong).
      return items.map((v, i) => (v.length === 0 || i % 2 === 1 ? v : Uint8Array.from(v, (b, j) => (j === v.length >> 1 ? b ^ 0x01 : b))));
    },
  };
  return {
    state: () => app.state(),
    execute: (...args) => app.execute(...args),
    head: () => app.head(),
    block: (n) => app.block(n),
    reads: (sign, clock) => app.reads(sign, clock),
    cacheBytes: () => app.cacheBytes(),
    snapshots: () => server,
  };
}

/** A logger whose lines (parsed) the test reads: what an operator would see of the fetch. */
function capturedLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

interface Result {
  readonly outcome: SnapshotOutcome;
  readonly lines: readonly Record<string, unknown>[];
  /** The simulated ms the fetch took; the whole run took. */
  readonly fetchMs: number;
  readonly simMs: number;
  /** The last block all four made, and its hash. */
  readonly head: number;
  readonly headHash: string;
}

/** What a test prints of its run (node --test shows it as a diagnostic). */
const brief = (r: Result) => JSON.stringify({ outcome: r.outcome, fetchMs: r.fetchMs, simMs: r.simMs, head: r.head });

async function scenario(fault: Fault, seed: number): Promise<Result> {
  const queue = new EventQueue();
  const prng = new Prng(seed);
  const clock = simClock(queue);
  let byzantine = false;
  const network = new SimNetwork({
    schedule: (delay, run) => queue.after(delay, run),
    link: (from, to, frame) => {
      // (c) The Byzantine peer's snapshot answers never leave it.
      if (byzantine && fault === 'mute' && from === BYZANTINE && to === JOINER) {
        const type = decodeMessage(frame).type;
        if (type === 'SnapshotManifest' || type === 'SnapshotItems') return { delays: [] };
      }
      return { delays: [prng.int(1, 8)] };
    },
  });
  const quiet = pino({ level: process.env['BULWARK_TEST_LOG'] ?? 'silent' });
  const shells: (EthereumShell | null)[] = [];
  const open = (id: number, kv: MemoryStore) =>
    openEthereumShell({
      material: materials[id]!,
      kv,
      network,
      clock,
      log: quiet.child({ replica: id }),
      consensus: CONSENSUS,
      ...(id === BYZANTINE ? { wrapApp: (app: EthereumApp) => byzantineSnapshots(app, fault, () => byzantine) } : {}),
    });
  const live = () => shells.filter((s): s is EthereumShell => s !== null);
  try {
    for (let id = 0; id < 4; id++) shells.push(await open(id, new MemoryStore()));
    for (const s of live()) await s.node.start();

    const clientTransport = network.transport(clientId);
    await clientTransport.start();
    const common = buildCommon(CHAIN_ID);
    const deployer = testKey(0);
    const exerciser = createContractAddress(createAddressFromString(addressOf(deployer)), 1n).toString() as `0x${string}`;
    const token = createContractAddress(createAddressFromString(addressOf(deployer)), 0n).toString() as `0x${string}`;
    /** Request `n`: one contract deployment or call (key 0), and six transfers to new accounts (key 1). */
    const request = (n: number) => {
      const nonce = BigInt(n - 1);
      let tx;
      if (n === 1) tx = signTx(common, deployer, { nonce, data: bytecode('Token', 1_000_000n), gasLimit: 3_000_000n });
      else if (n === 2) tx = signTx(common, deployer, { nonce, data: bytecode('Exerciser'), gasLimit: 3_000_000n });
      else if (n % 3 === 0) tx = signTx(common, deployer, { nonce, to: exerciser, data: encodeCall('recordPreviousHash()'), gasLimit: 200_000n });
      else if (n % 3 === 1) tx = signTx(common, deployer, { nonce, to: exerciser, data: encodeCall('store(uint256,uint256)', BigInt(n), BigInt(n * 7)), gasLimit: 200_000n });
      else tx = signTx(common, deployer, { nonce, to: token, data: encodeCall('transfer(address,uint256)', `0x${(n * 77).toString(16).padStart(40, '0')}`, BigInt(n)), gasLimit: 200_000n });
      const transfers = Array.from({ length: 6 }, (_, i) =>
        signTx(common, testKey(1), { nonce: BigInt((n - 1) * 6 + i), to: `0x${(n * 1000 + i).toString(16).padStart(40, '0')}`, value: 1n, gasLimit: 21_000n }).serialize(),
      );
      const unsigned = { clientId, requestSeq: n, flags: 0, payload: encodeTxPayload([tx.serialize(), ...transfers]) };
      return encodeMessage({ type: 'Request', request: { ...unsigned, signature: signNodeAuth(authKey!, requestSigningBytes(unsigned)) } });
    };
    const executed = (s: EthereumShell) => s.state.clients.get(clientId) ?? 0;

    const until = 600_000;
    const advance = async (what: string) => {
      assert.ok(queue.now < until, `${what} after ${until} simulated ms`);
      for (let i = 0; i < 3; i++) await turn();
      if (!queue.runNext(until)) queue.now += 1;
      for (const s of live()) assert.deepEqual(s.fatal, [], `replica ${s.id} stopped`);
    };
    /** Requests `from..to`, one at a time, to every replica, again every 600 ms until every live one executed it. */
    const commit = async (from: number, to: number) => {
      for (let n = from; n <= to; n++) {
        const frame = request(n);
        let sentAt = -Infinity;
        while (!live().every((s) => executed(s) >= n)) {
          if (queue.now - sentAt >= 600) {
            sentAt = queue.now;
            for (let r = 0; r < 4; r++) clientTransport.send(r, frame);
          }
          await advance(`request ${n} not executed by every live replica`);
        }
      }
    };

    await commit(1, BEFORE_WIPE);
    // Replica 3 goes down and loses its store; the others go on for several checkpoints.
    const gone = shells[JOINER]!;
    await gone.node.stop();
    await gone.transport.close();
    shells[JOINER] = null;
    await commit(BEFORE_WIPE + 1, BEFORE_WIPE + WHILE_WIPED);
    // Until the last checkpoint is stable everywhere (its image is what the peers offer).
    const lastCheckpoint = Math.floor(live()[0]!.state.lastExecuted / INTERVAL) * INTERVAL;
    while (!live().every((s) => s.state.lastStable >= lastCheckpoint)) await advance('the last checkpoint not stable');

    // Replica 3 fetches a snapshot into an empty store, as the replica process does (`node/snapshot.ts`),
    // over the simulated network and clock; replica 2 serves it wrongly from now on.
    byzantine = true;
    const kv = new MemoryStore();
    const { log, lines } = capturedLogger();
    let outcome: SnapshotOutcome | Error | null = null;
    const started = queue.now;
    void fetchSnapshot({
      kv,
      material: materials[JOINER]!,
      log,
      minGain: 1,
      transportFor: () => ({ transport: network.transport(JOINER) }),
      tuning: { clock, itemsPerRequest: 4, manifestWaitMs: 3_000, requestTimeoutMs: 5_000 },
    }).then(
      (o) => (outcome = o),
      (err: unknown) => (outcome = err instanceof Error ? err : new Error(String(err))),
    );
    while (outcome === null) await advance('the snapshot fetch not done');
    const fetchMs = queue.now - started;
    const done = outcome as SnapshotOutcome | Error;
    if (done instanceof Error) throw done;
    assert.ok(done.installed, `installed (${done.installed ? '' : done.reason})`);
    assert.equal(done.seq, lastCheckpoint, 'the newest stable checkpoint');

    // The store is the honest peers' at the checkpoint: its image (reserved pages and summary), head block and state root.
    const honest = live()[0]!;
    const reference = (await honest.app.snapshots().manifest(1, done.seq, done.seq)).image;
    const installed = await new ReservedPages(kv).image(done.seq);
    assert.ok(installed !== undefined, 'the image of the checkpoint is kept');
    assert.deepEqual(encodeCheckpointImage(installed), reference, 'the reserved pages and summary of the honest peers');
    const summary = decodeCheckpointImage(reference).summary;
    const ex = await Executor.open({ kv });
    assert.equal(toHex(ex.head.header.stateRoot), toHex(summary.stateRoot), 'the state root');
    assert.equal(toHex(ex.head.hash()), toHex((await honest.executor.blocks.blockByNumber(BigInt(summary.blockNumber)))!.hash()), 'the head block');
    for (const s of live()) {
      const kept: Uint8Array = (await s.app.snapshots().manifest(1, done.seq, done.seq)).image;
      assert.deepEqual(kept, reference, `replica ${s.id} kept the same image`);
    }

    // Replica 3's shell starts on the snapshot, catches up the batches after it and commits the next
    // requests with the others.
    const joined = await open(JOINER, kv);
    assert.equal(joined.state.lastExecuted, done.seq, 'the shell starts at the checkpoint');
    shells[JOINER] = joined;
    await joined.node.start();
    await commit(BEFORE_WIPE + WHILE_WIPED + 1, BEFORE_WIPE + WHILE_WIPED + AFTER_JOIN);
    while (!live().every((s) => s.state.lastExecuted === honest.state.lastExecuted)) await advance('replica 3 not at the others\' last batch');
    for (let i = 0; i < 5; i++) await turn();

    assert.equal(live().length, 4);
    const head = honest.app.head().number;
    assert.ok(head > summary.blockNumber + AFTER_JOIN - 1, `blocks past the snapshot (${summary.blockNumber} → ${head})`);
    for (const s of live()) assert.equal(s.app.head().number, head, `replica ${s.id}'s head`);
    for (let n = summary.blockNumber; n <= head; n++) {
      const hashes = await Promise.all(live().map(async (s) => toHex((await s.executor.blocks.blockByNumber(BigInt(n)))!.hash())));
      assert.equal(new Set(hashes).size, 1, `replicas disagree on block ${n}`);
    }
    const summaries = live().map((s) => JSON.stringify(s.app.state().summary, (_k, v: unknown) => (v instanceof Uint8Array ? toHex(v) : v)));
    assert.equal(new Set(summaries).size, 1, 'one execution summary');
    const headHash = toHex((await honest.executor.blocks.blockByNumber(BigInt(head)))!.hash());
    return { outcome: done, lines, fetchMs, simMs: queue.now, head, headHash };
  } finally {
    for (const s of live()) await s.node.stop();
  }
}

/** Log lines at warn (40) saying `msg`. */
const warned = (lines: readonly Record<string, unknown>[], msg: RegExp) => lines.filter((l) => l['level'] === 40 && msg.test(String(l['msg'])));

test('snapshot join in the simulator: a peer serving items with a byte flipped is dropped, the rest come from the honest peers', { timeout: 60_000 }, async (t) => {
  const run = await scenario('flip', 31);
  t.diagnostic(brief(run));
  const { outcome, lines } = run;
  assert.ok(outcome.installed);
  assert.deepEqual(outcome.faulty, [BYZANTINE], 'the peer that served wrong items is named in the outcome');
  const dropped = warned(lines, /does not match its hash: dropped/);
  assert.ok(dropped.length >= 1 && dropped.every((l) => l['peer'] === BYZANTINE), 'and in the log, as dropped');
  assert.ok(outcome.fetched > 40, `${outcome.fetched} items fetched`);
});

test('snapshot join in the simulator: a peer offering another image of the checkpoint is outvoted and named', { timeout: 60_000 }, async (t) => {
  const run = await scenario('manifest', 32);
  t.diagnostic(brief(run));
  const { outcome, lines } = run;
  assert.ok(outcome.installed);
  const named = warned(lines, /differs from the one f \+ 1 peers agree on/);
  assert.equal(named.length, 1, 'one warning for the other image');
  assert.deepEqual(named[0]!['peers'], [BYZANTINE]);
  assert.equal(named[0]!['seq'], outcome.seq);
});

test('snapshot join in the simulator: a peer answering nothing is waited for a bounded time, then the others serve it all', { timeout: 60_000 }, async (t) => {
  const run = await scenario('mute', 33);
  t.diagnostic(brief(run));
  const { outcome, lines, fetchMs } = run;
  assert.ok(outcome.installed);
  assert.deepEqual(outcome.faulty, [], 'silence is not proof of a fault: the peer is only asked no more');
  const slow = warned(lines, /did not answer a snapshot request in time/);
  assert.ok(slow.length >= 1 && slow.every((l) => l['peer'] === BYZANTINE), 'the silent peer is named in the log');
  // The manifest round waited out its 3 s for the silent peer, and one item request its 5 s.
  assert.ok(fetchMs >= 8_000, `${fetchMs} simulated ms`);
});

test('snapshot join in the simulator is deterministic: the same seed, the same run', { timeout: 60_000 }, async () => {
  const a = await scenario('flip', 34);
  const b = await scenario('flip', 34);
  assert.equal(brief(b), brief(a), 'the outcome (items, bytes, simulated ms) and the run');
  assert.equal(b.headHash, a.headHash, 'the same blocks');
  assert.deepEqual(
    b.lines.map((l) => l['msg']),
    a.lines.map((l) => l['msg']),
    'the same log',
  );
});
