/**
 * Chaos for the soak: every `everySec` one replica is killed with SIGKILL — the current primary
 * (view mod n) on every other kill, starting with the first, a random replica otherwise — and
 * started again with its original command line `downSec` later. Never more than one replica is
 * down: a kill that falls while one is (still, or on its own) down is skipped.
 *
 * What each kill cost: `resumeMs`, from the kill until the first block holding a transaction sent
 * after the kill (blocks already in flight at the kill do not count: the network must order new
 * work); `firstBlockMs`, until the head moved at all; and the views the replicas went through from
 * just before the kill to the end of its window (the next kill, or the end of the load).
 */
import { sleep } from './rpc.ts';
import type { Processes } from './processes.ts';

export interface ChaosOptions {
  readonly everySec: number;
  readonly downSec: number;
  /** When the first kill comes (default `everySec`). */
  readonly firstSec?: number;
  /** Stop after this many kills (default: no limit). */
  readonly maxKills?: number;
  /**
   * No kill after this second of the load: whether commits resume is seen only from transactions
   * sent after the kill (a kill timed with the end of a 1,800 s load, at 1,800.2 s, counted as one
   * that never resumed).
   */
  readonly lastSec?: number;
}

export interface KillRecord {
  readonly replica: number;
  readonly primary: boolean;
  /** Seconds since the load started. */
  readonly atSec: number;
  restartedAtSec: number | null;
  readonly headAtKill: number;
  /** The highest view a live replica reported just before the kill, and at the end of the window. */
  readonly viewBefore: number | null;
  viewAfter: number | null;
  viewChanges: number | null;
  resumeMs: number | null;
  firstBlockMs: number | null;
  /** performance.now() of the kill. */
  readonly killedAt: number;
  open: boolean;
}

export interface ChaosProbe {
  /** Seconds since the load started. */
  clock(): number;
  /** The highest view among the live replicas in the latest sample, or null. */
  view(): number | null;
  head(): bigint;
  /** When a transaction was sent (performance.now()), if it is one of ours. */
  sentAt(hash: string): number | undefined;
}

export class Chaos {
  readonly kills: KillRecord[] = [];
  skipped = 0;
  #down: number | null = null;
  #stopped = false;
  #loop: Promise<void> = Promise.resolve();

  constructor(
    readonly o: ChaosOptions,
    readonly procs: Processes,
    readonly probe: ChaosProbe,
    readonly log: (s: string) => void,
  ) {}

  start(): void {
    this.#loop = this.#run();
  }

  /** Called with every new block: closes the resumption of open kills. */
  onBlock(hashes: readonly string[], seenAt: number): void {
    for (const k of this.kills) {
      if (!k.open) continue;
      k.firstBlockMs ??= Math.round(seenAt - k.killedAt);
      if (k.resumeMs === null && hashes.some((h) => (this.probe.sentAt(h) ?? -Infinity) > k.killedAt)) {
        k.resumeMs = Math.round(seenAt - k.killedAt);
        this.log(`chaos: commits resumed ${k.resumeMs} ms after replica ${k.replica} was killed`);
      }
    }
  }

  /** Stops killing; a replica still down is started now; the last window closes. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    if (this.#down !== null) this.#restart(this.#down);
    this.#closeWindows();
  }

  async #run(): Promise<void> {
    let next = this.o.firstSec ?? this.o.everySec;
    while (!this.#stopped && this.kills.length < (this.o.maxKills ?? Infinity)) {
      if (next > (this.o.lastSec ?? Infinity)) return;
      if (!(await this.#until(next))) return;
      next += this.o.everySec;
      const replicas = this.procs.net.replicas;
      if (this.#down !== null || replicas.some((id) => !this.procs.net.isRunning(id))) {
        this.skipped++;
        this.log('chaos: a replica is down; this kill is skipped');
        continue;
      }
      const view = this.probe.view();
      const primaryTurn = this.kills.length % 2 === 0 && view !== null;
      const victim = primaryTurn ? view % replicas.length : replicas[Math.floor(Math.random() * replicas.length)]!;
      await this.#kill(victim, view, view !== null && victim === view % replicas.length);
      if (!(await this.#until(this.probe.clock() + this.o.downSec))) return;
      this.#restart(victim);
    }
  }

  async #kill(replica: number, view: number | null, primary: boolean): Promise<void> {
    this.#closeWindows();
    const killedAt = performance.now();
    await this.procs.kill(replica);
    this.#down = replica;
    const atSec = Math.round(this.probe.clock() * 10) / 10;
    this.kills.push({
      replica,
      primary,
      atSec,
      restartedAtSec: null,
      headAtKill: Number(this.probe.head()),
      viewBefore: view,
      viewAfter: null,
      viewChanges: null,
      resumeMs: null,
      firstBlockMs: null,
      killedAt,
      open: true,
    });
    this.log(`chaos: SIGKILL replica ${replica}${primary ? ' (the primary)' : ''} at ${atSec} s, view ${view ?? '?'}, head ${this.probe.head()}`);
  }

  #restart(replica: number): void {
    this.procs.restart(replica);
    this.#down = null;
    const k = this.kills.findLast((x) => x.replica === replica);
    if (k !== undefined) k.restartedAtSec = Math.round(this.probe.clock() * 10) / 10;
    this.log(`chaos: replica ${replica} started again at ${k?.restartedAtSec ?? '?'} s`);
  }

  #closeWindows(): void {
    const view = this.probe.view();
    for (const k of this.kills) {
      if (!k.open) continue;
      k.open = false;
      k.viewAfter = view;
      k.viewChanges = view === null || k.viewBefore === null ? null : view - k.viewBefore;
      if (k.resumeMs === null) this.log(`chaos: !! commits did not resume after replica ${k.replica} was killed at ${k.atSec} s`);
    }
  }

  /** Sleeps until the clock reads `sec`; false if stopped first. */
  async #until(sec: number): Promise<boolean> {
    while (!this.#stopped && this.probe.clock() < sec) await sleep(Math.min(200, Math.max(10, (sec - this.probe.clock()) * 1000)));
    return !this.#stopped;
  }
}
