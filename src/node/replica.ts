/**
 * The replica's composition root, the counterpart of `client.ts`: builds every part from a node
 * directory — the keys, RocksDB, the executor and application, the consensus state restored from
 * them, the TLS transport pinned as the key history says, the metrics endpoint — hands them to the
 * shell (`replica/replica-node.ts`) on the wall clock, and closes them, in reverse order of opening,
 * once the shell has stopped.
 */
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { collectDefaultMetrics } from 'prom-client';
import { BulwarkError } from '../common/errors.ts';
import { systemClock } from '../common/clock.ts';
import { serveMetrics } from '../common/metrics-server.ts';
import { registerNodeGauges } from '../common/node-metrics.ts';
import { AdminServer } from './admin.ts';
import { takeBackup } from './backup.ts';
import { blsKeyHistory, createBlsConsensusCrypto, nodeKeyBookFor } from '../consensus/bls-crypto.ts';
import { makeConsensusConfig, type ConsensusConfig } from '../consensus/config.ts';
import { restoreReplica } from '../consensus/replica.ts';
import { blsSignatureToBytes, initHashes } from '../crypto/index.ts';
import { Executor } from '../execution/executor.ts';
import type { TlsTuning } from '../net/tls-options.ts';
import { TlsTransport } from '../net/tls-transport.ts';
import { ConsensusStore } from '../replica/consensus-store.ts';
import { EthereumApp } from '../replica/ethereum-app.ts';
import { ReplicaNode } from '../replica/replica-node.ts';
import { PruningApp, type PruneSettings } from '../replica/pruning.ts';
import { NodeKeyLifecycle, tlsIntroductions } from '../setup/node-key-lifecycle.ts';
import { loadNodeDirectory } from '../setup/node-directory.ts';
import { tlsTransportOptions } from '../setup/transport-config.ts';
import { openRocksStore, type KvStore } from '../storage/index.ts';

export interface ReplicaNodeOptions {
  readonly dir: string;
  readonly passphrase?: string;
  readonly logger: Logger;
  /** /metrics and /health; no endpoint when absent. */
  readonly metrics?: { readonly host: string; readonly port: number };
  readonly consensus?: Partial<ConsensusConfig>;
  readonly tuning?: Partial<TlsTuning>;
  /**
   * The address the replica listens on, when not its endpoint's host in the network file (that
   * address may not be on any interface here: a public address behind NAT, a name that resolves
   * to one). The port stays the endpoint's.
   */
  readonly listenHost?: string;
  /** The admin socket, for online backups (`node/admin.ts`; default true). */
  readonly adminSocket?: boolean;
  /** Called when the replica must stop (divergence from a stable checkpoint, a broken store). */
  readonly onFatal?: (reason: string) => void;
  /** Prune old state and ordered batches (`replica/pruning.ts`); absent: an archive. */
  readonly prune?: PruneSettings;
}

/** One replica process: the shell and what it runs on, started from a node directory. */
export class ReplicaProcess {
  readonly id: number;
  readonly #node: ReplicaNode;
  readonly #transport: TlsTransport;
  readonly #kv: KvStore;
  readonly #log: Logger;
  #server: Server | null = null;
  #admin: AdminServer | null = null;
  #stopping: Promise<void> | null = null;
  #pruning: PruningApp | null = null;

  private constructor(node: ReplicaNode, transport: TlsTransport, kv: KvStore, log: Logger) {
    this.id = node.id;
    this.#node = node;
    this.#transport = transport;
    this.#kv = kv;
    this.#log = log;
  }

  static async start(o: ReplicaNodeOptions): Promise<ReplicaProcess> {
    await initHashes();
    const clock = systemClock;
    const material = await loadNodeDirectory(o.dir, o.passphrase === undefined ? {} : { passphrase: o.passphrase });
    if (material.role !== 'replica') {
      throw new BulwarkError('REPLICA_WRONG_DIRECTORY', `${o.dir} holds a ${material.role}'s keys, not a replica's`, { dir: o.dir });
    }
    const log = o.logger.child({ replica: material.id });
    const network = material.network;
    const kv = await openRocksStore(join(o.dir, 'data'));
    let started: ReplicaProcess | null = null;
    try {
      const executor = await Executor.open({ kv, config: network.chainConfig });
      const ethereum = await EthereumApp.open(executor, kv);
      const pruning = o.prune === undefined ? null : new PruningApp({ inner: ethereum, executor, kv, settings: o.prune, log });
      const app = pruning ?? ethereum;
      const store = new ConsensusStore(kv);
      const persisted = await store.load();
      // The key history, from the network file: the crypto verifies against it, the state holds
      // it (restored from the reserved pages) and alone adds to it.
      const nodeKeyBook = nodeKeyBookFor(network);
      const keys = blsKeyHistory({
        consensusPublic: network.replicas.map((r) => r.bootstrapKey),
        bootstrapProofs: network.replicas.map((r) => blsSignatureToBytes(r.bootstrapProof)),
        nodeKeys: nodeKeyBook,
      });
      const crypto = createBlsConsensusCrypto({
        self: material.id,
        consensusSecrets: material.consensusKeys.secrets(),
        history: keys,
        executionSecrets: new Map(material.nodeKeys.epochs('execution').map((e) => [e, material.nodeKeys.key('execution', e)!.privateKey])),
        operatorPublic: network.operatorKey,
      });
      const cfg = makeConsensusConfig({ f: network.f, c: network.c, clients: network.clients.length, chainId: Number(network.chainId), ...o.consensus });
      const state = restoreReplica({ cfg, id: material.id, crypto, keys, now: clock.now(), persisted, app: app.state() });
      // TLS: every node pinned, and this replica presenting, as the key history says at this point.
      const tlsEpoch = nodeKeyBook.recordAt('tls', material.id, state.lastExecuted + 1)?.epoch ?? 0;
      const identity = material.nodeKeys.key('tls', tlsEpoch);
      if (identity === undefined) {
        throw new BulwarkError('KEY_FILE_NOT_FOUND', `the TLS key of epoch ${tlsEpoch}, in effect, is not in ${o.dir}`, { dir: o.dir, epoch: tlsEpoch });
      }
      // The transport asks the shell (made below, with the transport) whether a peer may send more.
      let readyCheck: (peer: number) => boolean = () => true;
      const options = tlsTransportOptions(material, {
        ...(o.tuning === undefined ? {} : { tuning: o.tuning }),
        ...(o.listenHost === undefined ? {} : { listen: { host: o.listenHost } }),
      });
      const transport = new TlsTransport({
        ...options,
        nodes: options.nodes.map((n) => ({ ...n, certificate: nodeKeyBook.recordAt('tls', n.id, state.lastExecuted + 1)?.publicKey ?? n.certificate })),
        key: identity.privateKey,
        certificate: identity.certificatePem,
        ...tlsIntroductions(nodeKeyBook, material.id),
        receiveReady: (peer) => readyCheck(peer),
      });
      const nodeKeys = new NodeKeyLifecycle(
        {
          id: material.id,
          role: 'replica',
          store: material.nodeKeys,
          book: nodeKeyBook,
          transport,
          nodes: [...network.replicas, ...network.clients].map((n) => n.id),
          tlsSubject: { commonName: `bulwark replica ${material.id}`, host: material.info.host },
          log,
        },
        tlsEpoch,
      );
      const node = new ReplicaNode({
        id: material.id,
        log,
        clock,
        transport,
        kv,
        store,
        app,
        state,
        crypto,
        nodeKeys,
        keyStore: material.consensusKeys,
        onFatal: o.onFatal ?? (() => undefined),
      });
      readyCheck = (peer) => node.receiveReady(peer);
      // The process's own figures (CPU, heap, event-loop lag, GC) beside the shell's: registered by
      // the process, once, not by each shell (the simulator runs thousands of shells in one process).
      collectDefaultMetrics({ register: node.metricsRegistry, prefix: 'bulwark_' });
      transport.onEvent((e) => log.debug({ net: e }, 'transport event'));
      started = new ReplicaProcess(node, transport, kv, log);
      started.#pruning = pruning;
      pruning?.registerMetrics(node.metricsRegistry);
      await node.start();
      registerNodeGauges(node.metricsRegistry, { role: 'replica', id: material.id, chainId: network.chainId, dir: o.dir, stores: { data: join(o.dir, 'data') } });
      if (o.metrics !== undefined) started.#server = await serveMetrics(node.metricsRegistry, () => node.status(), o.metrics);
      if (o.adminSocket !== false) started.#admin = await AdminServer.start(o.dir, { backup: (out) => takeBackup({ dir: o.dir, out, stores: { data: kv } }) }, log);
      log.info(
        { view: state.view, lastExecuted: state.lastExecuted, lastStable: state.lastStable, block: Number(executor.head.header.number), ...(o.prune === undefined ? {} : { prune: o.prune, stateFrom: Number(executor.stateFrom) }) },
        'replica started',
      );
      return started;
    } catch (err) {
      if (started !== null) await started.stop().catch(() => undefined);
      else await kv.close();
      throw err;
    }
  }

  /** Where this replica stands (`/health`). */
  status(): Record<string, unknown> {
    return this.#node.status();
  }

  /** Stops the shell (letting its work in progress finish), then closes the transport, the metrics endpoint and the store. */
  stop(): Promise<void> {
    return (this.#stopping ??= this.#stop());
  }

  async #stop(): Promise<void> {
    // A backup still running ends with STORAGE_CLOSED when the store closes below, and is removed.
    await this.#admin?.close();
    await this.#node.stop();
    await this.#pruning?.stop();
    await this.#transport.close();
    if (this.#server !== null) await new Promise((r) => this.#server!.close(r));
    await this.#kv.close();
    this.#log.info('replica stopped');
  }
}
