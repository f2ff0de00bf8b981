/**
 * One simulated replica: the production shell (`ReplicaNode`, the loop `bulwark replica` runs) on
 * the simulation's clock and network, over a store that survives crashes (an in-memory key-value
 * store under the real `ConsensusStore`) and the simulator's application (`FakeApp`, whose state is
 * durable too). A crash stops the shell and shuts its link; a restart builds a new shell from what
 * the store and the application kept, as `node/replica.ts` does from RocksDB.
 *
 * What the checkers see comes from outside the shell: each step's input and outputs through its
 * `tap`. Byzantine behaviours rewrite what the shell sends, on its way to the network
 * (`BehaviourTransport`), signing only with the replica's own keys.
 */
import { pino } from 'pino';
import { decodeMessage, encodeMessage } from '../../../src/codec/message-codec.ts';
import type { Message, ReplicaMessage } from '../../../src/codec/messages.ts';
import type { Clock } from '../../../src/common/clock.ts';
import type { ConsensusConfig } from '../../../src/consensus/config.ts';
import type { Input, Output } from '../../../src/consensus/io.ts';
import { emptyPersisted, foldRecords, type PersistedConsensus, type PersistRecord } from '../../../src/consensus/records.ts';
import { restoreReplica, type AppState } from '../../../src/consensus/replica.ts';
import type { KeyHistory } from '../../../src/consensus/keys.ts';
import type { ReplicaState } from '../../../src/consensus/state.ts';
import { generateNodeAuthKeyPair } from '../../../src/crypto/node-auth.ts';
import type { SimTransport } from '../../../src/net/sim-transport.ts';
import type { NodeId } from '../../../src/net/transport.ts';
import type { AppExecution, ReplicaApplication } from '../../../src/replica/application.ts';
import { ConsensusStore } from '../../../src/replica/consensus-store.ts';
import { PowerCutStore } from './power-cut-store.ts';
import { ReplicaNode, type ReplicaTransport } from '../../../src/replica/replica-node.ts';
import { DEFAULT_CERT_VALIDITY_DAYS } from '../../../src/setup/generate.ts';
import { randomKeySource } from '../../../src/setup/key-source.ts';
import { NodeKeyLifecycle } from '../../../src/setup/node-key-lifecycle.ts';
import { holdEd25519Key, holdTlsKey, type HeldNodeKey } from '../../../src/setup/node-key-store.ts';
import { makeTlsIdentity } from '../../../src/setup/node-keys.ts';
import { MemoryStore } from '../../../src/storage/index.ts';
import { FakeApp, FakeReplicaApp } from './fake-app.ts';
import { MemoryNodeKeyStore } from './memory-keys.ts';
import type { EventQueue } from './queue.ts';
import { RegistryConsensusKeyStore, type KeyRegistry, type SimNodeCrypto } from './sim-crypto.ts';

export type Sent = { to: readonly number[]; message: Extract<Output, { kind: 'send' }>['message'] };

/** A Byzantine behaviour: rewrites what an otherwise honest replica sends. */
export interface Behaviour {
  readonly name: string;
  onSend(node: SimReplica, sent: Sent): Sent[];
}

export interface NodeObserver {
  persisted(node: SimReplica, records: readonly PersistRecord[]): void;
  executed(node: SimReplica, seq: number, summaryKey: string): void;
  fatal(node: SimReplica, reason: string): void;
  rejected(node: SimReplica, out: Extract<Output, { kind: 'reject' }>): void;
  event(node: SimReplica, detail: Extract<Output, { kind: 'event' }>['detail']): void;
}

const silentLog = pino({ level: process.env['BULWARK_TEST_LOG'] ?? 'silent' });

/**
 * The execution and TLS keys every simulated replica's node key lifecycle holds at epoch 0. No
 * scenario rotates a replica's node keys (the simulator's crypto signs execution results with
 * keyed hashes), so one set, made once per process, serves every replica of every world.
 */
let nodeKeysAtGenesis: readonly HeldNodeKey[] | null = null;
function genesisNodeKeys(): readonly HeldNodeKey[] {
  nodeKeysAtGenesis ??= [
    holdEd25519Key('execution', 0, generateNodeAuthKeyPair('ed25519').privateKey),
    holdTlsKey(0, makeTlsIdentity(randomKeySource, 'tls/0', 'bulwark sim replica', '127.0.0.1', { now: new Date(), validityDays: DEFAULT_CERT_VALIDITY_DAYS })),
  ];
  return nodeKeysAtGenesis;
}

export class SimReplica {
  readonly id: number;
  /** Twins and decorated replicas are faulty: the checkers ignore what they do. */
  readonly honest: boolean;
  readonly label: string;
  readonly behaviours: Behaviour[];
  /** The running shell's consensus state; null while crashed. */
  state: ReplicaState | null = null;
  /** Every record the shells persisted, folded: what the store holds (the checkers read it). */
  readonly persisted: PersistedConsensus = emptyPersisted();
  readonly ledger = new Map<number, Extract<PersistRecord, { kind: 'committed' }>>();
  /** The application's state: durable, as the executor's RocksDB is. */
  readonly app = new FakeApp();
  incarnation = 0;
  readonly events: string[] = [];
  crypto: SimNodeCrypto;
  /**
   * This replica's key history: its state's, kept across crashes (restored again from the
   * application at each start); made anew from the network file of a reconfiguration.
   */
  keys: KeyHistory;
  /**
   * The application's state at each of the last checkpoints it executed: its checkpoint images,
   * which a peer's stand-in snapshot copies (`installSnapshot`).
   */
  readonly images = new Map<number, AppState>();
  /** Deliberately changes the state restored at each start (the planted-bug test). */
  mutateState: ((s: ReplicaState) => void) | null = null;
  /** When set, every `persist` output is appended here, in order (store round-trip tests). */
  recordLog: (readonly PersistRecord[])[] | null = null;
  readonly #q: EventQueue;
  readonly #transport: SimTransport;
  readonly #wire: BehaviourTransport;
  #cfg: ConsensusConfig;
  #registry: KeyRegistry;
  readonly #observer: NodeObserver;
  readonly #now: () => number;
  readonly #executionMs: number;
  /** The store under the consensus records: it can lose power (`powerCut`). */
  readonly #kv = new PowerCutStore();
  readonly #store = new ConsensusStore(this.#kv);
  /**
   * The application's state as of the store's last synced write. A replica's executed blocks are
   * written unsynced (`EthereumApp.execute`) into the same store as its consensus records, so a
   * power cut takes the application back to where that sync left it.
   */
  #durableApp: AppState | null = null;
  readonly #keyStore: RegistryConsensusKeyStore;
  readonly #nodeKeyStore = new MemoryNodeKeyStore(genesisNodeKeys());
  #node: ReplicaNode<unknown> | null = null;

  constructor(o: {
    id: number;
    label: string;
    honest: boolean;
    behaviours: Behaviour[];
    queue: EventQueue;
    transport: SimTransport;
    cfg: ConsensusConfig;
    registry: KeyRegistry;
    observer: NodeObserver;
    /** This replica's wall clock (simulated time, with its skew). */
    clock: () => number;
    /** How long each execution takes, in simulated ms (default 0). */
    executionMs?: number;
  }) {
    this.id = o.id;
    this.label = o.label;
    this.honest = o.honest;
    this.behaviours = o.behaviours;
    this.#q = o.queue;
    this.#transport = o.transport;
    this.#wire = new BehaviourTransport(o.transport, this);
    this.#cfg = o.cfg;
    this.#registry = o.registry;
    this.keys = o.registry.keyHistory();
    this.crypto = o.registry.cryptoFor(o.id, this.keys);
    this.#keyStore = new RegistryConsensusKeyStore(o.registry, o.id);
    this.#observer = o.observer;
    this.#now = o.clock;
    this.#executionMs = o.executionMs ?? 0;
  }

  get alive(): boolean {
    return this.state !== null;
  }

  /** Epochs whose consensus private keys this replica erased, in order. */
  get retired(): readonly number[] {
    return this.#keyStore.retired;
  }

  /**
   * The network file of a reconfiguration (`World.reconfigure`), for the next start: its consensus
   * configuration, and the key history and crypto made from the replica set it names, as
   * `node/replica.ts` makes them from the file at each start. Only while crashed.
   */
  reconfigure(cfg: ConsensusConfig): void {
    if (this.alive) throw new Error(`${this.label} is running: crash it first`);
    this.#cfg = cfg;
    this.keys = this.#registry.keyHistory();
    this.crypto = this.#registry.cryptoFor(this.id, this.keys);
  }

  /**
   * STAND-IN for the snapshot fetch the real replica process does when its store predates the
   * network file's configuration (`node/replica.ts` `#enterConfiguration`, `replica/snapshot-sync.ts`;
   * covered end to end by test/e2e/replica-reconfigure.test.ts). The simulator has no snapshot
   * protocol: the application's state at a peer's stable checkpoint (its image, which a real
   * snapshot takes only when f + 1 peers agree on it) is copied in directly. As with the real fetch,
   * that is all: no stability certificate, and the consensus store as it was (empty for a new
   * member). Only while crashed.
   */
  installSnapshot(image: AppState): void {
    if (this.alive) throw new Error(`${this.label} is running: crash it first`);
    this.app.state = { ...image, clients: new Map(image.clients), keys: [...image.keys], nodeKeys: [...image.nodeKeys] };
    this.#durableApp = this.app.state;
    this.images.clear();
    this.images.set(image.lastExecuted, image);
  }

  /** Builds a shell from the store and the application, as the replica process does, and starts it. */
  async start(): Promise<void> {
    const incarnation = ++this.incarnation;
    // What a start finds is durable (its own writes, a configuration taken up, are synced).
    this.#durableApp = this.app.state;
    const app = new TimedApp(this.app, this.#q, this.#executionMs);
    this.#kv.onSync = () => {
      this.#durableApp = app.written ?? this.app.state;
    };
    const state = restoreReplica({ cfg: this.#cfg, id: this.id, crypto: this.crypto, keys: this.keys, now: this.#now(), persisted: await this.#store.load(), app: this.app.state });
    this.mutateState?.(state);
    const clock = this.#clock(incarnation);
    const nodeKeys = new NodeKeyLifecycle(
      {
        id: this.id,
        role: 'replica',
        store: this.#nodeKeyStore,
        book: this.keys.node,
        // Simulated links pin nothing.
        transport: { setPins: () => undefined, setIdentity: () => undefined },
        nodes: [],
        tlsSubject: { commonName: `bulwark sim replica ${this.id}`, host: '127.0.0.1' },
        log: silentLog,
      },
      0,
    );
    this.#node = new ReplicaNode<unknown>({
      id: this.id,
      log: silentLog,
      clock,
      transport: this.#wire,
      kv: new MemoryStore(),
      store: this.#store,
      app,
      state,
      crypto: this.crypto,
      nodeKeys,
      keyStore: this.#keyStore,
      onFatal: (reason) => {
        if (this.incarnation === incarnation) this.#observer.fatal(this, reason);
      },
      tap: (input, outputs) => this.#observe(input, outputs),
    });
    this.state = state;
    await this.#node.start();
  }

  /** The shell's clock: simulated time, and timers that die with this incarnation. */
  #clock(incarnation: number): Clock {
    return {
      now: this.#now,
      after: (ms, run) => {
        let live = true;
        this.#q.after(Math.max(0, ms), () => {
          if (live && this.incarnation === incarnation) run();
        });
        return () => {
          live = false;
        };
      },
    };
  }

  /** Everything not in the store or the application is lost: the shell stops, its link goes down. */
  crash(): void {
    if (this.#node === null) return;
    this.incarnation++;
    // It stops taking input at once; a step in progress finishes its write (the store is in
    // memory), and an execution in progress updates the application, as a crash after the
    // executor's batch would leave it. Nothing else it does reaches anyone: its link is down.
    void this.#node.stop();
    this.#transport.shut();
    this.#node = null;
    this.state = null;
  }

  /**
   * The power goes: a crash that also loses every write since the store's last synced one — the
   * consensus records written unsynced (committed batches, replies) and the blocks executed since.
   * Returns how many writes were lost.
   */
  async powerCut(): Promise<number> {
    this.crash();
    const before = this.#kv.lostWrites;
    await this.#kv.cut();
    if (this.#durableApp !== null) this.app.state = this.#durableApp;
    Object.assign(this.persisted, await this.#store.load());
    return this.#kv.lostWrites - before;
  }

  /** Delivers a message to this replica as if `from` had sent it (tests' late copies and replays). */
  feed(input: { readonly from: number; readonly message: Message }): void {
    this.#transport.deliver(input.from, encodeMessage(input.message));
  }

  /** Sends a message as this replica, bypassing its shell and behaviours (decorators' replays). */
  inject(to: readonly number[], message: ReplicaMessage): void {
    const frame = encodeMessage(message);
    for (const t of to) this.#transport.send(t, frame);
  }

  #observe(input: Input, outputs: readonly Output[]): void {
    if (input.kind === 'executed') {
      this.#observer.executed(this, input.seq, summaryKey(input.summary));
      if (input.seq % this.#cfg.checkpointInterval === 0 && this.app.state.lastExecuted === input.seq) {
        this.images.set(input.seq, this.app.state);
        for (const seq of this.images.keys()) if (this.images.size > 4 && seq < input.seq) this.images.delete(seq);
      }
    }
    for (const o of outputs) {
      switch (o.kind) {
        case 'persist':
          foldRecords(this.persisted, o.records);
          this.recordLog?.push(o.records);
          for (const r of o.records) if (r.kind === 'committed') this.ledger.set(r.seq, r);
          this.#observer.persisted(this, o.records);
          break;
        case 'reject':
          this.#observer.rejected(this, o);
          break;
        case 'event':
          if (this.events.length > 4000) this.events.splice(0, 2000);
          this.events.push(`${this.#q.now}: ${JSON.stringify(o.detail)}`);
          this.#observer.event(this, o.detail);
          break;
        default:
          break;
      }
    }
  }
}

/**
 * The shell's link, through this replica's Byzantine behaviours when it has any. The shell sends
 * one output's frame to each recipient in turn; those sends are gathered back into one message with
 * its recipients (a behaviour may treat them apart: an equivocating primary splits them), rewritten,
 * and sent on at the end of the shell's synchronous turn, in order.
 */
class BehaviourTransport implements ReplicaTransport {
  readonly self: NodeId;
  readonly #raw: SimTransport;
  readonly #node: SimReplica;
  #pending: { frame: Uint8Array; to: number[] } | null = null;
  #flushQueued = false;

  constructor(raw: SimTransport, node: SimReplica) {
    this.self = raw.self;
    this.#raw = raw;
    this.#node = node;
  }

  send(to: NodeId, frame: Uint8Array): boolean {
    if (this.#node.behaviours.length === 0 && this.#pending === null) return this.#raw.send(to, frame);
    if (this.#pending !== null && this.#pending.frame === frame) this.#pending.to.push(to);
    else {
      this.#flush();
      this.#pending = { frame, to: [to] };
    }
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => {
        this.#flushQueued = false;
        this.#flush();
      });
    }
    return true;
  }

  #flush(): void {
    const p = this.#pending;
    if (p === null) return;
    this.#pending = null;
    let all: Sent[] = [{ to: p.to, message: decodeMessage(p.frame) as Sent['message'] }];
    for (const b of this.#node.behaviours) all = all.flatMap((s) => b.onSend(this.#node, s));
    for (const s of all) {
      const frame = encodeMessage(s.message as Message);
      for (const to of s.to) this.#raw.send(to, frame);
    }
  }

  onFrame(handler: Parameters<SimTransport['onFrame']>[0]): void {
    this.#raw.onFrame(handler);
  }

  onPeerStatus(handler: Parameters<SimTransport['onPeerStatus']>[0]): void {
    this.#raw.onPeerStatus(handler);
  }

  penalize(peer: NodeId, reason: string): void {
    this.#raw.penalize(peer, reason);
  }

  counters(): ReturnType<SimTransport['counters']> {
    return this.#raw.counters();
  }

  stats(): ReturnType<SimTransport['stats']> {
    return this.#raw.stats();
  }

  start(): Promise<void> {
    return this.#raw.start();
  }

  close(): Promise<void> {
    return this.#raw.close();
  }
}

/**
 * The simulator's application as the shell runs it, each execution taking `ms` of simulated time
 * (on the queue itself: an execution outlives a crash of its shell, which then ignores its result).
 */
class TimedApp extends FakeReplicaApp implements ReplicaApplication {
  readonly #q: EventQueue;
  readonly #ms: number;

  constructor(app: FakeApp, queue: EventQueue, ms: number) {
    super(app);
    this.#q = queue;
    this.#ms = ms;
  }

  /**
   * While a block executes: the application's state before it. The simulated application takes
   * the new state at once, the executor writes it only at the end; until then this is what a
   * write would find.
   */
  written: AppState | null = null;

  override async execute(...args: Parameters<FakeReplicaApp['execute']>): Promise<AppExecution> {
    this.written = this.app.state;
    try {
      const r = await super.execute(...args);
      if (this.#ms > 0) await new Promise<void>((resolve) => this.#q.after(this.#ms, resolve));
      return r;
    } finally {
      this.written = null;
    }
  }
}

export function summaryKey(s: { blockNumber: number; blockHash: Uint8Array; stateRoot: Uint8Array; reservedDigest: Uint8Array }): string {
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  return `${s.blockNumber}/${hex(s.blockHash)}/${hex(s.stateRoot)}/${hex(s.reservedDigest)}`;
}
