/**
 * The matrix run: for each system (the Bulwark network, then the Hardhat node), one network for
 * the whole matrix — started, its senders funded, every selected cell run in turn — then, on
 * Bulwark, the lone-transaction and read phases if asked; the report compares the systems cell by
 * cell and names each system's worst cell per kind.
 */
import { log } from './client.ts';
import { startHardhat } from './hardhat.ts';
import { matrixTable, runMatrix, worstCells, type Cell, type CellSizes } from './matrix.ts';
import { startBulwark } from './network.ts';
import { loneLatency, reads, type Lone, type ReadOptions, type Reads } from './phases.ts';
import { DEV_ACCOUNTS, prepareSenders } from './senders.ts';
import { shapeKey, type Kind, type Shape } from './shapes.ts';
import { withSystem, type System } from './system.ts';

export type Phase = 'matrix' | 'lone' | 'reads' | 'logs';

export interface MatrixOptions {
  readonly shapes: readonly Shape[];
  readonly sizes: CellSizes;
  readonly systems: readonly System['name'][];
  readonly phases: ReadonlySet<Phase>;
  readonly lone: number;
  readonly reads: ReadOptions;
  readonly logLevel: string;
}

/** The targets (#16): every cell, on Bulwark. */
export const TARGETS: Record<Kind, number> = { transfer: 1_000, erc20: 300 };

async function onSystem(s: System, o: MatrixOptions): Promise<{ cells: Cell[]; lone: Lone | null; reads: Reads | null }> {
  const matrix = o.phases.has('matrix') ? o.shapes : [];
  const readers = o.phases.has('reads') || o.phases.has('logs');
  const p = await prepareSenders(s, Math.max(16, ...matrix.map((x) => x.senders)));
  const cells = await runMatrix(s, p, matrix, o.sizes);
  let lone: Lone | null = null;
  let r: Reads | null = null;
  if (s.name === 'bulwark' && o.phases.has('lone')) {
    lone = await loneLatency(s, p.deployer, o.lone);
    log(`${s.name}: lone transaction p50 ${lone.p50Ms} ms, p99 ${lone.p99Ms} ms (${o.lone} samples)`);
  }
  if (s.name === 'bulwark' && readers) r = await reads(s, { ...o.reads, logBlocks: o.phases.has('logs') ? o.reads.logBlocks : 0 }, p.senders, p.token);
  return { cells, lone, reads: r };
}

export async function runMatrixBench(o: MatrixOptions): Promise<Record<string, unknown>> {
  log(`matrix: ${o.shapes.length} shapes × ${o.systems.join(' and ')}; ${o.sizes.transfer} transfers or ${o.sizes.erc20} ERC-20 transfers per cell`);
  const cells: Cell[] = [];
  let lone: Lone | null = null;
  let r: Reads | null = null;
  for (const name of o.systems) {
    const start = name === 'bulwark' ? () => startBulwark({ accounts: DEV_ACCOUNTS, logLevel: o.logLevel }) : () => startHardhat({ accounts: DEV_ACCOUNTS });
    const out = await withSystem(start, (s) => onSystem(s, o));
    cells.push(...out.cells);
    lone ??= out.lone;
    r ??= out.reads;
  }
  const worst = worstCells(cells);
  if (cells.length > 0) {
    log(`\n${matrixTable(cells)}\n`);
    for (const [system, byKind] of Object.entries(worst)) {
      for (const [kind, c] of Object.entries(byKind)) log(`worst ${system} ${kind}: ${c.perSec ?? 'FAILED'}/s at ${shapeKey(c)} (view changes ${c.viewChanges ?? '-'}, replica RSS ${c.replicaRssMb ?? '-'} MB)`);
    }
  }
  // Met only if every cell of the kind ran on Bulwark and the worst of them reaches the target.
  const bulwarkWorst = worst.bulwark ?? {};
  const targetsMet = Object.fromEntries(
    (Object.keys(TARGETS) as Kind[]).filter((k) => bulwarkWorst[k] !== undefined).map((k) => [k, (bulwarkWorst[k]!.perSec ?? 0) >= TARGETS[k] && cells.every((c) => c.system !== 'bulwark' || c.kind !== k || c.viewChanges === 0)]),
  );
  const brief = (c: Cell | undefined) => (c === undefined ? null : { shape: shapeKey(c), perSec: c.perSec, p99Ms: c.p99Ms, viewChanges: c.viewChanges, replicaRssMb: c.replicaRssMb, error: c.error ?? null });
  return {
    mode: 'matrix',
    cellTxs: { transfer: o.sizes.transfer, erc20: o.sizes.erc20 },
    worst: Object.fromEntries(Object.entries(worst).map(([sys, byKind]) => [sys, { transfer: brief(byKind.transfer), erc20: brief(byKind.erc20) }])),
    targetsMet,
    p50Ms: lone?.p50Ms ?? null,
    p99Ms: lone?.p99Ms ?? null,
    getBalancePerSec: r?.getBalancePerSec ?? null,
    callPerSec: r?.callPerSec ?? null,
    getLogsPerSec: r?.getLogsPerSec ?? null,
    cells,
  };
}
