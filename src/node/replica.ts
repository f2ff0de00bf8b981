/**
 * The replica's composition root, the counterpart of `client.ts`: builds every part from a node
 * directory — the keys, RocksDB, the executor and application, the consensus state restored from
 * them, the TLS transport pinned as the key history says, the metrics endpoint — hands them to the
 * shell (`replica/replica-node.ts`) on the wall clock, and closes them, in reverse order of opening,
 * once the shell has stopped. When the shell finds itself far behind its peers, all of it is
 * closed, a snapshot is fetched (`node/snapshot.ts`), and it is all opened again.
 */
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Gauge, collectDefaultMetrics, type Registry } from 'prom-client';
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
import type { ReplicaMaterial } from '../setup/node-directory.ts';
import { fetchSnapshot } from './snapshot.ts';
import { checkConfiguration, recordConfiguration } from './configuration.ts';
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
  /**
   * Fetch a snapshot instead of replaying, when f + 1 peers' stable checkpoints are at least this
   * many batches ahead of what this replica executed (ARCHITECTURE "Snapshots"); 0: always replay.
   * Default `DEFAULT_SNAPSHOT_AFTER`.
   */
  readonly snapshotAfter?: number;
  /** Prune old state and ordered batches (`replica/pruning.ts`); absent: an archive. */
  readonly prune?: PruneSettings;
}

/** Batches behind past which a replica fetches a snapshot rather than replaying them: four checkpoint windows. */
export const DEFAULT_SNAPSHOT_AFTER = 1_200;

/** After a snapshot that could not be had, how long the replica replays before it asks again. */
const SNAPSHOT_RETRY_MS = 60_000;

/** How long a replica whose store predates its network file's configuration tries to fetch a snapshot. */
const CONFIGURATION_SNAPSHOT_MS = 300_000;

/** What runs while the replica is up: made by `#open`, closed by `#close`. */
interface Running {
  readonly node: ReplicaNode;
  readonly transport: TlsTransport;
  readonly kv: KvStore;
  readonly pruning: PruningApp | null;
  server: Server | null;
  admin: AdminServer | null;
}

/** One replica process: the shell and what it runs on, started from a node directory. */
export class ReplicaProcess {
  readonly id: number;
  readonly #o: ReplicaNodeOptions;
  readonly #material: ReplicaMaterial;
  readonly #log: Logger;
  #run: Running | null = null;
  #stopping: Promise<void> | null = null;
  /** Closing everything, fetching a snapshot and opening again (`#rejoin`). */
  #rejoining: Promise<void> | null = null;
  /** After a snapshot that could not be had: no new attempt before this time. */
  #snapshotNotBefore = 0;
  /** The shell asked for a restart from a snapshot before `start` was done. */
  #rejoinAsked = false;
  /** Every snapshot this process tried to fetch, oldest first (its metrics). */
  readonly #snapshots: { outcome: 'installed' | 'none' | 'failed'; seq: number; ms: number }[] = [];

  private constructor(o: ReplicaNodeOptions, material: ReplicaMaterial, log: Logger) {
    this.id = material.id;
    this.#o = o;
    this.#material = material;
    this.#log = log;
  }

  static async start(o: ReplicaNodeOptions): Promise<ReplicaProcess> {
    await initHashes();
    const material = await loadNodeDirectory(o.dir, o.passphrase === undefined ? {} : { passphrase: o.passphrase });
    if (material.role !== 'replica') {
      throw new BulwarkError('REPLICA_WRONG_DIRECTORY', `${o.dir} holds a ${material.role}'s keys, not a replica's`, { dir: o.dir });
    }
    const p = new ReplicaProcess(o, material, o.logger.child({ replica: material.id }));
    p.#run = await p.#open(false);
    // The shell may have found itself far behind while it was being started (the first status
    // answers arrive within milliseconds): the restart it asked for comes now.
    if (p.#rejoinAsked) p.#rejoin();
    return p;
  }

  /**
   * Brings the store into the configuration of the network file (`node/configuration.ts`): takes up
   * the reconfiguration that names it at the wedge point, or — a new member, or a replica that was
   * down through a reconfiguration — fetches a snapshot from the peers the file names, at or after
   * the change, until one is had (the peers may still be restarting). Five minutes without one is
   * fatal: the batches before the change are certified by replicas this file does not name.
   */
  async #enterConfiguration(kv: KvStore): Promise<void> {
    const network = this.#material.network;
    let check = await checkConfiguration(kv, network);
    const until = systemClock.now() + CONFIGURATION_SNAPSHOT_MS;
    while (check.kind === 'behind') {
      this.#log.info({ epoch: network.epoch, storeEpoch: check.storeEpoch }, 'the store predates this network configuration: fetching a snapshot at or after the change');
      const outcome = await fetchSnapshot({ kv, material: this.#material, log: this.#log, minGain: 1, transportFor: (book, at) => this.#transport(book, at, () => true) }).catch(
        (err: unknown) => ({ installed: false as const, reason: err instanceof Error ? err.message : String(err) }),
      );
      this.#snapshots.push(outcome.installed ? { outcome: 'installed', seq: outcome.seq, ms: outcome.ms } : { outcome: 'none', seq: 0, ms: 0 });
      check = await checkConfiguration(kv, network);
      if (check.kind !== 'behind') break;
      if (systemClock.now() > until) {
        throw new BulwarkError('CONFIGURATION_SNAPSHOT_UNAVAILABLE', `no snapshot of configuration epoch ${network.epoch} could be had from the peers in ${CONFIGURATION_SNAPSHOT_MS / 1000} s`, {
          epoch: network.epoch,
        });
      }
      if (!outcome.installed) this.#log.warn({ reason: outcome.reason }, 'no snapshot yet: asking again in 2 s');
      await new Promise((r) => setTimeout(r, 2_000));
    }
    if (check.kind === 'take-up') this.#log.warn({ epoch: network.epoch, fromSeq: check.fromSeq, n: network.n, f: network.f, c: network.c }, 'reconfigured: a new configuration epoch begins');
    await recordConfiguration(kv, network, check);
  }

  /** Opens the store (fetching a snapshot into it first, when asked), builds every part and starts the shell. */
  async #open(snapshotFirst: boolean): Promise<Running> {
    const o = this.#o;
    const material = this.#material;
    const log = this.#log;
    const clock = systemClock;
    const network = material.network;
    const kv = await openRocksStore(join(o.dir, 'data'));
    let run: Running | null = null;
    try {
      const snapshotAfter = o.snapshotAfter ?? DEFAULT_SNAPSHOT_AFTER;
      await this.#enterConfiguration(kv);
      if (snapshotFirst) {
        // None to be had (the peers disagree, or moved on less than thought), or the fetch failed
        // (an item no peer still holds): replay for a while before asking again. What was fetched
        // stays: trie nodes under their hashes, which a later fetch finds in the store.
        const outcome = await fetchSnapshot({ kv, material, log, minGain: snapshotAfter, transportFor: (book, at) => this.#transport(book, at, () => true) }).catch(
          (err: unknown) => {
            log.error({ err }, 'snapshot fetch failed: replaying the batches instead for now');
            return { installed: false as const, reason: 'failed' };
          },
        );
        if (!outcome.installed) this.#snapshotNotBefore = clock.now() + SNAPSHOT_RETRY_MS;
        this.#snapshots.push(outcome.installed ? { outcome: 'installed', seq: outcome.seq, ms: outcome.ms } : { outcome: outcome.reason === 'failed' ? 'failed' : 'none', seq: 0, ms: 0 });
      }
      // Not synced per block (see `EthereumApp.execute` and docs/architecture.md "Crash safety"):
      // the consensus records' next synced write, to the same RocksDB (one write-ahead log), makes
      // the block durable; a replica that a power cut sets back executes its lost blocks again.
      const executor = await Executor.open({ kv, config: network.chainConfig, durable: false, recordChanges: true });
      const cfg = makeConsensusConfig({ n: network.n, f: network.f, c: network.c, clients: network.clients.length, firstClient: network.firstClient, chainId: Number(network.chainId), ...o.consensus });
      const ethereum = await EthereumApp.open(executor, kv, { checkpointInterval: cfg.checkpointInterval });
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
      const state = restoreReplica({ cfg, id: material.id, crypto, keys, now: clock.now(), persisted, app: app.state() });
      // The transport asks the shell (made below, with the transport) whether a peer may send more.
      let readyCheck: (peer: number) => boolean = () => true;
      const { transport, tlsEpoch } = this.#transport(nodeKeyBook, state.lastExecuted, (peer) => readyCheck(peer));
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
        ...(snapshotAfter > 0 ? { farBehind: { batches: snapshotAfter, notBefore: this.#snapshotNotBefore, then: () => this.#rejoin() } } : {}),
      });
      readyCheck = (peer) => node.receiveReady(peer);
      // The process's own figures (CPU, heap, event-loop lag, GC) beside the shell's: registered by
      // the process, once, not by each shell (the simulator runs thousands of shells in one process).
      collectDefaultMetrics({ register: node.metricsRegistry, prefix: 'bulwark_' });
      transport.onEvent((e) => log.debug({ net: e }, 'transport event'));
      run = { node, transport, kv, pruning, server: null, admin: null };
      pruning?.registerMetrics(node.metricsRegistry);
      await node.start();
      this.#registerSnapshotGauges(node.metricsRegistry);
      registerNodeGauges(node.metricsRegistry, { role: 'replica', id: material.id, chainId: network.chainId, dir: o.dir, stores: { data: join(o.dir, 'data') } });
      if (o.metrics !== undefined) run.server = await serveMetrics(node.metricsRegistry, () => node.status(), o.metrics);
      if (o.adminSocket !== false) run.admin = await AdminServer.start(o.dir, { backup: (out) => takeBackup({ dir: o.dir, out, stores: { data: kv } }) }, log);
      log.info(
        { view: state.view, lastExecuted: state.lastExecuted, lastStable: state.lastStable, block: Number(executor.head.header.number), ...(o.prune === undefined ? {} : { prune: o.prune, stateFrom: Number(executor.stateFrom) }) },
        'replica started',
      );
      return run;
    } catch (err) {
      if (run !== null) await this.#close(run).catch(() => undefined);
      else await kv.close();
      throw err;
    }
  }

  /** The snapshots this process fetched, on each shell's registry (a restart from a snapshot makes a new one). */
  #registerSnapshotGauges(registry: Registry): void {
    const tries = this.#snapshots;
    new Gauge({
      name: 'bulwark_snapshot_fetches',
      help: 'Snapshots this replica process tried to fetch, by outcome (installed; none: the peers agreed on none far enough ahead; failed)',
      labelNames: ['outcome'],
      registers: [registry],
      collect() {
        for (const outcome of ['installed', 'none', 'failed'] as const) this.set({ outcome }, tries.filter((t) => t.outcome === outcome).length);
      },
    });
    new Gauge({
      name: 'bulwark_snapshot_installed_seq',
      help: 'The checkpoint of the last snapshot this replica process installed (0: none)',
      registers: [registry],
      collect() {
        this.set(tries.filter((t) => t.outcome === 'installed').at(-1)?.seq ?? 0);
      },
    });
  }

  /** The TLS transport: every node pinned, and this replica presenting, as the key history says after `lastExecuted`. */
  #transport(book: ReturnType<typeof nodeKeyBookFor>, lastExecuted: number, receiveReady: (peer: number) => boolean): { transport: TlsTransport; tlsEpoch: number } {
    const material = this.#material;
    const o = this.#o;
    const tlsEpoch = book.recordAt('tls', material.id, lastExecuted + 1)?.epoch ?? 0;
    const identity = material.nodeKeys.key('tls', tlsEpoch);
    if (identity === undefined) {
      throw new BulwarkError('KEY_FILE_NOT_FOUND', `the TLS key of epoch ${tlsEpoch}, in effect, is not in ${o.dir}`, { dir: o.dir, epoch: tlsEpoch });
    }
    const options = tlsTransportOptions(material, {
      ...(o.tuning === undefined ? {} : { tuning: o.tuning }),
      ...(o.listenHost === undefined ? {} : { listen: { host: o.listenHost } }),
    });
    const transport = new TlsTransport({
      ...options,
      nodes: options.nodes.map((n) => ({ ...n, certificate: book.recordAt('tls', n.id, lastExecuted + 1)?.publicKey ?? n.certificate })),
      key: identity.privateKey,
      certificate: identity.certificatePem,
      ...tlsIntroductions(book, material.id),
      receiveReady,
    });
    return { transport, tlsEpoch };
  }

  /**
   * The shell found f + 1 peers' stable checkpoints far ahead: everything is closed, a snapshot
   * fetched, and everything opened again from the store it left. A failure is fatal.
   */
  #rejoin(): void {
    if (this.#rejoining !== null || this.#stopping !== null) return;
    if (this.#run === null) {
      this.#rejoinAsked = true; // still starting (`start`)
      return;
    }
    this.#rejoinAsked = false;
    const run = this.#run;
    this.#log.warn('far behind the other replicas: restarting from a snapshot');
    this.#rejoining = (async () => {
      this.#run = null;
      await this.#close(run);
      this.#run = await this.#open(true);
    })()
      .catch((err: unknown) => {
        this.#log.fatal({ err }, 'could not restart from a snapshot');
        this.#o.onFatal?.(`restart from a snapshot failed: ${err instanceof Error ? err.message : String(err)}`);
      })
      .finally(() => (this.#rejoining = null));
  }

  /** Where this replica stands (`/health`). */
  status(): Record<string, unknown> {
    return this.#run?.node.status() ?? { replica: this.id, restarting: 'from a snapshot' };
  }

  /** Stops the shell (letting its work in progress finish), then closes the transport, the metrics endpoint and the store. */
  stop(): Promise<void> {
    return (this.#stopping ??= this.#stop());
  }

  async #stop(): Promise<void> {
    await this.#rejoining;
    if (this.#run !== null) await this.#close(this.#run);
    this.#run = null;
    this.#log.info('replica stopped');
  }

  async #close(run: Running): Promise<void> {
    // A backup still running ends with STORAGE_CLOSED when the store closes below, and is removed.
    await run.admin?.close();
    await run.node.stop();
    await run.pruning?.stop();
    await run.transport.close();
    if (run.server !== null) await new Promise((r) => run.server!.close(r));
    await run.kv.close();
  }
}
