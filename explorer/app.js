// The explorer: network status, blocks, transactions, accounts and the charts, read from the node
// that served this page; block certificates and account proofs checked here (verify.js, proof.js).
import { barChart } from './chart.js';
import { fields, h, link, table } from './dom.js';
import { decodeLog } from './events.js';
import { keccak256 } from './hash.js';
import { ago, bytesToHex, ether, hexToBytes, num, short } from './hex.js';
import { EMPTY_CODE_HASH, verifyAccountProof } from './proof.js';
import { RpcError, batch, call, followHeads, setToken, token } from './rpc.js';
import { cannotVerify, checkHeader, decodeHeader, headerMismatches, verifyCertificate, verifyKeyHistory } from './verify.js';

const ANCHOR_KEY = 'bulwark.explorer.anchor';
const WINDOW_S = 300; // the charts' span
const BUCKET_S = 5;
const BACKFILL = 300; // blocks read at start for the charts
/** How far past a block without a certificate of its own the page looks for one that covers it. */
const COVER_SEARCH = 64;

const state = {
  blocks: new Map(), // number → { number, hash, timestamp, txs }
  status: null,
  live: 'connecting…',
  keys: null, // a promise of the verified key history
};
const main = document.getElementById('main');
const hex = (n) => `0x${BigInt(n).toString(16)}`;

// ---------------------------------------------------------------------------------------------
// Blocks as they come

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

// ---------------------------------------------------------------------------------------------
// The overview

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

function renderLive() {
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

function home() {
  main.replaceChildren(
    h('section', {}, h('h2', {}, 'Network'), h('div', { id: 'network' })),
    h('section', {}, h('h2', {}, 'Activity, last 5 minutes'), h('div', { id: 'charts', class: 'charts' })),
    h('div', { class: 'columns' }, h('section', {}, h('h2', {}, 'Latest blocks'), h('div', { id: 'latest-blocks' })), h('section', {}, h('h2', {}, 'Latest transactions'), h('div', { id: 'latest-txs' }))),
    trustPanel(),
  );
  renderLive();
}

// ---------------------------------------------------------------------------------------------
// Trust: where the execution keys come from

function anchor() {
  try {
    return JSON.parse(localStorage.getItem(ANCHOR_KEY) ?? 'null');
  } catch {
    return null;
  }
}

function keys() {
  state.keys ??= call('bft_getExecutionKeys').then((history) => verifyKeyHistory(history, anchor()));
  state.keys.catch(() => (state.keys = null));
  return state.keys;
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
    state.keys = null;
    home();
  });
  const forget = h('button', { type: 'button' }, 'forget it');
  forget.addEventListener('click', () => {
    localStorage.removeItem(ANCHOR_KEY);
    state.keys = null;
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

// ---------------------------------------------------------------------------------------------
// Verification

/** A verdict box: `ok`, a headline, the reasons, and details. */
function verdict(id, ok, headline, reasons, details = []) {
  return h('div', { id, class: `verdict ${ok ? 'ok' : 'bad'}`, 'data-verdict': ok ? 'verified' : 'refused' }, h('strong', {}, ok ? `✔ ${headline}` : `✘ not verified: ${headline}`), reasons.length === 0 ? null : h('ul', {}, reasons.map((r) => h('li', {}, r))), details);
}

/** The certificate that covers block `n`: its own, or a later block's that reaches it through parent hashes. */
async function coveringCertificate(n) {
  for (let m = n; m <= n + COVER_SEARCH; m++) {
    try {
      const cert = await call('bft_getBlockCertificate', [hex(m)]);
      if (cert === null) return { cert: null, number: m };
      return { cert, number: m };
    } catch (err) {
      if (!(err instanceof RpcError) || !/no certificate kept/.test(err.message)) throw err;
    }
  }
  return { cert: null, number: n };
}

/**
 * Checks block `n` — as shown, `block` (eth_getBlockBy*), when given — against its certificate or
 * a later one's; `{ ok, reasons, signers, header, cert }`.
 */
async function checkBlock(n, block) {
  const hash = block?.hash;
  const why = cannotVerify();
  if (why !== null) return { ok: false, reasons: [why], signers: [] };
  const k = await keys();
  const { cert, number: m } = await coveringCertificate(n);
  if (cert === null) return { ok: false, reasons: [`no certificate found for block ${n} nor the ${COVER_SEARCH} after it`], signers: [] };
  const r = await verifyCertificate(cert, { number: m, hash: m === n ? hash : undefined }, k);
  r.reasons.unshift(...k.problems.map((p) => `key history: ${p}`));
  if (k.problems.length > 0) r.ok = false;
  r.cert = cert;
  r.keySource = k.source;
  try {
    // The raw headers from n up to the certified block: each hashes to its child's parent hash.
    const raws = await batch(Array.from({ length: m - n + 1 }, (_, i) => ['debug_getRawHeader', [hex(n + i)]]));
    if (raws[raws.length - 1] instanceof Error) throw raws[raws.length - 1];
    let header = checkHeader(raws[raws.length - 1], cert);
    for (let i = raws.length - 2; i >= 0; i--) {
      if (raws[i] instanceof Error) throw raws[i];
      if (bytesToHex(keccak256(hexToBytes(raws[i]))) !== header.parentHash) throw new Error(`block ${n + i}'s header is not the parent of block ${n + i + 1}`);
      header = decodeHeader(raws[i]);
    }
    r.header = header;
    const differ = block === undefined ? [] : headerMismatches(block, header);
    if (differ.length > 0) throw new Error(`the block shown differs from its certified header in: ${differ.join(', ')}`);
  } catch (err) {
    r.ok = false;
    r.reasons.push(err instanceof RpcError ? `debug_getRawHeader: ${err.message}` : err.message);
  }
  if (m !== n) r.reasons.unshift(`block ${n} has no certificate of its own; block ${m}'s covers it through parent hashes`);
  r.coveredBy = m;
  return r;
}

function signerList(signers) {
  return h('ul', { class: 'signers' }, signers.map((s) => h('li', { class: s.ok ? 'ok' : 'bad' }, `replica ${s.replica}${s.epoch === undefined ? '' : ` (execution key epoch ${s.epoch})`}: ${s.why}`)));
}

async function verifyBlockInto(box, n, block) {
  box.replaceChildren(h('p', { class: 'muted' }, 'verifying…'));
  try {
    const r = await checkBlock(n, block);
    const headline = r.ok ? `block ${n} is certified by ${r.valid} replicas (f + 1 = ${r.need})` : r.reasons[r.reasons.length - 1] ?? 'refused';
    box.replaceChildren(
      verdict('cert-result', r.ok, headline, r.ok ? r.reasons.filter((x) => /covers it/.test(x)) : r.reasons, [
        r.cert === undefined
          ? null
          : fields([
              ['sequence number', String(num(r.cert.seq))],
              ['signed block hash', h('span', { class: 'mono' }, r.cert.blockHash)],
              ['signed state root', h('span', { class: 'mono' }, r.cert.stateRoot)],
              r.header === undefined ? null : ['header', `hashes to the signed block hash${r.coveredBy === n ? '' : ` through the parent hashes up to block ${r.coveredBy}`}; the fields shown above are its own`],
              ['keys', r.keySource],
            ]),
        signerList(r.signers),
      ]),
    );
  } catch (err) {
    box.replaceChildren(verdict('cert-result', false, err.message, []));
  }
}

async function verifyAccountInto(box, address) {
  box.replaceChildren(h('p', { class: 'muted' }, 'verifying…'));
  try {
    const why = cannotVerify();
    if (why !== null) return void box.replaceChildren(verdict('proof-result', false, why, []));
    const latest = await call('bft_getBlockCertificate', ['latest']);
    const n = num(latest.blockNumber);
    const block = await checkBlock(n);
    const [proof, code] = await batch([
      ['eth_getProof', [address, [], hex(n)]],
      ['eth_getCode', [address, hex(n)]],
    ]);
    if (proof instanceof Error) throw proof;
    const p = verifyAccountProof(proof, block.cert.stateRoot);
    const reasons = [...(block.ok ? [] : block.reasons.map((r) => `block ${n}: ${r}`)), ...p.reasons];
    const codeHash = p.account?.codeHash ?? EMPTY_CODE_HASH;
    if (!(code instanceof Error) && bytesToHex(keccak256(hexToBytes(code))) !== codeHash) reasons.push('the code answered does not hash to the proved code hash');
    const ok = block.ok && p.ok && reasons.length === 0;
    const a = p.account;
    const headline = ok ? `the account's state at block ${n} is proved against the state root f + 1 replicas signed` : reasons[0] ?? 'refused';
    box.replaceChildren(
      verdict('proof-result', ok, headline, ok ? [] : reasons, [
        fields([
          ['block', link(`block/${n}`, String(n))],
          ['state root (signed)', h('span', { class: 'mono' }, block.cert.stateRoot)],
          ['proof', `${proof.accountProof.length} trie nodes`],
          ['balance', a === null ? 'no account (proved absent)' : ether(a.balance)],
          ['nonce', a === null ? '0' : String(a.nonce)],
          ['code hash', h('span', { class: 'mono' }, codeHash)],
        ]),
        signerList(block.signers),
      ]),
    );
  } catch (err) {
    box.replaceChildren(verdict('proof-result', false, err.message, []));
  }
}

// ---------------------------------------------------------------------------------------------
// Pages

async function blockPage(id) {
  const b = /^0x[0-9a-fA-F]{64}$/.test(id) ? await call('eth_getBlockByHash', [id, true]) : await call('eth_getBlockByNumber', [hex(id), true]);
  if (b === null) return notFound(`block ${id}`);
  const n = num(b.number);
  const box = h('div', { id: 'cert-box' });
  const button = h('button', { type: 'button', id: 'verify-cert' }, 'Verify certificate');
  button.addEventListener('click', () => verifyBlockInto(box, n, b));
  main.replaceChildren(
    h('h2', {}, `Block ${n}`),
    h('section', {}, fields([
      ['hash', h('span', { class: 'mono' }, b.hash)],
      ['parent', n === 0 ? 'genesis' : link(`block/${n - 1}`, b.parentHash)],
      ['time', `${new Date(num(b.timestamp) * 1000).toISOString()} (${ago(num(b.timestamp))})`],
      ['transactions', String(b.transactions.length)],
      ['gas used', `${num(b.gasUsed).toLocaleString('en-US')} of ${num(b.gasLimit).toLocaleString('en-US')}`],
      ['state root', h('span', { class: 'mono' }, b.stateRoot)],
      ['transactions root', h('span', { class: 'mono' }, b.transactionsRoot)],
      ['receipts root', h('span', { class: 'mono' }, b.receiptsRoot)],
      ['fee recipient', link(`address/${b.miner}`, b.miner)],
    ])),
    h('section', {}, h('h3', {}, 'Certificate'), h('p', { class: 'muted' }, 'The replicas’ signatures over this block’s hash and state root (bft_getBlockCertificate), checked in this browser.'), button, box),
    h(
      'section',
      {},
      h('h3', {}, 'Transactions'),
      b.transactions.length === 0
        ? h('p', { class: 'muted' }, 'none')
        : table(['hash', 'from', 'to', 'value'], b.transactions.map((t) => [link(`tx/${t.hash}`, short(t.hash, 14)), link(`address/${t.from}`, short(t.from)), t.to === null ? 'contract creation' : link(`address/${t.to}`, short(t.to)), ether(t.value)])),
    ),
  );
}

async function txPage(hash) {
  const [t, r] = await batch([
    ['eth_getTransactionByHash', [hash]],
    ['eth_getTransactionReceipt', [hash]],
  ]);
  if (t instanceof Error) throw t;
  if (t === null) return notFound(`transaction ${hash}`);
  const receipt = r instanceof Error || r === null ? null : r;
  main.replaceChildren(
    h('h2', {}, 'Transaction'),
    h('section', {}, fields([
      ['hash', h('span', { class: 'mono' }, t.hash)],
      ['status', receipt === null ? 'pending' : h('span', { class: receipt.status === '0x1' ? 'ok' : 'bad' }, receipt.status === '0x1' ? 'success' : 'failed')],
      ['block', t.blockNumber === null ? 'pending' : link(`block/${num(t.blockNumber)}`, String(num(t.blockNumber)))],
      ['from', link(`address/${t.from}`, t.from)],
      ['to', t.to === null ? 'contract creation' : link(`address/${t.to}`, t.to)],
      receipt?.contractAddress ? ['contract created', link(`address/${receipt.contractAddress}`, receipt.contractAddress)] : null,
      ['value', ether(t.value)],
      ['nonce', String(num(t.nonce))],
      ['gas used', receipt === null ? '—' : num(receipt.gasUsed).toLocaleString('en-US')],
      ['input', h('span', { class: 'mono wrap' }, t.input.length > 202 ? `${t.input.slice(0, 202)}… (${(t.input.length - 2) / 2} bytes)` : t.input)],
    ])),
    h('section', {}, h('h3', {}, `Logs (${receipt?.logs.length ?? 0})`), receipt === null || receipt.logs.length === 0 ? h('p', { class: 'muted' }, 'none') : h('ol', { class: 'logs' }, receipt.logs.map(logItem))),
  );
}

function logItem(log) {
  const d = decodeLog(log);
  return h(
    'li',
    {},
    h('div', {}, 'from ', link(`address/${log.address}`, log.address)),
    d === null
      ? h('div', {}, h('div', { class: 'muted' }, 'not a known event:'), log.topics.map((t, i) => h('div', { class: 'mono' }, `topic ${i}: ${t}`)), h('div', { class: 'mono wrap' }, `data: ${log.data}`))
      : h('div', {}, h('strong', { class: 'event' }, d.name), fields(d.args.map(([k, v]) => [k, /^0x[0-9a-f]{40}$/.test(v) ? link(`address/${v}`, v) : v]))),
  );
}

async function addressPage(address) {
  const [balance, nonce, code] = await batch([
    ['eth_getBalance', [address, 'latest']],
    ['eth_getTransactionCount', [address, 'latest']],
    ['eth_getCode', [address, 'latest']],
  ]);
  for (const x of [balance, nonce, code]) if (x instanceof Error) throw x;
  const box = h('div', { id: 'proof-box' });
  const button = h('button', { type: 'button', id: 'verify-proof' }, 'Verify state proof');
  button.addEventListener('click', () => verifyAccountInto(box, address));
  main.replaceChildren(
    h('h2', {}, 'Account'),
    h('section', {}, fields([
      ['address', h('span', { class: 'mono' }, address)],
      ['balance', h('span', { id: 'balance' }, ether(balance))],
      ['nonce', String(num(nonce))],
      ['code', code === '0x' ? 'none (an externally owned account)' : h('details', {}, h('summary', {}, `${(code.length - 2) / 2} bytes`), h('div', { class: 'mono wrap' }, code))],
    ])),
    h('section', {}, h('h3', {}, 'State proof'), h('p', { class: 'muted' }, 'eth_getProof at the latest certified block, checked here against the state root the replicas signed.'), button, box),
  );
}

function notFound(what) {
  main.replaceChildren(h('h2', {}, 'Not found'), h('p', {}, `${what} is not known to this node.`));
}

// ---------------------------------------------------------------------------------------------
// Routing, search, token

function currentRoute() {
  const [view = 'home', arg] = location.hash.replace(/^#\/?/, '').split('/');
  return { view: view === '' ? 'home' : view, arg };
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
    await refreshStatus();
    await new Promise((r) => setTimeout(r, 3000));
  }
}

start();
