// Blocks, transactions and receipts, and sending, against a real client node in this process, on a
// chain under market fees that this file builds: block 1 deploys a Token; then one JSON-RPC batch
// puts a token transfer (EIP-1559), an ETH transfer (legacy), an ETH transfer (EIP-2930) and a
// reverting token transfer into the chain. Results are compared field by field with what the
// transactions were signed with; pool refusals carry go-ethereum's wording as -32000.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Common } from '@ethereumjs/common';
import type { TypedTransaction } from '@ethereumjs/tx';
import { createAddressFromString, createContractAddress } from '@ethereumjs/util';
import { initHashes } from '../../src/crypto/hash.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { bytecode, encodeCall, eventTopic } from '../helpers/abi.ts';
import { CHAIN_ID, addressOf, signTx, testKey } from '../helpers/chain.ts';
import { startInProcessNetwork, type InProcessNetwork } from '../helpers/in-process-network.ts';
import { hex, hexQ, rpcClient, word, type Receipt, type Rpc } from '../helpers/rpc.ts';

await initHashes();

const GWEI = 1_000_000_000n;
const SUPPLY = 1_000_000n;
const A = testKey(0);
const B = testKey(1);
const C = testKey(2);
const D = testKey(3);
const TOKEN = createContractAddress(createAddressFromString(addressOf(A)), 0n).toString() as `0x${string}`;
const TRANSFER = hex(eventTopic('Transfer(address,address,uint256)'));
const UNKNOWN_HASH = `0x${'ab'.repeat(32)}`;
const EMPTY_UNCLES = '0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347';

interface RpcBlock {
  number: string;
  hash: string;
  parentHash: string;
  gasUsed: string;
  baseFeePerGas: string;
  timestamp: string;
  transactions: (string | Record<string, unknown>)[];
  uncles: string[];
  [k: string]: unknown;
}

let net: InProcessNetwork;
let rpc: Rpc;
let common: Common;
let deployReceipt: Receipt;
/** The batch's transactions, in the order the block holds them, and their receipts. */
let batch: TypedTransaction[];
let receipts: Receipt[];
let batchBlock: number;

before(async () => {
  net = await startInProcessNetwork(0xb3, { chain: { gasMode: 'market' } });
  rpc = rpcClient(net.url);
  common = buildCommon(CHAIN_ID);
  deployReceipt = await rpc.send(signTx(common, A, { nonce: 0n, data: bytecode('Token', SUPPLY), gasLimit: 1_000_000n, gasPrice: 10n * GWEI }));
  // One transaction each from B and C first, so the pool knows their funds and admits the batch at once.
  await rpc.send(signTx(common, B, { nonce: 0n, to: addressOf(D), value: 1n, gasLimit: 21_000n, gasPrice: 2n * GWEI, type: 0 }));
  await rpc.send(signTx(common, C, { nonce: 0n, to: addressOf(D), value: 1n, gasLimit: 21_000n, gasPrice: 2n * GWEI, type: 1 }));
  batch = [
    signTx(common, A, { nonce: 1n, to: TOKEN, data: encodeCall('transfer(address,uint256)', addressOf(B), 250n), gasLimit: 100_000n, gasPrice: 5n * GWEI }),
    signTx(common, B, { nonce: 1n, to: addressOf(D), value: 1000n, gasLimit: 21_000n, gasPrice: 3n * GWEI, type: 0 }),
    signTx(common, C, { nonce: 1n, to: addressOf(D), value: 2000n, gasLimit: 21_000n, gasPrice: 4n * GWEI, type: 1 }),
    // B holds 250 tokens once A's transfer is in: sending 251 reverts.
    signTx(common, B, { nonce: 2n, to: TOKEN, data: encodeCall('transfer(address,uint256)', addressOf(C), 251n), gasLimit: 100_000n, gasPrice: 3n * GWEI, type: 0 }),
  ];
  const replies = await rpc.batch(batch.map((tx) => ({ method: 'eth_sendRawTransaction', params: [hex(tx.serialize())] })));
  assert.deepEqual(replies.map((r) => r.result), batch.map((tx) => hex(tx.hash())));
  receipts = await Promise.all(batch.map((tx) => rpc.receipt(hex(tx.hash()))));
  const blocks = new Set(receipts.map((r) => r.blockNumber));
  assert.equal(blocks.size, 1, `the batch landed in one block (${[...blocks].join(', ')})`);
  batchBlock = Number(receipts[0]!.blockNumber);
  const order = receipts.map((r) => Number(r.transactionIndex));
  batch = order.map((_, i) => batch[order.indexOf(i)]!);
  receipts = order.map((_, i) => receipts[order.indexOf(i)]!);
});
after(async () => {
  await net?.stop();
});

const block = (ref: string, full = false) => rpc.call<RpcBlock | null>('eth_getBlockByNumber', [ref, full]);
/** What a transaction pays per gas in a block with this base fee. */
const effectivePrice = (tx: TypedTransaction, baseFee: bigint) => {
  if ('maxFeePerGas' in tx) {
    const room = tx.maxFeePerGas - baseFee;
    return baseFee + (tx.maxPriorityFeePerGas < room ? tx.maxPriorityFeePerGas : room);
  }
  return tx.gasPrice;
};
/** The JSON of a mined transaction, computed from the signed one. */
function expectedTx(tx: TypedTransaction, b: RpcBlock, index: number, baseFee: bigint): Record<string, unknown> {
  const j = tx.toJSON();
  return {
    blockHash: b.hash,
    blockNumber: b.number,
    blockTimestamp: b.timestamp,
    from: tx.getSenderAddress().toString(),
    gas: hexQ(tx.gasLimit),
    gasPrice: hexQ(effectivePrice(tx, baseFee)),
    hash: hex(tx.hash()),
    input: hex(tx.data),
    nonce: hexQ(tx.nonce),
    to: tx.to?.toString() ?? null,
    transactionIndex: hexQ(index),
    value: hexQ(tx.value),
    type: hexQ(tx.type),
    v: j.v,
    r: j.r,
    s: j.s,
    chainId: hexQ(CHAIN_ID),
    ...('maxFeePerGas' in tx ? { maxFeePerGas: hexQ(tx.maxFeePerGas), maxPriorityFeePerGas: hexQ(tx.maxPriorityFeePerGas) } : {}),
    ...(tx.type === 0 ? {} : { accessList: [], yParity: j.v }),
  };
}

describe('eth_blockNumber', () => {
  test('is the head: the batch\'s block', async () => {
    assert.equal(await rpc.call('eth_blockNumber'), hexQ(batchBlock));
    await rpc.rejects('eth_blockNumber', ['latest'], -32602, 'too many arguments, want at most 0');
  });
});

describe('eth_getBlockByNumber / eth_getBlockByHash', () => {
  test('the chain links by parent hash, numbers run from 0, each block is found by its hash', async () => {
    let parent = `0x${'00'.repeat(32)}`;
    for (let n = 0; n <= batchBlock; n++) {
      const b = (await block(hexQ(n)))!;
      assert.equal(b.number, hexQ(n));
      assert.equal(b.parentHash, parent);
      assert.deepEqual(await rpc.call('eth_getBlockByHash', [b.hash, false]), b);
      assert.deepEqual(b.uncles, []);
      assert.equal(b.sha3Uncles, EMPTY_UNCLES);
      assert.equal(b.difficulty, '0x0');
      parent = b.hash;
    }
  });
  test('hashes only, or full transactions exactly as signed; gasUsed is the receipts\' sum', async () => {
    const hashes = (await block(hexQ(batchBlock)))!;
    assert.deepEqual(hashes.transactions, batch.map((tx) => hex(tx.hash())));
    assert.equal(hashes.gasUsed, receipts.at(-1)!.cumulativeGasUsed);
    const full = (await rpc.call<RpcBlock>('eth_getBlockByHash', [hashes.hash, true]))!;
    const baseFee = BigInt(full.baseFeePerGas);
    assert.deepEqual(full.transactions, batch.map((tx, i) => expectedTx(tx, full, i, baseFee)));
    assert.deepEqual({ ...full, transactions: [] }, { ...hashes, transactions: [] });
  });
  test('tags: latest, pending, safe and finalized are the head (BFT blocks are final); earliest is genesis', async () => {
    const headHash = (await block(hexQ(batchBlock)))!.hash;
    for (const tag of ['latest', 'pending', 'safe', 'finalized']) assert.equal((await block(tag))!.hash, headHash, tag);
    const genesis = (await block('earliest'))!;
    assert.equal(genesis.number, '0x0');
    assert.deepEqual(genesis.transactions, []);
    assert.equal(genesis.gasUsed, '0x0');
    assert.equal(genesis.baseFeePerGas, hexQ(GWEI));
  });
  test('a block beyond the head or an unknown hash is null', async () => {
    assert.equal(await block(hexQ(batchBlock + 1)), null);
    assert.equal(await block('0xffffffff', true), null);
    assert.equal(await rpc.call('eth_getBlockByHash', [UNKNOWN_HASH, true]), null);
  });
  test('malformed parameters are -32602 naming the argument', async () => {
    await rpc.rejects('eth_getBlockByNumber', ['latest'], -32602, 'missing value for required argument 1');
    await rpc.rejects('eth_getBlockByNumber', ['0x1', 'true'], -32602, /^invalid argument 1: /);
    await rpc.rejects('eth_getBlockByNumber', ['1', false], -32602, /^invalid argument 0: /);
    await rpc.rejects('eth_getBlockByNumber', ['0x01', false], -32602, 'invalid argument 0: hex number with leading zero digits');
    await rpc.rejects('eth_getBlockByHash', ['0x1234', false], -32602, /^invalid argument 0: /);
    await rpc.rejects('eth_getBlockByHash', [UNKNOWN_HASH], -32602, 'missing value for required argument 1');
  });
});

describe('transaction counts and transactions by block and index', () => {
  test('counts by number and by hash', async () => {
    const b = (await block(hexQ(batchBlock)))!;
    assert.equal(await rpc.call('eth_getBlockTransactionCountByNumber', [hexQ(batchBlock)]), hexQ(batch.length));
    assert.equal(await rpc.call('eth_getBlockTransactionCountByNumber', ['latest']), hexQ(batch.length));
    assert.equal(await rpc.call('eth_getBlockTransactionCountByHash', [b.hash]), hexQ(batch.length));
    assert.equal(await rpc.call('eth_getBlockTransactionCountByNumber', ['earliest']), '0x0');
    assert.equal(await rpc.call('eth_getBlockTransactionCountByNumber', ['0x1']), '0x1');
    assert.equal(await rpc.call('eth_getBlockTransactionCountByNumber', [hexQ(batchBlock + 1)]), null);
    assert.equal(await rpc.call('eth_getBlockTransactionCountByHash', [UNKNOWN_HASH]), null);
    await rpc.rejects('eth_getBlockTransactionCountByNumber', [{ blockNumber: '0x1' }], -32602, /^invalid argument 0: /);
    await rpc.rejects('eth_getBlockTransactionCountByHash', ['0x12'], -32602, /^invalid argument 0: /);
  });
  test('eth_getTransactionByHash, ByBlockNumberAndIndex and ByBlockHashAndIndex agree with the signed transactions', async () => {
    const b = (await block(hexQ(batchBlock)))!;
    const baseFee = BigInt(b.baseFeePerGas);
    for (const [i, tx] of batch.entries()) {
      const want = expectedTx(tx, b, i, baseFee);
      assert.deepEqual(await rpc.call('eth_getTransactionByHash', [hex(tx.hash())]), want);
      assert.deepEqual(await rpc.call('eth_getTransactionByBlockNumberAndIndex', [hexQ(batchBlock), hexQ(i)]), want);
      assert.deepEqual(await rpc.call('eth_getTransactionByBlockNumberAndIndex', ['latest', hexQ(i)]), want);
      assert.deepEqual(await rpc.call('eth_getTransactionByBlockHashAndIndex', [b.hash, hexQ(i)]), want);
    }
  });
  test('out of range, unknown and malformed', async () => {
    const b = (await block(hexQ(batchBlock)))!;
    assert.equal(await rpc.call('eth_getTransactionByHash', [UNKNOWN_HASH]), null);
    assert.equal(await rpc.call('eth_getTransactionByBlockNumberAndIndex', [hexQ(batchBlock), hexQ(batch.length)]), null);
    assert.equal(await rpc.call('eth_getTransactionByBlockNumberAndIndex', [hexQ(batchBlock + 1), '0x0']), null);
    assert.equal(await rpc.call('eth_getTransactionByBlockHashAndIndex', [b.hash, '0xff']), null);
    assert.equal(await rpc.call('eth_getTransactionByBlockHashAndIndex', [UNKNOWN_HASH, '0x0']), null);
    await rpc.rejects('eth_getTransactionByHash', ['0x12'], -32602, /^invalid argument 0: /);
    await rpc.rejects('eth_getTransactionByBlockNumberAndIndex', ['0x1', '0'], -32602, /^invalid argument 1: /);
    await rpc.rejects('eth_getTransactionByBlockNumberAndIndex', ['0x1', `0x1${'0'.repeat(16)}`], -32602, 'invalid argument 1: hex number > 64 bits');
    await rpc.rejects('eth_getTransactionByBlockHashAndIndex', [b.hash], -32602, 'missing value for required argument 1');
  });
});

describe('receipts', () => {
  test('the deployment: contract address, the constructor\'s Transfer log, no recipient', async () => {
    const r = deployReceipt;
    assert.equal(r.status, '0x1');
    assert.equal(r.contractAddress, TOKEN);
    assert.equal(r.to, null);
    assert.equal(r.from, addressOf(A));
    assert.equal(r.blockNumber, '0x1');
    assert.equal(r.transactionIndex, '0x0');
    assert.equal(r.cumulativeGasUsed, r.gasUsed);
    assert.equal(r.effectiveGasPrice, hexQ(10n * GWEI), 'fee cap and tip of 10 gwei: the cap binds');
    assert.deepEqual(
      r.logs.map((l) => [l.address, l.topics, l.data, l.logIndex, l.transactionHash]),
      [[TOKEN, [TRANSFER, word(0n), word(addressOf(A))], word(SUPPLY), '0x0', r.transactionHash]],
    );
  });
  test('the batch: status, gas, cumulative gas, effective prices, logs with block-wide indexes', async () => {
    const b = (await block(hexQ(batchBlock)))!;
    const baseFee = BigInt(b.baseFeePerGas);
    assert.ok(baseFee < GWEI, 'base fees fell below the initial 1 gwei over the nearly empty blocks');
    let cumulative = 0n;
    for (const [i, r] of receipts.entries()) {
      const tx = batch[i]!;
      cumulative += BigInt(r.gasUsed);
      assert.equal(r.transactionHash, hex(tx.hash()));
      assert.equal(r.blockHash, b.hash);
      assert.equal(r.transactionIndex, hexQ(i));
      assert.equal(r.cumulativeGasUsed, hexQ(cumulative));
      assert.equal(r.effectiveGasPrice, hexQ(effectivePrice(tx, baseFee)));
      assert.equal(r.type, hexQ(tx.type));
      assert.equal(r.from, tx.getSenderAddress().toString());
      assert.equal(r.to, tx.to!.toString());
      assert.equal(r.contractAddress, null);
    }
    const byHash = new Map(receipts.map((r) => [r.transactionHash, r]));
    const [tokenTx, ethLegacy, ethAccessList, failing] = [0, 1, 2, 3].map((k) => byHash.get(hex(baseOrder()[k]!.hash()))!);
    assert.equal(ethLegacy!.gasUsed, '0x5208');
    assert.equal(ethAccessList!.gasUsed, '0x5208');
    assert.deepEqual(ethLegacy!.logs, []);
    assert.equal(tokenTx!.status, '0x1');
    assert.equal(failing!.status, '0x0', 'the token transfer beyond B\'s balance reverted');
    assert.deepEqual(failing!.logs, []);
    assert.ok(BigInt(failing!.gasUsed) > 21_000n && BigInt(failing!.gasUsed) < 100_000n);
    const [log] = tokenTx!.logs;
    assert.deepEqual([log!.address, log!.topics, log!.data, log!.removed], [TOKEN, [TRANSFER, word(addressOf(A)), word(addressOf(B))], word(250n), false]);
    assert.equal(log!.logIndex, '0x0', 'the only log in its block');
    assert.equal(tokenTx!.logsBloom === `0x${'00'.repeat(256)}`, false, 'a receipt with a log has a bloom');
  });
  test('eth_getBlockReceipts: the block\'s receipts in order, by number, tag and EIP-1898 objects', async () => {
    const b = (await block(hexQ(batchBlock)))!;
    for (const ref of [hexQ(batchBlock), 'latest', { blockHash: b.hash }, { blockNumber: hexQ(batchBlock) }, { blockHash: b.hash, requireCanonical: true }]) {
      assert.deepEqual(await rpc.call('eth_getBlockReceipts', [ref]), receipts, JSON.stringify(ref));
    }
    assert.deepEqual(await rpc.call('eth_getBlockReceipts', ['0x1']), [deployReceipt]);
    assert.deepEqual(await rpc.call('eth_getBlockReceipts', ['earliest']), []);
    assert.equal(await rpc.call('eth_getBlockReceipts', [hexQ(batchBlock + 1)]), null);
    await rpc.rejects('eth_getBlockReceipts', [{ blockHash: UNKNOWN_HASH }], -32000, 'header for hash not found');
    await rpc.rejects('eth_getBlockReceipts', ['0xzz'], -32602, /^invalid argument 0: /);
    await rpc.rejects('eth_getBlockReceipts', [], -32602, 'missing value for required argument 0');
  });
  test('an unknown transaction has no receipt; a malformed hash is -32602', async () => {
    assert.equal(await rpc.call('eth_getTransactionReceipt', [UNKNOWN_HASH]), null);
    await rpc.rejects('eth_getTransactionReceipt', ['0xabc'], -32602, /^invalid argument 0: /);
  });
});

/** The batch in the order it was signed (A's token transfer, B's and C's ETH transfers, B's failing transfer). */
function baseOrder(): TypedTransaction[] {
  const key = (tx: TypedTransaction) => `${tx.getSenderAddress().toString()}:${tx.nonce}`;
  const signed = [`${addressOf(A)}:1`, `${addressOf(B)}:1`, `${addressOf(C)}:1`, `${addressOf(B)}:2`];
  return signed.map((k) => batch.find((tx) => key(tx) === k)!);
}

describe('uncles: a BFT chain has none', () => {
  test('counts are zero for known blocks and null for unknown ones; uncles are null', async () => {
    const b = (await block('latest'))!;
    assert.equal(await rpc.call('eth_getUncleCountByBlockNumber', ['latest']), '0x0');
    assert.equal(await rpc.call('eth_getUncleCountByBlockNumber', ['0x0']), '0x0');
    assert.equal(await rpc.call('eth_getUncleCountByBlockHash', [b.hash]), '0x0');
    assert.equal(await rpc.call('eth_getUncleCountByBlockNumber', [hexQ(batchBlock + 1)]), null);
    assert.equal(await rpc.call('eth_getUncleCountByBlockHash', [UNKNOWN_HASH]), null);
    assert.equal(await rpc.call('eth_getUncleByBlockNumberAndIndex', ['latest', '0x0']), null);
    assert.equal(await rpc.call('eth_getUncleByBlockHashAndIndex', [b.hash, '0x0']), null);
    await rpc.rejects('eth_getUncleByBlockHashAndIndex', [b.hash, 'x'], -32602, /^invalid argument 1: /);
  });
});

describe('eth_sendRawTransaction', () => {
  const send = (tx: TypedTransaction | Uint8Array) => rpc.call<string>('eth_sendRawTransaction', [hex(tx instanceof Uint8Array ? tx : tx.serialize())]);
  const refused = (tx: TypedTransaction | Uint8Array | string, message: string | RegExp, code = -32000) =>
    rpc.rejects('eth_sendRawTransaction', [typeof tx === 'string' ? tx : hex(tx instanceof Uint8Array ? tx : tx.serialize())], code, message);
  const transfer = (key: Uint8Array, nonce: bigint, extra: Partial<Parameters<typeof signTx>[2]> = {}) =>
    signTx(common, key, { nonce, to: addressOf(D), value: 1n, gasLimit: 21_000n, gasPrice: 2n * GWEI, ...extra });

  test('a transaction is accepted once and answered with its hash; it lands', async () => {
    const tx = transfer(D, 0n);
    assert.equal(await send(tx), hex(tx.hash()));
    assert.equal((await rpc.receipt(hex(tx.hash()))).status, '0x1');
  });
  test('nonce too low: an included transaction sent again, or another at a used nonce', async () => {
    await refused(batch[0]!, /^nonce too low(: |$)/);
    await refused(transfer(A, 0n), /^nonce too low(: |$)/);
  });
  test('already known, replacement underpriced, replaced with a 10% bump (on a transaction waiting behind a gap)', async () => {
    const next = BigInt(await rpc.call<string>('eth_getTransactionCount', [addressOf(D), 'latest']));
    const waiting = transfer(D, next + 1n, { gasPrice: 10n * GWEI });
    assert.equal(await send(waiting), hex(waiting.hash()));
    await refused(waiting, 'already known');
    await refused(transfer(D, next + 1n, { gasPrice: 10n * GWEI, value: 2n }), 'replacement transaction underpriced');
    await refused(transfer(D, next + 1n, { gasPrice: 10n * GWEI + GWEI - 1n, value: 2n }), 'replacement transaction underpriced');
    const bumped = transfer(D, next + 1n, { gasPrice: 11n * GWEI, value: 2n });
    assert.equal(await send(bumped), hex(bumped.hash()));
    assert.equal(await rpc.call('eth_getTransactionByHash', [hex(waiting.hash())]), null, 'the replaced transaction is gone');
    const pending = await rpc.call<Record<string, unknown>>('eth_getTransactionByHash', [hex(bumped.hash())]);
    assert.deepEqual([pending.blockHash, pending.blockNumber, pending.transactionIndex, pending.value], [null, null, null, '0x2']);
    // Filling the gap lets both land, in nonce order.
    await send(transfer(D, next));
    const r = await rpc.receipt(hex(bumped.hash()));
    assert.equal(r.status, '0x1');
  });
  test('nonce too high: more than 64 above the next nonce', async () => {
    const next = BigInt(await rpc.call<string>('eth_getTransactionCount', [addressOf(C), 'pending']));
    await refused(transfer(C, next + 65n), /^nonce too high(: |$)/);
  });
  test('insufficient funds for gas * price + value', async () => {
    await refused(transfer(testKey(9), 0n), /^insufficient funds for gas \* price \+ value(: |$)/);
    await refused(transfer(C, 2n, { value: 10n ** 25n }), /^insufficient funds for gas \* price \+ value(: |$)/);
  });
  test('intrinsic gas too low, and a gas limit above the block\'s', async () => {
    await refused(transfer(C, 2n, { gasLimit: 20_999n }), /^intrinsic gas too low(: |$)/);
    await refused(signTx(common, C, { nonce: 2n, to: TOKEN, data: encodeCall('totalSupply()'), gasLimit: 21_000n, gasPrice: GWEI }), /^intrinsic gas too low(: |$)/);
    await refused(transfer(C, 2n, { gasLimit: 30_000_001n }), /^exceeds block gas limit(: |$)/);
  });
  test('wrong chain and no replay protection', async () => {
    await refused(signTx(buildCommon(1n), C, { nonce: 2n, to: addressOf(D), gasLimit: 21_000n, gasPrice: GWEI }), 'invalid chain id for signer');
    await refused(signTx(buildCommon(CHAIN_ID, 'homestead'), C, { nonce: 2n, to: addressOf(D), gasLimit: 21_000n, gasPrice: GWEI, type: 0 }), 'only replay-protected (EIP-155) transactions allowed over RPC');
  });
  test('malformed transactions: undecodable bytes -32000, bad hex -32602', async () => {
    await refused('0x', /^rlp: /);
    await refused('0xc0', /^rlp: /);
    await refused('0x02c0', /^rlp: /);
    await refused('0x1234', 'transaction type not supported');
    await refused('0x1', /^invalid argument 0: /, -32602);
    await refused('zz', /^invalid argument 0: /, -32602);
    await rpc.rejects('eth_sendRawTransaction', [], -32602, 'missing value for required argument 0');
  });
});

describe('eth_sendTransaction', () => {
  test('the node holds no keys: "unknown account", as go-ethereum answers for an account it does not manage', async () => {
    await rpc.rejects('eth_sendTransaction', [{ from: addressOf(A), to: addressOf(D), value: '0x1' }], -32000, 'unknown account');
    await rpc.rejects('eth_sendTransaction', [{ from: '0x12' }], -32602, /^invalid argument 0: /);
    assert.deepEqual(await rpc.call('eth_accounts'), []);
  });
});
