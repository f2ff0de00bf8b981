import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initHashes } from '../../src/crypto/hash.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { Executor } from '../../src/execution/executor.ts';
import { JUMP_ANALYSIS } from '../../src/execution/jump-analysis.ts';
import { addressOf, signTx, testConfig, testKey } from '../helpers/chain.ts';
import { bytecode, encodeCall } from '../helpers/abi.ts';

await initHashes();

test('a contract’s jump destinations are analysed once, then reused by later calls with the same outcome', async () => {
  const ex = await Executor.open({ kv: new MemoryStore(), config: testConfig() });
  const A = testKey(0);
  const deployed = await ex.execute(ex.head.hash(), [signTx(ex.common, A, { nonce: 0n, data: bytecode('Token', 10n ** 30n), gasLimit: 2_000_000n }).serialize()], 1n);
  const token = deployed.receipts[0]?.contractAddress;
  assert.ok(token !== undefined);
  const to = `0x${Buffer.from(token).toString('hex')}` as const;
  const transfer = (nonce: bigint) =>
    signTx(ex.common, A, { nonce, to, data: encodeCall('transfer(address,uint256)', addressOf(testKey(9)), 5n), gasLimit: 100_000n }).serialize();
  const before = { ...JUMP_ANALYSIS };
  const r = await ex.execute(ex.head.hash(), [transfer(1n), transfer(2n), transfer(3n)], 2n);
  assert.equal(r.rejected.length, 0);
  assert.deepEqual(r.receipts.map((x) => x.status), [1, 1, 1]);
  // The three calls run the same code: the first analyses it, the other two find it.
  assert.ok(JUMP_ANALYSIS.hits - before.hits >= 2, `hits ${JUMP_ANALYSIS.hits - before.hits}`);
  assert.ok(JUMP_ANALYSIS.misses - before.misses <= 1, `misses ${JUMP_ANALYSIS.misses - before.misses}`);
  // The same gas for each: the analysis found is the analysis made.
  const gas = r.receipts.map((x, i) => x.cumulativeGasUsed - (i === 0 ? 0n : r.receipts[i - 1]!.cumulativeGasUsed));
  assert.equal(gas[1], gas[2]);
});
