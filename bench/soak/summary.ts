/**
 * The soak's summary — the last line of `npm run soak` — from the run's record: what was sent and
 * what became of it, memory (largest RSS, growth after the warm-up), views, inclusion latency,
 * and what each kill cost.
 */
import type { Accounting } from './accounting.ts';
import type { KillRecord } from './chaos.ts';
import type { Ledger } from './ledger.ts';
import type { Death } from './processes.ts';
import { quantile, type Recorder, type Sample } from './recorder.ts';

export interface SoakSummary {
  readonly durationSec: number;
  readonly sent: number;
  readonly accepted: number;
  readonly refused: number;
  readonly included: number;
  readonly lost: number;
  /** The highest view at the end minus the highest at the start. */
  readonly viewChanges: number | null;
  readonly maxRssMb: Record<string, number | null>;
  readonly rssGrowthPct: Record<string, number | null>;
  /** Our transactions included per second of load. */
  readonly tps: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly kills: number;
  /** The longest commit resumption after a kill; null if there was none, or one never resumed. */
  readonly maxResumeMs: number | null;
  readonly viewChangesPerKill: number | null;
  readonly balancesOk: boolean;
  /** The matrix shape held for the run (`--shape`), or null for the mixed load. */
  readonly shape: string | null;
  /** Per minute of load: throughput, view changes and memory over time. */
  readonly timeline: readonly Minute[];
  // What follows explains the figures above.
  readonly ok: boolean;
  readonly rate: number | 'max';
  readonly uncertain: number;
  readonly skipped: number;
  readonly reverted: number;
  readonly nonceMismatches: number;
  readonly lostStillPending: number;
  readonly unknownIncluded: number;
  readonly killsNotResumed: number;
  readonly readFailures: number;
  readonly deaths: readonly Death[];
  /** Which node processes were running when the run ended (before the harness stopped them). */
  readonly aliveAtEnd: Record<string, boolean> | null;
  readonly refusals: Record<string, number>;
  readonly killDetails: readonly Omit<KillRecord, 'killedAt' | 'open'>[];
  readonly problems: readonly string[];
  readonly interrupted: boolean;
  /** CPU seconds the harness itself used (it shares the machine with the nodes). */
  readonly harnessCpuSec: number;
  readonly out: string;
}

export interface RunResult {
  readonly ledger: Ledger;
  readonly recorder: Recorder;
  readonly samples: readonly Sample[];
  readonly kills: readonly KillRecord[];
  readonly loadSec: number;
  readonly interrupted: boolean;
  /** The client node died: nothing more can be read from it (no drain, no accounting). */
  readonly clientDied: boolean;
  readonly readFailures: number;
}

/** One minute of the load (the last one may be shorter). */
export interface Minute {
  readonly minute: number;
  /** Our transactions first seen in a block, per second, over the minute. */
  readonly tps: number;
  /** The highest replica view at the minute's end minus at its start. */
  readonly viewChanges: number | null;
  /** The largest RSS of any replica, and of the client node, during the minute. */
  readonly replicaRssMb: number | null;
  readonly clientRssMb: number | null;
}

/** What the summary needs of the run's options. */
export interface SummaryOptions {
  readonly shape?: string;
  readonly rate: number | 'max';
  readonly durationSec: number;
  readonly warmupSec?: number;
  readonly out: string;
}

const NODE_NAMES = ['replica0', 'replica1', 'replica2', 'replica3', 'client'];

/**
 * Per node: the largest RSS, and the growth from the end of the warm-up to the end of the load,
 * within one process: for a node restarted during the run, the warm-up counts from its restart
 * (null if its last process did not live past a warm-up).
 */
function memoryFigures(samples: readonly Sample[], warmupSec: number) {
  const maxRssMb: Record<string, number | null> = {};
  const rssGrowthPct: Record<string, number | null> = {};
  const load = samples.filter((s) => s.phase === 'load');
  for (const name of NODE_NAMES) {
    const node = (s: Sample) => s.nodes.find((n) => n.name === name);
    const all = samples.flatMap((s) => (node(s)?.rssMb ?? null) === null ? [] : [node(s)!.rssMb!]);
    maxRssMb[name] = all.length === 0 ? null : Math.max(...all);
    const end = load.findLast((s) => (node(s)?.rssMb ?? null) !== null);
    rssGrowthPct[name] = null;
    if (end === undefined) continue;
    const pid = node(end)!.pid;
    const first = load.find((s) => node(s)?.pid === pid)!;
    // A process there from the start warms up with the run; a restarted one from its restart.
    const from = first === load[0] ? warmupSec : first.t + warmupSec;
    const warm = load.find((s) => node(s)?.pid === pid && s.t >= from && node(s)!.rssMb !== null);
    if (warm !== undefined && end.t > warm.t) rssGrowthPct[name] = Math.round(((node(end)!.rssMb! - node(warm)!.rssMb!) / node(warm)!.rssMb!) * 1000) / 10;
  }
  return { maxRssMb, rssGrowthPct };
}

/** The load's samples by minute (each sample's tps is the rate over its own interval). */
export function timeline(samples: readonly Sample[]): Minute[] {
  const load = samples.filter((s) => s.phase === 'load' && s.t > 0);
  const out: Minute[] = [];
  for (let m = 0; load.some((s) => s.t > m * 60); m++) {
    const inMinute = load.filter((s) => s.t > m * 60 && s.t <= (m + 1) * 60);
    if (inMinute.length === 0) continue;
    // Weighted by each sample's interval, so an uneven sampler does not skew the figure.
    let prev = m * 60;
    let included = 0;
    for (const s of inMinute) {
      included += s.tps * (s.t - prev);
      prev = s.t;
    }
    const rss = (pick: (name: string) => boolean) => {
      const all = inMinute.flatMap((s) => s.nodes.filter((n) => pick(n.name) && n.rssMb !== null).map((n) => n.rssMb!));
      return all.length === 0 ? null : Math.max(...all);
    };
    const before = load.filter((s) => s.t <= m * 60);
    out.push({
      minute: m + 1,
      tps: Math.round(included / (prev - m * 60)),
      viewChanges: viewSpan([...before.slice(-1), ...inMinute]),
      replicaRssMb: rss((n) => n !== 'client'),
      clientRssMb: rss((n) => n === 'client'),
    });
  }
  return out;
}

function viewSpan(samples: readonly Sample[]): number | null {
  const top = (s: Sample) => Math.max(-1, ...s.nodes.flatMap((n) => (n.name !== 'client' && n.view !== null ? [n.view] : [])));
  const withView = samples.filter((s) => top(s) >= 0);
  return withView.length === 0 ? null : top(withView.at(-1)!) - top(withView[0]!);
}

export function summarize(o: SummaryOptions, run: RunResult, a: Accounting | null, accountingError: string | null, deaths: readonly Death[], aliveAtEnd: Record<string, boolean> | null): SoakSummary {
  const { ledger, recorder, kills } = run;
  const warmupSec = o.warmupSec ?? Math.min(300, o.durationSec / 4);
  const lat = [...recorder.latencies].sort((x, y) => x - y);
  const resumed = kills.filter((k) => k.resumeMs !== null);
  const costs = kills.flatMap((k) => (k.viewChanges === null ? [] : [k.viewChanges]));
  const balancesOk = a?.balancesOk ?? false;
  const lost = a?.lost ?? ledger.outstanding();
  const skipped = run.interrupted ? ['interrupted: no drain, no accounting'] : run.clientDied ? ['the client node died: no drain, no accounting (lost counts what was not seen in a block)'] : [];
  const problems = [...skipped, ...(a?.problems ?? []), ...(accountingError === null ? [] : [accountingError]), ...deaths.map((d) => `${d.node} died on its own at ${d.atSec} s (code ${d.code}, signal ${d.signal})`)];
  const refusals = Object.fromEntries([...ledger.refusals].sort((x, y) => y[1] - x[1]).slice(0, 8));
  return {
    durationSec: run.loadSec,
    sent: ledger.sent,
    accepted: a?.accepted ?? ledger.accepted,
    refused: ledger.refused,
    included: a?.included ?? recorder.included,
    lost,
    viewChanges: viewSpan(run.samples),
    ...memoryFigures(run.samples, warmupSec),
    tps: run.loadSec > 0 ? Math.round(recorder.includedDuringLoad / run.loadSec) : 0,
    p50Ms: quantile(lat, 0.5),
    p99Ms: quantile(lat, 0.99),
    kills: kills.length,
    maxResumeMs: kills.length === 0 || resumed.length < kills.length ? null : Math.max(...resumed.map((k) => k.resumeMs!)),
    viewChangesPerKill: costs.length === 0 ? null : Math.round((costs.reduce((x, y) => x + y, 0) / costs.length) * 100) / 100,
    balancesOk,
    shape: o.shape ?? null,
    timeline: timeline(run.samples),
    ok: !run.interrupted && lost === 0 && balancesOk && deaths.length === 0 && problems.length === 0,
    rate: o.rate,
    uncertain: ledger.uncertain,
    skipped: ledger.skipped,
    reverted: a?.reverted ?? 0,
    nonceMismatches: a?.nonceMismatches ?? 0,
    lostStillPending: a?.lostStillPending ?? 0,
    unknownIncluded: recorder.unknownIncluded,
    killsNotResumed: kills.length - resumed.length,
    readFailures: run.readFailures,
    deaths,
    aliveAtEnd,
    refusals,
    killDetails: kills.map(({ killedAt: _k, open: _o, ...k }) => k),
    problems,
    interrupted: run.interrupted,
    harnessCpuSec: Math.round((process.cpuUsage().user + process.cpuUsage().system) / 1e5) / 10,
    out: o.out,
  };
}
