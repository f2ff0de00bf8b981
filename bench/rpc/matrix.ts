/**
 * The matrix: every selected load shape run as one cell against one system, a fixed number of
 * transactions per cell, on one network for the whole matrix. Each cell reads its senders' nonces
 * afresh, signs its load, drives it, and records beside its throughput what the nodes went
 * through meanwhile — view changes and each node's largest RSS.
 */
import { encodeCall } from '../../test/helpers/abi.ts';
import { log, sleep } from './client.ts';
import { commonOf, drive, noncesOf, signLoad, type LoadResult } from './load.ts';
import { recipients, recipientTotal, type Prepared } from './senders.ts';
import type { Kind, Shape } from './shapes.ts';
import { HealthMonitor, maxReplicaRssMb, networkViewChanges, type System } from './system.ts';

export interface CellSizes {
  readonly transfer: number;
  readonly erc20: number;
  /** Pause between cells, so one cell's tail does not run into the next. */
  readonly pauseMs: number;
}

export interface Cell extends Shape {
  readonly system: string;
  readonly txs: number;
  /** null: the cell failed (`error`). */
  readonly perSec: number | null;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly seconds: number | null;
  /** Sends the pool refused with `txpool is full` (sent again after a pause). */
  readonly busyRefusals: number | null;
  /** View changes the network went through during the cell (null: a system without views). */
  readonly viewChanges: number | null;
  /** The largest RSS of any replica (Hardhat: its process) during the cell. */
  readonly replicaRssMb: number | null;
  readonly clientRssMb: number | null;
  readonly rssMb: Record<string, number>;
  readonly error?: string;
}

/** One shape's load: fresh nonces read for its senders, signed, driven, and (ERC-20) checked. */
export async function runShape(s: System, p: Prepared, shape: Shape, txs: number): Promise<LoadResult> {
  const common = commonOf(s);
  const senders = p.senders.slice(0, shape.senders);
  const nonces = await noncesOf(s.rpc, senders.map((k) => k.address));
  const keys = senders.map((k) => k.key);
  const load =
    shape.kind === 'transfer'
      ? signLoad(common, s.gasPrice, keys, nonces, txs, (i, k) => ({ to: recipients[(i * 7 + k) % recipients.length]!, value: 1n, gasLimit: 21_000n }))
      : signLoad(common, s.gasPrice, keys, nonces, txs, (i, k) => ({ to: p.token, data: encodeCall('transfer(address,uint256)', recipients[(i * 13 + k) % recipients.length]!, 1n), gasLimit: 60_000n }));
  const before = shape.kind === 'erc20' ? await recipientTotal(s, p.token) : 0n;
  const r = await drive(s, load, shape.batch, shape.inFlight);
  if (shape.kind === 'erc20') {
    // Every transfer must have moved a token: a reverted one is in a block too.
    const moved = (await recipientTotal(s, p.token)) - before;
    if (moved !== BigInt(txs)) throw new Error(`the recipients received ${moved} tokens, not ${txs}`);
  }
  return r;
}

export async function runMatrix(s: System, p: Prepared, shapes: readonly Shape[], sizes: CellSizes): Promise<Cell[]> {
  const cells: Cell[] = [];
  for (const [i, shape] of shapes.entries()) {
    const txs = sizes[shape.kind];
    const monitor = new HealthMonitor(s);
    await monitor.start();
    let result: LoadResult | { error: string };
    try {
      result = await runShape(s, p, shape, txs);
    } catch (err) {
      result = { error: (err as Error).message };
    }
    const health = await monitor.stop();
    const cell: Cell = {
      system: s.name,
      ...shape,
      txs,
      perSec: null,
      p50Ms: null,
      p99Ms: null,
      seconds: null,
      busyRefusals: null,
      ...result,
      viewChanges: networkViewChanges(health),
      replicaRssMb: maxReplicaRssMb(health),
      clientRssMb: health.maxRssMb.client ?? null,
      rssMb: health.maxRssMb,
    };
    cells.push(cell);
    log(`${s.name} [${i + 1}/${shapes.length}] ${describe(shape, txs)}: ${cell.error === undefined ? `${cell.perSec}/s in ${cell.seconds} s, p50 ${cell.p50Ms} ms, p99 ${cell.p99Ms} ms, ${cell.busyRefusals} sends refused as full` : `FAILED: ${cell.error}`}; view changes ${cell.viewChanges ?? '-'}, RSS ${JSON.stringify(cell.rssMb)}`);
    await sleep(sizes.pauseMs);
  }
  return cells;
}

export const describe = (s: Shape, txs: number) => `${txs} ${s.kind === 'transfer' ? 'transfers' : 'ERC-20 transfers'} from ${s.senders} senders, batches of ${s.batch}, ${s.inFlight} in flight`;

/** Per system and kind, the cell with the lowest throughput (a failed cell is the worst of all). */
export function worstCells(cells: readonly Cell[]): Record<string, Partial<Record<Kind, Cell>>> {
  const out: Record<string, Partial<Record<Kind, Cell>>> = {};
  const rank = (c: Cell) => c.perSec ?? -1;
  for (const c of cells) {
    const bySystem = (out[c.system] ??= {});
    const w = bySystem[c.kind];
    if (w === undefined || rank(c) < rank(w)) bySystem[c.kind] = c;
  }
  return out;
}

const n = (x: number | null | undefined) => (x === null || x === undefined ? '-' : x.toLocaleString('en-US'));

/** One row per shape: each system's figures side by side, and Bulwark over Hardhat. */
export function matrixTable(cells: readonly Cell[]): string {
  const systems = [...new Set(cells.map((c) => c.system))];
  const shapes = new Map<string, Shape>();
  for (const c of cells) shapes.set(`${c.kind}/${c.senders}/${c.batch}/${c.inFlight}`, c);
  const head = ['kind', 'senders', 'batch', 'in flight', ...systems.flatMap((s) => (s === 'bulwark' ? [`${s} tx/s`, 'p50 ms', 'p99 ms', 'full', 'view ch.', 'replica RSS MB', 'client RSS MB'] : [`${s} tx/s`, 'p99 ms', `${s} RSS MB`])), ...(systems.length === 2 ? ['ratio'] : [])];
  const rows = [...shapes.entries()].map(([key, shape]) => {
    const of = (sys: string) => cells.find((c) => c.system === sys && `${c.kind}/${c.senders}/${c.batch}/${c.inFlight}` === key);
    const figures = systems.flatMap((sys) => {
      const c = of(sys);
      const rate = c?.error !== undefined ? 'FAILED' : n(c?.perSec);
      return sys === 'bulwark' ? [rate, n(c?.p50Ms), n(c?.p99Ms), n(c?.busyRefusals), n(c?.viewChanges), n(c?.replicaRssMb), n(c?.clientRssMb)] : [rate, n(c?.p99Ms), n(c?.replicaRssMb)];
    });
    const [a, b] = systems.map((sys) => of(sys)?.perSec ?? null);
    const ratio = systems.length === 2 ? [a === null || b === null || b === undefined ? '-' : (a! / b).toFixed(2)] : [];
    return [shape.kind, String(shape.senders), String(shape.batch), String(shape.inFlight), ...figures, ...ratio];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) => r.map((x, i) => (i < 1 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}
