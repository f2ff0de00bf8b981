// The explorer: network status, blocks, transactions, accounts and the charts, read from the node
// that served this page; block certificates and account proofs checked here (checks.js).
import { h } from './dom.js';
import { num } from './hex.js';
import { home, renderLive } from './home.js';
import { addressPage, blockPage, txPage } from './pages.js';
import { RpcError, batch, call, followHeads, setToken, token } from './rpc.js';
import { currentRoute, hex, main, state } from './state.js';

const BACKFILL = 300; // blocks read at start for the charts

// Blocks as they come: each new head's block (transaction hashes only), for the charts and lists.

function record(b) {
  state.blocks.set(num(b.number), { number: num(b.number), hash: b.hash, timestamp: num(b.timestamp), txs: b.transactions });
  const newest = Math.max(...state.blocks.keys());
  for (const n of state.blocks.keys()) if (n < newest - 5000) state.blocks.delete(n);
}

let queued = new Set();
let flushing = null;
function onHead(head) {
  queued.add(num(head.number));
  flushing ??= new Promise((r) => setTimeout(r, 250)).then(async () => {
    const numbers = [...queued].sort((a, b) => a - b).slice(-200);
    queued = new Set();
    flushing = null;
    const blocks = await batch(numbers.map((n) => ['eth_getBlockByNumber', [hex(n), false]])).catch(() => []);
    for (const b of blocks) if (!(b instanceof Error) && b !== null) record(b);
    if (currentRoute().view === 'home') renderLive();
  });
}

async function backfill() {
  const head = num(await call('eth_blockNumber'));
  const from = Math.max(0, head - BACKFILL + 1);
  const blocks = await batch(Array.from({ length: head - from + 1 }, (_, i) => ['eth_getBlockByNumber', [hex(from + i), false]]));
  for (const b of blocks) if (!(b instanceof Error) && b !== null) record(b);
}

let rendering = 0;
async function route() {
  const mine = ++rendering;
  const { view, arg } = currentRoute();
  try {
    if (view === 'block') await blockPage(arg);
    else if (view === 'tx') await txPage(arg);
    else if (view === 'address') await addressPage(arg);
    else home();
  } catch (err) {
    if (mine === rendering) showError(err);
  }
}

function showError(err) {
  const auth = err instanceof RpcError && err.status === 401;
  main.replaceChildren(h('div', { class: 'verdict bad' }, auth ? `The node asks for a token (--rpc-auth): ${err.message}. Enter it above.` : `Error: ${err.message}`));
}

async function search(q) {
  const v = q.trim();
  if (/^\d+$/.test(v)) location.hash = `#/block/${v}`;
  else if (/^0x[0-9a-fA-F]{40}$/.test(v)) location.hash = `#/address/${v.toLowerCase()}`;
  else if (/^0x[0-9a-fA-F]{64}$/.test(v)) location.hash = (await call('eth_getTransactionByHash', [v])) !== null ? `#/tx/${v}` : `#/block/${v}`;
  else main.replaceChildren(h('p', { class: 'bad' }, `"${v}" is not a block number, a hash or an address.`));
}

function header() {
  const q = document.getElementById('q');
  document.getElementById('search').addEventListener('submit', (e) => {
    e.preventDefault();
    search(q.value).catch(showError);
  });
  const t = document.getElementById('token');
  t.value = token();
  document.getElementById('auth').addEventListener('submit', (e) => {
    e.preventDefault();
    setToken(t.value.trim());
    location.reload();
  });
}

async function refreshStatus() {
  try {
    state.status = await call('bft_status');
  } catch (err) {
    state.status = err;
  }
  if (currentRoute().view === 'home') renderLive();
}

async function start() {
  header();
  window.addEventListener('hashchange', route);
  route();
  try {
    const chainId = num(await call('eth_chainId'));
    document.getElementById('chain').textContent = `chain ${chainId}`;
    await backfill();
  } catch (err) {
    return showError(err);
  }
  followHeads(onHead, (s) => {
    state.live = s;
    const el = document.getElementById('live');
    if (el !== null) el.textContent = s;
  });
  for (;;) {
    // bft_status is a round to every replica: asked only while the overview shows it.
    if (currentRoute().view === 'home' || state.status === null) await refreshStatus();
    await new Promise((r) => setTimeout(r, 3000));
  }
}

start();
