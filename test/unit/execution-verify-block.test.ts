// A block fetched from elsewhere is accepted only if it is exactly the certified one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RLP } from '@ethereumjs/rlp';
import { initHashes } from '../../src/crypto/hash.ts';
import { Executor } from '../../src/execution/executor.ts';
import { verifyBlock } from '../../src/execution/verify-block.ts';
import { encodeReceipts } from '../../src/ledger/receipt.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { isBulwarkError } from '../../src/common/errors.ts';
import { bytecode, encodeCall } from '../helpers/abi.ts';
import { addressOf, signTx, testConfig, testKey } from '../helpers/chain.ts';

await initHashes();

test('a block with a contract creation, logs and a transfer verifies; any change is refused', async () => {
  const ex = await Executor.open({ kv: new MemoryStore(), config: testConfig() });
  const A = testKey(0);
  const c = ex.common;
  const deploy = signTx(c, A, { nonce: 0n, data: bytecode('Token', 1_000_000n), gasLimit: 3_000_000n, type: 2 }).serialize();
  const r1 = await ex.execute(ex.head.hash(), [deploy], ex.head.header.timestamp + 1n);
  const token = r1.receipts[0]!.contractAddress!;
  const transfer = signTx(c, A, {
    nonce: 1n,
    to: `0x${Buffer.from(token).toString('hex')}`,
    data: encodeCall('transfer(address,uint256)', addressOf(testKey(1)), 5n),
    gasLimit: 100_000n,
  }).serialize();
  const plain = signTx(c, A, { nonce: 2n, to: addressOf(testKey(2)), value: 7n, gasLimit: 21_000n, type: 1 }).serialize();
  const r2 = await ex.execute(ex.head.hash(), [transfer, plain], ex.head.header.timestamp + 1n);
  assert.equal(r2.receipts.length, 2);
  assert.ok(r2.receipts[0]!.logs.length > 0, 'the transfer logged an event');
  for (const r of [r1, r2]) {
    const items = r.rawTransactions.map((raw) => ((raw[0] ?? 0) >= 0xc0 ? RLP.decode(raw) : raw));
    const parts = { header: r.block.header.serialize(), body: RLP.encode([items as Uint8Array[], [], []]), receipts: encodeReceipts(r.receipts) };
    const v = await verifyBlock(c, parts, r.block.hash());
    assert.deepEqual(v.receipts, r.receipts);
    assert.deepEqual(v.rawTxs, r.rawTransactions);
    const refused = async (p: typeof parts, hash = r.block.hash()) =>
      assert.rejects(verifyBlock(c, p, hash), (e) => isBulwarkError(e, 'BLOCK_INVALID'));
    await refused(parts, new Uint8Array(32));
    if (r === r2) {
      await refused({ ...parts, body: RLP.encode([[items[1] as Uint8Array], [], []]) });
      const tampered = r.receipts.map((x, i) => (i === 0 ? { ...x, logs: [] } : x));
      await refused({ ...parts, receipts: encodeReceipts(tampered) });
      await refused({ ...parts, receipts: encodeReceipts(r.receipts.slice(1)) });
    }
  }
});
