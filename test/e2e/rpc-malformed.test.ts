// Malformed and unauthorised input against a real client node (four replicas and a client node in
// this process, TLS and RocksDB): bad hex, wrong lengths, huge numbers, deep JSON, oversized bodies
// and batches, garbage transactions, calls without or beyond a token, and a rate limit. Each is
// answered with go-ethereum's code and wording (or ours where geth has no equivalent), over HTTP
// and WebSocket, and afterwards the node still answers and still lands a transaction.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { buildCommon } from '../../src/execution/common.ts';
import { newRpcToken } from '../../src/rpc/security.ts';
import { CHAIN_ID, addressOf, signTx, testKey } from '../helpers/chain.ts';
import { startInProcessNetwork, type InProcessNetwork, type InProcessNetworkOptions } from '../helpers/in-process-network.ts';
import { freePorts } from '../helpers/net.ts';

interface Reply {
  jsonrpc: '2.0';
  id: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

const A = `0x${'11'.repeat(20)}`;
const SINK = '0x00000000000000000000000000000000000000a5';
const common = buildCommon(CHAIN_ID, 'cancun');
const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString('hex')}`;

let net: InProcessNetwork;
let metricsUrl: string;
let clientOptions: InProcessNetworkOptions['client'];
/** Transfers to SINK that landed (one wei each) and the sender's next nonce. */
let landed = 0n;

before(async () => {
  const [metricsPort] = await freePorts(1);
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  clientOptions = { metrics: { host: '127.0.0.1', port: metricsPort! } };
  net = await startInProcessNetwork(0x61, { client: clientOptions });
});
after(async () => {
  await net?.stop();
});

async function post(body: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; json: unknown }> {
  const res = await fetch(net.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text === '' ? null : JSON.parse(text) };
}

const request = (method: string, params: unknown[] = [], id: unknown = 1) => JSON.stringify({ jsonrpc: '2.0', id, method, params });

async function call(method: string, params: unknown[] = [], headers: Record<string, string> = {}): Promise<Reply> {
  return (await post(request(method, params), headers)).json as Reply;
}

/** A WebSocket client that sends one message at a time and waits for what comes back. */
class Ws {
  readonly #ws: WebSocket;
  readonly #inbox: string[] = [];
  #waiting: (() => void) | null = null;
  closed: { code: number } | null = null;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (m) => {
      this.#inbox.push(String(m));
      this.#waiting?.();
    });
    ws.on('close', (code) => {
      this.closed = { code };
      this.#waiting?.();
    });
  }

  static async open(headers: Record<string, string> = {}): Promise<Ws> {
    const ws = new WebSocket(net.wsUrl, { headers });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return new Ws(ws);
  }

  /** The next message, or null if the connection closed (or nothing came within `ms`). */
  async next(ms = 5_000): Promise<unknown> {
    const end = Date.now() + ms;
    while (this.#inbox.length === 0 && this.closed === null && Date.now() < end) {
      await new Promise<void>((r) => {
        this.#waiting = r;
        setTimeout(r, 50);
      });
    }
    const m = this.#inbox.shift();
    return m === undefined ? null : JSON.parse(m);
  }

  async send(text: string): Promise<unknown> {
    this.push(text);
    return this.next();
  }

  /** Sends without waiting for an answer. */
  push(text: string): void {
    this.#ws.send(text);
  }

  close(): void {
    this.#ws.close();
  }
}

/** A transaction for another chain (id 5) or this one. */
function transfer(nonce: bigint, chainId = CHAIN_ID): Uint8Array {
  const c = chainId === CHAIN_ID ? common : buildCommon(chainId, 'cancun');
  return signTx(c, testKey(0), { nonce, to: SINK, value: 1n, gasLimit: 21_000n }).serialize();
}

async function nextNonce(headers: Record<string, string> = {}): Promise<bigint> {
  return BigInt((await call('eth_getTransactionCount', [addressOf(testKey(0)), 'pending'], headers)).result as string);
}

/** The node still answers a normal call correctly, and a transfer still lands. */
async function unharmed(headers: Record<string, string> = {}): Promise<void> {
  assert.deepEqual(await call('eth_chainId', [], headers), { jsonrpc: '2.0', id: 1, result: '0x539' });
  const sent = await call('eth_sendRawTransaction', [hex(transfer(await nextNonce(headers)))], headers);
  assert.match(String(sent.result), /^0x[0-9a-f]{64}$/, JSON.stringify(sent));
  let receipt: Reply = await call('eth_getTransactionReceipt', [sent.result], headers);
  for (let i = 0; receipt.result === null && i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    receipt = await call('eth_getTransactionReceipt', [sent.result], headers);
  }
  assert.equal((receipt.result as { status: string } | null)?.status, '0x1', 'the transfer landed');
  landed++;
  assert.equal(BigInt((await call('eth_getBalance', [SINK, 'latest'], headers)).result as string), landed);
}

async function refusedCount(reason: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith(`bulwark_rpc_refused_total{reason="${reason}"}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

/** [method, params, the exact -32602 message] */
const BAD_PARAMS: readonly (readonly [string, unknown[], string])[] = [
  // Bad hex, wrong lengths
  ['eth_call', [{ to: A, data: '0x123' }, 'latest'], 'invalid argument 0: hex string of odd length'],
  ['eth_getBalance', [`0x${'zz'.repeat(20)}`, 'latest'], 'invalid argument 0: json: cannot unmarshal invalid hex string into Go value of type common.Address'],
  ['eth_getBalance', ['11'.repeat(20), 'latest'], 'invalid argument 0: json: cannot unmarshal hex string without 0x prefix into Go value of type common.Address'],
  ['eth_getBalance', [`0x${'11'.repeat(19)}`, 'latest'], 'invalid argument 0: hex string has length 38, want 40 for common.Address'],
  ['eth_getCode', [`0x${'11'.repeat(21)}`, 'latest'], 'invalid argument 0: hex string has length 42, want 40 for common.Address'],
  ['eth_getBalance', [`0x${'1'.repeat(39)}`, 'latest'], 'invalid argument 0: json: cannot unmarshal hex string of odd length into Go value of type common.Address'],
  ['eth_getBalance', [42, 'latest'], 'invalid argument 0: json: cannot unmarshal non-string into Go value of type common.Address'],
  ['eth_getTransactionByHash', [`0x${'ab'.repeat(31)}`], 'invalid argument 0: hex string has length 62, want 64 for common.Hash'],
  ['eth_getBlockByHash', [`0x${'ab'.repeat(33)}`, false], 'invalid argument 0: hex string has length 66, want 64 for common.Hash'],
  ['eth_getTransactionReceipt', [`0x${'ag'.repeat(32)}`], 'invalid argument 0: json: cannot unmarshal invalid hex string into Go value of type common.Hash'],
  ['eth_sendRawTransaction', ['0x123'], 'invalid argument 0: hex string of odd length'],
  ['eth_sendRawTransaction', ['deadbeef'], 'invalid argument 0: hex string without 0x prefix'],
  // Quantities: leading zeros (geth refuses 0x01), no prefix, empty, over 2^256
  ['eth_getBalance', [A, '0x01'], 'invalid argument 1: hex number with leading zero digits'],
  // Storage keys are read as go-ethereum's decodeHash reads them: up to 32 bytes, leading zeros
  // (a zero-padded slot), odd lengths and a missing 0x allowed.
  ['eth_getStorageAt', [A, '0xg1', 'latest'], 'invalid argument 1: unable to decode storage key: hex string invalid'],
  ['eth_getStorageAt', [A, `0x1${'0'.repeat(64)}`, 'latest'], 'invalid argument 1: unable to decode storage key: hex string too long, want at most 32 bytes'],
  ['eth_call', [{ to: A, value: `0x${'f'.repeat(65)}` }, 'latest'], 'invalid argument 0: hex number > 256 bits'],
  // Block numbers over 2^64 (and over int64 where geth says so)
  ['eth_getBlockByNumber', [`0x1${'0'.repeat(16)}`, false], 'invalid argument 0: hex number > 64 bits'],
  ['eth_getBalance', [A, `0x1${'0'.repeat(16)}`], 'invalid argument 1: hex number > 64 bits'],
  ['eth_getBlockByNumber', [`0x8${'0'.repeat(15)}`, false], 'invalid argument 0: block number larger than int64'],
  // Negative and fractional numbers: JSON numbers are not quantities
  ['eth_getStorageAt', [A, -1, 'latest'], 'invalid argument 1: json: cannot unmarshal non-string into Go value of type string'],
  ['eth_call', [{ to: A, value: 1.5 }, 'latest'], 'invalid argument 0: json: cannot unmarshal non-string into Go value of type *hexutil.Big'],
  ['eth_getBalance', [A, -1], 'invalid argument 1: invalid block number or tag'],
  ['eth_getBlockByNumber', [1.5, false], 'invalid argument 0: invalid block number or tag'],
  // Wrong count and type
  ['eth_getBalance', [], 'missing value for required argument 0'],
  ['eth_getBalance', [A, 'latest', 'extra'], 'too many arguments, want at most 2'],
  ['eth_chainId', [1], 'too many arguments, want at most 0'],
  ['eth_getBlockByNumber', ['0x0', 'yes'], 'invalid argument 1: json: cannot unmarshal string into Go value of type bool'],
  ['eth_getBlockByNumber', ['0x0', 1], 'invalid argument 1: json: cannot unmarshal number into Go value of type bool'],
  ['eth_call', ['latest'], 'invalid argument 0: expected a transaction call object'],
];

test('bad parameters are -32602 with go-ethereum\'s wording, over HTTP and WebSocket; the node is unharmed', async () => {
  await unharmed();
  const ws = await Ws.open();
  try {
    for (const [method, params, message] of BAD_PARAMS) {
      const expected = { jsonrpc: '2.0', id: 1, error: { code: -32602, message } };
      assert.deepEqual(await call(method, params), expected, `HTTP ${method} ${JSON.stringify(params)}`);
      assert.deepEqual(await ws.send(request(method, params)), expected, `WS ${method} ${JSON.stringify(params)}`);
      assert.deepEqual(await call('eth_chainId'), { jsonrpc: '2.0', id: 1, result: '0x539' });
    }
    // params that are not an array
    const notArray = JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'eth_getBalance', params: { address: A } });
    assert.deepEqual((await post(notArray)).json, { jsonrpc: '2.0', id: 3, error: { code: -32602, message: 'non-array args' } });
    assert.deepEqual(await ws.send(request('eth_blockNumber')).then((r) => typeof (r as Reply).result), 'string', 'the socket still serves');
  } finally {
    ws.close();
  }
  await unharmed();
});

test('envelopes: unparseable, not a request, empty batch, notifications, unknown methods, deep nesting', async () => {
  const ws = await Ws.open();
  try {
    const both = async (body: string, expected: unknown, what: string) => {
      const r = await post(body);
      assert.equal(r.status, 200, what);
      assert.deepEqual(r.json, expected, `HTTP ${what}`);
      assert.deepEqual(await ws.send(body), expected, `WS ${what}`);
    };
    const parseError = { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } };
    const invalid = (id: unknown) => ({ jsonrpc: '2.0', id, error: { code: -32600, message: 'invalid request' } });
    await both('{"jsonrpc":"2.0","id":1,"method":', parseError, 'truncated JSON');
    await both('{"jsonrpc":"2.0",\'id\':1}', parseError, 'single quotes');
    await both('42', invalid(null), 'a number');
    await both('"eth_chainId"', invalid(null), 'a string');
    await both('{"jsonrpc":"2.0","id":5}', invalid(5), 'no method');
    await both('{"jsonrpc":"2.0","id":5,"method":7}', invalid(5), 'a method that is not a string');
    await both('{"jsonrpc":"2.0","id":{"a":1},"method":"eth_chainId"}', invalid(null), 'an object id');
    await both('[]', { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'empty batch' } }, 'empty batch');
    await both('[1,"x"]', [invalid(null), invalid(null)], 'a batch of non-requests');
    await both(request('eth_nope', [], 9), { jsonrpc: '2.0', id: 9, error: { code: -32601, message: 'the method eth_nope does not exist/is not available' } }, 'unknown method');
    // 100,000 levels: deeper than go-ethereum's decoder goes (10,000), a parse error.
    await both('['.repeat(100_000) + ']'.repeat(100_000), parseError, 'a 100,000-deep array');
    await both('{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000), parseError, 'a 100,000-deep object');
    // Strings are not nesting: brackets inside one do not count.
    const bracketed = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'web3_clientVersion', params: [], pad: '['.repeat(30_000) });
    assert.deepEqual((await post(bracketed)).json, { jsonrpc: '2.0', id: 2, result: 'bulwark/0.1.0' });

    // Notifications get no answer: an empty HTTP body, no WebSocket message.
    const notification = JSON.stringify({ jsonrpc: '2.0', method: 'eth_chainId', params: [] });
    assert.deepEqual([(await post(notification)).status, (await post(notification)).json], [200, null]);
    assert.equal((await post(`[${notification},${notification}]`)).json, null, 'a batch of notifications');
    const mixed = (await post(`[${notification},${request('eth_chainId', [], 'x')},${JSON.stringify({ jsonrpc: '2.0', method: 'eth_nope' })}]`)).json;
    assert.deepEqual(mixed, [{ jsonrpc: '2.0', id: 'x', result: '0x539' }]);
    // Over WebSocket the next message is the answer to the call after the notifications.
    ws.push(notification);
    ws.push(`[${notification}]`);
    assert.deepEqual(await ws.send(request('eth_chainId', [], 77)), { jsonrpc: '2.0', id: 77, result: '0x539' });
  } finally {
    ws.close();
  }
  // GET is not JSON-RPC: it is the explorer's page, or 404; other methods are 405.
  assert.equal((await fetch(`${net.url}/no-such-file`)).status, 404, 'GET of an unknown path');
  assert.equal((await fetch(net.url, { method: 'PUT' })).status, 405, 'PUT is not JSON-RPC');
  await unharmed();
});

test('limits: a 10,000-entry batch, a body over 5 MiB; counted as refusals', async () => {
  const batchBefore = await refusedCount('batch_size');
  const bodyBefore = await refusedCount('body_size');
  const huge = JSON.stringify(Array.from({ length: 10_000 }, (_, i) => ({ jsonrpc: '2.0', id: i + 100, method: 'eth_chainId' })));
  const tooLarge = [{ jsonrpc: '2.0', id: 100, error: { code: -32600, message: 'batch too large' } }];
  assert.deepEqual((await post(huge)).json, tooLarge, 'HTTP: go-ethereum\'s answer, with the first call\'s id');
  const ws = await Ws.open();
  try {
    assert.deepEqual(await ws.send(huge), tooLarge, 'WS');
    // The limit itself (1,000) is served in full and in order.
    const full = (await post(JSON.stringify(Array.from({ length: 1_000 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'eth_chainId' }))))).json as Reply[];
    assert.equal(full.length, 1_000);
    assert.ok(full.every((r, i) => r.id === i && r.result === '0x539'));

    const oversized = request('web3_sha3', [`0x${'00'.repeat(3 << 20)}`]);
    const r = await post(oversized);
    assert.equal(r.status, 413);
    assert.deepEqual(r.json, { jsonrpc: '2.0', id: null, error: { code: -32005, message: 'request body larger than 5242880 bytes' } });
    // Over WebSocket the message is refused by closing the connection with 1009 (message too big),
    // as go-ethereum's read limit does.
    assert.equal(await ws.send(oversized), null);
    assert.deepEqual(ws.closed, { code: 1009 });
  } finally {
    ws.close();
  }
  assert.equal(await refusedCount('batch_size'), batchBefore + 2);
  assert.equal(await refusedCount('body_size'), bodyBefore + 2, 'HTTP and WebSocket');
  const again = await Ws.open();
  try {
    assert.deepEqual(await again.send(request('eth_chainId')), { jsonrpc: '2.0', id: 1, result: '0x539' }, 'a new socket is served');
  } finally {
    again.close();
  }
  await unharmed();
});

test('eth_sendRawTransaction: garbage, a truncated RLP, another chain\'s transaction', async () => {
  const nonce = await nextNonce();
  const good = transfer(nonce);
  const refusals: [string, string][] = [
    ['0xdeadbeef', 'rlp: invalid transaction encoding'],
    ['0x', 'rlp: invalid transaction encoding'],
    [hex(good.subarray(0, good.length - 5)), 'rlp: invalid transaction encoding'],
    [hex(Uint8Array.of(...good, 0x00)), 'rlp: invalid transaction encoding'],
    [hex(Uint8Array.of(0x05, ...good.subarray(1))), 'transaction type not supported'],
    [hex(transfer(nonce, 5n)), 'invalid chain id for signer'],
    [hex(signTx(buildCommon(5n, 'cancun'), testKey(0), { nonce, to: SINK, value: 1n, gasLimit: 21_000n, type: 0 }).serialize()), 'invalid chain id for signer'],
  ];
  for (const [raw, message] of refusals) {
    assert.deepEqual(await call('eth_sendRawTransaction', [raw]), { jsonrpc: '2.0', id: 1, error: { code: -32000, message } }, raw.slice(0, 20));
  }
  assert.equal(await nextNonce(), nonce, 'nothing entered the pool');
  await unharmed();
});

test('with bearer tokens: no token, a wrong token, a method outside the token\'s list', async () => {
  const full = newRpcToken('ops', ['*']);
  const reader = newRpcToken('dashboard', ['eth_chainId', 'net_*']);
  await net.restartClient({ ...clientOptions, rpcSecurity: { auth: { tokens: [full.entry, reader.entry] } } });
  const ops = { authorization: `Bearer ${full.token}` };
  const dash = { authorization: `Bearer ${reader.token}` };
  try {
    const unauthorized = (message: string) => ({ jsonrpc: '2.0', id: null, error: { code: -32001, message } });
    const none = await post(request('eth_chainId'));
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    assert.deepEqual(none.json, unauthorized('missing token'));
    for (const header of [`Bearer ${'0'.repeat(64)}`, `Bearer ${full.token}x`, `Basic ${full.token}`, 'Bearer']) {
      const r = await post(request('eth_chainId'), { authorization: header });
      assert.deepEqual([r.status, r.json], [401, unauthorized('invalid token')], header);
    }
    // A token that checks out, calling outside its list: -32004 for that call only.
    assert.deepEqual(await call('eth_chainId', [], dash), { jsonrpc: '2.0', id: 1, result: '0x539' });
    assert.deepEqual(await call('net_version', [], dash), { jsonrpc: '2.0', id: 1, result: '1337' });
    const notAllowed = (id: unknown, method: string) => ({ jsonrpc: '2.0', id, error: { code: -32004, message: `method ${method} is not allowed for this token` } });
    assert.deepEqual(await call('eth_sendRawTransaction', [hex(transfer(0n))], dash), notAllowed(1, 'eth_sendRawTransaction'));
    const batch = await post(`[${request('eth_getBalance', [A, 'latest'], 1)},${request('eth_chainId', [], 2)}]`, dash);
    assert.deepEqual(batch.json, [notAllowed(1, 'eth_getBalance'), { jsonrpc: '2.0', id: 2, result: '0x539' }]);
    // Malformed input from an authenticated caller is answered as without auth.
    assert.deepEqual(await call('eth_getBalance', [`0x${'11'.repeat(19)}`, 'latest'], ops), {
      jsonrpc: '2.0',
      id: 1,
      error: { code: -32602, message: 'invalid argument 0: hex string has length 38, want 40 for common.Address' },
    });

    // WebSocket: refused at the upgrade without a valid token; the list holds per call.
    for (const headers of [{}, { authorization: 'Bearer nope' }]) {
      const status = await new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(net.wsUrl, { headers });
        ws.once('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          res.resume();
          ws.terminate();
        });
        ws.once('open', () => reject(new Error('the upgrade was accepted')));
        ws.once('error', () => undefined);
      });
      assert.equal(status, 401, JSON.stringify(headers));
    }
    const ws = await Ws.open(dash);
    try {
      assert.deepEqual(await ws.send(request('eth_chainId')), { jsonrpc: '2.0', id: 1, result: '0x539' });
      assert.deepEqual(await ws.send(request('eth_blockNumber')), notAllowed(1, 'eth_blockNumber'));
    } finally {
      ws.close();
    }
    assert.deepEqual(
      await Promise.all(['auth_missing', 'auth_invalid', 'method_not_allowed'].map(refusedCount)),
      [2, 5, 3],
      'refusals counted by reason (no token: HTTP and WS; wrong: 4 HTTP and 1 WS; outside the list: 2 HTTP and 1 WS)',
    );
    await unharmed(ops);
  } finally {
    await net.restartClient(clientOptions);
  }
});

test('with a rate limit: over the limit is 429 / -32005, for batches, malformed input and WebSocket alike', async () => {
  // One call every 4 s, five at once: a refill takes far longer than the calls between two checks,
  // however loaded the machine (at two a second, five calls taking 500 ms had refilled one).
  await net.restartClient({ ...clientOptions, rpcSecurity: { rateLimit: { perSecond: 0.25, burst: 5 } } });
  const limited = { jsonrpc: '2.0', id: null, error: { code: -32005, message: 'rate limit exceeded: 0.25 requests per second' } };
  const refill = () => new Promise((r) => setTimeout(r, 4_100));
  try {
    // A batch costs one token per call: six can never fit a bucket of five (and take nothing).
    const six = await post(JSON.stringify(Array.from({ length: 6 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'eth_chainId' }))));
    assert.deepEqual([six.status, six.json], [429, { jsonrpc: '2.0', id: null, error: { code: -32005, message: "a batch of 6 calls exceeds the rate limit's burst of 5" } }]);
    for (let i = 0; i < 5; i++) assert.deepEqual(await call('eth_chainId'), { jsonrpc: '2.0', id: 1, result: '0x539' }, `call ${i}`);
    const over = await post(request('eth_chainId'));
    assert.deepEqual([over.status, over.json], [429, limited]);
    // Malformed input costs a token too.
    await refill();
    const malformed = await post('{');
    assert.deepEqual([malformed.status, malformed.json], [200, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } }]);
    assert.deepEqual([(await post('{')).status, (await post('{')).json], [429, limited]);
    // WebSocket calls draw on the same bucket.
    const ws = await Ws.open();
    try {
      assert.deepEqual(await ws.send(request('eth_chainId')), limited);
      await refill();
      assert.deepEqual(await ws.send(request('eth_chainId')), { jsonrpc: '2.0', id: 1, result: '0x539' }, 'the bucket refilled');
    } finally {
      ws.close();
    }
    assert.equal(await refusedCount('rate_limit'), 5);
  } finally {
    await net.restartClient(clientOptions);
  }
  await unharmed();
});
