// eth_getLogs on a small real chain built in memory: a token's Transfer logs found by range, block
// hash, address and topics (positions, alternatives, wildcards), in go-ethereum's shape, and the
// filter object's refusals with their codes.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Block } from '@ethereumjs/block';
import { createAddressFromString, createContractAddress } from '@ethereumjs/util';
import { initHashes } from '../../src/crypto/hash.ts';
import { Executor } from '../../src/execution/executor.ts';
import { ChainReader } from '../../src/execution/reader.ts';
import { RpcError } from '../../src/rpc/errors.ts';
import { hexD } from '../../src/rpc/format.ts';
import type { MethodDef } from '../../src/rpc/method.ts';
import { ethLogsMethods } from '../../src/rpc/namespaces/eth-logs.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { bytecode, encodeCall, eventTopic } from '../helpers/abi.ts';
import { addressOf, signTx, testConfig, testKey } from '../helpers/chain.ts';

await initHashes();

const A = testKey(0);
const TOKEN = createContractAddress(createAddressFromString(addressOf(A)), 0n).toString() as `0x${string}`;
const TRANSFER = hexD(eventTopic('Transfer(address,address,uint256)'));
const word = (a: string) => `0x${a.slice(2).toLowerCase().padStart(64, '0')}`;
const R1 = '0x00000000000000000000000000000000000000a1';
const R2 = '0x00000000000000000000000000000000000000a2';

let getLogs: MethodDef;
const blocks: Block[] = [];

before(async () => {
  const ex = await Executor.open({ kv: new MemoryStore(), config: testConfig() });
  blocks.push(ex.head);
  const run = async (txs: Uint8Array[]) => {
    const r = await ex.execute(ex.head.hash(), txs, ex.head.header.timestamp + 1n);
    assert.equal(r.block.transactions.length, txs.length);
    blocks.push(r.block);
  };
  let nonce = 0n;
  const sign = (f: { to?: `0x${string}`; data: Uint8Array; gasLimit: bigint }) => signTx(ex.common, A, { nonce: nonce++, ...f }).serialize();
  const transfer = (to: string, v: bigint) => sign({ to: TOKEN, data: encodeCall('transfer(address,uint256)', to, v), gasLimit: 100_000n });
  await run([sign({ data: bytecode('Token', 1_000_000n), gasLimit: 2_000_000n })]); // block 1: the mint's Transfer
  await run([transfer(R1, 5n), transfer(R2, 6n)]); // block 2: two logs
  await run([transfer(R1, 7n)]); // block 3
  getLogs = ethLogsMethods({ reader: new ChainReader(ex), head: () => ex.head }).get('eth_getLogs')!;
});

type Log = { address: string; topics: string[]; data: string; blockNumber: string; blockHash: string; transactionHash: string; transactionIndex: string; logIndex: string; removed: boolean };
const logs = async (filter: unknown) => (await getLogs.call([filter], { transport: 'http' })) as Log[];
async function refused(filter: unknown, code: number, message: RegExp): Promise<void> {
  await assert.rejects(getLogs.call([filter], { transport: 'http' }), (e) => {
    assert.ok(e instanceof RpcError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

test('every Transfer in a range, in go-ethereum\'s shape, log indexes running through each block', async () => {
  const all = await logs({ fromBlock: '0x0', toBlock: 'latest' });
  assert.equal(all.length, 4);
  assert.deepEqual(
    all.map((l) => [l.blockNumber, l.transactionIndex, l.logIndex]),
    [['0x1', '0x0', '0x0'], ['0x2', '0x0', '0x0'], ['0x2', '0x1', '0x1'], ['0x3', '0x0', '0x0']],
  );
  const second = all[2]!;
  assert.equal(second.address, TOKEN.toLowerCase());
  assert.deepEqual(second.topics, [TRANSFER, word(addressOf(A)), word(R2)]);
  assert.equal(second.data, `0x${(6n).toString(16).padStart(64, '0')}`);
  assert.equal(second.blockHash, hexD(blocks[2]!.hash()));
  assert.equal(second.transactionHash, hexD(blocks[2]!.transactions[1]!.hash()));
  assert.equal(second.removed, false);
  // No bounds: the head block only.
  assert.deepEqual((await logs({})).map((l) => l.blockNumber), ['0x3']);
  assert.equal((await logs({ fromBlock: 'earliest', toBlock: '0x1' })).length, 1);
});

test('by address and by topics: positions, alternatives and wildcards', async () => {
  assert.equal((await logs({ fromBlock: '0x0', address: TOKEN })).length, 4);
  assert.equal((await logs({ fromBlock: '0x0', address: [R1, TOKEN] })).length, 4);
  assert.equal((await logs({ fromBlock: '0x0', address: R1 })).length, 0);
  const toR1 = await logs({ fromBlock: '0x0', topics: [TRANSFER, null, word(R1)] });
  assert.deepEqual(toR1.map((l) => l.blockNumber), ['0x2', '0x3']);
  const either = await logs({ fromBlock: '0x0', topics: [null, null, [word(R1), word(R2)]] });
  assert.equal(either.length, 3);
  assert.equal((await logs({ fromBlock: '0x0', topics: [[TRANSFER, null]] })).length, 4, 'a null alternative matches anything');
  assert.equal((await logs({ fromBlock: '0x0', topics: [word(R1)] })).length, 0);
});

test('by block hash', async () => {
  const two = await logs({ blockHash: hexD(blocks[2]!.hash()) });
  assert.deepEqual(two.map((l) => l.logIndex), ['0x0', '0x1']);
  await refused({ blockHash: `0x${'ab'.repeat(32)}` }, -32000, /unknown block/);
  await refused({ blockHash: hexD(blocks[2]!.hash()), fromBlock: '0x1' }, -32602, /cannot specify both BlockHash and FromBlock\/ToBlock/);
});

test('refusals: reversed or oversized ranges, malformed addresses and topics', async () => {
  await refused({ fromBlock: '0x3', toBlock: '0x1' }, -32000, /invalid block range params/);
  await refused({ fromBlock: '0x0', toBlock: '0x2710' }, -32005, /more than the limit of 10000/);
  await refused({ address: '0x1234' }, -32602, /invalid argument 0/);
  await refused({ topics: ['0x12'] }, -32602, /invalid argument 0/);
  await refused({ topics: [null, null, null, null, null] }, -32602, /too many topics/);
  await refused({ topics: 'x' }, -32602, /topics must be an array/);
  await refused('latest', -32602, /expected a filter object/);
  // A range reaching past the head stops at the head.
  assert.equal((await logs({ fromBlock: '0x3', toBlock: '0x2000' })).length, 1);
});
