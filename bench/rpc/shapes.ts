/**
 * Load shapes: who sends (how many senders), how (JSON-RPC batches of how many
 * `eth_sendRawTransaction`, how many batches in flight) and what (ETH transfers or ERC-20
 * transfers). The matrix is every combination of the axes (#16); `BENCH_SHAPES` or
 * `--shapes` selects a part of it, or shapes outside it.
 *
 * A selection is `;`-separated terms; a term is `all`, `corners` (the lowest and highest value of
 * every numeric axis), or comma-separated `axis=value[/value…]` where an axis left out takes the
 * matrix's values: `senders=200,batch=100,inflight=8,kind=transfer` is one cell,
 * `kind=erc20,inflight=8` nine, `senders=20/1000,batch=1/100,inflight=1/8` the corners of both kinds.
 */
export type Kind = 'transfer' | 'erc20';

export interface Shape {
  readonly kind: Kind;
  readonly senders: number;
  readonly batch: number;
  readonly inFlight: number;
}

export const MATRIX = {
  kind: ['transfer', 'erc20'] as readonly Kind[],
  senders: [20, 200, 1_000] as readonly number[],
  batch: [1, 10, 100] as readonly number[],
  inFlight: [1, 4, 8] as readonly number[],
};

/** The most senders a shape may have: the benchmark funds this many keys of its own. */
export const MAX_SENDERS = 1_000;

type Axis = keyof typeof MATRIX;
const AXES: Record<string, Axis> = { kind: 'kind', senders: 'senders', batch: 'batch', inflight: 'inFlight', 'in-flight': 'inFlight', in_flight: 'inFlight' };

export class ShapeError extends Error {
  override readonly name = 'ShapeError';
}

export const shapeKey = (s: Shape) => `kind=${s.kind},senders=${s.senders},batch=${s.batch},inflight=${s.inFlight}`;

function expand(axes: { kind: readonly Kind[]; senders: readonly number[]; batch: readonly number[]; inFlight: readonly number[] }): Shape[] {
  return axes.kind.flatMap((kind) => axes.senders.flatMap((senders) => axes.batch.flatMap((batch) => axes.inFlight.map((inFlight) => ({ kind, senders, batch, inFlight })))));
}

const corners = <T>(xs: readonly T[]): T[] => [...new Set([xs[0]!, xs.at(-1)!])];

function parseValue(axis: Axis, v: string, term: string): Kind | number {
  if (axis === 'kind') {
    const k = v === 'erc-20' ? 'erc20' : v;
    if (k !== 'transfer' && k !== 'erc20') throw new ShapeError(`"${term}": kind must be transfer or erc20, not "${v}"`);
    return k;
  }
  const n = Number(v.replaceAll('_', ''));
  const max = axis === 'senders' ? MAX_SENDERS : 10_000;
  if (!Number.isInteger(n) || n < 1 || n > max) throw new ShapeError(`"${term}": ${axis} must be a whole number 1..${max}, not "${v}"`);
  return n;
}

function parseTerm(term: string): Shape[] {
  if (term === 'all') return expand(MATRIX);
  if (term === 'corners') return expand({ kind: MATRIX.kind, senders: corners(MATRIX.senders), batch: corners(MATRIX.batch), inFlight: corners(MATRIX.inFlight) });
  const axes: { -readonly [A in Axis]: (typeof MATRIX)[A] } = { ...MATRIX };
  const given = new Set<Axis>();
  for (const part of term.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const m = /^([a-z_-]+)\s*=\s*(.+)$/i.exec(part);
    const axis = m === null ? undefined : AXES[m[1]!.toLowerCase()];
    if (m === null || axis === undefined) throw new ShapeError(`"${part}": expected axis=value with axis one of senders, batch, inflight, kind`);
    if (given.has(axis)) throw new ShapeError(`"${term}": ${axis} given twice`);
    given.add(axis);
    const values = m[2]!.split('/').map((v) => parseValue(axis, v.trim().toLowerCase(), term));
    (axes as Record<Axis, unknown>)[axis] = [...new Set(values)];
  }
  return expand(axes);
}

/** The shapes a selection names, each once, in the order named. */
export function parseShapes(spec: string): Shape[] {
  const terms = spec.split(';').map((t) => t.trim()).filter((t) => t !== '');
  if (terms.length === 0) throw new ShapeError('an empty shape selection');
  const out = new Map<string, Shape>();
  for (const t of terms) for (const s of parseTerm(t)) if (!out.has(shapeKey(s))) out.set(shapeKey(s), s);
  return [...out.values()];
}

/** One shape, for a run that takes exactly one (the soak). */
export function parseShape(spec: string): Shape {
  const shapes = parseShapes(spec);
  if (shapes.length !== 1) throw new ShapeError(`"${spec}" selects ${shapes.length} shapes, not one: give senders, batch, inflight and kind`);
  return shapes[0]!;
}
