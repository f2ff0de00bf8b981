// Polling filters on a real in-memory chain that grows between polls: block, log and pending
// transaction filters, getFilterLogs, uninstalling, and expiry after five minutes without a poll.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAddressFromString, createContractAddress } from '@ethereumjs/util';
import { initHashes } from '../../src/crypto/hash.ts';
import { Executor } from '../../src/execution/executor.ts';
import { ChainReader } from '../../src/execution/reader.ts';
import { RpcError } from '../../src/rpc/errors.ts';
import { hexD } from '../../src/rpc/format.ts';
import { FILTER_TIMEOUT_MS, FilterRegistry } from '../../src/rpc/namespaces/filters.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { bytecode, encodeCall, eventTopic } from '../helpers/abi.ts';
import { addressOf, signTx, testConfig, testKey } from '../helpers/chain.ts';

await initHashes();

const A = testKey(0);
const TOKEN = createContractAddress(createAddressFromString(addressOf(A)), 0n).toString() as `0x${string}`;
const TRANSFER = hexD(eventTopic('Transfer(address,address,uint256)'));

test('block, log and pending-transaction filters report what is new at each poll; they expire unpolled', async () => {
  const ex = await Executor.open({ kv: new MemoryStore(), config: testConfig() });
  let nonce = 0n;
  const sign = (f: { to?: `0x${string}`; data: Uint8Array; gasLimit: bigint }) => signTx(ex.common, A, { nonce: nonce++, ...f }).serialize();
  const block = async (txs: Uint8Array[]) => (await ex.execute(ex.head.hash(), txs, ex.head.header.timestamp + 1n)).block;
  const transfer = (v: bigint) => sign({ to: TOKEN, data: encodeCall('transfer(address,uint256)', '0x00000000000000000000000000000000000000a1', v), gasLimit: 100_000n });
  let now = 1_000_000;
  const registry = new FilterRegistry({ reader: new ChainReader(ex), head: () => ex.head }, () => now);
  const methods = registry.methods();
  const call = (name: string, params: unknown[] = []) => methods.get(name)!.call(params, { transport: 'http' });

  const blocks = (await call('eth_newBlockFilter')) as string;
  const logs = (await call('eth_newFilter', [{ address: TOKEN, topics: [TRANSFER] }])) as string;
  const pending = (await call('eth_newPendingTransactionFilter')) as string;
  assert.match(blocks, /^0x[1-9a-f][0-9a-f]{0,31}$/);
  assert.deepEqual(await call('eth_getFilterChanges', [blocks]), []);

  const b1 = await block([sign({ data: bytecode('Token', 1_000n), gasLimit: 2_000_000n })]);
  const b2 = await block([transfer(5n)]);
  assert.deepEqual(await call('eth_getFilterChanges', [blocks]), [hexD(b1.hash()), hexD(b2.hash())]);
  assert.deepEqual(await call('eth_getFilterChanges', [blocks]), [], 'nothing new since the last poll');
  const firstLogs = (await call('eth_getFilterChanges', [logs])) as { blockNumber: string }[];
  assert.deepEqual(firstLogs.map((l) => l.blockNumber), ['0x1', '0x2'], 'the mint and the transfer');
  await block([transfer(6n)]);
  assert.deepEqual(((await call('eth_getFilterChanges', [logs])) as { blockNumber: string }[]).map((l) => l.blockNumber), ['0x3']);
  // eth_getFilterLogs: everything the filter matches now (no fromBlock: the head only).
  assert.equal(((await call('eth_getFilterLogs', [logs])) as unknown[]).length, 1);

  registry.notePending('0xaa');
  registry.notePending('0xbb');
  assert.deepEqual(await call('eth_getFilterChanges', [pending]), ['0xaa', '0xbb']);
  assert.deepEqual(await call('eth_getFilterChanges', [pending]), []);

  assert.equal(await call('eth_uninstallFilter', [pending]), true);
  assert.equal(await call('eth_uninstallFilter', [pending]), false);
  await assert.rejects(call('eth_getFilterChanges', [pending]), (e) => e instanceof RpcError && e.code === -32000 && /filter not found/.test(e.message));
  await assert.rejects(call('eth_getFilterLogs', [blocks]), (e) => e instanceof RpcError && e.code === -32000, 'a block filter has no logs');
  await assert.rejects(call('eth_getFilterChanges', ['nonsense']), (e) => e instanceof RpcError && e.code === -32602);
  await assert.rejects(call('eth_newFilter', [{ blockHash: hexD(b1.hash()) }]), (e) => e instanceof RpcError && e.code === -32602);

  // Polled filters live on; one left alone for five minutes is gone.
  now += FILTER_TIMEOUT_MS - 1;
  await call('eth_getFilterChanges', [blocks]);
  now += 2;
  registry.expire();
  assert.equal(registry.size, 1, 'the log filter expired, the block filter was polled');
  await assert.rejects(call('eth_getFilterChanges', [logs]), (e) => e instanceof RpcError && /filter not found/.test(e.message));
});

test('each caller holds at most its share of the filters; the refusal names the limit; uninstalled and expired ones free it', async () => {
  const ex = await Executor.open({ kv: new MemoryStore(), config: testConfig() });
  let now = 1_000_000;
  const registry = new FilterRegistry({ reader: new ChainReader(ex), head: () => ex.head }, () => now, { maxPerCaller: 3 });
  const methods = registry.methods();
  const as = (caller: string) => (name: string, params: unknown[] = []) => methods.get(name)!.call(params, { transport: 'http', caller });
  const hog = as('address 10.0.0.9');
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push((await hog('eth_newBlockFilter')) as string);
  await assert.rejects(hog('eth_newPendingTransactionFilter'), (e) => e instanceof RpcError && e.code === -32005 && e.message === 'too many filters for address 10.0.0.9 (at most 3 per caller, --rpc-max-filters-per-caller)');
  // Anyone else still gets theirs; a token counts as one caller wherever it calls from.
  assert.match((await as('token ops')('eth_newFilter', [{}])) as string, /^0x/);
  assert.equal(await hog('eth_uninstallFilter', [ids[0]]), true);
  assert.match((await hog('eth_newBlockFilter')) as string, /^0x/);
  now += FILTER_TIMEOUT_MS + 1;
  registry.expire();
  assert.equal(registry.size, 0);
  for (let i = 0; i < 3; i++) await hog('eth_newBlockFilter');
});
