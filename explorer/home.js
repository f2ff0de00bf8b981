// The overview: the replicas (bft_status), the activity charts, the latest blocks and
// transactions, and what "verified" rests on (the execution keys' anchor).
import { barChart } from './chart.js';
import { fields, h, link, table } from './dom.js';
import { ago, short } from './hex.js';
import { ANCHOR_KEY, anchor } from './checks.js';
import { cannotVerify } from './verify.js';
import { main, state } from './state.js';

const WINDOW_S = 300; // the charts' span
const BUCKET_S = 5;

function series() {
  const end = Math.floor(Date.now() / 1000);
  const n = WINDOW_S / BUCKET_S;
  const txs = new Array(n).fill(0);
  const blocks = new Array(n).fill(0);
  for (const b of state.blocks.values()) {
    const i = n - 1 - Math.floor((end - b.timestamp) / BUCKET_S);
    if (i < 0 || i >= n) continue;
    txs[i] += b.txs.length;
    blocks[i] += 1;
  }
  return { tps: txs.map((t) => t / BUCKET_S), blockMs: blocks.map((c) => (c === 0 ? null : (1000 * BUCKET_S) / c)) };
}

function networkPanel() {
  const s = state.status;
  if (s === null) return h('p', { class: 'muted' }, 'asking the replicas…');
  if (s instanceof Error) return h('p', { class: 'bad' }, `bft_status: ${s.message}`);
  return h(
    'div',
    {},
    fields([
      ['view', `${s.view} (primary: replica ${s.primary})`],
      ['last executed', `sequence number ${s.lastExecuted} (reached by f + 1)`],
      ['stable checkpoint', String(s.stableCheckpoint)],
      ['this node', `client ${s.client}, mirror at block ${s.mirror.block}`],
      ['replicas', `${s.replicas}, f = ${s.f}`],
    ]),
    table(
      ['replica', 'link', 'view', 'last executed', 'stable checkpoint', 'block', 'key epochs (consensus / execution / TLS)'],
      s.nodes.map((r) => [
        `${r.replica}${r.replica === s.primary ? ' (primary)' : ''}`,
        h('span', { class: r.link === 'up' ? 'ok' : 'bad' }, r.link),
        r.answered ? `${r.view}${r.viewChange ? ' (changing)' : ''}` : h('span', { class: 'bad' }, 'no answer'),
        r.answered ? String(r.lastExecuted) : '',
        r.answered ? String(r.stableCheckpoint) : '',
        r.answered ? link(`block/${r.block}`, String(r.block)) : '',
        r.answered ? `${r.keyEpoch} / ${r.executionKeyEpoch ?? '?'} / ${r.tlsKeyEpoch ?? '?'}` : '',
      ]),
      { id: 'replicas' },
    ),
  );
}

export function renderLive() {
  const set = (id, ...content) => document.getElementById(id)?.replaceChildren(...content);
  const { tps, blockMs } = series();
  set('network', networkPanel());
  set('charts', barChart('Transactions per second', tps, 'tx/s', '−5 min'), barChart(`Mean block time per ${BUCKET_S} s`, blockMs, 'ms', '−5 min'));
  const recent = [...state.blocks.values()].sort((a, b) => b.number - a.number);
  set(
    'latest-blocks',
    table(
      ['block', 'hash', 'txs', 'age'],
      recent.slice(0, 10).map((b) => [link(`block/${b.number}`, String(b.number)), h('span', { class: 'mono' }, short(b.hash)), String(b.txs.length), ago(b.timestamp)]),
    ),
  );
  const txs = recent.flatMap((b) => b.txs.map((t) => [t, b.number])).slice(0, 10);
  set('latest-txs', txs.length === 0 ? h('p', { class: 'muted' }, 'no transactions yet') : table(['transaction', 'block'], txs.map(([t, n]) => [link(`tx/${t}`, short(t, 14)), link(`block/${n}`, String(n))])));
  document.getElementById('live').textContent = state.live;
}

export function home() {
  main.replaceChildren(
    h('section', {}, h('h2', {}, 'Network'), h('div', { id: 'network' })),
    h('section', {}, h('h2', {}, 'Activity, last 5 minutes'), h('div', { id: 'charts', class: 'charts' })),
    h('div', { class: 'columns' }, h('section', {}, h('h2', {}, 'Latest blocks'), h('div', { id: 'latest-blocks' })), h('section', {}, h('h2', {}, 'Latest transactions'), h('div', { id: 'latest-txs' }))),
    trustPanel(),
  );
  renderLive();
}

function trustPanel() {
  const a = anchor();
  const load = h('input', { type: 'file', accept: '.json,application/json', id: 'network-file' });
  load.addEventListener('change', async () => {
    try {
      const file = JSON.parse(await load.files[0].text());
      const keys = file.replicas.map((r) => r.executionKey.publicKey);
      if (!Number.isInteger(file.f) || keys.some((k) => typeof k !== 'string')) throw new Error('not a bulwark network file');
      localStorage.setItem(ANCHOR_KEY, JSON.stringify({ f: file.f, keys, chainId: file.chainId }));
    } catch (err) {
      alert(`Not loaded: ${err.message}`);
    }
    home();
  });
  const forget = h('button', { type: 'button' }, 'forget it');
  forget.addEventListener('click', () => {
    localStorage.removeItem(ANCHOR_KEY);
    home();
  });
  return h(
    'section',
    { id: 'trust' },
    h('h2', {}, 'What "verified" rests on'),
    h(
      'p',
      {},
      'A block is verified when f + 1 replicas signed its hash and state root with their execution keys, checked in this browser; an account when its proof leads from that signed state root to it. ',
      'The keys are those of network.json (epoch 0) and the keys each replica published since, each endorsed by the one before — checked here too. ',
      a === null
        ? 'The epoch-0 keys are as this node reports them: load your own copy of network.json to check them against it.'
        : `The epoch-0 keys are checked against the network.json you loaded (${a.keys.length} replicas, f = ${a.f}).`,
    ),
    h('p', {}, a === null ? h('label', {}, 'network.json: ', load) : forget),
    cannotVerify() === null ? null : h('p', { class: 'bad' }, `Cannot verify: ${cannotVerify()}.`),
  );
}

