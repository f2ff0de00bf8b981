// Five replicas with f = 1 (issue #19: a network with a replica to spare, on its way from four to
// seven), as `bulwark init --replicas 5` sets it up and `bulwark replica` / `bulwark client` run
// it, in this process: transactions commit with all five, and with one stopped (the slow path
// then, four of five); the client node checks checkpoint certificates of four signers; a replica's
// ledger verifies with the same quorums.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { initHashes } from '../../src/crypto/hash.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { ClientNode } from '../../src/node/client.ts';
import { ReplicaProcess } from '../../src/node/replica.ts';
import { runInit } from '../../src/setup/init.ts';
import { describeInconsistency, verifyLedgerDirectory } from '../../src/verifier/verify-ledger.ts';
import { CHAIN_ID, signTx, testConfig, testKey } from '../helpers/chain.ts';
import { freePorts } from '../helpers/net.ts';
import { rpcClient, type Rpc } from '../helpers/rpc.ts';

await initHashes();

const N = 5;
const logger = pino({ level: process.env['BULWARK_TEST_LOG'] ?? 'silent' });
let root: string;
const replicas: (ReplicaProcess | null)[] = [];
let client: ClientNode | null = null;
let rpc: Rpc;
const common = buildCommon(CHAIN_ID);
let nonce = 0n;

const transfer = () =>
  rpc.send(signTx(common, testKey(0), { nonce: nonce++, to: '0x00000000000000000000000000000000000000c1', value: 1n, gasLimit: 21_000n }), 20_000);

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'bulwark-spare-'));
  const ports = await freePorts(N + 2);
  await runInit({
    outDir: root,
    topology: { replicas: N, clients: 1, replicaEndpoints: ports.slice(0, N).map((port) => ({ host: '127.0.0.1', port })), clientEndpoints: [{ host: '127.0.0.1', port: ports[N]! }] },
    chainConfig: testConfig(),
    seed: new Uint8Array(32).fill(0x55),
  });
  for (let id = 0; id < N; id++) {
    replicas.push(await ReplicaProcess.start({ dir: join(root, `replica-${id}`), logger, consensus: { checkpointInterval: 2, window: 4, maxInFlight: 4 } }));
  }
  const clientDir = readdirSync(root).find((d) => d.startsWith('client-'))!;
  client = await ClientNode.start({ dir: join(root, clientDir), logger, rpc: { host: '127.0.0.1', port: ports[N + 1]! } });
  rpc = rpcClient(`http://127.0.0.1:${ports[N + 1]!}`);
});

after(async () => {
  await client?.stop();
  await Promise.all(replicas.map((r) => r?.stop()));
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

test('the network file has five replicas for f = 1, c = 0', () => {
  const network = JSON.parse(readFileSync(join(root, 'network.json'), 'utf8')) as { n: number; f: number; c: number; replicas: unknown[] };
  assert.deepEqual([network.n, network.f, network.c, network.replicas.length], [5, 1, 0, 5]);
});

test('transactions commit with all five, then with one replica stopped', { timeout: 120_000 }, async () => {
  for (let i = 0; i < 3; i++) assert.equal((await transfer()).status, '0x1');
  const stopped = replicas[3]!;
  replicas[3] = null;
  await stopped.stop();
  for (let i = 0; i < 5; i++) assert.equal((await transfer()).status, '0x1');
  // The client node keeps the checkpoints the replicas report: those after replica 3 stopped are
  // signed by the four others, the general quorum, and the client node accepts them.
  type Checkpoint = { seq: string; signers: number[]; quorum: number };
  const until = Date.now() + 20_000;
  let cp = null as Checkpoint | null;
  while (Date.now() < until) {
    cp = await rpc.call<Checkpoint | null>('bft_getCheckpoint', []);
    if (cp !== null && !cp.signers.includes(3)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(cp !== null, 'a stable checkpoint');
  assert.equal(cp.quorum, 4);
  assert.deepEqual(cp.signers, [0, 1, 2, 4], `checkpoint ${cp.seq}`);
});

test("a replica's ledger verifies against the five-replica quorums", { timeout: 60_000 }, async () => {
  const r1 = replicas[1]!;
  replicas[1] = null;
  await r1.stop();
  const r = await verifyLedgerDirectory({ dir: join(root, 'replica-1') });
  assert.ok(r.ok, r.ok ? '' : describeInconsistency(r.problem));
  assert.ok(r.counts.commitCertificates >= 8, `commit certificates ${r.counts.commitCertificates}`);
  assert.ok((r.counts.stableCheckpoint ?? 0) >= 6, `stable ${r.counts.stableCheckpoint}`);
});
