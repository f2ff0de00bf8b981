// The JSON-RPC server's conventions against a real in-process server over HTTP and WebSocket.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { initHashes } from '../../src/crypto/hash.ts';
import { RPC_CODES, RpcError } from '../../src/rpc/errors.ts';
import { method, type MethodDef } from '../../src/rpc/method.ts';
import { identityMethods } from '../../src/rpc/namespaces/web3-net.ts';
import { address, blockRef, data, quantity } from '../../src/rpc/params.ts';
import { RpcServer } from '../../src/rpc/server.ts';

await initHashes();

let server: RpcServer;
const internal: string[] = [];

before(async () => {
  const methods = new Map<string, MethodDef>([
    ...identityMethods({ chainId: 1337n, clientVersion: 'bulwark/test', peerCount: () => 4 }),
    ['test_echo', method([quantity, address], [blockRef], ([q, a, b]) => ({ q: `0x${q.toString(16)}`, a, b: b === undefined ? null : JSON.stringify(b, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) }))],
    ['test_revert', method([], [], () => { throw new RpcError(RPC_CODES.revert, 'execution reverted: nope', '0x08c379a0'); })],
    ['test_bug', method([], [], () => { throw new Error('a bug'); })],
    ['test_data', method([data(4)], [], ([d]) => d.length)],
  ]);
  server = await RpcServer.start({ methods, port: 0, limits: { maxBodyBytes: 64 * 1024, maxBatch: 10 }, onInternalError: (m) => internal.push(m) });
});
after(() => server.close());

async function post(body: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await res.text();
  return { status: res.status, json: text === '' ? null : JSON.parse(text) };
}

const call = async (method: string, params: unknown[] = [], id: unknown = 1) =>
  (await post(JSON.stringify({ jsonrpc: '2.0', id, method, params }))).json as { id: unknown; result?: unknown; error?: { code: number; message: string; data?: unknown } };

describe('identity methods', () => {
  test('web3, net and eth_chainId', async () => {
    assert.equal((await call('web3_clientVersion')).result, 'bulwark/test');
    assert.equal((await call('eth_chainId')).result, '0x539');
    assert.equal((await call('net_version')).result, '1337');
    assert.equal((await call('net_listening')).result, true);
    assert.equal((await call('net_peerCount')).result, '0x4');
    assert.equal((await call('web3_sha3', ['0x68656c6c6f20776f726c64'])).result, '0x47173285a8d7341e5e972fc677286384f802f8ef42a5ec5f03bbfa254cb01fad');
  });
});

describe('conventions', () => {
  test('unparseable input is -32700; a malformed request -32600', async () => {
    assert.equal(((await post('{"jsonrpc":')).json as { error: { code: number } }).error.code, -32700);
    assert.equal(((await post('"hello"')).json as { error: { code: number } }).error.code, -32600);
    assert.equal(((await post('{"jsonrpc":"1.0","id":1,"method":"eth_chainId"}')).json as { error: { code: number } }).error.code, -32600);
    assert.equal(((await post('{"jsonrpc":"2.0","id":{},"method":"eth_chainId"}')).json as { error: { code: number } }).error.code, -32600);
  });

  test('an unknown method is -32601 with go-ethereum\'s message', async () => {
    const r = await call('eth_nope');
    assert.deepEqual(r.error, { code: -32601, message: 'the method eth_nope does not exist/is not available' });
  });

  test('bad parameters are -32602 naming the argument', async () => {
    const cases: [unknown[], RegExp][] = [
      [['12', '0x' + '00'.repeat(20)], /invalid argument 0: hex string without 0x prefix/],
      [['0x01', '0x' + '00'.repeat(20)], /invalid argument 0: hex number with leading zero digits/],
      [['0x' + 'f'.repeat(65), '0x' + '00'.repeat(20)], /invalid argument 0: hex number > 256 bits/],
      [['0x1', '0x1234'], /invalid argument 1: hex string has length 4, want 40 for common.Address/],
      [['0x1', '0x' + '00'.repeat(20), 'soonish'], /invalid argument 2/],
      [['0x1', '0x' + '00'.repeat(20), { blockHash: '0x' + '11'.repeat(32), blockNumber: '0x1' }], /cannot specify both/],
      [['0x1'], /missing value for required argument 1/],
      [['0x1', '0x' + '00'.repeat(20), 'latest', 4], /too many arguments/],
    ];
    for (const [params, message] of cases) {
      const r = await call('test_echo', params);
      assert.equal(r.error?.code, -32602, JSON.stringify(params));
      assert.match(r.error!.message, message);
    }
    assert.match((await call('test_data', ['0x0102030405'])).error!.message, /longer than 4 bytes/);
    assert.match((await call('test_data', ['0x123'])).error!.message, /odd length/);
  });

  test('EIP-1898 block parameters and tags', async () => {
    const a = '0x' + 'ab'.repeat(20);
    assert.match(String((await call('test_echo', ['0x0', a, { blockHash: '0x' + '11'.repeat(32), requireCanonical: true }])).result && 'ok'), /ok/);
    for (const tag of ['latest', 'earliest', 'pending', 'safe', 'finalized', '0x10', { blockNumber: '0x2' }]) {
      assert.equal((await call('test_echo', ['0x0', a, tag])).error, undefined, JSON.stringify(tag));
    }
  });

  test('reverts are code 3 with their data; bugs are -32603 and reported', async () => {
    assert.deepEqual((await call('test_revert')).error, { code: 3, message: 'execution reverted: nope', data: '0x08c379a0' });
    assert.deepEqual((await call('test_bug')).error, { code: -32603, message: 'internal error' });
    assert.deepEqual(internal, ['test_bug']);
  });

  test('batches: answered in order, notifications left out, limits enforced', async () => {
    const r = (await post(JSON.stringify([
      { jsonrpc: '2.0', id: 1, method: 'eth_chainId' },
      { jsonrpc: '2.0', method: 'eth_chainId' },
      { jsonrpc: '2.0', id: 'b', method: 'eth_nope' },
      42,
    ]))).json as { id: unknown; error?: { code: number } }[];
    assert.deepEqual(r.map((x) => x.id), [1, 'b', null]);
    assert.equal(r[2]!.error?.code, -32600);
    assert.equal(((await post('[]')).json as { error: { code: number } }).error.code, -32600);
    const big = JSON.stringify(Array.from({ length: 11 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'eth_chainId' })));
    assert.deepEqual((await post(big)).json, [{ jsonrpc: '2.0', id: 0, error: { code: -32600, message: 'batch too large' } }]);
    assert.equal((await post(JSON.stringify({ jsonrpc: '2.0', method: 'eth_chainId' }))).json, null, 'a lone notification gets no answer');
  });

  test('an oversized body is refused with 413 and the server goes on', async () => {
    const r = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'web3_sha3', params: ['0x' + '00'.repeat(40_000)] }));
    assert.equal(r.status, 413);
    assert.equal((r.json as { error: { code: number } }).error.code, -32005);
    assert.equal((await call('eth_chainId')).result, '0x539');
  });

  test('JSON nested deeper than go-ethereum decodes (10,000) is a parse error, not a crash', async () => {
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    assert.deepEqual((await post(deep)).json, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } });
    const shallow = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'web3_sha3', params: ['0x' + '00'.repeat(20_000)] });
    assert.equal(((await post(shallow)).json as { result: string }).result.length, 66, 'a long flat request is not refused');
    assert.equal((await call('eth_chainId')).result, '0x539');
  });

  test('GET is not JSON-RPC', async () => {
    assert.equal((await fetch(server.url)).status, 405);
  });
});

test('the same methods over WebSocket on the same port', async () => {
  const ws = new WebSocket(server.url.replace('http', 'ws'));
  await new Promise((r, j) => ws.once('open', r).once('error', j));
  const answer = new Promise<string>((r) => ws.once('message', (m) => r(m.toString())));
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'eth_chainId' }));
  assert.deepEqual(JSON.parse(await answer), { jsonrpc: '2.0', id: 7, result: '0x539' });
  const bad = new Promise<string>((r) => ws.once('message', (m) => r(m.toString())));
  ws.send('not json');
  assert.equal(JSON.parse(await bad).error.code, -32700);
  ws.close();
});
