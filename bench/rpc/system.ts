/**
 * A system under test — the Bulwark network or the Hardhat node — as the benchmark sees it: a
 * JSON-RPC endpoint, and its processes' memory and view changes, sampled while a cell runs.
 */
import { mkdirSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sleep, type Rpc } from './client.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface NodeProbe {
  /** `replica0` … `replica3`, `client`, or `hardhat`. */
  readonly name: string;
  readonly rssMb: number | null;
  /** The node's view-change counter (null: a node without views). */
  readonly viewChanges: number | null;
}

export interface System {
  readonly name: 'bulwark' | 'hardhat';
  readonly rpc: Rpc;
  readonly chainId: bigint;
  readonly gasPrice: bigint;
  probe(): Promise<NodeProbe[]>;
  /** What each node reports, for a run that goes wrong. */
  diagnose?(): Promise<void>;
  stop(): Promise<void>;
}

/** What a figure is worth depends on what the nodes went through: view changes and memory. */
export interface Health {
  /** View changes each node counted over the period. */
  readonly viewChanges: Record<string, number>;
  /** Each node's largest RSS over the period. */
  readonly maxRssMb: Record<string, number>;
}

/** Every node probed every `everyMs` while a period (a cell, a run) lasts. */
export class HealthMonitor {
  readonly #first = new Map<string, number>();
  readonly #last = new Map<string, number>();
  readonly #maxRss = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #pending: Promise<void> = Promise.resolve();

  constructor(readonly system: System, readonly everyMs = 1_000) {}

  async start(): Promise<void> {
    await this.#sample();
    this.#timer = setInterval(() => (this.#pending = this.#sample()), this.everyMs).unref();
  }

  async #sample(): Promise<void> {
    for (const p of await this.system.probe()) {
      if (p.viewChanges !== null) {
        if (!this.#first.has(p.name)) this.#first.set(p.name, p.viewChanges);
        this.#last.set(p.name, p.viewChanges);
      }
      if (p.rssMb !== null) this.#maxRss.set(p.name, Math.max(this.#maxRss.get(p.name) ?? 0, p.rssMb));
    }
  }

  async stop(): Promise<Health> {
    clearInterval(this.#timer);
    await this.#pending;
    await this.#sample();
    const viewChanges: Record<string, number> = {};
    for (const [name, last] of this.#last) viewChanges[name] = last - this.#first.get(name)!;
    return { viewChanges, maxRssMb: Object.fromEntries(this.#maxRss) };
  }
}

/** The view changes the network went through: each replica counts the ones it took part in. */
export const networkViewChanges = (h: Health): number | null => {
  const counts = Object.entries(h.viewChanges).filter(([n]) => n !== 'client').map(([, v]) => v);
  return counts.length === 0 ? null : Math.max(...counts);
};

/** The largest RSS among the replicas (or the one Hardhat process). */
export const maxReplicaRssMb = (h: Health): number | null => {
  const rss = Object.entries(h.maxRssMb).filter(([n]) => n !== 'client').map(([, v]) => v);
  return rss.length === 0 ? null : Math.max(...rss);
};

export function waitForExit(p: ChildProcess): Promise<void> {
  return new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));
}

export async function waitForRpc(rpc: Rpc, procs: ChildProcess[]): Promise<void> {
  const end = Date.now() + 120_000;
  for (;;) {
    try {
      await rpc.call('eth_blockNumber');
      return;
    } catch {
      if (procs.some((p) => p.exitCode !== null)) throw new Error('a node exited during start-up');
      if (Date.now() > end) throw new Error(`no JSON-RPC at ${rpc.url}`);
      await sleep(250);
    }
  }
}

export function tmpUnderRoot(): string {
  const dir = `${ROOT}tmp`;
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Starts a system, runs `body` against it, stops it whatever happens. */
export async function withSystem<T>(start: () => Promise<System>, body: (s: System) => Promise<T>): Promise<T> {
  const s = await start();
  try {
    return await body(s);
  } catch (err) {
    await s.diagnose?.();
    throw err;
  } finally {
    await s.stop();
  }
}
