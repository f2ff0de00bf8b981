import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { createAddressFromString, bytesToHex } from '@ethereumjs/util';
import { createLegacyTx } from '@ethereumjs/tx';
import { createCustomCommon, Mainnet } from '@ethereumjs/common';
import { initHashes, keccak256 } from '../../src/crypto/hash.ts';
import { blockSize } from '../../src/ledger/block-store.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { Executor } from '../../src/execution/executor.ts';
import { ChainReader } from '../../src/execution/reader.ts';
import { isBulwarkError } from '../../src/common/errors.ts';
import { addressOf, signTx, testConfig, testKey, CHAIN_ID } from '../helpers/chain.ts';
import { bytecode, encodeCall, eventTopic } from '../helpers/abi.ts';

await initHashes();

const A = testKey(0);
const B = testKey(1);
const stranger = addressOf(testKey(50));
const addr = (h: `0x${string}`) => createAddressFromString(h);

/** A pre-EIP-155 legacy transaction (v = 27/28): signed under a pre-Spurious-Dragon Common. */
function unprotectedTx(key: Uint8Array): Uint8Array {
  const old = createCustomCommon({ chainId: Number(CHAIN_ID) }, Mainnet, { hardfork: 'tangerineWhistle' });
  const tx = createLegacyTx({ nonce: 0n, to: stranger, gasLimit: 21_000n, gasPrice: 0n }, { common: old }).sign(key);
  assert.ok(tx.v === 27n || tx.v === 28n);
  return tx.serialize();
}

async function freshChain(overrides = {}) {
  const ex = await Executor.open({ kv: new MemoryStore(), config: testConfig(overrides) });
  return { ex, reader: new ChainReader(ex) };
}

describe('executor: blocks and rejections', () => {
  test('transfers of every type land in one block with exact balances and no fee in free mode', async () => {
    const { ex, reader } = await freshChain();
    const before = await reader.balance(addr(addressOf(A)));
    const txs = ([0, 1, 2] as const).map((type, n) =>
      signTx(ex.common, A, { nonce: BigInt(n), to: stranger, value: 1000n, gasLimit: 21_000n, type }).serialize(),
    );
    const r = await ex.execute(ex.head.hash(), txs, 5n);
    assert.equal(r.rejected.length, 0);
    assert.equal(r.block.header.number, 1n);
    assert.equal(r.block.transactions.length, 3);
    assert.equal(r.block.header.gasUsed, 63_000n);
    assert.equal(r.block.header.baseFeePerGas, 0n);
    assert.deepEqual(r.receipts.map((x) => x.cumulativeGasUsed), [21_000n, 42_000n, 63_000n]);
    assert.equal(await reader.balance(addr(stranger)), 3000n);
    assert.equal(await reader.balance(addr(addressOf(A))), before - 3000n, 'free mode charges no fee');
    assert.equal(await reader.nonce(addr(addressOf(A))), 3n);
    assert.deepEqual(r.stateRoot, r.block.header.stateRoot);
    assert.deepEqual(ex.head.hash(), r.block.hash());
    // The raw bytes stand in for re-encoding: they must be exactly what ethereumjs would encode.
    r.block.transactions.forEach((tx, i) => assert.deepEqual(r.rawTransactions[i], tx.serialize()));
    const stored = await ex.blocks.block(r.block.hash());
    assert.deepEqual(stored?.serialize(), r.block.serialize());
    // Read back, its size and its transactions' hashes come from the stored bytes: the same values.
    assert.equal(blockSize(stored!), r.block.serialize().length);
    stored!.transactions.forEach((tx, i) => assert.deepEqual(tx.hash(), keccak256(r.rawTransactions[i]!)));
    const empty = await ex.execute(ex.head.hash(), [], 6n);
    assert.equal(blockSize((await ex.blocks.block(empty.block.hash()))!), empty.block.serialize().length);
    assert.deepEqual((await ex.blocks.txLocation(r.block.transactions[2]!.hash()))?.index, 2);
  });

  test('invalid transactions are left out deterministically, each with its reason', async () => {
    const { ex } = await freshChain();
    const c = ex.common;
    const other = createCustomCommon({ chainId: 999 }, Mainnet, { hardfork: 'cancun' });
    const unprotected = unprotectedTx(B);
    const badSig = signTx(c, A, { nonce: 1n, to: stranger, gasLimit: 21_000n }).serialize();
    badSig[badSig.length - 5]! ^= 0xff;
    const poor = testKey(77);
    const inputs: [string, Uint8Array][] = [
      ['ok', signTx(c, A, { nonce: 0n, to: stranger, value: 1n, gasLimit: 21_000n }).serialize()],
      ['TX_NONCE_TOO_LOW', signTx(c, A, { nonce: 0n, to: stranger, gasLimit: 21_000n }).serialize()],
      ['TX_NONCE_TOO_HIGH', signTx(c, A, { nonce: 9n, to: stranger, gasLimit: 21_000n }).serialize()],
      ['TX_WRONG_CHAIN', signTx(other, A, { nonce: 1n, to: stranger, gasLimit: 21_000n }).serialize()],
      ['TX_UNPROTECTED', unprotected],
      ['TX_INSUFFICIENT_FUNDS', signTx(c, poor, { nonce: 0n, to: stranger, value: 1n, gasLimit: 21_000n }).serialize()],
      ['TX_INTRINSIC_GAS_TOO_LOW', signTx(c, A, { nonce: 1n, to: stranger, gasLimit: 20_999n }).serialize()],
      ['TX_GAS_ABOVE_BLOCK_LIMIT', signTx(c, A, { nonce: 1n, to: stranger, gasLimit: 30_000_001n }).serialize()],
      ['TX_MALFORMED', Uint8Array.from([0xf8, 0x01, 0x02])],
      ['TX_UNSUPPORTED_TYPE', Uint8Array.from([0x03, 0xc0])],
      ['TX_OVERSIZED', new Uint8Array(128 * 1024 + 1).fill(0xc0)],
      ['ok', signTx(c, A, { nonce: 1n, to: stranger, value: 1n, gasLimit: 21_000n }).serialize()],
    ];
    const r = await ex.execute(ex.head.hash(), inputs.map(([, raw]) => raw), 5n);
    const expected = inputs.map(([reason], index) => ({ reason, index })).filter((x) => x.reason !== 'ok');
    assert.deepEqual(
      r.rejected.map((x) => ({ reason: x.reason, index: x.index })),
      expected,
      JSON.stringify(r.rejected.map((x) => [x.reason, x.message])),
    );
    assert.equal(r.block.transactions.length, 2);
    assert.ok(r.rejected.every((x) => x.message.length > 0));
  });

  test('a bad-signature transaction is refused', async () => {
    const { ex } = await freshChain();
    const tx = signTx(ex.common, A, { nonce: 0n, to: stranger, gasLimit: 21_000n });
    // s above the curve order is no valid signature.
    const forged = createLegacyTx(
      { nonce: 0n, to: stranger, gasLimit: 21_000n, gasPrice: 0n, v: 2n * CHAIN_ID + 35n, r: 1n, s: 2n ** 256n - 1n },
      { common: ex.common },
    ).serialize();
    const r = await ex.execute(ex.head.hash(), [forged, tx.serialize()], 5n);
    assert.deepEqual(r.rejected.map((x) => x.reason), ['TX_BAD_SIGNATURE']);
  });

  test('unprotected legacy transactions are accepted when the chain allows them', async () => {
    const { ex } = await freshChain({ allowUnprotectedTxs: true });
    const raw = unprotectedTx(A);
    const r = await ex.execute(ex.head.hash(), [raw], 5n);
    assert.equal(r.rejected.length, 0);
  });

  test('block gas is a hard limit: a transaction that no longer fits is left out', async () => {
    const { ex } = await freshChain({ blockGasLimit: '50000' });
    const txs = [0n, 1n, 2n].map((n) => signTx(ex.common, A, { nonce: n, to: stranger, gasLimit: 21_000n }).serialize());
    const r = await ex.execute(ex.head.hash(), txs, 5n);
    assert.equal(r.block.transactions.length, 2);
    assert.deepEqual(r.rejected.map((x) => [x.index, x.reason]), [[2, 'TX_BLOCK_GAS_EXHAUSTED']]);
  });

  test('market mode: EIP-1559 base fee, burned, tips to the fee recipient', async () => {
    const feeRecipient = addressOf(testKey(60));
    const { ex, reader } = await freshChain({ gasMode: 'market', feeRecipient });
    assert.equal(ex.head.header.baseFeePerGas, 1_000_000_000n);
    const zeroPrice = signTx(ex.common, A, { nonce: 0n, to: stranger, gasLimit: 21_000n, gasPrice: 0n }).serialize();
    const paid = signTx(ex.common, A, { nonce: 0n, to: stranger, gasLimit: 21_000n, gasPrice: 3_000_000_000n }).serialize();
    const before = await reader.balance(addr(addressOf(A)));
    const r = await ex.execute(ex.head.hash(), [zeroPrice, paid], 5n);
    assert.deepEqual(r.rejected.map((x) => x.reason), ['TX_FEE_BELOW_BASE_FEE']);
    const baseFee = r.block.header.baseFeePerGas!;
    assert.equal(baseFee, ex.head.header.baseFeePerGas);
    // signTx sets maxFee = maxPriority = price, so the tip is price - baseFee.
    assert.equal(await reader.balance(addr(feeRecipient)), 21_000n * (3_000_000_000n - baseFee));
    assert.equal(await reader.balance(addr(addressOf(A))), before - 21_000n * 3_000_000_000n);
  });

  test('timestamps: equal to the parent is fine, earlier is refused; parent must be the head', async () => {
    const { ex } = await freshChain();
    const genesis = ex.head.hash();
    await ex.execute(genesis, [], 10n);
    await ex.execute(ex.head.hash(), [], 10n);
    await assert.rejects(ex.execute(ex.head.hash(), [], 9n), (e) => isBulwarkError(e, 'EXEC_TIMESTAMP_BEFORE_PARENT'));
    await assert.rejects(ex.execute(genesis, [], 11n), (e) => isBulwarkError(e, 'EXEC_PARENT_NOT_HEAD'));
    assert.equal(ex.head.header.number, 2n);
    const head = ex.head.hash();
    const first = ex.execute(head, [], 12n);
    await assert.rejects(ex.execute(head, [], 12n), (e) => isBulwarkError(e, 'EXEC_BUSY'));
    assert.equal((await first).block.header.number, 3n);
  });

  test('reopening resumes at the head; a different chain config is refused', async () => {
    const kv = new MemoryStore();
    const config = testConfig();
    const ex = await Executor.open({ kv, config });
    const r = await ex.execute(ex.head.hash(), [signTx(ex.common, A, { nonce: 0n, to: stranger, value: 7n, gasLimit: 21_000n }).serialize()], 3n);
    const again = await Executor.open({ kv });
    assert.deepEqual(again.head.hash(), r.block.hash());
    assert.equal(await new ChainReader(again).balance(addr(stranger)), 7n);
    await assert.rejects(Executor.open({ kv, config: testConfig({ chainId: '5' }) }), (e) => isBulwarkError(e, 'EXEC_CONFIG_MISMATCH'));
    await assert.rejects(Executor.open({ kv: new MemoryStore() }), (e) => isBulwarkError(e, 'EXEC_NO_CHAIN'));
  });
});

describe('reader: state, calls, lookups, logs', () => {
  let ex: Executor;
  let reader: ChainReader;
  let token: `0x${string}`;
  let exerciser: `0x${string}`;
  let transferHash: Uint8Array;

  before(async () => {
    ({ ex, reader } = await freshChain());
    const c = ex.common;
    const deploy = [
      signTx(c, A, { nonce: 0n, data: bytecode('Token', 1_000_000n), gasLimit: 1_500_000n }).serialize(),
      signTx(c, A, { nonce: 1n, data: bytecode('Exerciser'), gasLimit: 3_000_000n }).serialize(),
    ];
    const r1 = await ex.execute(ex.head.hash(), deploy, 1n);
    assert.equal(r1.rejected.length, 0);
    token = bytesToHex(r1.receipts[0]!.contractAddress!) as `0x${string}`;
    exerciser = bytesToHex(r1.receipts[1]!.contractAddress!) as `0x${string}`;
    const t = signTx(c, A, { nonce: 2n, to: token, data: encodeCall('transfer(address,uint256)', addressOf(B), 250n) });
    transferHash = t.hash();
    const store = signTx(c, B, { nonce: 0n, to: exerciser, data: encodeCall('store(uint256,uint256)', 5n, 42n) });
    const r2 = await ex.execute(ex.head.hash(), [t.serialize(), store.serialize()], 2n);
    assert.equal(r2.rejected.length, 0);
    assert.deepEqual(r2.receipts.map((x) => x.status), [1, 1]);
    await ex.execute(ex.head.hash(), [], 3n);
  });

  test('code and storage at the latest block and at a given one', async () => {
    assert.ok((await reader.code(addr(token))).length > 100);
    assert.equal((await reader.code(addr(token), 0n)).length, 0, 'no code at genesis');
    // Exerciser.slots is mapping slot 0: slot = keccak(key . 0)
    const { keccak256 } = await import('../../src/crypto/hash.ts');
    const slot = BigInt(bytesToHex(keccak256(Buffer.concat([Buffer.alloc(31), Buffer.from([5]), Buffer.alloc(32)]))));
    assert.equal(BigInt(bytesToHex(await reader.storage(addr(exerciser), slot))), 42n);
    assert.equal(BigInt(bytesToHex(await reader.storage(addr(exerciser), slot, 1n))), 0n);
    assert.equal(await reader.nonce(addr(addressOf(A)), 1n), 2n);
  });

  test('call returns data, and revert data on failure, without changing state', async () => {
    const head = ex.head.hash();
    const bal = await reader.call({ to: addr(token), data: encodeCall('balanceOf(address)', addressOf(B)) });
    assert.equal(bal.success, true);
    assert.equal(BigInt(bytesToHex(bal.returnData)), 250n);
    const old = await reader.call({ to: addr(token), data: encodeCall('balanceOf(address)', addressOf(B)) }, 1n);
    assert.equal(BigInt(bytesToHex(old.returnData)), 0n);
    const fail = await reader.call({ to: addr(exerciser), data: encodeCall('fail(uint256)', 7n) });
    assert.equal(fail.success, false);
    assert.equal(fail.error, 'revert');
    // Refused(uint256) selector followed by the code.
    assert.equal(bytesToHex(fail.returnData.slice(4)), `0x${'7'.padStart(64, '0')}`);
    const write = await reader.call({ from: addr(addressOf(B)), to: addr(exerciser), data: encodeCall('store(uint256,uint256)', 9n, 1n) });
    assert.equal(write.success, true);
    assert.deepEqual(ex.head.hash(), head);
    const slot9 = await reader.call({ to: addr(exerciser), data: encodeCall('slots(uint256)', 9n) });
    assert.equal(BigInt(bytesToHex(slot9.returnData)), 0n, 'a call leaves no trace');
  });

  test('estimateGas finds the least gas that succeeds', async () => {
    const req = { from: addr(addressOf(B)), to: addr(exerciser), data: encodeCall('store(uint256,uint256)', 11n, 3n) };
    const gas = await reader.estimateGas(req);
    assert.ok(gas > 21_000n);
    assert.equal((await reader.call({ ...req, gas })).success, true);
    assert.equal((await reader.call({ ...req, gas: gas - 1n })).success, false);
    assert.equal(await reader.estimateGas({ to: addr(stranger), value: 0n }), 21_000n);
    await assert.rejects(
      reader.estimateGas({ to: addr(exerciser), data: encodeCall('failWithReason()') }),
      (e) => isBulwarkError(e, 'READ_EXECUTION_FAILED'),
    );
  });

  test('transaction lookup by hash', async () => {
    const found = await reader.transaction(transferHash);
    assert.ok(found);
    assert.equal(found.block.header.number, 2n);
    assert.equal(found.index, 0);
    assert.equal(found.receipt.status, 1);
    assert.equal(found.receipt.logs.length, 1);
    assert.equal(await reader.transaction(new Uint8Array(32)), undefined);
  });

  test('logs by range, address and topics, using the blooms', async () => {
    const transfer = eventTopic('Transfer(address,address,uint256)');
    const all = await reader.logs({ fromBlock: 0n, toBlock: 10n });
    assert.equal(all.length, 3, 'mint, transfer, stored');
    const tokenLogs = await reader.logs({ fromBlock: 0n, toBlock: 3n, addresses: [addr(token).bytes] });
    assert.deepEqual(tokenLogs.map((l) => l.blockNumber), [1n, 2n]);
    const toB = await reader.logs({
      fromBlock: 0n,
      toBlock: 3n,
      topics: [[transfer], null, [Buffer.concat([Buffer.alloc(12), addr(addressOf(B)).bytes])]],
    });
    assert.equal(toB.length, 1);
    assert.deepEqual(toB[0]!.txHash, transferHash);
    assert.equal(toB[0]!.logIndex, 0);
    const stored = await reader.logs({ fromBlock: 2n, toBlock: 2n, addresses: [addr(exerciser).bytes] });
    assert.equal(stored.length, 1);
    assert.equal(stored[0]!.logIndex, 1, 'log index counts across the block');
    assert.equal((await reader.logs({ fromBlock: 3n, toBlock: 3n })).length, 0);
    await assert.rejects(reader.logs({ fromBlock: 0n, toBlock: 20_000n }), (e) => isBulwarkError(e, 'READ_RANGE_TOO_LARGE'));
  });
});

describe('executor: integrity on open', () => {
  test('a head whose state root is missing from the store is refused, not read as an empty state', async () => {
    const kv = new MemoryStore();
    const ex = await Executor.open({ kv, config: testConfig() });
    await ex.execute(ex.head.hash(), [signTx(ex.common, A, { nonce: 0n, to: stranger, value: 1n, gasLimit: 21_000n }).serialize()], 1n);
    const { PREFIX } = await import('../../src/storage/prefixes.ts');
    const rootKey = Uint8Array.from([PREFIX.stateTrie, ...ex.head.header.stateRoot]);
    assert.ok(await kv.get(rootKey), 'the root node is stored under its hash');
    await kv.write([{ type: 'del', key: rootKey }]);
    await assert.rejects(Executor.open({ kv }), (e) => isBulwarkError(e, 'LEDGER_CORRUPT'));
  });
});

describe('executor: a failed disk write loses nothing', () => {
  test('the error surfaces, the head stays, and the same block then commits with the same hash', async () => {
    class FlakyStore extends MemoryStore {
      failNext = false;
      override async write(...args: Parameters<MemoryStore['write']>): Promise<void> {
        if (this.failNext) {
          this.failNext = false;
          const { BulwarkError } = await import('../../src/common/errors.ts');
          throw new BulwarkError('STORAGE_IO', 'simulated disk failure');
        }
        return super.write(...args);
      }
    }
    const kv = new FlakyStore();
    const ex = await Executor.open({ kv, config: testConfig() });
    const c = ex.common;
    const block1 = [signTx(c, A, { nonce: 0n, data: bytecode('Exerciser'), gasLimit: 3_000_000n }).serialize()];
    const r1 = await ex.execute(ex.head.hash(), block1, 1n);
    const exerciser = bytesToHex(r1.receipts[0]!.contractAddress!) as `0x${string}`;
    const txs = [
      signTx(c, A, { nonce: 1n, to: stranger, value: 5n, gasLimit: 21_000n }).serialize(),
      signTx(c, B, { nonce: 0n, to: exerciser, data: encodeCall('store(uint256,uint256)', 1n, 2n) }).serialize(),
    ];
    const head = ex.head.hash();
    kv.failNext = true;
    await assert.rejects(ex.execute(head, txs, 2n), (e) => isBulwarkError(e, 'STORAGE_IO'));
    assert.deepEqual(ex.head.hash(), head);
    const reader = new ChainReader(ex);
    assert.equal(await reader.balance(addr(stranger)), 0n, 'nothing of the failed block is visible');
    const retry = await ex.execute(head, txs, 2n);
    const reference = await Executor.open({ kv: new MemoryStore(), config: testConfig() });
    await reference.execute(reference.head.hash(), block1, 1n);
    const expected = await reference.execute(reference.head.hash(), txs, 2n);
    assert.deepEqual(retry.block.hash(), expected.block.hash(), 'the retried block is the block');
    assert.equal(await reader.balance(addr(stranger)), 5n);
    const reopened = await Executor.open({ kv });
    assert.deepEqual(reopened.head.hash(), expected.block.hash());
  });
});

describe('executor: corrupt records are named as corruption', () => {
  test('an undecodable head block or chain config gives LEDGER_CORRUPT', async () => {
    const { PREFIX } = await import('../../src/storage/prefixes.ts');
    const kv = new MemoryStore();
    const ex = await Executor.open({ kv, config: testConfig() });
    const headerKey = Uint8Array.from([PREFIX.blockHeaderByHash, ...ex.head.hash()]);
    await kv.write([{ type: 'put', key: headerKey, value: Uint8Array.of(0xc1, 0x80) }]);
    await assert.rejects(Executor.open({ kv }), (e) => isBulwarkError(e, 'LEDGER_CORRUPT'));
    const configKey = Uint8Array.from([PREFIX.meta, ...new TextEncoder().encode('chain-config')]);
    await kv.write([{ type: 'put', key: configKey, value: new TextEncoder().encode('{not json') }]);
    await assert.rejects(Executor.open({ kv }), (e) => isBulwarkError(e, 'LEDGER_CORRUPT'));
  });
});
