/**
 * The soak's picture, as a hand-written SVG: three stacked panels over the run's time — included
 * transactions per second, each node's resident memory (MB) and each replica's view — with every
 * kill marked by a red line across all three and the replica's downtime shaded, and the end of the
 * load (the drain after it) by a grey one.
 */
export interface PlotSample {
  /** Seconds since the load started. */
  readonly t: number;
  readonly tps: number;
  readonly nodes: ReadonlyArray<{ readonly name: string; readonly rssMb: number | null; readonly view: number | null }>;
}

export interface PlotKill {
  readonly replica: number;
  readonly atSec: number;
  readonly restartedAtSec: number | null;
}

interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: ReadonlyArray<readonly [number, number | null]>;
}

const COLORS: Record<string, string> = { replica0: '#1f77b4', replica1: '#ff7f0e', replica2: '#2ca02c', replica3: '#9467bd', client: '#8c564b', tps: '#1f77b4' };
const WIDTH = 960;
const LEFT = 64;
const RIGHT = 110;
const PANEL = 190;
const GAP = 46;
const TOP = 40;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const fmt = (x: number) => (Math.abs(x) >= 1000 ? `${Math.round(x / 100) / 10}k` : String(Math.round(x * 10) / 10));

/** A round step giving about `n` ticks over `span`. */
function step(span: number, n: number): number {
  const raw = span / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
}

/** `spreadPx`: series i drawn i × spreadPx lower, so equal values (four replicas in one view) stay visible. */
interface Marks {
  readonly kills: readonly PlotKill[];
  /** Where the load stopped and the drain began. */
  readonly loadEndSec: number;
}

function panel(title: string, top: number, series: readonly Series[], xMax: number, marks: Marks, integerY = false, spreadPx = 0): string {
  const ys = series.flatMap((s) => s.points.flatMap(([, y]) => (y === null ? [] : [y])));
  const yMinRaw = ys.length === 0 ? 0 : Math.min(0, ...ys);
  const yMaxRaw = ys.length === 0 ? 1 : Math.max(...ys);
  const yStep = Math.max(step(Math.max(yMaxRaw - yMinRaw, 1), 4), integerY ? 1 : 0);
  const yMin = Math.floor(yMinRaw / yStep) * yStep;
  const yMax = Math.max(Math.ceil(yMaxRaw / yStep) * yStep, yMin + yStep);
  const plotW = WIDTH - LEFT - RIGHT;
  const x = (t: number) => LEFT + (t / xMax) * plotW;
  const y = (v: number) => top + PANEL - ((v - yMin) / (yMax - yMin)) * PANEL;
  const out: string[] = [`<text x="${LEFT}" y="${top - 8}" font-weight="bold">${esc(title)}</text>`];
  out.push(`<rect x="${LEFT}" y="${top}" width="${plotW}" height="${PANEL}" fill="none" stroke="#999"/>`);
  for (let v = yMin; v <= yMax + 1e-9; v += yStep) {
    out.push(`<line x1="${LEFT}" x2="${LEFT + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
    out.push(`<text x="${LEFT - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  const xStep = step(xMax, 10);
  for (let t = 0; t <= xMax + 1e-9; t += xStep) out.push(`<text x="${x(t)}" y="${top + PANEL + 14}" text-anchor="middle">${fmt(t)}</text>`);
  if (marks.loadEndSec < xMax) {
    out.push(`<line x1="${x(marks.loadEndSec)}" x2="${x(marks.loadEndSec)}" y1="${top}" y2="${top + PANEL}" stroke="#777" stroke-dasharray="2 2"/>`);
    out.push(`<text x="${x(marks.loadEndSec) + 3}" y="${top + PANEL - 4}" fill="#777">drain</text>`);
  }
  for (const k of marks.kills) {
    const end = k.restartedAtSec ?? xMax;
    out.push(`<rect x="${x(k.atSec)}" y="${top}" width="${Math.max(1, x(end) - x(k.atSec))}" height="${PANEL}" fill="#d62728" fill-opacity="0.07"/>`);
    out.push(`<line x1="${x(k.atSec)}" x2="${x(k.atSec)}" y1="${top}" y2="${top + PANEL}" stroke="#d62728" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${x(k.atSec) + 3}" y="${top + 12}" fill="#d62728">kill r${k.replica}</text>`);
  }
  series.forEach((s, i) => {
    // A gap where the node was down or did not answer: one polyline per run of values.
    let run: string[] = [];
    const flush = () => {
      if (run.length > 0) out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${run.join(' ')}"/>`);
      run = [];
    };
    for (const [t, v] of s.points) {
      if (v === null) flush();
      else run.push(`${x(t).toFixed(1)},${(y(v) + i * spreadPx).toFixed(1)}`);
    }
    flush();
    const ly = top + 14 + i * 16;
    out.push(`<line x1="${WIDTH - RIGHT + 10}" x2="${WIDTH - RIGHT + 28}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"/>`);
    out.push(`<text x="${WIDTH - RIGHT + 32}" y="${ly}">${esc(s.name)}</text>`);
  });
  return out.join('\n');
}

export function plotSvg(title: string, samples: readonly PlotSample[], marks: Marks): string {
  const xMax = Math.max(1, ...samples.map((s) => s.t));
  const names = samples[0]?.nodes.map((n) => n.name) ?? [];
  const perNode = (field: 'rssMb' | 'view', only: (name: string) => boolean): Series[] =>
    names.filter(only).map((name) => ({
      name,
      color: COLORS[name] ?? '#333',
      points: samples.map((s): [number, number | null] => [s.t, s.nodes.find((n) => n.name === name)?.[field] ?? null]),
    }));
  const tps: Series = { name: 'included/s', color: COLORS.tps!, points: samples.map((s): [number, number] => [s.t, s.tps]) };
  const height = TOP + 3 * (PANEL + GAP);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${LEFT}" y="18" font-size="13">${esc(title)}</text>`,
    panel('transactions included per second', TOP + 10, [tps], xMax, marks),
    panel('resident memory (MB)', TOP + 10 + PANEL + GAP, perNode('rssMb', () => true), xMax, marks),
    panel('view', TOP + 10 + 2 * (PANEL + GAP), perNode('view', (n) => n !== 'client'), xMax, marks, true, 2),
    `<text x="${LEFT + (WIDTH - LEFT - RIGHT) / 2}" y="${height - 4}" text-anchor="middle">seconds since the load started</text>`,
    '</svg>',
    '',
  ].join('\n');
}
