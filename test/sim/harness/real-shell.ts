/**
 * The production replica shell (`ReplicaNode`) under the deterministic simulator: a clock on the
 * event queue, the event-loop turn between events in which the shells' awaits finish, and a whole
 * Ethereum replica — real executor and application, the trusted setup's BLS and Ed25519 keys (kept
 * in memory), a `SimTransport` — on a store the scenario gives it (`real-shell.test.ts` builds its
 * own, with key exchange and the fake application; `snapshot.test.ts` uses `openEthereumShell`).
 */
import type { Logger } from 'pino';
import type { Clock } from '../../../src/common/clock.ts';
import { blsKeyHistory, createBlsConsensusCrypto, nodeKeyBookFor } from '../../../src/consensus/bls-crypto.ts';
import { makeConsensusConfig, type ConsensusConfig } from '../../../src/consensus/config.ts';
import { restoreReplica } from '../../../src/consensus/replica.ts';
import type { ReplicaState } from '../../../src/consensus/state.ts';
import { blsSignatureToBytes, type BlsSecretKey } from '../../../src/crypto/index.ts';
import { Executor } from '../../../src/execution/executor.ts';
import type { SimNetwork, SimTransport } from '../../../src/net/sim-transport.ts';
import type { ReplicaApplication } from '../../../src/replica/application.ts';
import { ConsensusStore } from '../../../src/replica/consensus-store.ts';
import { EthereumApp } from '../../../src/replica/ethereum-app.ts';
import { ReplicaNode } from '../../../src/replica/replica-node.ts';
import type { ReplicaMaterial } from '../../../src/setup/node-directory.ts';
import { NodeKeyLifecycle } from '../../../src/setup/node-key-lifecycle.ts';
import type { MemoryStore } from '../../../src/storage/index.ts';
import { MemoryConsensusKeyStore, MemoryNodeKeyStore } from './memory-keys.ts';
import type { EventQueue } from './queue.ts';
import { T0 } from './world.ts';

/** A clock on the simulation's event queue: `now` is simulated time, timers are queue events. */
export function simClock(queue: EventQueue): Clock {
  return {
    now: () => T0 + queue.now,
    after(ms, run) {
      let live = true;
      queue.after(Math.max(0, ms), () => {
        if (live) run();
      });
      return () => {
        live = false;
      };
    },
  };
}

/** One turn of the real event loop: the shell's awaits (store, execution) finish between events. */
export const turn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

export interface EthereumShell {
  readonly id: number;
  readonly node: ReplicaNode<BlsSecretKey>;
  readonly transport: SimTransport;
  readonly kv: MemoryStore;
  readonly executor: Executor;
  readonly app: EthereumApp;
  readonly state: ReplicaState;
  /** Why the shell stopped itself (`onFatal`), if it did. */
  readonly fatal: string[];
}

export interface EthereumShellOptions {
  readonly material: ReplicaMaterial;
  readonly kv: MemoryStore;
  readonly network: SimNetwork;
  readonly clock: Clock;
  readonly log: Logger;
  /** Consensus settings over the network file's (n, f, c, clients, chain id). */
  readonly consensus: Partial<ConsensusConfig>;
  /** What the shell is given in place of the application, e.g. one serving wrong snapshots. */
  readonly wrapApp?: (app: EthereumApp) => ReplicaApplication;
}

/**
 * A replica as `ReplicaProcess.#open` builds it, on the simulator's clock, network and an in-memory
 * store: executor, application keeping checkpoint images (so it serves snapshots), consensus state
 * restored from the store, the bootstrap BLS keys. Not started.
 */
export async function openEthereumShell(o: EthereumShellOptions): Promise<EthereumShell> {
  const { material, kv, clock, log } = o;
  const net = material.network;
  const id = material.id;
  const executor = await Executor.open({ kv, config: net.chainConfig, recordChanges: true });
  const cfg = makeConsensusConfig({ n: net.n, f: net.f, c: net.c, clients: net.clients.length, chainId: Number(net.chainId), ...o.consensus });
  const app = await EthereumApp.open(executor, kv, { checkpointInterval: cfg.checkpointInterval });
  const store = new ConsensusStore(kv);
  const nodeKeyStore = MemoryNodeKeyStore.copyOf(material.nodeKeys, ['tls', 'execution']);
  const keyStore = new MemoryConsensusKeyStore(material.consensusKeys.secrets());
  const keys = blsKeyHistory({
    consensusPublic: net.replicas.map((r) => r.bootstrapKey),
    bootstrapProofs: net.replicas.map((r) => blsSignatureToBytes(r.bootstrapProof)),
    nodeKeys: nodeKeyBookFor(net),
  });
  const crypto = createBlsConsensusCrypto({
    self: id,
    consensusSecrets: material.consensusKeys.secrets(),
    history: keys,
    executionSecrets: new Map(nodeKeyStore.epochs('execution').map((e) => [e, nodeKeyStore.key('execution', e)!.privateKey])),
    operatorPublic: net.operatorKey,
  });
  const state = restoreReplica({ cfg, id, crypto, keys, now: clock.now(), persisted: await store.load(), app: app.state() });
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
  const transport = o.network.transport(id);
  const node = new ReplicaNode<BlsSecretKey>({
    id,
    log,
    clock,
    transport,
    kv,
    store,
    app: o.wrapApp?.(app) ?? app,
    state,
    crypto,
    nodeKeys,
    keyStore,
    onFatal: (reason) => fatal.push(reason),
  });
  return { id, node, transport, kv, executor, app, state, fatal };
}
