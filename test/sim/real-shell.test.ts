// The production shell under simulation: four `ReplicaNode`s — the loop `bulwark replica` runs —
// over `SimTransport`, on a simulated clock, each on an in-memory store, given the keys of a trusted
// setup and keeping its keys in memory from then on (`harness/memory-keys.ts`). With key exchange
// on, each replica replaces its bootstrap consensus key with one it generates and publishes through
// consensus; a client signs requests as the client node would; every replica commits them, and once
// the stable checkpoint is past the new keys every bootstrap key is erased. On the real executor and
// application (Ethereum transfers) all four end on the same blocks; on the simulator's fake
// application (`FakeReplicaApp`) on the same summary, with the trusted setup's BLS keys or with the
// simulator's keyed-hash crypto (`SimKeyRegistry`). The shell reads time and sets timers only
// through the clock, so simulated time moves only when an event runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { decodeMessage, encodeMessage } from '../../src/codec/message-codec.ts';
import type { ClientRequest } from '../../src/codec/messages.ts';
import { requestSigningBytes } from '../../src/codec/signing.ts';
import { encodeTxPayload } from '../../src/codec/tx-payload.ts';
import { blsKeyHistory, createBlsConsensusCrypto, nodeKeyBookFor } from '../../src/consensus/bls-crypto.ts';
import type { KeyHistory } from '../../src/consensus/keys.ts';
import { makeConsensusConfig } from '../../src/consensus/config.ts';
import { restoreReplica } from '../../src/consensus/replica.ts';
import type { ReplicaState } from '../../src/consensus/state.ts';
import { blsSignatureToBytes, initHashes, signNodeAuth } from '../../src/crypto/index.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { Executor } from '../../src/execution/executor.ts';
import { SimNetwork } from '../../src/net/sim-transport.ts';
import type { ReplicaApplication } from '../../src/replica/application.ts';
import { ConsensusStore } from '../../src/replica/consensus-store.ts';
import { EthereumApp } from '../../src/replica/ethereum-app.ts';
import { ReplicaNode, type ReplicaShellParts } from '../../src/replica/replica-node.ts';
import { runInit } from '../../src/setup/init.ts';
import { NodeKeyLifecycle } from '../../src/setup/node-key-lifecycle.ts';
import { loadNodeDirectory } from '../../src/setup/node-directory.ts';
import { MemoryStore } from '../../src/storage/index.ts';
import type { ReplicaCrypto } from '../../src/consensus/crypto.ts';
import type { BlsSecretKey } from '../../src/crypto/index.ts';
import type { ConsensusKeyStorage } from '../../src/setup/consensus-keys.ts';
import { CHAIN_ID, signTx, testConfig, testKey } from '../helpers/chain.ts';
import { FakeReplicaApp } from './harness/fake-app.ts';
import { MemoryConsensusKeyStore, MemoryNodeKeyStore } from './harness/memory-keys.ts';
import { Prng } from './harness/prng.ts';
import { RegistryConsensusKeyStore, SimKeyRegistry } from './harness/sim-crypto.ts';
import { EventQueue } from './harness/queue.ts';
import { simClock, turn } from './harness/real-shell.ts';

await initHashes();

interface Replica {
  readonly node: Pick<ReplicaNode, 'id' | 'start' | 'stop' | 'status'>;
  readonly app: ReplicaApplication;
  /** The real executor under `app`; none on the fake application. */
  readonly executor: Executor | null;
  readonly state: ReplicaState;
  readonly crypto: ReplicaCrypto<unknown>;
  readonly keyStore: { readonly retired: readonly number[]; epochs(): number[] };
  readonly fatal: string[];
}

/**
 * What the shells run on: the real executor and application with BLS and Ed25519 keys from a trusted
 * setup (production); the simulator's fake application with those keys; or the fake application
 * with the simulator's keyed-hash crypto (`SimKeyRegistry`) — what its seed sweeps run on.
 */
type Kind = 'ethereum' | 'fake' | 'sim-crypto';

/**
 * Four real shells on `app`, exchanging keys, given the client's `count` requests one at a time
 * until every replica executed each, then run on until every bootstrap key is erased. Checks key
 * exchange, replies and the head; `check` looks at the applications before the shells stop.
 */
async function runShells(kind: Kind, count: number, check: (replicas: readonly Replica[]) => Promise<void>): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'bulwark-real-shell-'));
  const replicas: Replica[] = [];
  try {
    await runInit({
      outDir: join(root, 'net'),
      topology: { replicas: 4, clients: 1, replicaEndpoints: [0, 1, 2, 3].map((i) => ({ host: '127.0.0.1', port: 1 + i })) },
      chainConfig: testConfig(),
      seed: new Uint8Array(32).fill(0x5e),
    });
    const queue = new EventQueue();
    const prng = new Prng(20);
    const clock = simClock(queue);
    const network = new SimNetwork({
      schedule: (delay, run) => queue.after(delay, run),
      link: () => ({ delays: [prng.int(1, 8)] }),
    });
    const logger = pino({ level: process.env['BULWARK_TEST_LOG'] ?? 'silent' });
    const registry = new SimKeyRegistry(4, 20);

    for (let id = 0; id < 4; id++) {
      const material = await loadNodeDirectory(join(root, 'net', `replica-${id}`));
      if (material.role !== 'replica') throw new Error(`replica-${id} is not a replica's directory`);
      const net = material.network;
      const kv = new MemoryStore();
      const executor: Executor | null = kind === 'ethereum' ? await Executor.open({ kv, config: net.chainConfig }) : null;
      const app: ReplicaApplication = executor !== null ? await EthereumApp.open(executor, kv) : new FakeReplicaApp();
      const store = new ConsensusStore(kv);
      // The trusted setup's keys, kept in memory from here on: what the replica generates and
      // erases never touches the disk. (With the simulator's crypto, its execution and TLS keys
      // are there for the node key lifecycle only, which has nothing to do: no rotation is asked.)
      const nodeKeyStore = MemoryNodeKeyStore.copyOf(material.nodeKeys, ['tls', 'execution']);
      let keyStore: ConsensusKeyStorage<unknown> & Replica['keyStore'];
      let crypto: ReplicaCrypto<unknown>;
      let keys: KeyHistory;
      if (kind === 'sim-crypto') {
        keyStore = new RegistryConsensusKeyStore(registry, id);
        keys = registry.keyHistory();
        crypto = registry.cryptoFor(id, keys);
      } else {
        const blsKeys = new MemoryConsensusKeyStore(material.consensusKeys.secrets());
        keys = blsKeyHistory({
          consensusPublic: net.replicas.map((r) => r.bootstrapKey),
          bootstrapProofs: net.replicas.map((r) => blsSignatureToBytes(r.bootstrapProof)),
          nodeKeys: nodeKeyBookFor(net),
        });
        const bls = createBlsConsensusCrypto({
          self: id,
          consensusSecrets: material.consensusKeys.secrets(),
          history: keys,
          executionSecrets: new Map(nodeKeyStore.epochs('execution').map((e) => [e, nodeKeyStore.key('execution', e)!.privateKey])),
          operatorPublic: net.operatorKey,
        });
        // The storage makes BLS secrets and the crypto takes them: one `Secret` type for the shell.
        const parts: Pick<ReplicaShellParts<BlsSecretKey>, 'crypto' | 'keyStore'> = { crypto: bls, keyStore: blsKeys };
        keyStore = blsKeys;
        crypto = parts.crypto;
      }
      // Checkpoints every 2 sequence numbers: the stable checkpoint passes the new keys soon.
      const cfg = makeConsensusConfig({
        n: net.n,
        f: net.f,
        c: net.c,
        clients: net.clients.length,
        chainId: Number(net.chainId),
        keyExchange: true,
        checkpointInterval: 2,
        window: 4,
        maxInFlight: 4,
      });
      const state = restoreReplica({ cfg, id, crypto, keys, now: clock.now(), persisted: await store.load(), app: app.state() });
      const log = logger.child({ replica: id });
      const nodeKeys = new NodeKeyLifecycle(
        {
          id,
          role: 'replica',
          store: nodeKeyStore,
          book: keys.node,
          // Simulated links pin nothing: the node key lifecycle's TLS pins have nowhere to go.
          transport: { setPins: () => undefined, setIdentity: () => undefined },
          nodes: [...net.replicas, ...net.clients].map((n) => n.id),
          tlsSubject: { commonName: `bulwark replica ${id}`, host: material.info.host },
          log,
        },
        0,
      );
      const fatal: string[] = [];
      const node = new ReplicaNode<unknown>({
        id,
        log,
        clock,
        transport: network.transport(id),
        kv,
        store,
        app,
        state,
        crypto,
        nodeKeys,
        keyStore,
        onFatal: (reason) => fatal.push(reason),
      });
      replicas.push({ node, app, executor, state, crypto, keyStore, fatal });
    }
    for (const r of replicas) await r.node.start();

    // The client node's requests: signed with its authentication key (the registry's, with the
    // simulator's crypto), each carrying one transfer.
    const client = await loadNodeDirectory(join(root, 'net', 'client-4'));
    if (client.role !== 'client') throw new Error('client-4 is not a client node directory');
    const clientId = client.id;
    const authKey = client.nodeKeys.key('auth', 0)!.privateKey;
    const clientTransport = network.transport(clientId);
    /** Who replied to each request sequence number (replies are not checked further here). */
    const replied = new Map<number, Set<number>>();
    clientTransport.onFrame((from, frame) => {
      const m = decodeMessage(frame);
      if (m.type !== 'Reply' || m.clientId !== clientId) return;
      for (const e of m.entries) {
        let who = replied.get(e.requestSeq);
        if (who === undefined) replied.set(e.requestSeq, (who = new Set()));
        who.add(from);
      }
    });
    await clientTransport.start();
    const common = buildCommon(CHAIN_ID);
    const requests: ClientRequest[] = [];
    for (let i = 0; i < count; i++) {
      const tx = signTx(common, testKey(0), { nonce: BigInt(i), to: '0x00000000000000000000000000000000000000c2', value: 1n, gasLimit: 21_000n });
      const unsigned = { clientId, requestSeq: i + 1, flags: 0, payload: encodeTxPayload([tx.serialize()]) };
      const signature = kind === 'sim-crypto' ? registry.signClientRequest(unsigned) : signNodeAuth(authKey, requestSigningBytes(unsigned));
      requests.push({ ...unsigned, signature });
    }
    const executedBy = (r: Replica) => r.state.clients.get(clientId) ?? 0;

    const until = 120_000;
    /** One simulated event; between events, the shells' awaits (persist, execution, key work) run to completion. */
    const advance = async (what: string) => {
      assert.ok(queue.now < until, `${what} after ${until} simulated ms`);
      for (let i = 0; i < 3; i++) await turn();
      if (!queue.runNext(until)) queue.now += 1;
      for (const r of replicas) assert.deepEqual(r.fatal, [], `replica ${r.node.id} stopped`);
    };

    // One request at a time, to every replica, again every 600 ms until all four executed it.
    for (const request of requests) {
      const frame = encodeMessage({ type: 'Request', request });
      let sentAt = -Infinity;
      while (!replicas.every((r) => executedBy(r) >= request.requestSeq)) {
        if (queue.now - sentAt >= 600) {
          sentAt = queue.now;
          for (let to = 0; to < 4; to++) clientTransport.send(to, frame);
        }
        await advance(`request ${request.requestSeq} not executed by every replica`);
      }
    }
    // The replicas go on (status, checkpoints) until every one erased its bootstrap key.
    while (!replicas.every((r) => r.keyStore.retired.includes(0))) await advance('a bootstrap consensus key not retired');
    for (let i = 0; i < 5; i++) await turn();

    // Key exchange: every replica generated and published a key of epoch 1, every replica has them
    // all and signs with them now, and the bootstrap keys are erased (the shell's, through the store).
    for (const r of replicas) {
      for (let j = 0; j < 4; j++) {
        assert.equal(r.state.keys.consensus.latest(j).epoch, 1, `replica ${r.node.id} has replica ${j}'s key of epoch 1`);
        assert.equal(r.state.keys.consensus.recordAt(j, r.state.lastExecuted + 1).epoch, 1, `replica ${j}'s key of epoch 1 is in effect at replica ${r.node.id}`);
      }
      assert.deepEqual(r.keyStore.epochs(), [1], `replica ${r.node.id} keeps only its key of epoch 1`);
      assert.deepEqual(r.crypto.secretEpochs(), [1], `replica ${r.node.id} forgot its bootstrap secret`);
      assert.equal(r.state.keys.consensus.published().length, 4, 'four keys published');
      assert.ok(executedBy(r) >= count);
    }
    // The client was answered: f + 1 replicas (here 2) at least, for every request.
    for (const request of requests) assert.ok((replied.get(request.requestSeq)?.size ?? 0) >= 2, `request ${request.requestSeq} answered by f + 1`);
    // One request outstanding at a time: each is a batch of its own, and each batch one block.
    for (const r of replicas) assert.equal(r.app.head().number, count, `replica ${r.node.id}: one block per request`);
    const statuses = replicas.map((r) => r.node.status());
    assert.equal(new Set(statuses.map((s) => s['blockHash'])).size, 1, 'one head block hash');
    await check(replicas);
  } finally {
    for (const r of replicas) await r.node.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

test('the real replica shell exchanges keys and commits Ethereum transfers on a simulated clock, keys in memory, and the replicas agree', { timeout: 120_000 }, async () => {
  await runShells('ethereum', 5, async (replicas) => {
    // Every replica executed every request, into the same blocks.
    for (let n = 1; n <= 5; n++) {
      const hashes = await Promise.all(replicas.map(async (r) => Buffer.from((await r.executor!.blocks.rawByNumber(BigInt(n)))!.header).toString('hex')));
      assert.equal(new Set(hashes).size, 1, `replicas disagree on block ${n}`);
      const served = await Promise.all(replicas.map(async (r) => Buffer.from((await r.app.block(n))!.header).toString('hex')));
      assert.deepEqual(served, hashes, 'the application serves the executor\'s blocks');
    }
  });
});

test('the real replica shell runs on the simulator\'s fake application too, and the replicas agree', { timeout: 120_000 }, async () => {
  await runShells('fake', 5, async (replicas) => {
    const summaries = replicas.map((r) => JSON.stringify(r.app.state().summary, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)));
    assert.equal(new Set(summaries).size, 1, 'one summary');
  });
});

test('the real replica shell runs on the simulator\'s crypto and fake application, what its sweeps run on, and the replicas agree', { timeout: 120_000 }, async () => {
  await runShells('sim-crypto', 5, async (replicas) => {
    const summaries = replicas.map((r) => JSON.stringify(r.app.state().summary, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)));
    assert.equal(new Set(summaries).size, 1, 'one summary');
  });
});
