/**
 * The replica's shell: the loop that steps the consensus state machine (`consensus/replica.ts`) one
 * input at a time and carries out its outputs — a `persist` is durable (one synced batch) before
 * anything after it is sent — over the transport, the application and the store; its timers; this
 * replica's own requests (key exchanges and node key publications); block and read service for
 * client nodes. It constructs none of its inputs: the transport, the clock, the store and the
 * application (`ReplicaApplication`, `application.ts`) come from the composition root
 * (`node/replica.ts` in production), which also owns them — opens them before `start` and closes
 * them after `stop`.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { MAX_NETWORK_FILE_BYTES, decodeMessage, encodeMessage } from '../codec/message-codec.ts';
import { nodeStatusBytes, requestSigningBytes } from '../codec/signing.ts';
import type { ClientRequest, ConfigurationRequest, Message, ReadRequest, SnapshotRequest } from '../codec/messages.ts';
import { ConfigurationHistory } from '../ledger/configurations.ts';
import type { CancelTimer, Clock } from '../common/clock.ts';
import { encodeNodeKeyRecord, type NodeKeyKind } from '../codec/reserved-pages.ts';
import { encodeOperatorState } from '../codec/reserved-pages.ts';
import type { NodeKeyLifecycle } from '../setup/node-key-lifecycle.ts';
import { primaryOf } from '../consensus/config.ts';
import type { Input, Output } from '../consensus/io.ts';
import { preverify, step } from '../consensus/replica.ts';
import { firstClientOf, type ReplicaState } from '../consensus/state.ts';
import type { BlsSecretKey } from '../crypto/index.ts';
import type { ReplicaCrypto } from '../consensus/crypto.ts';
import { encodeKeyExchange } from '../codec/key-requests.ts';
import { encodeKeyRecord } from '../codec/reserved-pages.ts';
import type { ConsensusKeyStorage } from '../setup/consensus-keys.ts';
import type { TransportCounterView } from '../net/metrics.ts';
import type { NodeId, Transport } from '../net/transport.ts';
import type { KvStore } from '../storage/index.ts';
import { syncNeeded, type ConsensusStore } from './consensus-store.ts';
import type { RawBlock, ReplicaApplication, ReplicaReads, SnapshotServer } from './application.ts';
import { ReplicaMetrics } from './metrics.ts';
import { PeerConduct } from './peer-conduct.ts';
import type { RejectReason } from '../consensus/io.ts';

/**
 * A block this small (transactions, then bytes) goes to the client nodes with its notice, before
 * it: their mirrors need not ask for it (a round trip to a replica that is busy with the next
 * slot, 2–4 ms of a lone transaction's latency here). Larger blocks are fetched, from one replica.
 */
const PUSH_MAX_TRANSACTIONS = 16;
/** Header, body, receipts and state changes together. */
const PUSH_MAX_BYTES = 48 << 10;

function blockBytes(b: RawBlock): number {
  return b.header.length + b.body.length + b.receipts.length + (b.changes?.length ?? 0);
}

/** Messages received and not yet stepped, at most (count and frame bytes). */
const MAX_QUEUED_INPUTS = 100_000;
const MAX_QUEUED_INPUT_BYTES = 64 << 20;

/** The transport the shell speaks through: a `Transport` that also reports its own counters (metrics). */
export interface ReplicaTransport extends Transport {
  counters(): TransportCounterView;
}

/**
 * Everything the shell runs on, made (and later closed) by its composition root. `Secret` is a
 * consensus secret as `keyStore` makes it and `crypto` takes it: a BLS secret key in production.
 */
export interface ReplicaShellParts<Secret = BlsSecretKey> {
  readonly id: NodeId;
  readonly log: Logger;
  readonly clock: Clock;
  readonly transport: ReplicaTransport;
  /** The key-value store under `store` and `app`: read here only for its memory figures (metrics). */
  readonly kv: KvStore;
  readonly store: ConsensusStore;
  /** What consensus executes, and what client nodes read: `EthereumApp` in production. */
  readonly app: ReplicaApplication;
  /** The consensus state, restored from `store` and `app` (`restoreReplica`). */
  readonly state: ReplicaState;
  readonly crypto: ReplicaCrypto<Secret>;
  /** This replica's execution and TLS keys (their files, and the transport's pins and identity). */
  readonly nodeKeys: NodeKeyLifecycle;
  /** Where this replica's consensus keys are kept: its key files (`ConsensusKeyStore`) in production. */
  readonly keyStore: ConsensusKeyStorage<Secret>;
  /** Called when the replica must stop (divergence from a stable checkpoint, a broken store). */
  readonly onFatal: (reason: string) => void;
  /**
   * Sees each input as it is stepped and the outputs the step gave, before they are carried out:
   * for observers outside the loop (the simulator's safety checkers; nothing in production).
   */
  readonly tap?: (input: Input, outputs: readonly Output[]) => void;
  /**
   * When f + 1 peers report stable checkpoints at least `batches` past what this replica executed,
   * `then` is called, once: replaying that many batches would take longer than fetching the state
   * (the composition root restarts the replica from a snapshot). Absent: always replay.
   */
  readonly farBehind?: FarBehind;
}

/** When a replica restarts from a snapshot instead of replaying (`ReplicaShellParts.farBehind`). */
export interface FarBehind {
  readonly batches: number;
  /** Not before this time on the shell's clock (after a snapshot that could not be had, a while of replaying first). */
  readonly notBefore?: number;
  readonly then: () => void;
}

export class ReplicaNode<Secret = BlsSecretKey> {
  readonly id: number;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #kv: KvStore;
  readonly #store: ConsensusStore;
  readonly #app: ReplicaApplication;
  readonly #transport: ReplicaTransport;
  readonly #state: ReplicaState;
  readonly #metrics: ReplicaMetrics;
  readonly #reads: ReplicaReads;
  /** Status and read answers: signed with the execution key in effect at the next sequence number. */
  readonly #signExecution: (bytes: Uint8Array) => Uint8Array;
  readonly #nodeKeys: NodeKeyLifecycle;
  /** This replica's node key publication in progress: what it publishes, the signed request, when last sent. */
  #publication: { kind: NodeKeyKind; epoch: number; request: ClientRequest; sentAt: number } | null = null;
  /** The last request sequence number this replica gave a request of its own. */
  #ownRequestSeq = 0;
  /** After a refused publication, when to try again. */
  #ownRetryAt = 0;
  readonly #queue: Input[] = [];
  /** Frame sizes of the queued messages from peers (`MAX_QUEUED_INPUT_BYTES`). */
  readonly #sizes = new WeakMap<Input, number>();
  #queuedMessageBytes = 0;
  #draining = false;
  #cancelTimer: CancelTimer | null = null;
  #timerAt = Infinity;
  #stopped = false;
  readonly #onFatal: (reason: string) => void;
  readonly #tap: ((input: Input, outputs: readonly Output[]) => void) | null;
  #farBehind: FarBehind | null;
  #idle: Promise<void> = Promise.resolve();
  /** The block being executed, if any. */
  #execution: Promise<void> = Promise.resolve();
  readonly #crypto: ReplicaCrypto<Secret>;
  readonly #keyStore: ConsensusKeyStorage<Secret>;
  /** This replica's key exchange in progress: the signed request, and when it was last sent. */
  #exchange: { epoch: number; request: ClientRequest; sentAt: number } | null = null;
  /** Key work (generating a key file, deleting a retired one) runs one piece at a time, off the loop. */
  #keyWork: Promise<void> | null = null;
  /** The newest block announcement sent, repeated to mirrors that ask for blocks (catch-up when idle). */
  #lastNotice: Uint8Array | null = null;
  /** The block just executed, when small enough to go with its notice (`PUSH_MAX_TRANSACTIONS`). */
  #pushBlock: { number: number; frame: Uint8Array } | null = null;
  readonly #sideWork = new Set<Promise<void>>();
  #notSentLoggedAt = 0;
  /** Messages waiting to be stepped, per sender (the transport stops reading a peer past its share). */
  readonly #queuedFrom = new Map<number, number>();
  readonly #peerConduct = new PeerConduct();
  /** Peers this replica is sending a chunk of committed batches to (catch-up help). */
  readonly #serving = new Set<number>();
  readonly #snapshots: SnapshotServer | null;
  /** Peers whose snapshot request is being answered: one at a time each. */
  readonly #servingSnapshot = new Set<number>();

  constructor(parts: ReplicaShellParts<Secret>) {
    this.id = parts.id;
    this.#log = parts.log;
    this.#clock = parts.clock;
    this.#kv = parts.kv;
    this.#store = parts.store;
    this.#app = parts.app;
    this.#transport = parts.transport;
    this.#state = parts.state;
    this.#crypto = parts.crypto;
    this.#keyStore = parts.keyStore;
    this.#onFatal = parts.onFatal;
    this.#tap = parts.tap ?? null;
    this.#farBehind = parts.farBehind ?? null;
    this.#signExecution = (bytes) => this.#crypto.signExecution(bytes, this.#state.lastExecuted + 1);
    this.#nodeKeys = parts.nodeKeys;
    this.#reads = parts.app.reads(this.#signExecution, parts.clock);
    this.#snapshots = parts.app.snapshots?.() ?? null;
    this.#metrics = new ReplicaMetrics(() => ({
      view: this.#state.view,
      active: this.#state.active,
      lastExecuted: this.#state.lastExecuted,
      lastStable: this.#state.lastStable,
      blockNumber: this.#app.head().number,
      peers: this.#transport.stats(),
      transport: this.#transport.counters(),
      store: this.#kv.memoryUsage?.() ?? null,
      trieCacheBytes: this.#app.cacheBytes(),
    }));
  }

  /** The replica's Prometheus metrics (served by the composition root). */
  get metricsRegistry(): Registry {
    return this.#metrics.registry;
  }

  /** Starts the loop: takes the transport's frames, starts the transport, and steps a first tick. */
  async start(): Promise<void> {
    this.#nodeKeys.sync(this.#state.lastExecuted, this.#state.lastStable);
    this.#transport.onFrame((from, frame) => this.#onFrame(from, frame));
    await this.#transport.start();
    this.#enqueue({ kind: 'tick', now: this.#clock.now() });
  }

  status(): Record<string, unknown> {
    const s = this.#state;
    const head = this.#app.head();
    return {
      replica: this.id,
      view: s.view,
      primary: primaryOf(s.view, s.q.n),
      active: s.active,
      lastExecuted: s.lastExecuted,
      lastStable: s.lastStable,
      // Being wedged: nothing ordered after `wedgeAt` but an unwedge; wedged once stable there.
      wedgeAt: s.operator.wedgeAt || null,
      wedged: s.operator.wedgeAt > 0 && s.lastStable >= s.operator.wedgeAt,
      block: head.number,
      blockHash: `0x${Buffer.from(head.hash).toString('hex')}`,
      peers: this.#transport.stats().map((p) => ({ peer: p.peer, connected: p.connected })),
    };
  }

  #onFrame(from: number, frame: Uint8Array): void {
    let message: Message;
    try {
      message = decodeMessage(frame);
    } catch (err) {
      this.#metrics.undecodable.inc();
      this.#log.warn({ from, code: (err as { code?: string }).code }, 'undecodable frame');
      this.#conduct(from, 'undecodable');
      return;
    }
    // Block reads for client nodes' mirrors are served here, beside consensus, not through it.
    if (message.type === 'BlockRequest') {
      this.#beside(this.#serveBlocks(from, message.fromNumber, message.toNumber));
      return;
    }
    if (message.type === 'ReadRequest') {
      this.#beside(this.#serveRead(from, message));
      return;
    }
    if (message.type === 'NodeStatusRequest') {
      this.#serveStatus(from, message.id);
      return;
    }
    if (message.type === 'SnapshotRequest') {
      this.#serveSnapshot(from, message);
      return;
    }
    if (message.type === 'ConfigurationRequest') {
      this.#beside(this.#serveConfiguration(from, message));
      return;
    }
    if (message.type === 'ConfigurationFile') return;
    // Answers to a snapshot fetched before this shell started (`node/snapshot.ts`), arriving late.
    if (message.type === 'SnapshotManifest' || message.type === 'SnapshotItems') return;
    if (this.#stopped) return;
    // Received and not yet stepped: bounded. Past the bound a peer's message is dropped (and
    // counted) rather than held: the protocol retransmits what matters, and a flood from one peer
    // cannot grow this process without limit.
    if (this.#queuedMessageBytes + frame.length > MAX_QUEUED_INPUT_BYTES || this.#queue.length >= MAX_QUEUED_INPUTS) {
      this.#metrics.rejected.inc({ reason: 'input-queue-full' });
      return;
    }
    this.#queuedMessageBytes += frame.length;
    this.#queue.push({ kind: 'message', from, message, now: this.#clock.now() });
    this.#sizes.set(this.#queue[this.#queue.length - 1]!, frame.length);
    this.#queuedFrom.set(from, (this.#queuedFrom.get(from) ?? 0) + 1);
    if (!this.#draining) this.#idle = this.#drain();
  }

  /** Work done beside consensus (reads, block serving); `stop` waits for it before closing the store. */
  #beside(work: Promise<void>): void {
    this.#sideWork.add(work);
    void work.finally(() => this.#sideWork.delete(work));
  }

  /** A client node asks where this replica stands (bft_status): answered at once, signed. */
  #serveStatus(from: number, id: number): void {
    if (from < this.#state.q.n || this.#stopped) {
      this.#metrics.rejected.inc({ reason: 'unexpected-message' });
      return;
    }
    const s = this.#state;
    const head = this.#app.head();
    const body = {
      id,
      view: s.view,
      active: s.active,
      lastExecuted: s.lastExecuted,
      lastStable: s.lastStable,
      blockNumber: head.number,
      blockHash: head.hash,
      keyEpoch: this.#state.keys.consensus.recordAt(this.id, s.lastExecuted + 1).epoch,
      keys: this.#state.keys.consensus.published().map(encodeKeyRecord),
      nodeKeys: this.#state.keys.node.published().map(encodeNodeKeyRecord),
      operator: encodeOperatorState(s.operator),
      requestSeq: s.clients.get(from) ?? 0,
    };
    const signature = this.#signExecution(nodeStatusBytes(from, body));
    this.#transport.send(from, encodeMessage({ type: 'NodeStatus', ...body, stable: s.stableCert, signature }));
  }

  async #serveRead(from: number, m: ReadRequest): Promise<void> {
    if (from < this.#state.q.n || this.#stopped) {
      this.#metrics.rejected.inc({ reason: 'unexpected-message' });
      return;
    }
    try {
      const reply = await this.#reads.answer(from, m);
      if (reply === 'busy') this.#metrics.rejected.inc({ reason: 'client-queue-full' });
      else if (reply === 'behind') this.#metrics.rejected.inc({ reason: 'read-block-not-reached' });
      else this.#transport.send(from, encodeMessage(reply));
    } catch (err) {
      this.#log.error({ err, id: m.id }, 'read failed');
    }
  }

  /**
   * A joining replica fetching a snapshot (`snapshot-source.ts`): replicas only, one request at a
   * time each (the next is dropped and counted until the answer is sent), read beside consensus.
   */
  /**
   * The network file of a configuration epoch this replica ran in, to a node of its network that
   * asks (a client node following a reconfiguration): one answer per request, at most 1 MiB.
   */
  async #serveConfiguration(from: number, m: ConfigurationRequest): Promise<void> {
    if (this.#servingConfiguration.has(from)) {
      this.#metrics.rejected.inc({ reason: 'rate-limited' });
      return;
    }
    this.#servingConfiguration.add(from);
    try {
      const record = await new ConfigurationHistory(this.#kv).get(m.epoch);
      const network = record === undefined ? new Uint8Array() : new TextEncoder().encode(record.network);
      if (network.length > MAX_NETWORK_FILE_BYTES || this.#stopped) return;
      this.#transport.send(from, encodeMessage({ type: 'ConfigurationFile', id: m.id, epoch: m.epoch, network }));
    } finally {
      this.#servingConfiguration.delete(from);
    }
  }

  /** Peers whose configuration request is being answered: one at a time each. */
  readonly #servingConfiguration = new Set<number>();

  #serveSnapshot(from: number, m: SnapshotRequest): void {
    if (from >= this.#state.q.n || from === this.id || this.#stopped || this.#snapshots === null) {
      this.#metrics.rejected.inc({ reason: 'unexpected-message' });
      return;
    }
    if (this.#servingSnapshot.has(from)) {
      this.#metrics.rejected.inc({ reason: 'rate-limited' });
      return;
    }
    this.#servingSnapshot.add(from);
    const snapshots = this.#snapshots;
    this.#beside(
      (async () => {
        const answer =
          m.items.length === 0
            ? await snapshots.manifest(m.id, m.seq, this.#state.lastStable)
            : { type: 'SnapshotItems' as const, id: m.id, items: await snapshots.items(m.items) };
        this.#metrics.snapshotServed.inc({ part: m.items.length === 0 ? 'manifest' : 'items' });
        this.#transport.send(from, encodeMessage(answer));
      })()
        .catch((err: unknown) => this.#log.error({ err, from }, 'cannot serve a snapshot request'))
        .finally(() => this.#servingSnapshot.delete(from)),
    );
  }

  /** Up to 64 canonical blocks (and about 4 MiB) per answer; the mirror asks again for more. */
  async #serveBlocks(from: number, fromNumber: number, toNumber: number): Promise<void> {
    if (from < this.#state.q.n || this.#stopped) {
      this.#metrics.rejected.inc({ reason: 'unexpected-message' });
      return;
    }
    const blocks: RawBlock[] = [];
    let bytes = 0;
    try {
      for (let n = fromNumber; n <= toNumber && blocks.length < 64 && bytes < 4 << 20; n++) {
        const b = await this.#app.block(n);
        if (b === undefined) break;
        blocks.push(b);
        bytes += blockBytes(b);
      }
    } catch (err) {
      this.#log.error({ err, fromNumber }, 'cannot read blocks for a client node');
      return;
    }
    this.#transport.send(from, encodeMessage({ type: 'BlockData', fromNumber, blocks }));
    if (this.#lastNotice !== null) this.#transport.send(from, this.#lastNotice);
  }

  async #execute(o: Extract<Output, { kind: 'execute' }>): Promise<void> {
    // The frames the last step queued (the commit proof the other replicas wait for, above all)
    // leave before execution takes the thread.
    await new Promise((resolve) => setImmediate(resolve));
    try {
      // Measured on the process's own timer, not the shell's Clock: a duration for metrics, not an input.
      const started = performance.now();
      const r = await this.#app.execute(o.seq, o.timestamp, o.requests, o.keyRecords, o.internal, o.operator, o.nodeKeyRecords);
      if (o.requests.length > 0) this.#metrics.executionSeconds.observe((performance.now() - started) / 1000);
      if (r.made !== undefined) {
        this.#metrics.blocks.inc();
        this.#metrics.transactions.inc(r.made.transactions);
        this.#metrics.gasUsed.inc(r.made.gasUsed);
      }
      if (r.block) this.#log.debug({ seq: o.seq, block: r.summary.blockNumber, requests: o.requests.length }, 'block');
      this.#pushBlock = null;
      if (r.made !== undefined && r.made.transactions <= PUSH_MAX_TRANSACTIONS) {
        const number = r.summary.blockNumber;
        const b = await this.#app.block(number);
        if (b !== undefined && blockBytes(b) <= PUSH_MAX_BYTES) {
          this.#pushBlock = { number, frame: encodeMessage({ type: 'BlockData', fromNumber: number, blocks: [b] }) };
        }
      }
      this.#enqueue({ kind: 'executed', seq: o.seq, summary: r.summary, results: r.results, now: this.#clock.now() });
    } catch (err) {
      this.#fatal(`execution of seq ${o.seq} failed: ${err instanceof Error ? err.message : String(err)}`, err);
    }
  }

  #enqueue(input: Input): void {
    if (this.#stopped) return;
    this.#queue.push(input);
    if (!this.#draining) this.#idle = this.#drain();
  }

  /** Steps everything queued, one input at a time; messages that arrived together are pre-verified together. */
  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#queue.length > 0 && !this.#stopped) {
        const inputs = this.#queue.splice(0);
        for (const i of inputs) {
          this.#queuedMessageBytes -= this.#sizes.get(i) ?? 0;
          this.#sizes.delete(i);
          if (i.kind === 'message') {
            const left = (this.#queuedFrom.get(i.from) ?? 1) - 1;
            if (left > 0) this.#queuedFrom.set(i.from, left);
            else this.#queuedFrom.delete(i.from);
          }
        }
        preverify(this.#state, inputs.flatMap((i) => (i.kind === 'message' ? [i.message] : [])));
        for (const input of inputs) {
          if (this.#stopped) break;
          await this.#step(input);
        }
      }
    } catch (err) {
      this.#fatal(`replica loop failed: ${err instanceof Error ? err.message : String(err)}`, err);
    } finally {
      this.#draining = false;
    }
  }

  async #step(input: Input): Promise<void> {
    const { outputs, wakeAt } = step(this.#state, input);
    this.#tap?.(input, outputs);
    this.#arm(wakeAt);
    for (const o of outputs) await this.#carryOut(o);
    if (input.kind === 'message' && input.message.type === 'Status') this.#checkFarBehind();
    this.#nodeKeys.sync(this.#state.lastExecuted, this.#state.lastStable);
    if (this.#keyWork === null && this.#keysDue()) {
      this.#keyWork = this.#keys()
        .catch((err: unknown) => this.#fatal(`key lifecycle failed: ${err instanceof Error ? err.message : String(err)}`, err))
        .finally(() => (this.#keyWork = null));
    }
  }

  /** f + 1 peers (one honest at least) say their stable checkpoint is far past this replica's execution. */
  #checkFarBehind(): void {
    const far = this.#farBehind;
    if (far === null || this.#clock.now() < (far.notBefore ?? 0)) return;
    const s = this.#state;
    let ahead = 0;
    for (const st of s.peers.values()) if (st.lastStable >= s.lastExecuted + far.batches) ahead++;
    if (ahead < s.cfg.f + 1) return;
    this.#farBehind = null;
    this.#log.warn({ lastExecuted: s.lastExecuted, peersAhead: ahead, batches: far.batches }, 'far behind the other replicas: a snapshot is faster than replaying');
    far.then();
  }

  /** Whether `#keys` has anything to do (checked after every step, so it stays cheap). */
  #keysDue(): boolean {
    const s = this.#state;
    if (!this.#canSignOwn()) return false;
    if (this.#nodeKeys.due(s.operator.nodeTargets).length > 0 || this.#nodeKeys.retireDue(s.lastStable)) return true;
    if (!s.cfg.keyExchange) return false;
    const latest = this.#state.keys.consensus.latest(this.id).epoch;
    if (latest < Math.max(1, s.operator.targets.get(this.id) ?? 0)) return true;
    const inEffect = this.#state.keys.consensus.recordAt(this.id, s.lastStable + 1).epoch;
    return this.#crypto.secretEpochs().some((e) => e < inEffect);
  }

  /**
   * This replica's keys (ARCHITECTURE "Keys"): while it is still on its bootstrap key it makes
   * the next key — written to its key file before anything is published, so a crash never loses
   * it — and publishes it through consensus in a request signed with the key in effect, again
   * every second until executed; once the stable checkpoint is past the point where a newer key
   * took effect, every older private key is erased from memory and from disk.
   */
  async #keys(): Promise<void> {
    // A replica whose store is behind its own key files (a store fetched or restored from an older
    // state: its older keys were retired) cannot sign its requests until it has caught up.
    if (!this.#canSignOwn()) return;
    if (this.#state.cfg.keyExchange) await this.#consensusKeys();
    await this.#otherKeys();
  }

  /** Whether this replica holds the consensus secret in effect at its next sequence number. */
  #canSignOwn(): boolean {
    const s = this.#state;
    return this.#crypto.secretEpochs().includes(s.keys.consensus.recordAt(this.id, s.lastExecuted + 1).epoch);
  }

  /**
   * This replica's execution and TLS keys: when the operator asked for a new epoch, the key is
   * generated (durably) and published through consensus in a request of this replica's own, again
   * every second until executed — one publication at a time, after any consensus key exchange, so
   * that its request sequence number follows the last one executed; once the stable checkpoint is
   * past a switch, the older private keys are erased.
   */
  async #otherKeys(): Promise<void> {
    const s = this.#state;
    const p = this.#publication;
    if (p !== null && (this.#state.keys.node.latest(p.kind, this.id)?.epoch ?? 0) >= p.epoch) this.#publication = null;
    else if (p !== null && this.#executedOwn(p.request)) {
      this.#log.error({ kind: p.kind, epoch: p.epoch }, 'key publication refused by the replicas; trying again in 10 s');
      this.#publication = null;
      this.#ownRetryAt = this.#clock.now() + 10_000;
    }
    // One request of this replica's own at a time, and none while its consensus key is changing (the
    // request is signed with the consensus key in effect).
    const consensusSettled =
      !s.cfg.keyExchange ||
      (this.#exchange === null &&
        this.#state.keys.consensus.latest(this.id).epoch >= Math.max(1, s.operator.targets.get(this.id) ?? 0) &&
        this.#state.keys.consensus.recordAt(this.id, s.lastExecuted + 1).epoch === this.#state.keys.consensus.latest(this.id).epoch);
    if (this.#publication === null && consensusSettled && this.#clock.now() >= this.#ownRetryAt) {
      const draft = await this.#nodeKeys.nextPublication(s.operator.nodeTargets, s.lastExecuted + 1);
      if (draft !== null) {
        if (draft.key.kind === 'execution') this.#crypto.addExecutionSecret(draft.epoch, draft.key.privateKey);
        const request = { clientId: this.id, requestSeq: this.#nextOwnRequestSeq(), flags: 0, payload: draft.payload, signature: new Uint8Array() };
        this.#publication = { kind: draft.kind, epoch: draft.epoch, request, sentAt: 0 };
      }
    }
    if (this.#publication !== null) this.#sendOwn(this.#publication);
    await this.#nodeKeys.retire(s.lastStable, (kind, epoch) => {
      if (kind === 'execution') this.#crypto.forgetExecutionSecret(epoch);
    });
  }

  /** The next request sequence number of this replica's own requests: above every one executed or made. */
  #nextOwnRequestSeq(): number {
    this.#ownRequestSeq = Math.max(this.#ownRequestSeq, this.#state.clients.get(this.id) ?? 0) + 1;
    return this.#ownRequestSeq;
  }

  /** Whether a request of this replica's own was executed (whatever its outcome). */
  #executedOwn(r: ClientRequest): boolean {
    return (this.#state.clients.get(this.id) ?? 0) >= r.requestSeq;
  }

  /**
   * Sends a request of this replica's own to every replica (through its own state machine), at most
   * once a second, signed afresh with the consensus key in effect (it may have changed since).
   */
  #sendOwn(own: { request: ClientRequest; sentAt: number }): void {
    const now = this.#clock.now();
    if (now - own.sentAt < 1_000) return;
    own.sentAt = now;
    const unsigned = { clientId: own.request.clientId, requestSeq: own.request.requestSeq, flags: own.request.flags, payload: own.request.payload };
    own.request = { ...unsigned, signature: this.#crypto.signRequest(requestSigningBytes(unsigned), this.#state.lastExecuted + 1) };
    this.#enqueue({ kind: 'message', from: this.id, message: { type: 'Request', request: own.request }, now });
  }

  async #consensusKeys(): Promise<void> {
    const s = this.#state;
    const latest = this.#state.keys.consensus.latest(this.id).epoch;
    if (this.#exchange !== null && latest >= this.#exchange.epoch) this.#exchange = null;
    else if (this.#exchange !== null && this.#executedOwn(this.#exchange.request)) {
      this.#log.error({ epoch: this.#exchange.epoch }, 'consensus key exchange refused by the replicas; trying again');
      this.#exchange = null;
    }
    // Epoch 1 replaces the bootstrap key; an operator's rotation asks for more.
    const target = Math.max(1, s.operator.targets.get(this.id) ?? 0);
    // One epoch at a time, each once the previous one is in effect.
    const next = latest + 1;
    if (latest < target && this.#state.keys.consensus.recordAt(this.id, s.lastExecuted + 1).epoch === latest && this.#publication === null) {
      if (this.#exchange === null || this.#exchange.epoch !== next) {
        const key = await this.#keyStore.generate(next);
        this.#crypto.addSecret(next, key.secret);
        // Its request sequence number follows the last of this replica's requests executed (node key publications are some).
        const payload = encodeKeyExchange({ epoch: next, publicKey: key.publicKey, proofOfPossession: key.proofOfPossession });
        const request = { clientId: this.id, requestSeq: this.#nextOwnRequestSeq(), flags: 0, payload, signature: new Uint8Array() };
        this.#exchange = { epoch: next, request, sentAt: 0 };
        this.#log.info({ epoch: next, created: key.created, path: key.path }, 'consensus key generated; publishing it');
      }
      this.#sendOwn(this.#exchange);
    }
    const inEffect = this.#state.keys.consensus.recordAt(this.id, s.lastStable + 1).epoch;
    for (const epoch of this.#crypto.secretEpochs()) {
      if (epoch >= inEffect) continue;
      this.#crypto.forgetSecret(epoch);
      const retired = await this.#keyStore.retire(epoch);
      this.#log.info({ epoch, inEffect, path: retired.path, bytes: retired.bytes, erased: retired.erased }, 'retired consensus key deleted (overwritten, then removed)');
    }
  }

  async #carryOut(o: Output): Promise<void> {
    switch (o.kind) {
      case 'persist':
        // A synced write holds the thread until the disk has it (the binding writes on the main
        // thread): frames queued before it — the primary's PrePrepare ahead of its own vote — leave
        // first rather than after it, and the backups start on them ~1 ms sooner.
        if (o.records.some(syncNeeded)) this.#transport.flush?.();
        await this.#store.persist(o.records);
        return;
      case 'send': {
        const frame = encodeMessage(o.message as Message);
        if (o.message.type === 'BlockNotice') {
          this.#lastNotice = frame;
          const push = this.#pushBlock;
          if (push !== null && push.number === o.message.summary.blockNumber) for (const to of o.to) this.#transport.send(to, push.frame);
        }
        let refused = 0;
        for (const to of o.to) if (!this.#transport.send(to, frame)) refused++;
        // A frame the transport would not take (its queue to a peer full, or larger than a frame
        // may be) is lost for those peers: said, so that it is never silent.
        if (refused > 0) {
          this.#metrics.notSent.inc({ type: o.message.type }, refused);
          const now = this.#clock.now();
          if (now - this.#notSentLoggedAt > 1_000) {
            this.#notSentLoggedAt = now;
            this.#log.warn({ type: o.message.type, bytes: frame.length, peers: refused }, 'message not sent: the transport refused it (queue full or frame too large)');
          }
        }
        return;
      }
      case 'execute':
        // Execution runs beside consensus: the loop goes on ordering (and answering its peers,
        // whose timers would otherwise count a long block against this replica) while the block
        // executes, and its result comes back as the `executed` input. The machine asks for one
        // execution at a time.
        this.#execution = this.#execute(o);
        return;
      case 'serve':
        // Read and sent beside the loop (a chunk can be many MiB), one chunk per peer at a time.
        if (this.#serving.has(o.to)) return;
        this.#serving.add(o.to);
        this.#beside(
          this.#store
            .committed(o.fromSeq, o.toSeq)
            .then((batches) => {
              for (const b of batches) this.#transport.send(o.to, encodeMessage({ type: 'CommittedBatch', seq: b.seq, batch: b.batch, commit: b.commit }));
            })
            .catch((err: unknown) => this.#log.error({ err, to: o.to, fromSeq: o.fromSeq }, 'cannot read committed batches for a peer catching up'))
            .finally(() => this.#serving.delete(o.to)),
        );
        return;
      case 'reject':
        this.#metrics.rejected.inc({ reason: o.reason });
        this.#log.debug({ from: o.from, reason: o.reason, detail: o.detail }, 'input refused');
        this.#conduct(o.from, o.reason, o.detail);
        return;
      case 'event':
        this.#onEvent(o.detail);
        return;
      case 'fatal':
        this.#fatal(o.reason);
        return;
    }
  }

  #onEvent(d: Extract<Output, { kind: 'event' }>['detail']): void {
    if (d.event === 'committed') {
      this.#metrics.committed.inc({ path: d.path });
      return;
    }
    if (d.event === 'view-change-started') this.#metrics.viewChanges.inc();
    this.#log.info(d, d.event);
    // Client nodes learn a published key now, long before it takes effect, from an unsolicited
    // status (their 5 s poll is the fallback).
    if (d.event === 'node-key-published' || d.event === 'key-published') {
      const s = this.#state;
      for (let c = firstClientOf(s); c < firstClientOf(s) + s.cfg.clients; c++) this.#serveStatus(c, 0);
    }
  }

  /**
   * A refused input of `peer`'s: a peer that keeps sending what no honest node sends (bad
   * signatures and certificates, equivocation, undecodable frames) is cut off by the transport for
   * a back-off that grows with each penalty (`PeerConduct`, `TlsTransport.penalize`).
   */
  #conduct(peer: number, reason: RejectReason | 'undecodable', detail?: string): void {
    if (peer === this.id || !this.#peerConduct.note(peer, reason, this.#clock.now())) return;
    this.#metrics.penalties.inc({ reason });
    this.#log.warn({ peer, reason, detail }, 'peer penalised: it kept sending invalid messages');
    this.#transport.penalize(peer, reason);
  }

  /**
   * Whether the transport may read more from `peer`: not while the peer has its fair share of the
   * bound on messages waiting to be stepped (a flooding peer is paused, the others go on).
   */
  receiveReady(peer: number): boolean {
    const share = MAX_QUEUED_INPUTS / (this.#state.q.n + this.#state.cfg.clients);
    return (this.#queuedFrom.get(peer) ?? 0) < share;
  }

  #arm(wakeAt: number | null): void {
    if (wakeAt === null || wakeAt >= this.#timerAt || this.#stopped) return;
    this.#cancelTimer?.();
    this.#timerAt = wakeAt;
    this.#cancelTimer = this.#clock.after(wakeAt - this.#clock.now(), () => {
      this.#cancelTimer = null;
      this.#timerAt = Infinity;
      this.#enqueue({ kind: 'tick', now: this.#clock.now() });
    });
  }

  #fatal(reason: string, err?: unknown): void {
    this.#log.fatal({ err, reason }, 'replica stopping');
    this.#onFatal(reason);
  }

  /**
   * Stops taking input and lets the work in progress finish (the step, the block executing, key
   * work, reads and block serving). The transport and the store stay open: their owner closes them
   * after this resolves.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#cancelTimer?.();
    this.#cancelTimer = null;
    await this.#idle;
    await this.#execution;
    await this.#keyWork;
    await Promise.allSettled([...this.#sideWork]);
  }
}
