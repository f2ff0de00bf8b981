/**
 * A real network inside the test process: the trusted setup in a temporary directory, four
 * `ReplicaProcess`es and one `ClientNode` started as the `bulwark replica` and `bulwark client`
 * commands start them (mutual TLS on loopback, RocksDB, real BLS and Ed25519 keys), all on this
 * process's event loop. Cheaper to start than the process network (`network.ts`) and lets a test
 * give the client node options (endpoint security, limits) directly; `restartClient` starts the
 * client node again on the same directory with other options.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ClientNode, type ClientNodeOptions } from '../../src/node/client.ts';
import { initHashes } from '../../src/crypto/hash.ts';
import type { ChainConfigJson } from '../../src/execution/chain-config.ts';
import { ReplicaProcess, type ReplicaNodeOptions } from '../../src/node/replica.ts';
import { runInit } from '../../src/setup/init.ts';
import { testConfig } from './chain.ts';
import { freePorts } from './net.ts';

export interface InProcessNetworkOptions {
  /** Options for the client node beyond its directory, logger and endpoint. */
  readonly client?: Omit<Partial<ClientNodeOptions>, 'dir' | 'logger'>;
  /** Chain config overrides (the first four test keys are funded with 10^24 wei each). */
  readonly chain?: Partial<ChainConfigJson>;
  /** Consensus settings for every replica (e.g. a short `checkpointInterval`). */
  readonly consensus?: ReplicaNodeOptions['consensus'];
  /** pino level for every node (default `silent`; `BULWARK_TEST_LOG` overrides). */
  readonly logLevel?: string;
}

export interface InProcessNetwork {
  /** `http://127.0.0.1:<port>` (or https when the client node serves TLS). */
  readonly url: string;
  /** `ws://…` (or wss) on the same port. */
  readonly wsUrl: string;
  readonly client: ClientNode;
  readonly replicas: readonly ReplicaProcess[];
  /** The setup's directory: `replica-0` … `replica-3`, `client-4`, `network.json`. */
  readonly root: string;
  /** Stops every replica and starts them all again on their directories. */
  restartReplicas(): Promise<void>;
  /** Stops replica `id` (it stays out of `replicas` until `startReplica`). */
  stopReplica(id: number): Promise<void>;
  /** Starts replica `id` again on its directory. */
  startReplica(id: number): Promise<ReplicaProcess>;
  /** Stops the client node and starts it again on its directory with `options` (same port). */
  restartClient(options?: InProcessNetworkOptions['client']): Promise<ClientNode>;
  stop(): Promise<void>;
}

export async function startInProcessNetwork(seedByte: number, o: InProcessNetworkOptions = {}): Promise<InProcessNetwork> {
  await initHashes();
  const root = mkdtempSync(join(tmpdir(), 'bulwark-inproc-'));
  const ports = await freePorts(5);
  const rpcPort = ports[4]!;
  const logger = pino({ level: process.env['BULWARK_TEST_LOG'] ?? o.logLevel ?? 'silent' });
  /** By replica id; null while stopped. */
  const byId: (ReplicaProcess | null)[] = [null, null, null, null];
  const replicas: ReplicaProcess[] = [];
  const running = () => replicas.splice(0, replicas.length, ...byId.filter((r): r is ReplicaProcess => r !== null));
  let client: ClientNode | null = null;
  const startClient = (extra: InProcessNetworkOptions['client'] = {}) =>
    ClientNode.start({ rpc: { host: '127.0.0.1', port: rpcPort }, ...extra, dir: join(root, 'client-4'), logger });
  const stop = async () => {
    if (client !== null) await client.stop();
    client = null;
    await Promise.all(byId.map((r, id) => (byId[id] = null, r?.stop())));
    running();
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await runInit({
      outDir: root,
      topology: { replicas: 4, clients: 1, replicaEndpoints: ports.slice(0, 4).map((port) => ({ host: '127.0.0.1', port })) },
      chainConfig: testConfig(o.chain),
      seed: new Uint8Array(32).fill(seedByte),
    });
    const startReplica = (id: number) => ReplicaProcess.start({ dir: join(root, `replica-${id}`), logger, ...(o.consensus === undefined ? {} : { consensus: o.consensus }) });
    for (let id = 0; id < 4; id++) byId[id] = await startReplica(id);
    running();
    client = await startClient(o.client);
    const tls = o.client?.rpcSecurity?.tls !== undefined;
    const net: InProcessNetwork = {
      url: `${tls ? 'https' : 'http'}://127.0.0.1:${rpcPort}`,
      wsUrl: `${tls ? 'wss' : 'ws'}://127.0.0.1:${rpcPort}`,
      get client() {
        if (client === null) throw new Error('the client node is stopped');
        return client;
      },
      replicas,
      root,
      restartReplicas: async () => {
        await Promise.all(byId.map((r, id) => (byId[id] = null, r?.stop())));
        for (let id = 0; id < 4; id++) byId[id] = await startReplica(id);
        running();
      },
      stopReplica: async (id) => {
        const r = byId[id];
        byId[id] = null;
        running();
        await r?.stop();
      },
      startReplica: async (id) => {
        if (byId[id] !== null) throw new Error(`replica ${id} is running`);
        const r = (byId[id] = await startReplica(id));
        running();
        return r;
      },
      restartClient: async (options) => {
        if (client !== null) await client.stop();
        client = null;
        client = await startClient(options);
        return client;
      },
      stop,
    };
    return net;
  } catch (err) {
    await stop();
    throw err;
  }
}
