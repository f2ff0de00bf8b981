/**
 * A whole simulated network: replicas (the production shell, honest, decorated or twinned; see
 * `node.ts`), clients, a lossy network and the checkers. Everything random comes from one seeded PRNG; a failing run reports its seed.
 *
 * Safety checker (fails the run, never only logs): two honest replicas committing different batches
 * at one sequence number, executing to different summaries, an honest replica persisting two
 * different votes for one (view, seq), a client accepting two different results for one request,
 * or an honest replica stopping on a divergence (`fatal`).
 * Liveness checker: `runUntilClientsDone` fails if the clients' requests have not all committed in time.
 */
import { makeConsensusConfig, quorumsOf, type ConsensusConfig } from '../../../src/consensus/config.ts';
import type { PersistRecord } from '../../../src/consensus/records.ts';
import { SimNetwork, type LinkDecision } from '../../../src/net/sim-transport.ts';
import { SimClient } from './client.ts';
import { SimReplica, type Behaviour, type NodeObserver } from './node.ts';
import { Prng } from './prng.ts';
import { EventQueue } from './queue.ts';
import { RealKeys } from './real-keys.ts';
import { SimKeyRegistry, type KeyRegistry } from './sim-crypto.ts';
import type { AppState } from '../../../src/consensus/replica.ts';

export const T0 = 1_800_000_000_000;

/**
 * Lets the shells finish what an event started: their steps, writes and executions are promises
 * (on an in-memory store, with no I/O), settled within a few turns of the event loop. Simulated
 * time stands still meanwhile, so a run is as deterministic as the shells' code.
 */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export interface NetProfile {
  minDelay: number;
  maxDelay: number;
  drop: number;
  duplicate: number;
}

export interface WorldOptions {
  seed: number;
  f: number;
  c?: number;
  /** Replicas: any n ≥ 3f + 2c + 1 (default exactly that). */
  n?: number;
  clients?: number;
  requestsPerClient?: number;
  /** Clients with no requests of their own beyond those a scenario submits (operator commands), after the others. */
  idleClients?: number;
  consensus?: Partial<ConsensusConfig>;
  net?: Partial<NetProfile>;
  byzantine?: Record<number, Behaviour[]>;
  /** Replica ids that get a twin: a second instance with the same identity and keys. */
  twins?: number[];
  /** Per-replica clock offsets in ms. */
  clockSkew?: Record<number, number>;
  /** Deliberately weakens every honest replica's quorums by one, to prove the checkers catch it. */
  plantedBug?: 'quorum-one-too-small';
  /** Production cryptography (BLS12-381, Ed25519) instead of keyed hashes. */
  realCrypto?: boolean;
  /** How long each batch's execution takes, in simulated ms (default 0): one figure, or per replica id. */
  executionMs?: number | Readonly<Record<number, number>>;
}

export class World {
  readonly seed: number;
  readonly prng: Prng;
  readonly queue = new EventQueue();
  /** The consensus configuration in effect (a reconfiguration replaces it: `reconfigure`). */
  cfg: ConsensusConfig;
  n: number;
  readonly registry: KeyRegistry;
  /** The configuration epoch of the network file every replica runs with, and its SHA-256 (null for epoch 0's). */
  epoch = 0;
  networkFile: Uint8Array | null = null;
  /** Replicas a reconfiguration removed: stopped, out of `replicas`, their ids never given again. */
  readonly removed: SimReplica[] = [];
  readonly network: SimNetwork;
  readonly replicas: SimReplica[] = [];
  readonly twins: SimReplica[] = [];
  readonly clients: SimClient[] = [];
  readonly violations: string[] = [];
  readonly rejections = new Map<string, number>();
  /** Protocol events by kind ("committed:fast", "view-entered", …), over honest replicas. */
  readonly events = new Map<string, number>();
  netProfile: NetProfile;
  /** Directed links that deliver nothing: "from>to" by node id. */
  readonly blocked = new Set<string>();
  /** Directed links cut between endpoints by label ("r3'>r2"), to split Twins. */
  readonly split = new Set<string>();
  readonly #committed = new Map<number, { digest: string; by: string }>();
  readonly #executed = new Map<number, { summary: string; by: string }>();
  readonly #votes = new Map<string, string>();
  readonly #clientResults = new Map<string, string>();
  readonly #o: WorldOptions;
  readonly #nodeObserver: NodeObserver;

  constructor(o: WorldOptions) {
    this.seed = o.seed;
    this.#o = o;
    this.prng = new Prng(o.seed);
    const c = o.c ?? 0;
    const loaded = o.clients ?? 2;
    const clients = loaded + (o.idleClients ?? 0);
    this.cfg = makeConsensusConfig({
      ...(o.n === undefined ? {} : { n: o.n }),
      f: o.f,
      c,
      clients,
      checkpointInterval: 10,
      window: 40,
      maxInFlight: 4,
      maxBatchRequests: 8,
      fastPathTimeoutMs: 60,
      requestTimeoutMs: 1_000,
      viewChangeTimeoutMs: 1_000,
      viewChangeTimeoutCapMs: 8_000,
      statusIntervalMs: 250,
      retransmitMs: 200,
      catchUpChunk: 16,
      // The named scenarios study other things; key exchange has its own (key-exchange.test.ts)
      // and runs in half the random sweep.
      keyExchange: false,
      ...o.consensus,
    });
    this.n = quorumsOf(this.cfg).n;
    this.netProfile = { minDelay: 1, maxDelay: 8, drop: 0, duplicate: 0, ...o.net };
    this.registry = o.realCrypto ? new RealKeys(this.n, clients, o.seed) : new SimKeyRegistry(this.n, o.seed);
    this.network = new SimNetwork({
      schedule: (delay, run) => this.queue.after(delay, run),
      link: (from, to) => this.#link(from, to),
      reachable: (from, to) => !this.split.has(`${from.label}>${to.label}`),
    });
    this.#nodeObserver = this.#observer();
    const make = (id: number, label: string, honest: boolean, behaviours: Behaviour[]) => this.#makeReplica(id, label, honest, behaviours);
    for (let id = 0; id < this.n; id++) {
      const behaviours = o.byzantine?.[id] ?? [];
      const twinned = o.twins?.includes(id) ?? false;
      this.replicas.push(make(id, `r${id}`, behaviours.length === 0 && !twinned, behaviours));
      if (twinned) this.twins.push(make(id, `r${id}'`, false, []));
    }
    const firstClient = this.cfg.firstClient ?? this.n;
    for (let i = 0; i < clients; i++) {
      this.clients.push(
        new SimClient({
          id: firstClient + i,
          n: this.n,
          f: o.f,
          requests: i < loaded ? (o.requestsPerClient ?? 5) : 0,
          queue: this.queue,
          transport: this.network.transport(firstClient + i, `c${firstClient + i}`),
          registry: this.registry,
          retryMs: 600,
        }),
      );
    }
  }

  #makeReplica(id: number, label: string, honest: boolean, behaviours: Behaviour[]): SimReplica {
    const o = this.#o;
    const skew = o.clockSkew?.[id] ?? 0;
    const node = new SimReplica({
      id,
      label,
      honest,
      behaviours,
      queue: this.queue,
      transport: this.network.transport(id, label),
      cfg: this.cfg,
      registry: this.registry,
      observer: this.#nodeObserver,
      clock: () => T0 + this.queue.now + skew,
      ...(o.executionMs === undefined ? {} : { executionMs: typeof o.executionMs === 'number' ? o.executionMs : (o.executionMs[id] ?? 0) }),
    });
    if (o.plantedBug === 'quorum-one-too-small') {
      node.mutateState = (s) => {
        const q = s.q;
        (s as { q: typeof q }).q = { ...q, fast: q.fast - 1, slow: q.slow - 1, checkpoint: q.checkpoint - 1, viewChange: q.viewChange - 1 };
      };
    }
    return node;
  }

  async start(): Promise<this> {
    for (const r of [...this.replicas, ...this.twins]) await r.start();
    for (const c of this.clients) c.start();
    await settle();
    return this;
  }

  #link(from: number, to: number): LinkDecision {
    if (this.blocked.has(`${from}>${to}`)) return { delays: [] };
    const p = this.netProfile;
    if (this.prng.chance(p.drop)) return { delays: [] };
    const d = () => this.prng.int(p.minDelay, p.maxDelay);
    return { delays: this.prng.chance(p.duplicate) ? [d(), d()] : [d()] };
  }

  // ---- faults ------------------------------------------------------------------------------

  /** Cuts every link between the two groups, both ways. */
  partition(a: readonly number[], b: readonly number[]): void {
    for (const x of a) for (const y of b) this.blocked.add(`${x}>${y}`).add(`${y}>${x}`);
  }

  /** Cuts a node off from everyone (replicas and clients). */
  isolate(id: number): void {
    const all = [...[...Array(this.n).keys()], ...this.clients.map((c) => c.id)].filter((x) => x !== id);
    this.partition([id], all);
  }

  oneWay(from: number, to: number): void {
    this.blocked.add(`${from}>${to}`);
  }

  /** Partitions endpoints by label (replicas "r0", twins "r3'", clients "c4"). */
  splitLabels(a: readonly string[], b: readonly string[]): void {
    for (const x of a) for (const y of b) this.split.add(`${x}>${y}`).add(`${y}>${x}`);
  }

  heal(): void {
    this.blocked.clear();
    this.split.clear();
  }

  crash(id: number): void {
    this.replicas[id]!.crash();
  }

  /** Replicas `ids` lose power at once: crashed, and their stores lose every write since their last sync. Returns the writes lost. */
  async powerCut(ids: readonly number[]): Promise<number> {
    let lost = 0;
    for (const id of ids) lost += await this.replicas[id]!.powerCut();
    return lost;
  }

  async restart(id: number): Promise<void> {
    await this.replicas[id]!.start();
    await settle();
  }

  // ---- reconfiguration (issue #19) ---------------------------------------------------------

  /**
   * What the operator does once the network is wedged at a `reconfigure` naming the network file
   * of SHA-256 `network`: every replica stopped and started again with the new file — the new
   * consensus configuration (n, f, c; the same clients and `firstClient`) and the replica set it
   * names — the clients too. Replicas beyond the new n are removed (only the highest ids are); new
   * ones (the next ids) start with an empty store. At each start the store is checked against the
   * file as `node/configuration.ts` does (`FakeApp.configurationCheck`): at the wedge point the
   * reconfiguration is taken up; a store that predates the file (a new member's, or one down
   * through the change) gets the stand-in snapshot (`installSnapshot`) first, then is checked again.
   *
   * `down`: replicas left stopped (the file is theirs once `rejoin` starts them). `byzantine`:
   * behaviours of the replicas added. Returns each started replica's check, before any snapshot.
   */
  async reconfigure(
    next: { n: number; f: number; c?: number },
    network: Uint8Array,
    o: { down?: readonly number[]; byzantine?: Record<number, Behaviour[]> } = {},
  ): Promise<Map<number, 'current' | 'take-up' | 'behind'>> {
    if (this.twins.length > 0 || this.#o.realCrypto) throw new Error('reconfigure: not with twins or real crypto');
    for (const r of this.replicas) r.crash();
    await settle();
    const cfg = makeConsensusConfig({ ...this.cfg, n: next.n, f: next.f, c: next.c ?? 0 });
    this.cfg = cfg;
    this.n = quorumsOf(cfg).n;
    this.epoch++;
    this.networkFile = network;
    (this.registry as SimKeyRegistry).resize(this.n);
    this.removed.push(...this.replicas.splice(this.n));
    for (let id = this.replicas.length; id < this.n; id++) {
      const behaviours = o.byzantine?.[id] ?? [];
      this.replicas.push(this.#makeReplica(id, `r${id}`, behaviours.length === 0, behaviours));
    }
    for (const r of this.replicas) r.reconfigure(cfg);
    for (const c of this.clients) c.reconfigure(this.n, cfg.f);
    const checks = new Map<number, 'current' | 'take-up' | 'behind'>();
    // Every check first, then every start: the stand-in snapshot is a peer's checkpoint image, as
    // its store holds it whether or not the peer has been restarted yet.
    const starting = this.replicas.filter((r) => !(o.down ?? []).includes(r.id));
    for (const r of starting) checks.set(r.id, this.#enterConfiguration(r));
    for (const r of starting) await r.start();
    await settle();
    return checks;
  }

  /**
   * Starts a replica that was left stopped through a reconfiguration (or crashed since), with
   * the network file in effect, checked as at any start. `snapshot: false` skips the stand-in
   * snapshot: it starts on its own store whatever the check said (what `node/configuration.ts`
   * does not let a real replica do), to show what replaying would come to.
   */
  async rejoin(id: number, o: { snapshot?: boolean } = {}): Promise<'current' | 'take-up' | 'behind'> {
    const r = this.replicas[id]!;
    r.crash();
    const check = o.snapshot === false ? r.app.configurationCheck({ epoch: this.epoch, digest: this.#networkDigest() }) : this.#enterConfiguration(r);
    await r.start();
    await settle();
    return check;
  }

  #networkDigest(): Uint8Array {
    return this.networkFile ?? new Uint8Array(32);
  }

  /** `node/configuration.ts`'s check at a start, and what follows from it: a take-up, or the stand-in snapshot. */
  #enterConfiguration(r: SimReplica): 'current' | 'take-up' | 'behind' {
    const file = { epoch: this.epoch, digest: this.#networkDigest() };
    const first = r.app.configurationCheck(file);
    let check = first;
    if (check === 'behind') {
      const source = this.#snapshotSource(r);
      if (source === null) throw new Error(`${r.label}: no peer has a checkpoint image to stand in for a snapshot`);
      r.installSnapshot(source);
      check = r.app.configurationCheck(file);
      if (check === 'behind') throw new Error(`${r.label}: still behind after the stand-in snapshot at ${source.lastExecuted}`);
    }
    if (check === 'take-up') r.app.takeUpReconfiguration(file.digest);
    return first;
  }

  /**
   * The image of the newest stable checkpoint an honest peer holds: what a snapshot fetch takes
   * (the real one needs f + 1 peers to agree on the image; honest peers here do).
   */
  #snapshotSource(self: SimReplica): AppState | null {
    let best: AppState | null = null;
    for (const p of this.replicas) {
      const stable = p.persisted.stable?.seq;
      if (p === self || !p.honest || stable === undefined) continue;
      const image = p.images.get(stable);
      if (image !== undefined && (best === null || stable > best.lastExecuted)) best = image;
    }
    return best;
  }

  // ---- running -----------------------------------------------------------------------------

  /** Runs the events of the next `ms` of simulated time (the shells' work between them, to its end). */
  async run(ms: number): Promise<this> {
    const until = this.queue.now + ms;
    while (this.queue.runNext(until)) {
      await settle();
      if (this.violations.length > 0) break;
    }
    if (this.queue.now < until) this.queue.now = until;
    return this;
  }

  /** Runs until every client is done; a liveness violation if that takes longer than `ms`. */
  async runUntilClientsDone(ms: number): Promise<this> {
    const until = this.queue.now + ms;
    while (!this.clients.every((c) => c.done)) {
      if (this.violations.length > 0) return this;
      const ran = this.queue.runNext(until);
      if (ran) await settle();
      else {
        const left = this.clients.map((c) => `${c.id}:${c.remaining}`).join(' ');
        this.violations.push(`liveness: requests still open after ${ms} ms (client:open ${left})`);
        return this;
      }
    }
    return this;
  }

  /** Fails with the seed and the evidence, for the test runner. */
  assertSafe(): void {
    if (this.violations.length > 0) throw new Error(`seed ${this.seed}: ${this.violations.join('; ')}\n${this.trace()}`);
  }

  trace(): string {
    return [...this.replicas, ...this.twins].map((r) => `${r.label}: ${r.events.slice(-(Number(process.env.SIM_TRACE ?? 12))).join(' | ')}`).join('\n');
  }

  honestReplicas(): SimReplica[] {
    return this.replicas.filter((r) => r.honest);
  }

  count(event: string): number {
    return this.events.get(event) ?? 0;
  }

  rejected(reason: string): number {
    return this.rejections.get(reason) ?? 0;
  }

  committedSeqs(): number {
    return this.#committed.size;
  }

  // ---- checkers ----------------------------------------------------------------------------

  #observer(): NodeObserver {
    return {
      persisted: (node, records) => {
        if (!node.honest) return;
        for (const r of records) this.#checkRecord(node, r);
      },
      executed: (node, seq, summary) => {
        if (!node.honest) return;
        const prior = this.#executed.get(seq);
        if (prior === undefined) this.#executed.set(seq, { summary, by: node.label });
        else if (prior.summary !== summary) {
          this.violations.push(`safety: ${node.label} and ${prior.by} executed seq ${seq} to different states`);
        }
      },
      fatal: (node, reason) => {
        if (node.honest) this.violations.push(`safety: ${node.label} stopped: ${reason}`);
      },
      rejected: (_node, out) => {
        this.rejections.set(out.reason, (this.rejections.get(out.reason) ?? 0) + 1);
      },
      event: (node, d) => {
        if (!node.honest) return;
        const key = d.event === 'committed' ? `committed:${d.path}` : d.event;
        this.events.set(key, (this.events.get(key) ?? 0) + 1);
      },
    };
  }

  #checkRecord(node: SimReplica, r: PersistRecord): void {
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    if (r.kind === 'committed') {
      const digest = hex(r.commit.digest);
      const prior = this.#committed.get(r.seq);
      if (prior === undefined) this.#committed.set(r.seq, { digest, by: node.label });
      else if (prior.digest !== digest) {
        this.violations.push(`safety: ${node.label} and ${prior.by} committed different batches at seq ${r.seq}`);
      }
    } else if (r.kind === 'vote') {
      const key = `${node.id}:${r.view}:${r.seq}`;
      const digest = hex(r.digest);
      const prior = this.#votes.get(key);
      if (prior === undefined) this.#votes.set(key, digest);
      else if (prior !== digest) this.violations.push(`safety: ${node.label} signed two digests for view ${r.view} seq ${r.seq}`);
    } else if (r.kind === 'reply') {
      for (const e of r.reply.entries) {
        const key = `${r.reply.clientId}:${e.requestSeq}`;
        const value = `${r.reply.seq}:${hex(e.result)}`;
        const prior = this.#clientResults.get(key);
        if (prior === undefined) this.#clientResults.set(key, value);
        else if (prior !== value) this.violations.push(`safety: request ${key} executed twice with different outcomes (${node.label}: ${value.slice(0, 200)}; before: ${prior.slice(0, 200)})`);
      }
    }
  }
}
