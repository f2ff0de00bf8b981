/**
 * The client node's composition root: the TLS links to every replica, the BFT client, the
 * verified ledger mirror, signed state reads, the transaction pool and its submitter, and the
 * JSON-RPC server in front of them. One decoded frame goes to each part that may want it.
 */
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { decodeMessage } from '../codec/message-codec.ts';
import type { Message } from '../codec/messages.ts';
import { quantityOf } from '../codec/read.ts';
import { BulwarkError } from '../common/errors.ts';
import { initHashes, verifyNodeAuth } from '../crypto/index.ts';
import { hexToBytes } from '../crypto/hex.ts';
import type { ChainConfig } from '../execution/chain-config.ts';
import { ChainReader } from '../execution/reader.ts';
import { TlsTransport } from '../net/tls-transport.ts';
import { FilterRegistry } from '../rpc/namespaces/filters.ts';
import { SubscriptionHub } from '../rpc/namespaces/subscriptions.ts';
import { bftMethods } from '../rpc/namespaces/bft.ts';
import { ethereumMethods } from '../rpc/ethereum-methods.ts';
import { NodeStatusClient } from '../client/node-status.ts';
import type { RateLimit, RpcAuthConfig } from '../rpc/security.ts';
import { RpcServer, type RpcLimits } from '../rpc/server.ts';
import { explorerSite } from './explorer-site.ts';
import type { MethodDef } from '../rpc/method.ts';
import { loadNodeDirectory } from '../setup/node-directory.ts';
import { tlsTransportOptions } from '../setup/transport-config.ts';
import { openRocksStore, type KvStore } from '../storage/index.ts';
import { serveMetrics } from '../common/metrics-server.ts';
import { registerNodeGauges } from '../common/node-metrics.ts';
import { AdminServer } from './admin.ts';
import { takeBackup } from './backup.ts';
import { BftClient } from '../client/bft-client.ts';
import { ClientMetrics } from '../client/metrics.ts';
import { LedgerMirror, type StoredBlock } from '../client/mirror.ts';
import { ReadClient } from '../client/read-client.ts';
import { Submitter } from '../client/submitter.ts';
import { TxPool, type PoolLimits } from '../client/txpool.ts';
import { TxJournal, restoreJournal } from '../client/txpool-journal.ts';
import { RequestCounter } from '../client/request-counter.ts';
import { HeadAccountView, type AccountField } from '../client/account-view.ts';
import { LocalState, type LocalStateOptions } from '../client/local-state.ts';
import { CheckpointKeeper } from '../client/checkpoints.ts';
import { NodeKeyFollower } from '../client/node-key-follower.ts';
import { ConfigurationFollower, recordClientConfiguration } from './configuration.ts';
import { executionKeysOf } from '../client/execution-keys.ts';
import { nodeKeyBookFor } from '../consensus/bls-crypto.ts';
import { NodeKeyLifecycle, tlsIntroductions } from '../setup/node-key-lifecycle.ts';
import { quorumsOf } from '../consensus/config.ts';
import type { ReadQuery } from '../codec/read.ts';
import type { EvmBudget } from '../execution/evm-limits.ts';
import { DecodedTxs } from '../execution/decoded-txs.ts';
import { EvmGate, type RpcEvmLimits } from '../rpc/evm-gate.ts';

export interface ClientNodeOptions {
  readonly dir: string;
  /**
   * The replicas moved to a later configuration and this node's `network.json` was replaced by its
   * file (`ConfigurationFollower`): the caller restarts the node on it. Absent: the node only warns.
   */
  readonly onReconfigured?: () => void;
  readonly passphrase?: string;
  readonly logger: Logger;
  readonly rpc: { readonly host: string; readonly port: number };
  /** TLS, bearer tokens, CORS, rate and size limits for the JSON-RPC endpoint; all off when absent. */
  readonly rpcSecurity?: {
    readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
    readonly auth?: RpcAuthConfig;
    readonly cors?: readonly string[];
    readonly rateLimit?: RateLimit;
    readonly limits?: Partial<RpcLimits>;
  };
  /** /metrics and /health; no endpoint when absent. */
  readonly metrics?: { readonly host: string; readonly port: number };
  /** The admin socket, for online backups (`node/admin.ts`; default true). */
  readonly adminSocket?: boolean;
  /**
   * Execute the certified blocks here too and answer state reads from that state (default true);
   * when false, every state read goes to the replicas and tracing is unavailable.
   */
  readonly localState?: boolean;
  /** Keep only recent states in the local state (`client/local-state.ts`); absent: all of them. */
  readonly localStatePrune?: { readonly retainBlocks: number; readonly everyBlocks: number };
  /** The transaction pool's limits (go-ethereum's legacypool defaults, `client/txpool-limits.ts`). */
  readonly txpool?: Partial<PoolLimits>;
  /** Polling filters one caller (token, else address) may hold (default `MAX_FILTERS_PER_CALLER`). */
  readonly maxFiltersPerCaller?: number;
  /** Gas cap, timeout and concurrency of eth_call, eth_estimateGas and debug_trace* (`rpc/evm-gate.ts`). */
  readonly evm?: Partial<RpcEvmLimits>;
  /** Serve the explorer (`explorer/`) at `/` on the JSON-RPC port (default true). */
  readonly explorer?: boolean;
}

const VERSION = 'bulwark/0.1.0';
/** Seconds between asking the replicas where they stand, which brings their stable checkpoints. */
const CHECKPOINT_POLL_TICKS = 5;
/** Admitted transactions kept decoded for the local state (about the pool's pending limit). */
const DECODED_TXS_KEPT = 16_384;

interface Parts {
  readonly kv: KvStore;
  readonly journal: TxJournal;
  /** Stops restoring the pool journal (at stop: what was not offered yet stays journaled). */
  readonly restoring: AbortController;
  readonly local: { readonly state: LocalState; readonly kv: KvStore } | null;
  readonly transport: TlsTransport;
  readonly bft: BftClient;
  readonly mirror: LedgerMirror;
  readonly reads: ReadClient;
  readonly submitter: Submitter;
  readonly server: Server | null;
  readonly admin: AdminServer | null;
}

export class ClientNode {
  readonly rpc: RpcServer;
  readonly #parts: Parts;
  readonly #timer: NodeJS.Timeout;
  readonly #log: Logger;

  private constructor(rpc: RpcServer, parts: Parts, timer: NodeJS.Timeout, log: Logger) {
    this.rpc = rpc;
    this.#parts = parts;
    this.#timer = timer;
    this.#log = log;
  }

  static async start(o: ClientNodeOptions): Promise<ClientNode> {
    await initHashes();
    const material = await loadNodeDirectory(o.dir, o.passphrase === undefined ? {} : { passphrase: o.passphrase });
    if (material.role !== 'client') {
      throw new BulwarkError('CLIENT_WRONG_DIRECTORY', `${o.dir} holds a ${material.role}'s keys, not a client node's`, { dir: o.dir });
    }
    const log = o.logger.child({ client: material.id });
    /** A write to the node's store failed (a full disk): logged with its code; the writer tries again. */
    const storeFailed = (what: string) => (err: unknown) =>
      log.error({ err, code: (err as { code?: string }).code, storageCode: (err as { details?: { storageCode?: string } }).details?.storageCode }, `${what} could not be written; trying again`);
    const network = material.network;
    // What is opened from here on is closed again, in reverse, if the start fails part-way: a
    // failed start leaves no database locked, no port bound and no timer running.
    const undo: (() => unknown)[] = [];
    try {
      const kv = await openRocksStore(join(o.dir, 'data'));
      undo.push(() => kv.close());
      const journal = new TxJournal({ kv, onError: storeFailed('the pool journal') });
      undo.push(() => journal.close());
      // The keys that rotate (execution, authentication, TLS): the network file's, then the records
      // learnt from the replicas (kept across restarts).
      const keyBook = nodeKeyBookFor(network);
      const follower = await NodeKeyFollower.open(kv, keyBook, { self: material.id, n: network.replicas.length, f: network.f });
      follower.onStoreError = storeFailed('a node key record');
      const executionKeys = executionKeysOf(keyBook, network.replicas.length);
      // Known rotations are taken as done at start (their old private keys may be gone); the
      // previous TLS certificates stay pinned until f + 1 replicas report a stable checkpoint past the switch.
      const floor = keyBook.lastSwitch;
      const position = () => {
        const p = follower.position();
        return { executed: Math.max(floor, p.executed), stable: p.stable };
      };
      const tlsEpoch = keyBook.recordAt('tls', material.id, floor + 1)?.epoch ?? 0;
      const identity = material.nodeKeys.key('tls', tlsEpoch) ?? material.nodeKeys.newest('tls');
      const options = tlsTransportOptions(material);
      const transport = new TlsTransport({
        ...options,
        nodes: options.nodes.map((n) => ({ ...n, certificate: keyBook.recordAt('tls', n.id, floor + 1)?.publicKey ?? n.certificate })),
        key: identity.privateKey,
        certificate: identity.certificatePem,
        ...tlsIntroductions(keyBook, material.id),
      });
      const lifecycle = new NodeKeyLifecycle(
        {
          id: material.id,
          role: 'client',
          store: material.nodeKeys,
          book: keyBook,
          transport,
          nodes: [...network.replicas, ...network.clients].map((n) => n.id),
          tlsSubject: { commonName: `bulwark client ${material.id}`, host: material.info.host },
          log,
        },
        identity.epoch,
      );
      lifecycle.sync(floor, 0);
      /**
       * Requests are signed with the authentication key in effect where f + 1 replicas are (before
       * they answered, where this node last knew them to be).
       */
      const authKey = () => {
        const reported = follower.position().executed;
        const epoch = keyBook.recordAt('auth', material.id, (reported > 0 ? reported : floor) + 1)?.epoch ?? 0;
        return (material.nodeKeys.key('auth', epoch) ?? material.nodeKeys.newest('auth')).privateKey;
      };
      const send = (to: number, frame: Uint8Array) => void transport.send(to, frame);
      // Request numbers from the store, not the clock: a clock stepped back must not make new requests look old.
      const requestSeqs = await RequestCounter.open({
        kv,
        onError: (err) => log.error({ err, code: (err as { code?: string }).code }, 'request numbers could not be reserved in the store; trying again'),
      });
      const bft = new BftClient({
        transport,
        clientId: material.id,
        authKey,
        executionKeys,
        f: network.f,
        requestSeqs,
        subscribe: false,
      });
      undo.push(() => bft.close());
      // The local state and subscriptions hear of each block the mirror stores (set once both exist).
      const stored: { block?: (n: bigint, b: StoredBlock) => void } = {};
      const mirror = await LedgerMirror.open({
        kv,
        config: network.chainConfig,
        send,
        executionKeys,
        f: network.f,
        onBlock: (n, b) => stored.block?.(n, b),
        onStoreError: storeFailed('mirror: certified blocks (reads go on from what is stored; nothing more is fetched meanwhile)'),
        onError: (err) => log.error({ err }, 'mirror: a message could not be processed'),
      });
      undo.push(async () => {
        mirror.close();
        await mirror.settled();
      });
      // What the pool decoded (and recovered the sender of) the local state's executor takes back.
      const decodedTxs = o.localState === false ? undefined : new DecodedTxs(DECODED_TXS_KEPT);
      const local = o.localState === false ? null : await openLocalState(join(o.dir, 'state'), network.chainConfig, mirror, log, o.localStatePrune, decodedTxs);
      undo.push(async () => {
        local?.state.close();
        await local?.state.idle();
        await local?.kv.close();
      });
      const replicaReads = new ReadClient({ send, clientId: material.id, executionKeys, f: network.f });
      undo.push(() => replicaReads.close());
      // State reads: from this node's own executed state when it has the block, else from the replicas
      // (whose work cannot be stopped from here: a call's answer is then given up at its deadline).
      const reads = {
        read: async (q: ReadQuery, n: number, budget?: EvmBudget) =>
          (await local?.state.read(q, BigInt(n), budget)) ?? (budget === undefined ? replicaReads.read(q, n) : budget.deadline.race(replicaReads.read(q, n))),
      };
      const statuses = new NodeStatusClient({ send, clientId: material.id, executionKeys });
      const quorums = quorumsOf(network);
      const checkpoints = await CheckpointKeeper.open(kv, network.replicas.map((r) => r.bootstrapKey), network.f, quorums.checkpoint);
      checkpoints.onStoreError = storeFailed('a stable checkpoint or consensus key record');
      // Set once the node key follower is up (below); frames may come before.
      let following: ConfigurationFollower | null = null;
      transport.onFrame((from, frame) => {
        let m: Message;
        try {
          m = decodeMessage(frame);
        } catch {
          log.warn({ from }, 'undecodable frame');
          return;
        }
        bft.onMessage(from, m);
        mirror.onMessage(from, m);
        replicaReads.onMessage(from, m);
        statuses.onMessage(from, m);
        checkpoints.onMessage(from, m);
        follower.onMessage(from, m);
        following?.onMessage(from, m);
      });
      // This node's own rotations: publish a key the operator asked for (one at a time), follow the
      // switches, erase retired keys.
      let keyWork: Promise<void> | null = null;
      let publishing = false;
      /** After a publication the replicas refused, when to try again. */
      let retryAt = 0;
      const keys = () => {
        const at = position();
        lifecycle.sync(at.executed, at.stable);
        if (keyWork !== null) return;
        const targets = follower.targets();
        if (!(lifecycle.due(targets).length > 0 && !publishing && Date.now() >= retryAt) && !lifecycle.retireDue(at.stable)) return;
        keyWork = (async () => {
          if (!publishing && Date.now() >= retryAt) {
            const draft = await lifecycle.nextPublication(targets, at.executed + 1);
            if (draft !== null) {
              publishing = true;
              bft
                .submit(draft.payload)
                .then((c) => {
                  const result = new TextDecoder().decode(c.result);
                  if (!result.startsWith('refused')) return log.info({ kind: draft.kind, epoch: draft.epoch, seq: c.seq, result }, 'key publication executed');
                  retryAt = Date.now() + 10_000;
                  log.error({ kind: draft.kind, epoch: draft.epoch, seq: c.seq, result }, 'key publication refused by the replicas; trying again in 10 s');
                })
                .catch((err: unknown) => log.warn({ err, kind: draft.kind, epoch: draft.epoch }, 'key publication not committed; trying again'))
                .finally(() => (publishing = false));
            }
          }
          await lifecycle.retire(at.stable);
        })()
          .catch((err: unknown) => log.error({ err }, 'key lifecycle failed'))
          .finally(() => (keyWork = null));
      };
      // The configuration this node runs in, recorded for verify-ledger once its start is known.
      let configurationRecorded = await recordClientConfiguration(kv, network, undefined);
      let recording = false;
      let behindWarned = false;
      following =
        o.onReconfigured === undefined
          ? null
          : new ConfigurationFollower({ dir: o.dir, network, self: material.id, log, send: (to, frame) => void transport.send(to, frame), onReconfigured: o.onReconfigured });
      follower.onChange = () => {
        following?.consider(follower.agreedConfiguration());
        // The replicas run a later configuration than this node's network file: it must be
        // restarted with the new file (operations.md, "Adding and removing replicas").
        if (following === null && !behindWarned && follower.configurationEpoch() > network.epoch) {
          behindWarned = true;
          log.error(
            { fileEpoch: network.epoch, replicasEpoch: follower.configurationEpoch() },
            'f + 1 replicas run a later configuration than network.json: restart this client node with the network file of that epoch',
          );
        }
        // Numbers at or below what f + 1 replicas executed for this node would be dropped as old.
        requestSeqs.raise(follower.requestSeq());
        keys();
        const start = configurationRecorded || recording ? undefined : follower.configurationStart(network.epoch);
        if (start !== undefined) {
          recording = true;
          recordClientConfiguration(kv, network, start)
            .then((done) => (configurationRecorded = done))
            .catch((err: unknown) => log.error({ err }, 'cannot record the network configuration'))
            .finally(() => (recording = false));
        }
      };
      const quantity = async (kind: AccountField, a: string, at: number) => {
        const r = await reads.read({ kind, address: hexToBytes(a) }, at);
        if (!r.ok) throw new BulwarkError('CLIENT_READ_FAILED', `replicas could not read the ${kind}: ${new TextDecoder().decode(r.result)}`);
        return quantityOf(r.result);
      };
      const state = new HeadAccountView(quantity, () => Number(mirror.head.number));
      const pool = new TxPool({
        config: network.chainConfig,
        common: mirror.common,
        state,
        journal,
        ...(decodedTxs === undefined ? {} : { decoded: decodedTxs }),
        ...(o.txpool === undefined ? {} : { limits: o.txpool }),
      });
      const metrics = new ClientMetrics(() => {
        const { pending, queued } = pool.status();
        return {
          poolPending: pending,
          poolQueued: queued,
          poolEvicted: pool.evicted,
          poolRefused: pool.refused,
          poolPendingBound: pool.pendingBound(),
          poolDrainRate: pool.drainRate(),
          headBlock: Number(mirror.head.number),
          mirrorRejected: mirror.rejected,
          mirrorNoticesRefused: mirror.noticesRefused,
          storeWriteFailures: {
            mirror: mirror.storeFailures,
            local_state: local?.state.storeFailures ?? 0,
            records: follower.storeFailures + checkpoints.storeFailures,
            request_numbers: requestSeqs.failures,
            txpool_journal: journal.failures,
          },
          invalidReadReplies: replicaReads.invalidReplies,
          keyRecordsRefused: follower.refused,
          localStateHead: local === null ? -1 : Number(local.state.head),
          localStateDiverged: local?.state.diverged === null || local === null ? 0 : 1,
          localReads: local?.state.localReads ?? 0,
          localBlocks: { applied: local?.state.appliedBlocks ?? 0, executed: local?.state.executedBlocks ?? 0 },
          localChangesRefused: local?.state.changesRefused ?? 0,
          forwardedReads: local?.state.forwardedReads ?? 0,
          peers: transport.stats(),
          transport: transport.counters(),
        };
      });
      /** The highest block f + 1 replicas reported in replies to this node's requests. */
      let repliedHead = 0n;
      const submitter = new Submitter({
        pool,
        client: bft,
        onOutcome: (_hash, _outcome, committed) => {
          if (BigInt(committed.summary.blockNumber) > repliedHead) repliedHead = BigInt(committed.summary.blockNumber);
        },
        maxGasPerRequest: Number(network.chainConfig.blockGasLimit),
        onError: (err) => {
          metrics.requestsFailed.inc();
          log.warn({ err }, 'request not committed; its transactions wait again');
        },
      });
      undo.push(() => submitter.stop());
      const reader = new ChainReader(mirror.chain());
      const filters = new FilterRegistry({ reader, head: () => mirror.chain().head }, Date.now, { maxPerCaller: o.maxFiltersPerCaller });
      const subscriptions = new SubscriptionHub(reader);
      stored.block = (n, b) => {
        local?.state.offer(n, b);
        local?.state.follow(n);
        subscriptions.onBlock(n);
      };
      await transport.start();
      undo.push(() => transport.close());
      mirror.poke();
      let ticks = 0;
      const timer = setInterval(() => {
        mirror.poke();
        filters.expire();
        pool.expire();
        // Replicas' status answers carry their latest stable checkpoint (kept by `checkpoints`).
        if (++ticks % CHECKPOINT_POLL_TICKS === 0) void statuses.query();
        keys();
      }, 1_000);
      undo.push(() => clearInterval(timer));
      const evm = new EvmGate(
        o.evm,
        () => {
          metrics.rpcRefused.inc({ reason: 'evm_busy' });
          log.warn({ limits: { ...evm.limits, gasCap: String(evm.limits.gasCap) } }, 'EVM call refused: too many running and waiting');
        },
        (where) => metrics.evmTimeouts.inc({ where }),
      );
      const genesis = await mirror.blocks.blockByNumber(0n);
      if (genesis === undefined) throw new BulwarkError('CLIENT_NO_GENESIS', 'the ledger mirror has no genesis block');
      const methods = new Map([
        ...ethereumMethods({
          chainId: network.chainId,
          config: network.chainConfig,
          clientVersion: VERSION,
          peerCount: () => transport.stats().filter((p) => p.connected).length,
          chain: () => mirror.chain(),
          blocks: mirror.blocks,
          genesisHash: genesis.hash(),
          read: (q, n, budget) => reads.read(q, n, budget),
          evm,
          pool,
          submit: () => submitter.kick(),
          accepted: (hash) => {
            filters.notePending(hash);
            subscriptions.onPending(hash);
          },
          nextBlock: (ms) => mirror.nextBlock(ms),
          landed: async (ms) => {
            const until = Date.now() + ms;
            let waiting = pool.landingHashes();
            while (Date.now() < until) {
              waiting = waiting.filter((h) => pool.has(h));
              if (waiting.length === 0 && mirror.head.number >= repliedHead) return;
              await mirror.nextBlock(Math.min(10, until - Date.now()));
            }
          },
          localSource: () => (local !== null && local.state.diverged === null ? local.state.executor : undefined),
          onLocalState: (m) => withLocalStateAt(m, local?.state, () => mirror.head.number),
        }),
        ...filters.methods(),
        ...subscriptions.methods(),
        ...bftMethods({
          clientId: material.id,
          f: network.f,
          status: statuses,
          reader,
          certificate: (n) => mirror.certificate(n),
          checkpoints,
          checkpointQuorum: quorums.checkpoint,
          submitOperatorCommand: async (payload) => new TextDecoder().decode((await bft.submit(payload)).result),
          verifyOperator: (command, signature) => verifyNodeAuth(network.operatorKey, command, signature),
          chainId: network.chainId,
          operatorNonce: () => follower.operatorNonce(),
          links: () => transport.stats(),
          head: () => mirror.chain().head,
          nodeKeyEpoch: (kind, node, seq) => keyBook.recordAt(kind, node, seq)?.epoch ?? 0,
          executionKeyHistory: () => network.replicas.map((r) => [keyBook.recordAt('execution', r.id, 0)!, ...keyBook.history('execution', r.id)]),
        }),
      ]);
      const rpc = await RpcServer.start({
        methods,
        ...(o.explorer === false ? {} : { site: explorerSite() }),
        host: o.rpc.host,
        port: o.rpc.port,
        onInternalError: (m, err) => log.error({ err, method: m }, 'rpc handler failed'),
        onCall: (m, code, seconds) => {
          metrics.rpcCalls.inc({ method: m ?? 'unknown', outcome: code === undefined ? 'ok' : String(code) });
          metrics.rpcSeconds.observe({ method: m ?? 'unknown' }, seconds);
        },
        ...o.rpcSecurity,
        onRefused: (reason, remote, message) => {
          metrics.rpcRefused.inc({ reason });
          log.warn({ reason, remote, message }, 'rpc request refused');
        },
      });
      undo.push(() => rpc.close());
      const health = () => ({
        client: material.id,
        block: Number(mirror.head.number),
        blockHash: `0x${Buffer.from(mirror.head.hash).toString('hex')}`,
        pool: pool.status(),
        // This node's network file's configuration epoch, and the one f + 1 replicas report.
        configuration: { epoch: network.epoch, replicas: follower.configurationEpoch() },
        peers: transport.stats().map((p) => ({ peer: p.peer, connected: p.connected })),
      });
      registerNodeGauges(metrics.registry, {
        role: 'client',
        id: material.id,
        chainId: network.chainId,
        dir: o.dir,
        stores: local === null ? { data: join(o.dir, 'data') } : { data: join(o.dir, 'data'), state: join(o.dir, 'state') },
      });
      const server = o.metrics === undefined ? null : await serveMetrics(metrics.registry, health, o.metrics);
      if (server !== null) undo.push(() => new Promise((r) => server.close(r)));
      const admin =
        o.adminSocket === false
          ? null
          : await AdminServer.start(o.dir, { backup: (out) => takeBackup({ dir: o.dir, out, stores: { data: kv, ...(local === null ? {} : { state: local.kv }) } }) }, log);
      log.info({ rpc: rpc.url, ...(server === null ? {} : { metrics: o.metrics }) }, 'client node started');
      // The transactions accepted before the last stop, offered to the pool again once the mirror
      // knows the nonces (in the background: the endpoint serves meanwhile, the replicas may still be starting).
      const restoring = new AbortController();
      void restoreJournal({
        journal,
        pool,
        common: mirror.common,
        ready: () => mirrorCaughtUp(statuses, mirror, network.f, restoring.signal),
        included: async (hash) => (await mirror.blocks.txLocation(hexToBytes(hash))) !== undefined,
        signal: restoring.signal,
        onRetry: (err) => {
          // Stopping: the stores are closing under it, and what was not offered stays journaled.
          if (restoring.signal.aborted) return;
          submitter.kick();
          log.warn({ err }, 'pool journal: a transaction could not be checked yet; trying again');
        },
        onDrop: (hash, why) => log.debug({ hash, why }, 'pool journal: transaction dropped'),
      })
        .then(({ restored, dropped }) => {
          submitter.kick();
          metrics.journalRestored.inc(restored);
          metrics.journalDropped.inc(dropped);
          log.info({ restored, dropped, ...(restoring.signal.aborted ? { stopped: true } : {}) }, 'pool journal restored');
        })
        .catch((err: unknown) => log.error({ err }, 'pool journal could not be restored; its transactions stay journaled'));
      return new ClientNode(rpc, { kv, journal, restoring, local, transport, bft, mirror, reads: replicaReads, submitter, server, admin }, timer, log);
    } catch (err) {
      for (const close of undo.reverse()) {
        try {
          await close();
        } catch (closeErr) {
          log.warn({ err: closeErr }, 'while undoing a failed start');
        }
      }
      throw err;
    }
  }

  async stop(): Promise<void> {
    const p = this.#parts;
    clearInterval(this.#timer);
    p.restoring.abort();
    // A backup still running ends with STORAGE_CLOSED when the stores close below, and is removed.
    await p.admin?.close();
    await this.rpc.close();
    p.submitter.stop();
    p.bft.close();
    p.reads.close();
    p.mirror.close();
    await p.mirror.settled();
    p.local?.state.close();
    await p.transport.close();
    if (p.server !== null) await new Promise((r) => p.server!.close(r));
    await p.local?.state.idle();
    await p.local?.kv.close();
    // What the pool accepted until now is journaled before the store closes.
    await p.journal.close();
    await p.kv.close();
    this.#log.info('client node stopped');
  }
}

/** How long a restart waits for the mirror to reach the replicas' head before restoring the pool journal anyway. */
const JOURNAL_SYNC_MS = 30_000;

/**
 * Resolves once the mirror holds the block f + 1 replicas report having reached (so the nonces
 * read at its head are current, and transactions already in a block are known as such), or after
 * `JOURNAL_SYNC_MS`: a transaction restored on a stale nonce is refused by the replicas, not run twice.
 */
async function mirrorCaughtUp(statuses: NodeStatusClient, mirror: LedgerMirror, f: number, signal: AbortSignal): Promise<void> {
  const until = Date.now() + JOURNAL_SYNC_MS;
  let target: bigint | undefined;
  while (target === undefined && Date.now() < until && !signal.aborted) {
    const heads = (await statuses.query(1_000)).replicas.flatMap((r) => (r === null ? [] : [r.blockNumber])).sort((a, b) => b - a);
    if (heads.length > f) target = BigInt(heads[f]!);
    else await new Promise((r) => setTimeout(r, 1_000));
  }
  while (target !== undefined && mirror.head.number < target && Date.now() < until && !signal.aborted) await mirror.nextBlock(Math.min(1_000, until - Date.now()));
}

/** The follower of the mirror's blocks, on its own store, started at the mirror's head. */
async function openLocalState(
  dir: string,
  config: ChainConfig,
  mirror: LedgerMirror,
  log: Logger,
  prune: LocalStateOptions['prune'],
  decodedTxs: DecodedTxs | undefined,
): Promise<{ state: LocalState; kv: KvStore }> {
  const kv = await openRocksStore(dir);
  try {
    const state = await LocalState.open({ kv, config, blocks: mirror.blocks, log, ...(prune === undefined ? {} : { prune }), ...(decodedTxs === undefined ? {} : { decodedTxs }) });
    state.follow(mirror.head.number);
    log.info({ localHead: Number(state.head), mirrorHead: Number(mirror.head.number) }, 'local state follows the certified blocks');
    return { state, kv };
  } catch (err) {
    await kv.close();
    throw err;
  }
}

/**
 * Methods that work on the local state (tracing) see every block the mirror holds: each call first
 * lets the local state reach the mirror's head (briefly; it is normally a block behind at most).
 */
function withLocalStateAt(methods: Map<string, MethodDef>, local: LocalState | undefined, head: () => bigint): Map<string, MethodDef> {
  if (local === undefined) return methods;
  return new Map(
    [...methods].map(([name, m]) => [
      name,
      {
        ...m,
        call: async (params: unknown, ctx: Parameters<MethodDef['call']>[1]) => {
          await local.reached(head());
          return m.call(params, ctx);
        },
      },
    ]),
  );
}
