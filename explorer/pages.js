// The pages of one thing: a block (with its certificate check), a transaction (with its receipt
// and decoded logs), an account (with its state proof check).
import { fields, h, link, table } from './dom.js';
import { decodeLog } from './events.js';
import { ago, ether, num, short } from './hex.js';
import { batch, call } from './rpc.js';
import { verifyAccountInto, verifyBlockInto } from './checks.js';
import { hex, main } from './state.js';

export async function blockPage(id) {
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

export async function txPage(hash) {
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

export async function addressPage(address) {
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

