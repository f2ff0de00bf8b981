// Bar charts as SVG: one bar per bucket, the highest labelled; no library.
import { h } from './dom.js';

const W = 600;
const H = 120;

/** `values`: numbers (null: no data for that bucket), oldest first, over `span` (e.g. "−5 min"). */
export function barChart(title, values, unit, span) {
  const max = Math.max(1e-9, ...values.filter((v) => v !== null));
  const bw = W / values.length;
  const bars = values.map((v, i) => {
    if (v === null || v === 0) return null;
    const bh = Math.max(1, (v / max) * (H - 16));
    return h('svg:rect', { x: (i * bw + 1).toFixed(1), y: (H - bh).toFixed(1), width: Math.max(1, bw - 2).toFixed(1), height: bh.toFixed(1), class: 'bar' }, h('svg:title', {}, `${fmt(v)} ${unit}`));
  });
  const known = values.filter((v) => v !== null);
  const lastKnown = known.length === 0 ? null : known[known.length - 1];
  return h(
    'figure',
    { class: 'chart' },
    h('figcaption', {}, title, h('span', { class: 'muted' }, ` · max ${fmt(known.length === 0 ? 0 : max)} ${unit} · latest ${lastKnown === null ? '—' : `${fmt(lastKnown)} ${unit}`}`)),
    h('svg:svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': title }, h('svg:line', { x1: 0, y1: H - 0.5, x2: W, y2: H - 0.5, class: 'axis' }), bars),
    h('div', { class: 'axis-labels muted' }, h('span', {}, span), h('span', {}, 'now')),
  );
}

function fmt(v) {
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(v >= 10 ? 1 : 2);
}
