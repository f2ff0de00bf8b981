/**
 * The point-evaluation precompile (0x0a, EIP-4844) runs inside the executor: a valid proof returns
 * the blob constants, and an invalid one fails the call, in the block and charged, never dropped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToHex, createAddressFromString } from '@ethereumjs/util';
import { initHashes, sha256 } from '../../src/crypto/hash.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { Executor } from '../../src/execution/executor.ts';
import { ChainReader } from '../../src/execution/reader.ts';
import { signTx, testConfig, testKey } from '../helpers/chain.ts';

await initHashes();

const POINT_EVALUATION = '0x000000000000000000000000000000000000000a';
const BLS_MODULUS = 0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001n;

/** The zero polynomial: its commitment and every proof are the point at infinity, p(z) = 0. */
function input(y: bigint): Uint8Array {
  const infinity = Uint8Array.from([0xc0, ...new Uint8Array(47)]);
  const versionedHash = sha256(infinity);
  versionedHash[0] = 0x01;
  const word = (n: bigint) => Buffer.from(n.toString(16).padStart(64, '0'), 'hex');
  return Buffer.concat([versionedHash, word(0n), word(y), infinity, infinity]);
}

test('a valid point evaluation returns FIELD_ELEMENTS_PER_BLOB and the BLS modulus', async () => {
  const ex = await Executor.open({ kv: new MemoryStore(), config: testConfig() });
  const r = await new ChainReader(ex).call({ to: createAddressFromString(POINT_EVALUATION), data: input(0n) });
  assert.equal(r.success, true, r.error);
  assert.equal(BigInt(bytesToHex(r.returnData.slice(0, 32))), 4096n);
  assert.equal(BigInt(bytesToHex(r.returnData.slice(32))), BLS_MODULUS);
});

test('an invalid proof fails the call inside a committed, charged transaction', async () => {
  const ex = await Executor.open({ kv: new MemoryStore(), config: testConfig() });
  const tx = signTx(ex.common, testKey(0), { nonce: 0n, to: POINT_EVALUATION, data: input(1n), gasLimit: 100_000n });
  const r = await ex.execute(ex.head.hash(), [tx.serialize()], 1n);
  assert.deepEqual(r.rejected, []);
  assert.equal(r.receipts[0]!.status, 0);
  assert.equal(r.receipts[0]!.gasUsed, 100_000n, 'a failed precompile consumes all the gas it was given');
});
