// The logs bloom index: eth_getLogs-style range queries scan only the blocks that have logs, find
// every matching log across a range, and a store written before the index existed (no index
// entries, no marker) still answers completely, from its headers, after it is opened again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAddressFromString, createContractAddress } from '@ethereumjs/util';
import { initHashes } from '../../src/crypto/hash.ts';
import { Executor } from '../../src/execution/executor.ts';
import { ChainReader } from '../../src/execution/reader.ts';
import { prefixOf } from '../../src/storage/prefixes.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { bytecode, encodeCall, eventTopic } from '../helpers/abi.ts';
import { addressOf, signTx, testConfig, testKey } from '../helpers/chain.ts';

await initHashes();

const A = testKey(0);
const TOKEN = createContractAddress(createAddressFromString(addressOf(A)), 0n);
const TRANSFER = eventTopic('Transfer(address,address,uint256)');
const to = (i: number) => `0x${(0xd000 + i).toString(16).padStart(40, '0')}`;

/** Genesis, the token's deployment (a mint log), then per block either a transfer or a plain payment. */
async function chain(kv: MemoryStore): Promise<Executor> {
  const ex = await Executor.open({ kv, config: testConfig() });
  let nonce = 0n;
  const sign = (f: Parameters<typeof signTx>[2]) => signTx(ex.common, A, f).serialize();
  await ex.execute(ex.head.hash(), [sign({ nonce: nonce++, data: bytecode('Token', 1_000n), gasLimit: 2_000_000n })], ex.head.header.timestamp + 1n);
  for (let i = 0; i < 20; i++) {
    const tx = i % 3 === 0
      ? sign({ nonce: nonce++, to: TOKEN.toString() as `0x${string}`, data: encodeCall('transfer(address,uint256)', to(i), 1n) })
      : sign({ nonce: nonce++, to: to(100 + i) as `0x${string}`, value: 1n, gasLimit: 21_000n });
    await ex.execute(ex.head.hash(), [tx], ex.head.header.timestamp + 1n);
  }
  return ex;
}

test('a range query finds every Transfer, and the index holds only blocks with logs', async () => {
  const kv = new MemoryStore();
  const ex = await chain(kv);
  const logs = await new ChainReader(ex).logs({ fromBlock: 0n, toBlock: ex.head.header.number, addresses: [TOKEN.bytes], topics: [[TRANSFER]] });
  // The mint (block 1) and a transfer in every third block after it (blocks 2, 5, …, 20).
  assert.deepEqual(logs.map((l) => Number(l.blockNumber)), [1, 2, 5, 8, 11, 14, 17, 20]);
  const blooms = await ex.blocks.logsBlooms(0n, ex.head.header.number);
  assert.deepEqual(blooms.map((b) => Number(b.number)), [1, 2, 5, 8, 11, 14, 17, 20]);
  const one = await new ChainReader(ex).logs({ fromBlock: 3n, toBlock: 9n, topics: [[TRANSFER], null, [eventTopicOf(to(6))]] });
  assert.deepEqual(one.map((l) => Number(l.blockNumber)), [8]);
});

test('a store written before the index existed still finds every log, from its headers', async () => {
  const kv = new MemoryStore();
  await chain(kv);
  // Remove the index and its marker, as a store from before this version has neither.
  const ops = [];
  for await (const [key] of kv.iterate({ gte: prefixOf('logsBloomByNumber'), lt: Uint8Array.of(0x09) })) ops.push({ type: 'del' as const, key });
  ops.push({ type: 'del' as const, key: new Uint8Array([...prefixOf('meta'), ...new TextEncoder().encode('logIndexSince')]) });
  await kv.write(ops);
  const ex = await Executor.open({ kv });
  let nonce = 21n;
  await ex.execute(ex.head.hash(), [signTx(ex.common, A, { nonce: nonce++, to: TOKEN.toString() as `0x${string}`, data: encodeCall('transfer(address,uint256)', to(99), 1n) }).serialize()], ex.head.header.timestamp + 1n);
  const logs = await new ChainReader(ex).logs({ fromBlock: 0n, toBlock: ex.head.header.number, addresses: [TOKEN.bytes], topics: [[TRANSFER]] });
  assert.deepEqual(logs.map((l) => Number(l.blockNumber)), [1, 2, 5, 8, 11, 14, 17, 20, 22], 'old blocks from headers, the new one from the index');
});

function eventTopicOf(address: string): Uint8Array {
  return Uint8Array.from(Buffer.from(address.slice(2).padStart(64, '0'), 'hex'));
}
