// The chain-query eth_* methods (eth-chain.ts) on a small real chain built in memory: transfers of
// every transaction type and a token emitting Transfer logs, under market fees (so base fees and
// tips are not zero) and under free gas.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Block } from '@ethereumjs/block';
import { createAddressFromString, createContractAddress } from '@ethereumjs/util';
import { initHashes } from '../../src/crypto/hash.ts';
import { Executor } from '../../src/execution/executor.ts';
import { ChainReader } from '../../src/execution/reader.ts';
import { RpcError } from '../../src/rpc/errors.ts';
import { formatReceipt, formatTx, hexD, hexQ } from '../../src/rpc/format.ts';
import type { MethodDef } from '../../src/rpc/method.ts';
import { ethChainMethods } from '../../src/rpc/namespaces/eth-chain.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { bytecode, encodeCall, eventTopic } from '../helpers/abi.ts';
import { addressOf, signTx, testConfig, testKey, type TxFields } from '../helpers/chain.ts';

await initHashes();

const A = testKey(0);
const B = testKey(1);
const C = testKey(2);
const GWEI = 1_000_000_000n;
const TOKEN = createContractAddress(createAddressFromString(addressOf(A)), 0n).toString() as `0x${string}`;
const TRANSFER = hexD(eventTopic('Transfer(address,address,uint256)'));
const word = (a: string) => `0x${a.slice(2).padStart(64, '0')}`;
const UNKNOWN_HASH = `0x${'ab'.repeat(32)}`;

interface Chain {
  readonly ex: Executor;
  readonly methods: Map<string, MethodDef>;
  /** Genesis first. */
  readonly blocks: Block[];
}

type Sign = (key: Uint8Array, f: TxFields) => Uint8Array;

/** A chain of one block per entry, each entry's transactions signed on the chain's Common. */
async function buildChain(gasMode: 'market' | 'free', perBlock: ((sign: Sign) => Uint8Array[])[]): Promise<Chain> {
  const ex = await Executor.open({ kv: new MemoryStore(), config: testConfig({ gasMode }) });
  const sign: Sign = (key, f) => signTx(ex.common, key, f).serialize();
  const blocks: Block[] = [ex.head];
  for (const txs of perBlock) {
    const raws = txs(sign);
    const r = await ex.execute(ex.head.hash(), raws, ex.head.header.timestamp + 1n);
    assert.equal(r.block.transactions.length, raws.length, 'every transaction was included');
    blocks.push(r.block);
  }
  const methods = ethChainMethods({
    freeGas: gasMode === 'free',
    reader: new ChainReader(ex),
    head: () => ex.head,
    receipts: (h) => ex.blocks.receipts(h),
    // As the client node gives it: fee history without rewards reads headers alone.
    header: (n) => ex.blocks.headerByNumber(n),
  });
  return { ex, methods, blocks };
}

async function call(c: Chain, name: string, params: unknown[] = []): Promise<unknown> {
  const m = c.methods.get(name);
  assert.ok(m !== undefined, `${name} is defined`);
  return m.call(params, { transport: 'http' });
}

async function refused(c: Chain, name: string, params: unknown[], code: number, message: RegExp): Promise<void> {
  await assert.rejects(call(c, name, params), (e) => {
    assert.ok(e instanceof RpcError, String(e));
    assert.equal(e.code, code, `${name} ${JSON.stringify(params)}: ${e.message}`);
    assert.match(e.message, message);
    return true;
  });
}

/** What eth_getTransactionReceipt answers for a transaction (eth-core.ts formats the reader's lookup). */
async function receiptByHash(c: Chain, txHash: Uint8Array): Promise<Record<string, unknown>> {
  const found = await new ChainReader(c.ex).transaction(txHash);
  assert.ok(found !== undefined);
  return formatReceipt(found.tx, found.block, found.index, found.receipt, found.firstLogIndex);
}

describe('market fees: a token and transfers of every transaction type', () => {
  let c: Chain;
  const hashOf = (n: number) => hexD(c.blocks[n]!.hash());

  before(async () => {
    c = await buildChain('market', [
      // Block 1: the token; its constructor mints to A (a Transfer log).
      (s) => [s(A, { nonce: 0n, data: bytecode('Token', 1_000_000n), gasLimit: 2_000_000n, gasPrice: 5n * GWEI, type: 2 })],
      // Block 2: a legacy transfer, a token transfer, an access-list transfer, another token transfer.
      (s) => [
        s(A, { nonce: 1n, to: addressOf(B), value: 1n, gasLimit: 21_000n, gasPrice: 3n * GWEI, type: 0 }),
        s(A, { nonce: 2n, to: TOKEN, data: encodeCall('transfer(address,uint256)', addressOf(B), 100n), gasLimit: 100_000n, gasPrice: 4n * GWEI, type: 2 }),
        s(B, { nonce: 0n, to: addressOf(C), value: 2n, gasLimit: 21_000n, gasPrice: 2n * GWEI, type: 1 }),
        s(A, { nonce: 3n, to: TOKEN, data: encodeCall('transfer(address,uint256)', addressOf(C), 50n), gasLimit: 100_000n, gasPrice: 6n * GWEI, type: 2 }),
      ],
      // Block 3: one transfer.
      (s) => [s(C, { nonce: 0n, to: addressOf(A), value: 7n, gasLimit: 21_000n, gasPrice: 2n * GWEI, type: 0 })],
    ]);
  });

  test('transaction counts by hash and by number; null for an unknown block', async () => {
    assert.equal(await call(c, 'eth_getBlockTransactionCountByHash', [hashOf(2)]), '0x4');
    assert.equal(await call(c, 'eth_getBlockTransactionCountByHash', [hashOf(0)]), '0x0');
    assert.equal(await call(c, 'eth_getBlockTransactionCountByHash', [UNKNOWN_HASH]), null);
    assert.equal(await call(c, 'eth_getBlockTransactionCountByNumber', ['0x2']), '0x4');
    assert.equal(await call(c, 'eth_getBlockTransactionCountByNumber', ['0x1']), '0x1');
    assert.equal(await call(c, 'eth_getBlockTransactionCountByNumber', ['latest']), '0x1');
    assert.equal(await call(c, 'eth_getBlockTransactionCountByNumber', ['pending']), '0x1');
    assert.equal(await call(c, 'eth_getBlockTransactionCountByNumber', ['earliest']), '0x0');
    assert.equal(await call(c, 'eth_getBlockTransactionCountByNumber', ['0x4']), null);
    await refused(c, 'eth_getBlockTransactionCountByNumber', ['0x02'], -32602, /invalid argument 0: hex number with leading zero digits/);
    await refused(c, 'eth_getBlockTransactionCountByNumber', [2], -32602, /invalid argument 0/);
    await refused(c, 'eth_getBlockTransactionCountByNumber', [{ blockNumber: '0x2' }], -32602, /invalid argument 0/);
    await refused(c, 'eth_getBlockTransactionCountByHash', ['0x1234'], -32602, /invalid argument 0: hex string has length 4, want 64 for common.Hash/);
    await refused(c, 'eth_getBlockTransactionCountByHash', [], -32602, /missing value for required argument 0/);
  });

  test('transactions by block and index; null when absent', async () => {
    const block2 = c.blocks[2]!;
    for (let i = 0; i < 4; i++) {
      const expected = formatTx(block2.transactions[i]!, block2, i);
      assert.deepEqual(await call(c, 'eth_getTransactionByBlockHashAndIndex', [hashOf(2), hexQ(i)]), expected);
      assert.deepEqual(await call(c, 'eth_getTransactionByBlockNumberAndIndex', ['0x2', hexQ(i)]), expected);
    }
    const third = (await call(c, 'eth_getTransactionByBlockNumberAndIndex', ['0x2', '0x2'])) as Record<string, unknown>;
    assert.equal(third.from, addressOf(B));
    assert.equal(third.to, addressOf(C));
    assert.equal(third.type, '0x1');
    assert.equal(third.blockNumber, '0x2');
    assert.equal(third.blockHash, hashOf(2));
    assert.equal(third.transactionIndex, '0x2');
    assert.equal(third.value, '0x2');
    const latest = (await call(c, 'eth_getTransactionByBlockNumberAndIndex', ['latest', '0x0'])) as Record<string, unknown>;
    assert.equal(latest.hash, hexD(c.blocks[3]!.transactions[0]!.hash()));
    assert.equal(await call(c, 'eth_getTransactionByBlockNumberAndIndex', ['0x2', '0x4']), null);
    assert.equal(await call(c, 'eth_getTransactionByBlockNumberAndIndex', ['0x9', '0x0']), null);
    assert.equal(await call(c, 'eth_getTransactionByBlockHashAndIndex', [hashOf(2), '0x10']), null);
    assert.equal(await call(c, 'eth_getTransactionByBlockHashAndIndex', [UNKNOWN_HASH, '0x0']), null);
    assert.equal(await call(c, 'eth_getTransactionByBlockNumberAndIndex', ['earliest', '0x0']), null);
    await refused(c, 'eth_getTransactionByBlockNumberAndIndex', ['0x2'], -32602, /missing value for required argument 1/);
    await refused(c, 'eth_getTransactionByBlockNumberAndIndex', ['0x2', '1'], -32602, /invalid argument 1: hex string without 0x prefix/);
    await refused(c, 'eth_getTransactionByBlockNumberAndIndex', ['0x2', `0x1${'0'.repeat(16)}`], -32602, /invalid argument 1: hex number > 64 bits/);
    await refused(c, 'eth_getTransactionByBlockHashAndIndex', [hashOf(2), '0x0', true], -32602, /too many arguments/);
  });

  test("a block's receipts are eth_getTransactionReceipt's, log indexes running through the block", async () => {
    const block2 = c.blocks[2]!;
    const expected = await Promise.all(block2.transactions.map((tx) => receiptByHash(c, tx.hash())));
    for (const ref of ['0x2', { blockNumber: '0x2' }, { blockHash: hashOf(2) }, { blockHash: hashOf(2), requireCanonical: true }]) {
      assert.deepEqual(await call(c, 'eth_getBlockReceipts', [ref]), expected, JSON.stringify(ref));
    }
    const receipts = (await call(c, 'eth_getBlockReceipts', ['0x2'])) as Record<string, unknown>[];
    assert.deepEqual(receipts.map((r) => r.status), ['0x1', '0x1', '0x1', '0x1']);
    assert.deepEqual(receipts.map((r) => r.type), ['0x0', '0x2', '0x1', '0x2']);
    assert.deepEqual(receipts.map((r) => r.transactionIndex), ['0x0', '0x1', '0x2', '0x3']);
    assert.equal(receipts[0]!.gasUsed, '0x5208');
    assert.equal(receipts[2]!.gasUsed, '0x5208');
    const logs = receipts.flatMap((r) => r.logs as Record<string, unknown>[]);
    assert.deepEqual(
      logs.map((l) => [l.logIndex, l.transactionIndex, l.address, l.topics]),
      [
        ['0x0', '0x1', TOKEN, [TRANSFER, word(addressOf(A)), word(addressOf(B))]],
        ['0x1', '0x3', TOKEN, [TRANSFER, word(addressOf(A)), word(addressOf(C))]],
      ],
    );
    assert.equal(logs[0]!.data, word(hexQ(100)));
    assert.equal(logs[1]!.data, word(hexQ(50)));
    // The deployment's receipt names the contract; tags name the head and genesis.
    const [deploy] = (await call(c, 'eth_getBlockReceipts', ['0x1'])) as Record<string, unknown>[];
    assert.equal(deploy!.contractAddress, TOKEN);
    assert.deepEqual(await call(c, 'eth_getBlockReceipts', ['latest']), [await receiptByHash(c, c.blocks[3]!.transactions[0]!.hash())]);
    assert.deepEqual(await call(c, 'eth_getBlockReceipts', ['earliest']), []);
    // A number beyond the head is null; an unknown hash is go-ethereum's error.
    assert.equal(await call(c, 'eth_getBlockReceipts', ['0x4']), null);
    await refused(c, 'eth_getBlockReceipts', [{ blockHash: UNKNOWN_HASH }], -32000, /^header for hash not found$/);
    await refused(c, 'eth_getBlockReceipts', [{ blockHash: hashOf(2), blockNumber: '0x2' }], -32602, /cannot specify both/);
    await refused(c, 'eth_getBlockReceipts', ['soon'], -32602, /invalid argument 0/);
    await refused(c, 'eth_getBlockReceipts', [], -32602, /missing value/);
  });

  test('uncles: none in a known block, null otherwise', async () => {
    assert.equal(await call(c, 'eth_getUncleCountByBlockHash', [hashOf(2)]), '0x0');
    assert.equal(await call(c, 'eth_getUncleCountByBlockHash', [UNKNOWN_HASH]), null);
    assert.equal(await call(c, 'eth_getUncleCountByBlockNumber', ['0x1']), '0x0');
    assert.equal(await call(c, 'eth_getUncleCountByBlockNumber', ['latest']), '0x0');
    assert.equal(await call(c, 'eth_getUncleCountByBlockNumber', ['0x7']), null);
    assert.equal(await call(c, 'eth_getUncleByBlockHashAndIndex', [hashOf(2), '0x0']), null);
    assert.equal(await call(c, 'eth_getUncleByBlockNumberAndIndex', ['0x2', '0x0']), null);
    await refused(c, 'eth_getUncleByBlockNumberAndIndex', ['0x2'], -32602, /missing value for required argument 1/);
    await refused(c, 'eth_getUncleCountByBlockHash', ['latest'], -32602, /invalid argument 0/);
  });

  test('eth_syncing is false', async () => {
    assert.equal(await call(c, 'eth_syncing'), false);
    await refused(c, 'eth_syncing', [1], -32602, /too many arguments/);
  });

  test('fee history: base fees with the next block\'s, gas used ratios, blob fees', async () => {
    const h = c.blocks.map((b) => b.header);
    const limit = Number(h[0]!.gasLimit);
    assert.equal(h[0]!.baseFeePerGas, GWEI, 'genesis base fee is the configured initial one');
    // EIP-1559 by hand: an empty parent lowers the base fee by 1/8; a block above its target raises it.
    assert.equal(h[1]!.baseFeePerGas, GWEI - GWEI / 8n);
    const nextAfter3 = h[3]!.baseFeePerGas! - (h[3]!.baseFeePerGas! * (h[3]!.gasLimit / 2n - h[3]!.gasUsed)) / (h[3]!.gasLimit / 2n) / 8n;
    const r = await call(c, 'eth_feeHistory', ['0x3', 'latest']);
    assert.deepEqual(r, {
      oldestBlock: '0x1',
      baseFeePerGas: [hexQ(h[1]!.baseFeePerGas!), hexQ(h[2]!.baseFeePerGas!), hexQ(h[3]!.baseFeePerGas!), hexQ(nextAfter3)],
      gasUsedRatio: [Number(h[1]!.gasUsed) / limit, Number(h[2]!.gasUsed) / limit, 21_000 / limit],
      baseFeePerBlobGas: ['0x1', '0x1', '0x1', '0x1'],
      blobGasUsedRatio: [0, 0, 0],
    });
    assert.ok(!('reward' in (r as object)), 'no reward without percentiles');
    // Decimal counts (go-ethereum's HexOrDecimal64), a number as the newest block, clipping at genesis.
    assert.deepEqual(await call(c, 'eth_feeHistory', [2, '0x2']), {
      oldestBlock: '0x1',
      baseFeePerGas: [hexQ(h[1]!.baseFeePerGas!), hexQ(h[2]!.baseFeePerGas!), hexQ(h[3]!.baseFeePerGas!)],
      gasUsedRatio: [Number(h[1]!.gasUsed) / limit, Number(h[2]!.gasUsed) / limit],
      baseFeePerBlobGas: ['0x1', '0x1', '0x1'],
      blobGasUsedRatio: [0, 0],
    });
    const all = (await call(c, 'eth_feeHistory', ['1025', 'latest', []])) as { oldestBlock: string; gasUsedRatio: number[]; baseFeePerGas: string[] };
    assert.equal(all.oldestBlock, '0x0', 'clipped at genesis');
    assert.equal(all.gasUsedRatio.length, 4);
    assert.deepEqual(all.baseFeePerGas.slice(0, 2), [hexQ(GWEI), hexQ(h[1]!.baseFeePerGas!)]);
    assert.ok(!('reward' in all), 'no reward for an empty percentile list');
    assert.deepEqual(await call(c, 'eth_feeHistory', ['0x1', 'earliest']), {
      oldestBlock: '0x0',
      baseFeePerGas: [hexQ(GWEI), hexQ(h[1]!.baseFeePerGas!)],
      gasUsedRatio: [0],
      baseFeePerBlobGas: ['0x1', '0x1'],
      blobGasUsedRatio: [0],
    });
    assert.deepEqual(await call(c, 'eth_feeHistory', ['0x0', 'latest']), { oldestBlock: '0x0', gasUsedRatio: null });
    await refused(c, 'eth_feeHistory', ['0x1', '0x4'], -32000, /^request beyond head block: requested 4, head 3$/);
  });

  test('fee history rewards: percentiles of the tips, weighted by gas used', async () => {
    const block2 = c.blocks[2]!;
    const base = block2.header.baseFeePerGas!;
    const reader = new ChainReader(c.ex);
    const gas = await Promise.all(block2.transactions.map(async (tx) => (await reader.transaction(tx.hash()))!.receipt.gasUsed));
    const [legacy, token1, accessList, token2] = gas as [bigint, bigint, bigint, bigint];
    assert.equal(legacy, 21_000n);
    assert.equal(accessList, 21_000n);
    // Sorted by tip: the access-list transfer (2 gwei), the legacy one (3), the token transfers (4, 6).
    const total = Number(block2.header.gasUsed);
    assert.equal(total, Number(legacy + token1 + accessList + token2));
    const tip = (gwei: bigint) => hexQ(gwei * GWEI - base);
    // Percentile thresholds against the running sums 21k, 42k, 42k + token1, total.
    const at = (p: number) => Math.trunc((total * p) / 100);
    assert.ok(at(10) <= 21_000 && at(25) > 21_000 && at(25) <= 42_000 && at(50) > 42_000 && at(50) <= 42_000 + Number(token1));
    assert.ok(at(99) > 42_000 + Number(token1));
    const r = (await call(c, 'eth_feeHistory', ['0x2', '0x2', [0, 10, 25, 50, 99, 100]])) as { reward: string[][] };
    assert.deepEqual(r.reward, [
      // Block 1: the deployment alone (5 gwei).
      Array(6).fill(hexQ(5n * GWEI - c.blocks[1]!.header.baseFeePerGas!)),
      [tip(2n), tip(2n), tip(3n), tip(4n), tip(6n), tip(6n)],
    ]);
    // An empty block (genesis) rewards zeros.
    assert.deepEqual(((await call(c, 'eth_feeHistory', ['0x1', 'earliest', [20, 80.5]])) as { reward: string[][] }).reward, [['0x0', '0x0']]);
  });

  test('fee history parameters: go-ethereum\'s checks, -32602 naming the argument', async () => {
    await refused(c, 'eth_feeHistory', ['0x1', 'latest', [50, 40]], -32602, /^invalid argument 2: invalid reward percentile: #0:50.000000 >= #1:40.000000$/);
    await refused(c, 'eth_feeHistory', ['0x1', 'latest', [50, 50]], -32602, /^invalid argument 2: invalid reward percentile: #0:50.000000 >= #1:50.000000$/);
    await refused(c, 'eth_feeHistory', ['0x1', 'latest', [101]], -32602, /^invalid argument 2: invalid reward percentile: 101.000000$/);
    await refused(c, 'eth_feeHistory', ['0x1', 'latest', [-1]], -32602, /^invalid argument 2: invalid reward percentile: -1.000000$/);
    await refused(c, 'eth_feeHistory', ['0x1', 'latest', ['50']], -32602, /^invalid argument 2: /);
    await refused(c, 'eth_feeHistory', ['0x1', 'latest', 50], -32602, /^invalid argument 2: /);
    await refused(c, 'eth_feeHistory', ['0x1', 'latest', Array.from({ length: 101 }, (_, i) => i / 2)], -32602, /over the query limit 100/);
    await refused(c, 'eth_feeHistory', ['ten', 'latest'], -32602, /^invalid argument 0: invalid hex or decimal integer "ten"$/);
    await refused(c, 'eth_feeHistory', [-1, 'latest'], -32602, /^invalid argument 0: /);
    await refused(c, 'eth_feeHistory', [1.5, 'latest'], -32602, /^invalid argument 0: /);
    await refused(c, 'eth_feeHistory', ['0x1', { blockHash: hashOf(1) }], -32602, /^invalid argument 1: /);
    await refused(c, 'eth_feeHistory', ['0x1'], -32602, /missing value for required argument 1/);
  });
});

describe('free gas', () => {
  test('every base fee is zero, the next one too; tips are the gas prices (zero)', async () => {
    const c = await buildChain('free', [
      (s) => [s(A, { nonce: 0n, to: addressOf(B), value: 1n, gasLimit: 21_000n, type: 2 })],
      (s) => [
        s(A, { nonce: 1n, to: addressOf(B), value: 1n, gasLimit: 21_000n, type: 0 }),
        s(B, { nonce: 0n, to: addressOf(A), value: 1n, gasLimit: 21_000n, type: 0 }),
      ],
    ]);
    const limit = Number(c.blocks[0]!.header.gasLimit);
    assert.deepEqual(await call(c, 'eth_feeHistory', ['0x2', 'latest', [25, 75]]), {
      oldestBlock: '0x1',
      reward: [['0x0', '0x0'], ['0x0', '0x0']],
      baseFeePerGas: ['0x0', '0x0', '0x0'],
      gasUsedRatio: [21_000 / limit, 42_000 / limit],
      baseFeePerBlobGas: ['0x1', '0x1', '0x1'],
      blobGasUsedRatio: [0, 0],
    });
    const receipts = (await call(c, 'eth_getBlockReceipts', ['latest'])) as Record<string, unknown>[];
    assert.deepEqual(receipts.map((r) => [r.cumulativeGasUsed, r.effectiveGasPrice, r.logs]), [['0x5208', '0x0', []], ['0xa410', '0x0', []]]);
    assert.equal(await call(c, 'eth_getBlockTransactionCountByNumber', ['0x2']), '0x2');
  });
});
