import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createCustomCommon, Mainnet } from '@ethereumjs/common';
import { LegacyTx, AccessList2930Tx, FeeMarket1559Tx, Blob4844Tx, EOACode7702Tx } from '@ethereumjs/tx';
import { bytesToHex, publicToAddress } from '@ethereumjs/util';
import { initHashes, keccak256 } from '../../src/crypto/hash.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { Executor } from '../../src/execution/executor.ts';
import { DecodedTxs } from '../../src/execution/decoded-txs.ts';
import { SENDER_MEMO } from '../../src/execution/tx-sender.ts';
import { decodeAndCheck } from '../../src/execution/validation.ts';
import { addressOf, signTx, testConfig, testKey } from '../helpers/chain.ts';

await initHashes();

const A = testKey(0);
const B = testKey(1);
const stranger = addressOf(testKey(50));
const hashHex = (raw: Uint8Array) => bytesToHex(keccak256(raw));

describe('the sender, once per transaction', () => {
  test('every transaction class answers getSenderAddress from the memo', () => {
    for (const cls of [LegacyTx, AccessList2930Tx, FeeMarket1559Tx, Blob4844Tx, EOACode7702Tx]) {
      assert.equal(cls.prototype.getSenderAddress, SENDER_MEMO, cls.name);
    }
  });

  test('the address equals ethereumjs’ own derivation for each type, and is kept', async () => {
    const { ex } = await fresh();
    for (const type of [0, 1, 2] as const) {
      const tx = signTx(ex.common, A, { nonce: 0n, to: stranger, gasLimit: 21_000n, type });
      const first = tx.getSenderAddress();
      assert.equal(first.toString(), bytesToHex(publicToAddress(tx.getSenderPublicKey())));
      assert.equal(first.toString(), addressOf(A));
      assert.equal(tx.getSenderAddress(), first, 'the same object the second time');
    }
  });

  test('decodeAndCheck leaves the hash of the received bytes, equal to the re-encoded hash', async () => {
    const { ex, config } = await fresh();
    for (const type of [0, 1, 2] as const) {
      const raw = signTx(ex.common, A, { nonce: 3n, to: stranger, gasLimit: 21_000n, type }).serialize();
      const tx = decodeAndCheck(raw, config, ex.common, config.blockGasLimit);
      assert.deepEqual(tx.hash(), keccak256(tx.serialize()));
      assert.equal(bytesToHex(tx.hash()), hashHex(raw));
    }
  });
});

describe('DecodedTxs', () => {
  test('a remembered transaction is taken once, by exactly its bytes and rules', async () => {
    const { ex, config } = await fresh();
    const raw = signTx(ex.common, A, { nonce: 0n, to: stranger, gasLimit: 21_000n }).serialize();
    const tx = decodeAndCheck(raw, config, ex.common, config.blockGasLimit);
    const kept = new DecodedTxs(8);
    kept.remember(hashHex(raw), raw, tx);
    const otherChain = createCustomCommon({ chainId: 999 }, Mainnet, { hardfork: ex.common.hardfork() });
    assert.equal(kept.take(raw, otherChain), undefined, 'another chain’s rules: decoded again');
    assert.equal(kept.size, 0, 'and dropped: no executor here could use it');
    kept.remember(hashHex(raw), raw, tx);
    assert.equal(kept.take(Uint8Array.from(raw), ex.common), tx, 'equal bytes, another array');
    assert.equal(kept.take(raw, ex.common), undefined, 'used once');
    assert.deepEqual([kept.hits, kept.misses, kept.size], [1, 2, 0]);
  });

  test('an entry whose bytes differ from those asked for is not taken, even under their hash', async () => {
    const { ex, config } = await fresh();
    const rawA = signTx(ex.common, A, { nonce: 0n, to: stranger, gasLimit: 21_000n }).serialize();
    const rawB = signTx(ex.common, B, { nonce: 0n, to: stranger, gasLimit: 21_000n }).serialize();
    const kept = new DecodedTxs(8);
    kept.remember(hashHex(rawB), rawA, decodeAndCheck(rawA, config, ex.common, config.blockGasLimit));
    assert.equal(kept.take(rawB, ex.common), undefined);
    assert.equal(kept.misses, 1);
  });

  test('beyond its capacity the oldest go first', async () => {
    const { ex, config } = await fresh();
    const raws = [0n, 1n, 2n].map((nonce) => signTx(ex.common, A, { nonce, to: stranger, gasLimit: 21_000n }).serialize());
    const kept = new DecodedTxs(2);
    for (const raw of raws) kept.remember(hashHex(raw), raw, decodeAndCheck(raw, config, ex.common, config.blockGasLimit));
    assert.equal(kept.size, 2);
    assert.equal(kept.take(raws[0]!, ex.common), undefined);
    assert.notEqual(kept.take(raws[1]!, ex.common), undefined);
    assert.notEqual(kept.take(raws[2]!, ex.common), undefined);
  });

  test('an executor given the decoded transactions builds the same block, and redoes the block’s checks', async () => {
    const plain = await fresh();
    const handed = await fresh();
    const kept = new DecodedTxs(64);
    const handedEx = await Executor.open({ kv: new MemoryStore(), config: handed.config, decodedTxs: kept });
    const c = plain.ex.common;
    const raws = [
      signTx(c, A, { nonce: 0n, to: stranger, value: 5n, gasLimit: 21_000n, type: 0 }).serialize(),
      signTx(c, A, { nonce: 1n, to: stranger, value: 6n, gasLimit: 21_000n, type: 1 }).serialize(),
      signTx(c, B, { nonce: 0n, to: stranger, value: 7n, gasLimit: 21_000n, type: 2 }).serialize(),
      // Admitted against a larger limit than the block's: the executor must still refuse it.
      signTx(c, B, { nonce: 1n, to: stranger, gasLimit: 30_000_001n }).serialize(),
    ];
    for (const raw of raws) kept.remember(hashHex(raw), raw, decodeAndCheck(raw, handed.config, handedEx.common, 1n << 40n));
    const a = await plain.ex.execute(plain.ex.head.hash(), raws, 7n);
    const b = await handedEx.execute(handedEx.head.hash(), raws, 7n);
    assert.deepEqual(b.block.hash(), a.block.hash());
    assert.deepEqual(b.stateRoot, a.stateRoot);
    assert.deepEqual(b.rejected.map((r) => [r.index, r.reason]), [[3, 'TX_GAS_ABOVE_BLOCK_LIMIT']]);
    assert.deepEqual(a.rejected.map((r) => [r.index, r.reason]), [[3, 'TX_GAS_ABOVE_BLOCK_LIMIT']]);
    assert.equal(kept.hits, 4, 'all four found; the fourth refused by the block’s own check');
    assert.equal(kept.size, 0);
  });
});

async function fresh() {
  const config = testConfig();
  const ex = await Executor.open({ kv: new MemoryStore(), config });
  return { ex, config };
}
