/**
 * `npm run soak`: a long run of the network under a steady mixed load, with replicas killed and
 * restarted on a schedule if asked, watching for what short benchmarks miss — memory that only
 * grows, view-change storms, transactions that are acknowledged and never land, balances that stop
 * adding up.
 *
 *  1. A fresh network like `bulwark dev` makes (trusted setup, four replicas and one client node,
 *     chain id 1337, free gas, `--senders` + 1 funded development accounts), each node its own
 *     process on free loopback ports with an explicit heap limit (test/helpers/network.ts); or,
 *     with `--url`, an existing network (no chaos, no process figures: RPC-level ones only).
 *  2. Set-up: the replicas' own consensus keys in effect, the Token deployed and given to every
 *     sender, balances and nonces read.
 *  3. For `--duration` seconds an open-loop mixed load (bench/soak/load.ts: ETH transfers, ERC-20
 *     transfers, deploys; `--rate` per second or `max`) with read traffic beside it
 *     (bench/soak/reads.ts), every node sampled every `--sample-ms` (bench/soak/recorder.ts:
 *     `<out>/samples.jsonl`, progress on stderr), and with `--chaos` a replica killed every
 *     `--chaos-every` seconds (bench/soak/chaos.ts).
 *  4. The load stops; the harness waits (at most `--drain` seconds) for every accepted transaction
 *     to be in a block, then checks the chain against its own record (bench/soak/accounting.ts).
 *  5. The nodes stop; `<out>/soak.svg` and `<out>/summary.json` are written; the last line of
 *     stdout is the summary as one JSON object, with a per-minute timeline of throughput, view
 *     changes and memory. Exit code 1 if a transaction was lost, the balances do not add up, or a
 *     node died on its own.
 *
 * `--shape senders=200,batch=100,inflight=8,kind=transfer` runs one cell of `npm run bench`'s
 * matrix (bench/rpc/shapes.ts) for `--duration` seconds (default 600): that shape's senders, batches
 * and batches in flight at the highest rate, one kind of transaction only, no reads beside it
 * unless asked — the sustained figure for the shape the benchmark measures in a burst. One
 * difference remains: the soak keeps one transaction per sender on the wire, so a shape whose
 * batch × in flight exceeds its senders has fewer transactions in flight here than in the bench.
 *
 * `runSoak(options)` is the same run for tests (test/e2e/soak.test.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { initHashes } from '../src/crypto/hash.ts';
import { parseChainConfig } from '../src/execution/chain-config.ts';
import { devAccounts } from '../src/setup/dev-accounts.ts';
import { startNetwork } from '../test/helpers/network.ts';
import { account, holdersOf, nonceAccountsOf, type Accounting } from './soak/accounting.ts';
import { deployToken, chainOf, snapshot, type Chain, type Hex, type Snapshot } from './soak/chain.ts';
import { Chaos } from './soak/chaos.ts';
import { Ledger } from './soak/ledger.ts';
import { LoadGenerator, parseMix, type Mix } from './soak/load.ts';
import { plotSvg } from './soak/plot.ts';
import { Processes } from './soak/processes.ts';
import { ReadLoad } from './soak/reads.ts';
import { Recorder } from './soak/recorder.ts';
import { SoakRpc, sleep, type RpcCall } from './soak/rpc.ts';
import { summarize, type RunResult, type SoakSummary } from './soak/summary.ts';
import { InclusionWatcher } from './soak/watcher.ts';
import { NODE_HEAP_MB, NODE_SEMI_SPACE_MB } from '../src/cli/node-process.ts';
import { parseShape, shapeKey, ShapeError, type Shape } from './rpc/shapes.ts';

export type { SoakSummary } from './soak/summary.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ETH = 10n ** 18n;

export interface SoakOptions {
  /** Drive this JSON-RPC endpoint instead of starting a network. */
  readonly url?: string;
  readonly durationSec: number;
  /** RSS growth is measured from here (default min(300, duration / 4)). */
  readonly warmupSec?: number;
  readonly senders: number;
  readonly rate: number | 'max';
  readonly batch: number;
  readonly inFlight: number;
  /** Accepted transactions a sender may have waiting for a block (bench/soak/load.ts). */
  readonly maxPending: number;
  readonly mix: Mix;
  /** The matrix shape this run holds for its duration (`--shape`), for the summary. */
  readonly shape?: string;
  /** eth_call and eth_getLogs per second. */
  readonly callRate: number;
  readonly logsRate: number;
  readonly sampleMs: number;
  readonly chaos: boolean;
  readonly chaosEverySec: number;
  readonly chaosDownSec: number;
  readonly chaosFirstSec?: number;
  readonly chaosMaxKills?: number;
  /** The longest wait for accepted transactions to land after the load. */
  readonly drainSec: number;
  readonly heapMb: number;
  /** Each node's --max-semi-space-size in MB (the young generation is twice it). */
  readonly semiSpaceMb: number;
  readonly logLevel: string;
  readonly out: string;
  /** Leave the network's directory (data, node logs) in place. */
  readonly keep: boolean;
  /** Ends the load early (Ctrl-C): no drain, no accounting. */
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
}

export const SOAK_DEFAULTS: SoakOptions = {
  durationSec: 600,
  senders: 200,
  rate: 200,
  batch: 50,
  inFlight: 4,
  maxPending: 16,
  mix: { transfer: 60, erc20: 35, deploy: 5 },
  callRate: 20,
  logsRate: 2,
  sampleMs: 2_000,
  chaos: false,
  chaosEverySec: 120,
  chaosDownSec: 30,
  drainSec: 120,
  heapMb: NODE_HEAP_MB,
  semiSpaceMb: NODE_SEMI_SPACE_MB,
  logLevel: 'warn',
  out: join(ROOT, 'bench', 'soak-out'),
  keep: false,
};

/** Seconds since the load started (negative during set-up). */
class Clock {
  #t0 = performance.now();
  reset(): void {
    this.#t0 = performance.now();
  }
  now = (): number => (performance.now() - this.#t0) / 1000;
}

export async function runSoak(options: Partial<SoakOptions> = {}): Promise<SoakSummary> {
  const o: SoakOptions = { ...SOAK_DEFAULTS, ...options };
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  if (o.shape !== undefined) {
    log(`shape ${o.shape}: ${o.senders} senders, batches of ${o.batch}, ${o.inFlight} in flight at the highest rate`);
    // The soak's generator keeps one transaction per sender on the wire (its nonces stay right
    // through refusals and lost answers); npm run bench's cells send several per sender per batch.
    if (o.batch * o.inFlight > o.senders) log(`note: at most one transaction per sender on the wire here, so at most ${o.senders} in flight (batches of up to ${Math.min(o.batch, o.senders)}), where npm run bench's cell has ${o.batch * o.inFlight}`);
  }
  await initHashes();
  mkdirSync(o.out, { recursive: true });
  const clock = new Clock();
  const procs = o.url === undefined ? await startLocal(o, clock, log) : null;
  // A harness that exits before its orderly stop (a second Ctrl-C) takes its nodes with it.
  const reap = () => procs?.killAllNow();
  process.on('exit', reap);
  const url = procs?.net.url ?? o.url!;
  // One connection pool per part, so a slow batch of sends does not hold up the watcher.
  const rpc = new SoakRpc(url, 4);
  const sendRpc = new SoakRpc(url, Math.max(4 * o.inFlight, 16) + 4);
  const watchRpc = new SoakRpc(url, 2, 10_000);
  const readRpc = new SoakRpc(url, 16, 10_000);
  // The accounting reads thousands of balances and receipts from a node that may still be busy.
  const checkRpc = new SoakRpc(url, 2, 120_000);
  try {
    const { chain, token, before, firstNonces } = await prepare(rpc, o, log);
    const run = await drive(o, { rpc, sendRpc, watchRpc, readRpc }, procs, clock, { chain, token, firstNonces }, log);
    let accounting: Accounting | null = null;
    let accountingError: string | null = null;
    if (!run.interrupted && !run.clientDied) {
      try {
        accounting = await account(checkRpc, chain, token, run.ledger, before, log);
      } catch (err) {
        accountingError = `the accounting failed: ${(err as Error).message}`;
        log(`!! ${accountingError}`);
      }
    }
    const aliveAtEnd = procs === null ? null : Object.fromEntries(procs.handles().map((n) => [n.name, n.running()]));
    if (procs !== null) {
      log(o.keep ? `stopping the nodes; the network stays in ${procs.net.root} (node logs in logs/)` : 'stopping the nodes');
      await procs.stop();
    }
    const summary = summarize(o, run, accounting, accountingError, procs?.deaths ?? [], aliveAtEnd);
    writeFileSync(join(o.out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    const secs = (ms: number | null) => (ms === null ? '-' : `${(ms / 1000).toFixed(1)} s`);
    const title = `bulwark soak${o.shape === undefined ? '' : ` (${o.shape})`}: ${summary.durationSec} s at ${o.rate === 'max' ? 'max rate' : `${o.rate} tx/s`}: ${summary.tps} tps, inclusion p50 ${secs(summary.p50Ms)}, p99 ${secs(summary.p99Ms)}, lost ${summary.lost}, ${summary.viewChanges ?? '?'} view changes${o.chaos ? `, ${summary.kills} kills` : ''}`;
    writeFileSync(join(o.out, 'soak.svg'), plotSvg(title, run.samples, { kills: run.kills, loadEndSec: run.loadSec }));
    log(`samples in ${join(o.out, 'samples.jsonl')}, plot in ${join(o.out, 'soak.svg')}`);
    for (const m of summary.timeline) log(`minute ${m.minute}: ${m.tps} tx/s, view changes ${m.viewChanges ?? '?'}, replica RSS ≤ ${m.replicaRssMb ?? '?'} MB, client ${m.clientRssMb ?? '?'} MB`);
    for (const p of summary.problems) log(`!! ${p}`);
    return summary;
  } finally {
    await Promise.all([rpc, sendRpc, watchRpc, readRpc, checkRpc].map((r) => r.close()));
    await procs?.stop(); // after a failure; a no-op after the stop above
    process.off('exit', reap);
  }
}

/** Four replicas and a client node, the senders funded with 10,000 ETH each, as `bulwark dev` does. */
async function startLocal(o: SoakOptions, clock: Clock, log: (s: string) => void): Promise<Processes> {
  const alloc = Object.fromEntries(devAccounts(o.senders + 1).map((a) => [a.address, { balance: (10_000n * ETH).toString() }]));
  log(`starting four replicas and a client node (heap limit ${o.heapMb} MB each)`);
  const net = await startNetwork(0x50, {
    chainConfig: parseChainConfig({ chainId: '1337', alloc }),
    heapMb: o.heapMb,
    semiSpaceMb: o.semiSpaceMb,
    logLevel: o.logLevel,
    keep: o.keep,
  });
  log(`network in ${net.root}, JSON-RPC at ${net.url}`);
  return new Processes(net, clock.now, log);
}

interface Prepared {
  readonly chain: Chain;
  readonly token: Hex;
  readonly before: Snapshot;
  readonly firstNonces: bigint[];
}

async function prepare(rpc: SoakRpc, o: SoakOptions, log: (s: string) => void): Promise<Prepared> {
  await keysInEffect(rpc, log);
  const chain = await chainOf(rpc, o.senders);
  const token = await deployToken(rpc, chain, log);
  const before = await snapshot(rpc, token, holdersOf(chain), nonceAccountsOf(chain));
  const firstNonces = (await rpc.all<string>(chain.senders.map((s): RpcCall => ['eth_getTransactionCount', [s.address, 'pending']]))).map(BigInt);
  return { chain, token, before, firstNonces };
}

/**
 * A new network first replaces its bootstrap consensus keys; client transactions wait until then.
 * That start-up is not part of the soak.
 */
async function keysInEffect(rpc: SoakRpc, log: (s: string) => void): Promise<void> {
  const t0 = performance.now();
  for (;;) {
    const status = await rpc.call<{ nodes: { keyEpoch?: number }[] }>('bft_status');
    if (status.nodes.every((n) => (n.keyEpoch ?? 0) >= 1)) break;
    if (performance.now() - t0 > 180_000) throw new Error('the replicas did not switch to their own consensus keys within 3 minutes');
    await sleep(250);
  }
  log(`consensus keys in effect after ${Math.round(performance.now() - t0)} ms`);
}

interface Rpcs {
  readonly rpc: SoakRpc;
  readonly sendRpc: SoakRpc;
  readonly watchRpc: SoakRpc;
  readonly readRpc: SoakRpc;
}

/** The load phase and the drain after it. */
async function drive(o: SoakOptions, rpcs: Rpcs, procs: Processes | null, clock: Clock, p: Omit<Prepared, 'before'>, log: (s: string) => void): Promise<RunResult> {
  const ledger = new Ledger();
  const watcher = new InclusionWatcher(rpcs.watchRpc);
  const reads = new ReadLoad(rpcs.readRpc, p.chain, p.token, () => watcher.head, o.callRate, o.logsRate);
  const recorder = new Recorder({
    rpc: rpcs.rpc,
    nodes: procs?.handles() ?? [],
    ledger,
    reads,
    watcher,
    sampleMs: o.sampleMs,
    file: join(o.out, 'samples.jsonl'),
    clock: clock.now,
    log,
  });
  // The highest view a live replica reported in the latest sample that has one.
  const maxView = () => {
    for (let i = recorder.samples.length - 1; i >= 0; i--) {
      const views = recorder.samples[i]!.nodes.flatMap((n) => (n.up && n.view !== null && n.name !== 'client' ? [n.view] : []));
      if (views.length > 0) return Math.max(...views);
    }
    return null;
  };
  const chaos =
    o.chaos && procs !== null
      ? new Chaos({ everySec: o.chaosEverySec, downSec: o.chaosDownSec, firstSec: o.chaosFirstSec, maxKills: o.chaosMaxKills, lastSec: o.durationSec - 10 }, procs, { clock: clock.now, view: maxView, head: () => watcher.head, sentAt: (h) => ledger.txs.get(h)?.sentAt }, log)
      : null;
  if (o.chaos && procs === null) log('--chaos needs a network of our own; with --url it is ignored');
  const load = new LoadGenerator({ rpc: rpcs.sendRpc, chain: p.chain, token: p.token, ledger, mix: o.mix, rate: o.rate, batch: o.batch, inFlight: o.inFlight, maxPending: o.maxPending }, p.firstNonces);
  await watcher.start();
  watcher.onBlock((number, hashes, seenAt) => {
    recorder.onBlock(number, hashes, seenAt);
    chaos?.onBlock(hashes, seenAt);
  });
  log(`load: ${o.rate === 'max' ? `max rate (${o.inFlight} batches of ${o.batch} in flight)` : `${o.rate} tx/s`} from ${o.senders} senders for ${o.durationSec} s, mix ${JSON.stringify(o.mix)}, reads ${o.callRate} eth_call/s + ${o.logsRate} eth_getLogs/s${chaos === null ? '' : `, a replica killed every ${o.chaosEverySec} s for ${o.chaosDownSec} s`}`);
  clock.reset();
  recorder.start();
  load.start();
  reads.start();
  chaos?.start();
  o.signal?.addEventListener('abort', () => procs?.expectAll());
  const clientDied = () => procs?.deaths.some((d) => d.node === 'client') === true;
  while (clock.now() < o.durationSec && o.signal?.aborted !== true && !clientDied()) await sleep(200);
  const loadSec = Math.round(clock.now() * 10) / 10;
  const interrupted = o.signal?.aborted === true;
  if (clientDied()) log('!! the client node died: the load ends here');
  log(`load stopped after ${loadSec} s; ${ledger.accepted} accepted, ${ledger.refused} refused, ${ledger.uncertain} without an answer`);
  await chaos?.stop();
  await Promise.all([load.stop(), reads.stop()]);
  recorder.phase = 'drain';
  if (!interrupted && !clientDied()) await drain(o, ledger, rpcs.rpc, log);
  await recorder.stop();
  await watcher.stop();
  return { ledger, recorder, samples: recorder.samples, kills: chaos?.kills ?? [], loadSec, interrupted, clientDied: clientDied(), readFailures: reads.failed };
}

/**
 * Waits for every accepted transaction to be seen in a block: at most `drainSec`, and no longer
 * than 20 s once the pool is empty and the node's head has stopped (what is missing then is lost).
 */
async function drain(o: SoakOptions, ledger: Ledger, rpc: SoakRpc, log: (s: string) => void): Promise<void> {
  const t0 = performance.now();
  let outstanding = ledger.outstanding();
  log(`drain: waiting for ${outstanding} accepted transactions to be included (at most ${o.drainSec} s)`);
  let head = { number: -1, at: t0 };
  while (outstanding > 0 && performance.now() - t0 < o.drainSec * 1000) {
    await sleep(1_000);
    outstanding = ledger.outstanding();
    // The node's head, asked afresh (the watcher may be behind it).
    const latest = await rpc.call<{ number: string }>('eth_getBlockByNumber', ['latest', false], 2_000).then((b) => Number(b.number), () => null);
    if (latest !== null && latest !== head.number) head = { number: latest, at: performance.now() };
    if (performance.now() - head.at > 20_000 && (await poolEmpty(rpc))) {
      log(`drain: the pool is empty and the head has stayed at ${head.number} for 20 s; ${outstanding} accepted transactions not seen in a block`);
      return;
    }
  }
  log(outstanding === 0 ? `drain: all included after ${Math.round(performance.now() - t0)} ms` : `drain: gave up after ${o.drainSec} s with ${outstanding} not seen in a block`);
}

async function poolEmpty(rpc: SoakRpc): Promise<boolean> {
  try {
    const s = await rpc.call<{ pending: string; queued: string }>('txpool_status', [], 2_000);
    return Number(s.pending) + Number(s.queued) === 0;
  } catch {
    return false;
  }
}

// ---- the command line ----

const positive = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${what}: expected a positive number, got "${v}"`);
  return n;
};
const nonNegative = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${what}: expected a number ≥ 0, got "${v}"`);
  return n;
};
const whole = (what: string, min = 1, max = Number.MAX_SAFE_INTEGER) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${what}: expected a whole number ${min}..${max}, got "${v}"`);
  return n;
};

interface Flags {
  url?: string;
  duration: number;
  warmup?: number;
  senders: number;
  rate: number | 'max';
  batch: number;
  inFlight: number;
  maxPending: number;
  mix: Mix;
  callRate: number;
  logsRate: number;
  sampleMs: number;
  chaos: boolean;
  chaosEvery: number;
  chaosDown: number;
  chaosFirst?: number;
  chaosKills?: number;
  shape?: Shape;
  drain: number;
  heapMb: number;
  semiSpaceMb: number;
  logLevel: string;
  out: string;
  keep: boolean;
}

function parseArgs(argv: readonly string[]): SoakOptions {
  const d = SOAK_DEFAULTS;
  const program = new Command('soak')
    .description('a long run of the network under a mixed load, optionally with replicas killed and restarted; the last line of stdout is a JSON summary')
    .addOption(new Option('--url <url>', 'drive this existing network instead of starting one (no chaos, no process figures)'))
    .addOption(new Option('--duration <s>', 'seconds of load').argParser(positive('--duration')).default(d.durationSec))
    .addOption(new Option('--warmup <s>', 'RSS growth is measured from here (default min(300, duration/4))').argParser(positive('--warmup')))
    .addOption(new Option('--senders <n>', 'funded accounts sending the load').argParser(whole('--senders', 1, 999)).default(d.senders))
    .addOption(new Option('--rate <r>', "target transactions per second, or 'max'").argParser((v) => (v === 'max' ? 'max' : positive('--rate')(v))).default(d.rate))
    .addOption(new Option('--batch <n>', 'transactions per JSON-RPC batch, at most').argParser(whole('--batch')).default(d.batch))
    .addOption(new Option('--in-flight <k>', "batches in flight at --rate max (at a target rate: up to max(4k, 16))").argParser(whole('--in-flight')).default(d.inFlight))
    .addOption(new Option('--max-pending <n>', 'accepted transactions a sender may have waiting for a block (the pool guarantees 16)').argParser(whole('--max-pending')).default(d.maxPending))
    .addOption(new Option('--mix <mix>', 'relative weights of the transaction kinds').argParser(parseMix).default(d.mix, 'transfer=60,erc20=35,deploy=5'))
    .addOption(
      new Option('--shape <shape>', "one cell of npm run bench's matrix, e.g. senders=200,batch=100,inflight=8,kind=transfer: its senders, batch and in flight at --rate max, one kind only, --max-pending 64 and no reads unless given")
        .argParser(shapeArg)
        .conflicts(['senders', 'rate', 'batch', 'inFlight', 'mix']),
    )
    .addOption(new Option('--call-rate <r>', 'eth_call (Token balanceOf) per second').argParser(nonNegative('--call-rate')).default(d.callRate))
    .addOption(new Option('--logs-rate <r>', 'eth_getLogs (Transfer events over the last 100 blocks) per second').argParser(nonNegative('--logs-rate')).default(d.logsRate))
    .addOption(new Option('--sample-ms <ms>', 'sampling interval').argParser(whole('--sample-ms', 100)).default(d.sampleMs))
    .addOption(new Option('--chaos', 'SIGKILL a replica every --chaos-every seconds (the primary every other time) and restart it --chaos-down seconds later').default(false))
    .addOption(new Option('--chaos-every <s>', 'seconds between kills').argParser(positive('--chaos-every')).default(d.chaosEverySec))
    .addOption(new Option('--chaos-down <s>', 'seconds a killed replica stays down').argParser(positive('--chaos-down')).default(d.chaosDownSec))
    .addOption(new Option('--chaos-first <s>', 'seconds into the load of the first kill (default --chaos-every)').argParser(positive('--chaos-first')))
    .addOption(new Option('--chaos-kills <n>', 'stop after this many kills').argParser(whole('--chaos-kills')))
    .addOption(new Option('--drain <s>', 'longest wait for accepted transactions to land after the load').argParser(positive('--drain')).default(d.drainSec))
    .addOption(new Option('--heap-mb <mb>', "each node's --max-old-space-size").argParser(whole('--heap-mb', 256)).default(d.heapMb))
    .addOption(new Option('--semi-space-mb <mb>', "each node's --max-semi-space-size").argParser(whole('--semi-space-mb', 1)).default(d.semiSpaceMb))
    .addOption(new Option('--log-level <level>', "the nodes' log level (their logs go to <network>/logs)").choices(['fatal', 'error', 'warn', 'info', 'debug']).default(d.logLevel))
    .addOption(new Option('--out <dir>', 'where samples.jsonl, soak.svg and summary.json go').default('bench/soak-out'))
    .addOption(new Option('--keep', "keep the network's directory (data and node logs) afterwards").default(false))
    .parse(argv, { from: 'user' });
  const f = program.opts<Flags>();
  const unless = (option: string, value: number, given: number) => (program.getOptionValueSource(option) === 'cli' ? given : value);
  const shape = f.shape === undefined ? {} : shapeOptions(f.shape, { maxPending: unless('maxPending', 64, f.maxPending), callRate: unless('callRate', 0, f.callRate), logsRate: unless('logsRate', 0, f.logsRate) });
  return {
    ...(f.url === undefined ? {} : { url: f.url }),
    durationSec: f.duration,
    ...(f.warmup === undefined ? {} : { warmupSec: f.warmup }),
    senders: f.senders,
    rate: f.rate,
    batch: f.batch,
    inFlight: f.inFlight,
    maxPending: f.maxPending,
    mix: f.mix,
    callRate: f.callRate,
    logsRate: f.logsRate,
    sampleMs: f.sampleMs,
    chaos: f.chaos,
    chaosEverySec: f.chaosEvery,
    chaosDownSec: f.chaosDown,
    ...(f.chaosFirst === undefined ? {} : { chaosFirstSec: f.chaosFirst }),
    ...(f.chaosKills === undefined ? {} : { chaosMaxKills: f.chaosKills }),
    drainSec: f.drain,
    heapMb: f.heapMb,
    semiSpaceMb: f.semiSpaceMb,
    logLevel: f.logLevel,
    out: resolve(f.out),
    keep: f.keep,
    ...shape,
  };
}

function shapeArg(v: string): Shape {
  try {
    return parseShape(v);
  } catch (err) {
    if (err instanceof ShapeError) throw new InvalidArgumentError(err.message);
    throw err;
  }
}

/**
 * What a matrix shape means for the soak. The soak funds its senders at genesis from the
 * development accounts (at most 1,000, one of them the deployer): a 1,000-sender shape runs with 999.
 */
export function shapeOptions(shape: Shape, o: { maxPending: number; callRate: number; logsRate: number }): Partial<SoakOptions> {
  return {
    shape: shapeKey(shape),
    senders: Math.min(shape.senders, 999),
    batch: shape.batch,
    inFlight: shape.inFlight,
    rate: 'max',
    mix: { transfer: shape.kind === 'transfer' ? 1 : 0, erc20: shape.kind === 'erc20' ? 1 : 0, deploy: 0 },
    ...o,
  };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const interrupt = new AbortController();
  // Ctrl-C or a SIGTERM (`timeout`, a CI runner) stops the load and then the nodes, so none is
  // left running; a second one quits at once.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`${signal}: stopping the load and the nodes (again to quit at once)\n`);
      interrupt.abort();
      process.once(signal, () => process.exit(130));
    });
  }
  try {
    const summary = await runSoak({ ...options, signal: interrupt.signal });
    console.log(JSON.stringify(summary));
    process.exit(summary.ok ? 0 : 1);
  } catch (err) {
    process.stderr.write(`soak failed: ${(err as Error).stack ?? String(err)}\n`);
    console.log(JSON.stringify({ error: (err as Error).message }));
    process.exit(2);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
