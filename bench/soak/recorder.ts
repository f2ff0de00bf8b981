/**
 * The soak's time series: every `sampleMs` one sample of every node (memory, heap, view, progress,
 * pool, head) and of the harness's own figures for the interval (sent, accepted, refused, included
 * per second; inclusion latency; reads), written as a JSON line to `<out>/samples.jsonl` and as a
 * progress line to stderr. It also keeps what the summary needs: every inclusion latency, each
 * node's largest and warm-up RSS, the views.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import type { Ledger } from './ledger.ts';
import { sampleNode, type NodeHandle, type NodeSample } from './nodes.ts';
import type { ReadLoad } from './reads.ts';
import { sleep, type SoakRpc } from './rpc.ts';
import type { InclusionWatcher } from './watcher.ts';

export interface Sample {
  readonly t: number;
  readonly phase: 'load' | 'drain';
  readonly sentPerSec: number;
  readonly acceptedPerSec: number;
  readonly refusedPerSec: number;
  readonly skippedPerSec: number;
  /** How long the node took to answer a batch of sends (median, ms). */
  readonly answerP50Ms: number | null;
  /** Our transactions first seen in a block, per second. */
  readonly tps: number;
  readonly inclusionP50Ms: number | null;
  readonly inclusionP99Ms: number | null;
  readonly head: number;
  /** The watcher's transport failures so far, and the last one. */
  readonly watcher: { readonly errors: number; readonly lastError: string | null };
  readonly pool: { readonly pending: number; readonly queued: number } | null;
  readonly reads: { readonly perSec: number; readonly failed: number; readonly skipped: number; readonly p50Ms: number | null; readonly lastError: string | null } | null;
  readonly totals: { readonly sent: number; readonly accepted: number; readonly refused: number; readonly included: number };
  readonly nodes: readonly NodeSample[];
}

export const quantile = (sorted: readonly number[], q: number): number | null =>
  sorted.length === 0 ? null : Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]! * 10) / 10;

interface BftStatus {
  readonly nodes: ReadonlyArray<{ replica: number; answered: boolean; view?: number; viewChange?: boolean; lastExecuted?: number; block?: number }>;
}

export class Recorder {
  readonly samples: Sample[] = [];
  /** Inclusion latency (ms) of every transaction of ours seen in a block. */
  readonly latencies: number[] = [];
  included = 0;
  includedDuringLoad = 0;
  /** Transactions in blocks that the harness did not send (or that were refused). */
  unknownIncluded = 0;
  phase: 'load' | 'drain' = 'load';
  #interval: number[] = [];
  #includedInterval = 0;
  #stopped = false;
  #loop: Promise<void> = Promise.resolve();

  constructor(
    readonly o: {
      readonly rpc: SoakRpc;
      readonly nodes: readonly NodeHandle[];
      readonly ledger: Ledger;
      readonly reads: ReadLoad | null;
      readonly watcher: InclusionWatcher;
      readonly sampleMs: number;
      readonly file: string;
      readonly clock: () => number;
      readonly log: (s: string) => void;
    },
  ) {
    writeFileSync(o.file, '');
  }

  /** A block's transactions, as the watcher saw them. */
  onBlock(block: bigint, hashes: readonly string[], seenAt: number): void {
    for (const h of hashes) {
      const tx = this.o.ledger.txs.get(h);
      if (tx === undefined) {
        this.unknownIncluded++;
        continue;
      }
      if (tx.seenAt !== null) continue;
      this.o.ledger.seen(tx, seenAt, block);
      const ms = seenAt - tx.sentAt;
      this.latencies.push(ms);
      this.#interval.push(ms);
      this.#includedInterval++;
      this.included++;
      if (this.phase === 'load') this.includedDuringLoad++;
    }
  }

  start(): void {
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  async #run(): Promise<void> {
    let last = this.o.clock();
    const period = this.o.sampleMs / 1000;
    // On a grid of sampleMs from the load's start; a sample that took longer skips the slots it missed.
    for (let k = 1; !this.#stopped; k = Math.max(k + 1, Math.floor(this.o.clock() / period) + 1)) {
      while (!this.#stopped && this.o.clock() < k * period) await sleep(Math.min(100, this.o.sampleMs));
      if (this.#stopped) return;
      const now = this.o.clock();
      const sample = await this.#sample(now, now - last);
      last = now;
      this.samples.push(sample);
      appendFileSync(this.o.file, `${JSON.stringify(sample)}\n`);
      this.o.log(progressLine(sample));
    }
  }

  async #sample(t: number, dt: number): Promise<Sample> {
    // The interval's counts first (they end now), then the nodes, which take a moment to answer.
    const counts = this.o.ledger.take();
    const reads = this.o.reads?.take() ?? null;
    const lat = this.#interval.sort((a, b) => a - b);
    const included = this.#includedInterval;
    this.#interval = [];
    this.#includedInterval = 0;
    const [nodes, pool] = await Promise.all([this.#nodes(), this.#pool()]);
    const perSec = (n: number) => Math.round((n / dt) * 10) / 10;
    const { ledger } = this.o;
    return {
      t: Math.round(t * 10) / 10,
      phase: this.phase,
      sentPerSec: perSec(counts.sent),
      acceptedPerSec: perSec(counts.accepted),
      refusedPerSec: perSec(counts.refused),
      skippedPerSec: perSec(counts.skipped),
      answerP50Ms: quantile(counts.answerMs.sort((a, b) => a - b), 0.5),
      tps: perSec(included),
      inclusionP50Ms: quantile(lat, 0.5),
      inclusionP99Ms: quantile(lat, 0.99),
      head: Number(this.o.watcher.head),
      watcher: { errors: this.o.watcher.transportErrors, lastError: this.o.watcher.lastError },
      pool,
      reads:
        reads === null
          ? null
          : {
              perSec: perSec(reads.calls + reads.logs),
              failed: reads.failed,
              skipped: reads.skipped,
              p50Ms: quantile(reads.latencies.sort((a, b) => a - b), 0.5),
              lastError: reads.lastError,
            },
      totals: { sent: ledger.sent, accepted: ledger.accepted, refused: ledger.refused, included: this.included },
      nodes,
    };
  }

  /** Each node's sample; without processes (--url), the replicas as `bft_status` reports them. */
  async #nodes(): Promise<NodeSample[]> {
    if (this.o.nodes.length > 0) return Promise.all(this.o.nodes.map(sampleNode));
    try {
      const [a] = await this.o.rpc.batch([['bft_status', []]]);
      const status = a!.result as BftStatus;
      return status.nodes.map((n) => ({
        name: `replica${n.replica}`,
        up: n.answered,
        pid: null,
        rssMb: null,
        heapUsedMb: null,
        view: n.view ?? null,
        viewChanges: null,
        viewActive: n.viewChange === undefined ? null : !n.viewChange,
        lastExecuted: n.lastExecuted ?? null,
        head: n.block ?? null,
        localHead: null,
        poolPending: null,
        poolQueued: null,
      }));
    } catch {
      return [];
    }
  }

  async #pool(): Promise<Sample['pool']> {
    try {
      const [a] = await this.o.rpc.batch([['txpool_status', []]]);
      const r = a!.result as { pending: string; queued: string };
      return { pending: Number(r.pending), queued: Number(r.queued) };
    } catch {
      return null;
    }
  }
}

function progressLine(s: Sample): string {
  const nodes = s.nodes.filter((n) => n.name !== 'client');
  const views = nodes.map((n) => (n.up ? (n.view ?? '?') : 'down')).join(',');
  const rss = s.nodes.map((n) => n.rssMb === null ? '-' : Math.round(n.rssMb)).join('/');
  const ms = (x: number | null) => (x === null ? '-' : `${Math.round(x)}`);
  return (
    `[${String(Math.round(s.t)).padStart(5)} s] ${s.phase.padEnd(5)} tps ${String(Math.round(s.tps)).padStart(5)}` +
    ` | sent ${Math.round(s.sentPerSec)}/s acc ${Math.round(s.acceptedPerSec)} ref ${Math.round(s.refusedPerSec)}${s.skippedPerSec > 0 ? ` skip ${Math.round(s.skippedPerSec)}` : ''} (answer ${ms(s.answerP50Ms)} ms)` +
    ` | incl p50 ${ms(s.inclusionP50Ms)} p99 ${ms(s.inclusionP99Ms)} ms | head ${s.head} pool ${s.pool === null ? '?' : `${s.pool.pending}+${s.pool.queued}`}` +
    ` | view ${views} | rss ${rss} MB${s.reads === null ? '' : ` | reads ${Math.round(s.reads.perSec)}/s${s.reads.failed > 0 ? ` (${s.reads.failed} failed: ${s.reads.lastError?.slice(0, 80)})` : ''}`}`
  );
}
