// eth_getLogs and the polling filters against a real client node in this process, on a chain this
// file builds: block 1 deploys a Token (a mint Transfer log), block 2 an Exerciser, block 3 a token
// transfer, block 4 an Exerciser store (a Stored log). Filters then see blocks, logs and pending
// transactions that arrive while they are installed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Common } from '@ethereumjs/common';
import { createAddressFromString, createContractAddress } from '@ethereumjs/util';
import { initHashes, keccak256 } from '../../src/crypto/hash.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { bytecode, encodeCall, eventTopic } from '../helpers/abi.ts';
import { CHAIN_ID, addressOf, signTx, testKey } from '../helpers/chain.ts';
import { startInProcessNetwork, type InProcessNetwork } from '../helpers/in-process-network.ts';
import { hex, hexQ, rpcClient, word, type Receipt, type Rpc, type RpcLog } from '../helpers/rpc.ts';

await initHashes();

const A = testKey(0);
const B = testKey(1);
const C = testKey(2);
const TOKEN = createContractAddress(createAddressFromString(addressOf(A)), 0n).toString() as `0x${string}`;
const EXERCISER = createContractAddress(createAddressFromString(addressOf(B)), 0n).toString() as `0x${string}`;
const TRANSFER = hex(eventTopic('Transfer(address,address,uint256)'));
const STORED = hex(eventTopic('Stored(uint256,uint256,bytes32)'));
const UNKNOWN_HASH = `0x${'ab'.repeat(32)}`;

let net: InProcessNetwork;
let rpc: Rpc;
let common: Common;
let mint: RpcLog;
let transfer: RpcLog;
let stored: RpcLog;
let head: number;
let nonceA = 0n;
let nonceC = 0n;

const sendA = (to: `0x${string}`, data: Uint8Array, gasLimit = 200_000n) => rpc.send(signTx(common, A, { nonce: nonceA++, to, data, gasLimit }));
const tokenTransfer = (to: string, amount: bigint) => sendA(TOKEN, encodeCall('transfer(address,uint256)', to, amount));
const ethTransfer = () => rpc.send(signTx(common, C, { nonce: nonceC++, to: addressOf(B), value: 1n, gasLimit: 21_000n }));
const logs = (filter: Record<string, unknown>) => rpc.call<RpcLog[]>('eth_getLogs', [filter]);

before(async () => {
  net = await startInProcessNetwork(0xb4);
  rpc = rpcClient(net.url);
  common = buildCommon(CHAIN_ID);
  const deployed = await rpc.send(signTx(common, A, { nonce: nonceA++, data: bytecode('Token', 1_000n), gasLimit: 1_000_000n }));
  const exerciser = await rpc.send(signTx(common, B, { nonce: 0n, data: bytecode('Exerciser'), gasLimit: 3_000_000n }));
  assert.equal(exerciser.contractAddress, EXERCISER);
  const transferred = await tokenTransfer(addressOf(B), 10n);
  const store = await sendA(EXERCISER, encodeCall('store(uint256,uint256)', 5n, 77n));
  assert.deepEqual([deployed, exerciser, transferred, store].map((r: Receipt) => Number(r.blockNumber)), [1, 2, 3, 4]);
  [mint] = deployed.logs as [RpcLog];
  [transfer] = transferred.logs as [RpcLog];
  [stored] = store.logs as [RpcLog];
  head = 4;
});
after(async () => {
  await net?.stop();
});

describe('eth_getLogs', () => {
  test('every log of the chain, in order, with the fields the receipts gave', async () => {
    const all = await logs({ fromBlock: 'earliest', toBlock: 'latest' });
    assert.deepEqual(all, [mint, transfer, stored]);
    assert.deepEqual([mint.topics, mint.data], [[TRANSFER, word(0n), word(addressOf(A))], word(1_000n)]);
    assert.deepEqual([transfer.topics, transfer.data], [[TRANSFER, word(addressOf(A)), word(addressOf(B))], word(10n)]);
    const tag = hex(keccak256(Buffer.from(word(5n).slice(2) + word(77n).slice(2), 'hex')));
    assert.deepEqual([stored.address, stored.topics, stored.data], [EXERCISER, [STORED, word(5n)], `0x${word(77n).slice(2)}${tag.slice(2)}`]);
    assert.deepEqual(await logs({ fromBlock: '0x0', toBlock: hexQ(head) }), all);
    assert.deepEqual(await logs({ fromBlock: '0x2', toBlock: '0x3' }), [transfer]);
  });
  test('without a range: the head block only', async () => {
    assert.deepEqual(await logs({}), [stored]);
    assert.deepEqual(await logs({ address: TOKEN }), []);
  });
  test('by address: one, several, none matching', async () => {
    const from = { fromBlock: 'earliest' };
    assert.deepEqual(await logs({ ...from, address: TOKEN }), [mint, transfer]);
    assert.deepEqual(await logs({ ...from, address: [TOKEN, EXERCISER] }), [mint, transfer, stored]);
    assert.deepEqual(await logs({ ...from, address: EXERCISER.toUpperCase().replace('0X', '0x') }), [stored]);
    assert.deepEqual(await logs({ ...from, address: addressOf(C) }), []);
  });
  test('by topics: by position, null wildcards, alternatives', async () => {
    const from = { fromBlock: 'earliest' };
    assert.deepEqual(await logs({ ...from, topics: [TRANSFER] }), [mint, transfer]);
    assert.deepEqual(await logs({ ...from, topics: [null, word(0n)] }), [mint]);
    assert.deepEqual(await logs({ ...from, topics: [TRANSFER, null, word(addressOf(B))] }), [transfer]);
    assert.deepEqual(await logs({ ...from, topics: [[TRANSFER, STORED]] }), [mint, transfer, stored]);
    assert.deepEqual(await logs({ ...from, topics: [[STORED, null]] }), [mint, transfer, stored], 'a null alternative matches anything');
    assert.deepEqual(await logs({ ...from, topics: [STORED, word(5n)] }), [stored]);
    assert.deepEqual(await logs({ ...from, topics: [STORED, word(6n)] }), []);
    assert.deepEqual(await logs({ ...from, topics: [STORED, null, null] }), [], 'Stored has two topics, not three');
    assert.deepEqual(await logs({ ...from, address: TOKEN, topics: [null, word(addressOf(A))] }), [transfer]);
  });
  test('by block hash', async () => {
    assert.deepEqual(await logs({ blockHash: transfer.blockHash }), [transfer]);
    assert.deepEqual(await logs({ blockHash: transfer.blockHash, address: EXERCISER }), []);
    assert.deepEqual(await logs({ blockHash: stored.blockHash, topics: [STORED] }), [stored]);
    await rpc.rejects('eth_getLogs', [{ blockHash: UNKNOWN_HASH }], -32000, 'unknown block');
    await rpc.rejects('eth_getLogs', [{ blockHash: transfer.blockHash, fromBlock: '0x1' }], -32602, 'invalid argument 0: cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other');
  });
  test('ranges: reversed is refused, more than 10,000 blocks is refused, past the head stops at the head', async () => {
    await rpc.rejects('eth_getLogs', [{ fromBlock: '0x3', toBlock: '0x2' }], -32000, 'invalid block range params');
    await rpc.rejects('eth_getLogs', [{ fromBlock: '0x0', toBlock: '0x2710' }], -32005, 'query spans 10001 blocks, more than the limit of 10000');
    assert.deepEqual(await logs({ fromBlock: '0x3', toBlock: '0x2709' }), [transfer, stored]);
  });
  test('malformed filters are -32602', async () => {
    await rpc.rejects('eth_getLogs', [{ address: '0x1234' }], -32602, /^invalid argument 0: /);
    await rpc.rejects('eth_getLogs', [{ topics: ['0x12'] }], -32602, /^invalid argument 0: /);
    await rpc.rejects('eth_getLogs', [{ topics: [null, null, null, null, null] }], -32602, /^invalid argument 0: too many topics/);
    await rpc.rejects('eth_getLogs', [{ fromBlock: 'soon' }], -32602, /^invalid argument 0: /);
    await rpc.rejects('eth_getLogs', ['latest'], -32602, /^invalid argument 0: /);
    await rpc.rejects('eth_getLogs', [], -32602, 'missing value for required argument 0');
  });
});

describe('polling filters', () => {
  const changes = <T = unknown>(id: string) => rpc.call<T[]>('eth_getFilterChanges', [id]);

  test('a block filter: nothing until a block comes, then its hash, once', async () => {
    const id = await rpc.call<string>('eth_newBlockFilter');
    assert.match(id, /^0x[0-9a-f]+$/);
    assert.deepEqual(await changes(id), []);
    const r1 = await ethTransfer();
    const r2 = await ethTransfer();
    assert.deepEqual(await changes(id), [r1.blockHash, r2.blockHash]);
    assert.deepEqual(await changes(id), []);
    head = Number(r2.blockNumber);
    assert.equal(await rpc.call('eth_uninstallFilter', [id]), true);
  });
  test('a log filter: new matching logs since the last poll; eth_getFilterLogs: all it matches now', async () => {
    const id = await rpc.call<string>('eth_newFilter', [{ address: TOKEN, fromBlock: 'earliest' }]);
    const topical = await rpc.call<string>('eth_newFilter', [{ topics: [STORED] }]);
    assert.deepEqual(await changes(id), [], 'a filter sees what comes after it was made');
    const r = await tokenTransfer(addressOf(C), 3n);
    await ethTransfer();
    const [log] = r.logs;
    assert.deepEqual(log!.topics, [TRANSFER, word(addressOf(A)), word(addressOf(C))]);
    assert.deepEqual(await changes(id), [log]);
    assert.deepEqual(await changes(id), []);
    assert.deepEqual(await changes(topical), [], 'no Stored log since');
    assert.deepEqual(await rpc.call('eth_getFilterLogs', [id]), [mint, transfer, log]);
    assert.deepEqual(await rpc.call('eth_getFilterLogs', [topical]), [], 'without a range: the head block only');
    for (const f of [id, topical]) assert.equal(await rpc.call('eth_uninstallFilter', [f]), true);
  });
  test('a pending-transaction filter: the hashes the pool accepted', async () => {
    const id = await rpc.call<string>('eth_newPendingTransactionFilter');
    assert.deepEqual(await changes(id), []);
    const r1 = await ethTransfer();
    const r2 = await ethTransfer();
    assert.deepEqual(await changes(id), [r1.transactionHash, r2.transactionHash]);
    assert.deepEqual(await changes(id), []);
    assert.equal(await rpc.call('eth_uninstallFilter', [id]), true);
  });
  test('eth_newFilter refusals', async () => {
    await rpc.rejects('eth_newFilter', [{ blockHash: transfer.blockHash }], -32602, /^invalid argument 0: /);
    await rpc.rejects('eth_newFilter', [{ address: 'x' }], -32602, /^invalid argument 0: /);
    await rpc.rejects('eth_newFilter', [], -32602, 'missing value for required argument 0');
  });
  test('unknown, uninstalled and malformed filter ids: go-ethereum\'s "filter not found"', async () => {
    const id = await rpc.call<string>('eth_newBlockFilter');
    await rpc.rejects('eth_getFilterLogs', [id], -32000, 'filter not found');
    assert.equal(await rpc.call('eth_uninstallFilter', [id]), true);
    assert.equal(await rpc.call('eth_uninstallFilter', [id]), false);
    await rpc.rejects('eth_getFilterChanges', [id], -32000, 'filter not found');
    await rpc.rejects('eth_getFilterLogs', [id], -32000, 'filter not found');
    await rpc.rejects('eth_getFilterChanges', [`0x${'12'.repeat(16)}`], -32000, 'filter not found');
    await rpc.rejects('eth_getFilterChanges', ['nonsense'], -32602, /^invalid argument 0: /);
    await rpc.rejects('eth_uninstallFilter', [], -32602, 'missing value for required argument 0');
  });
});
