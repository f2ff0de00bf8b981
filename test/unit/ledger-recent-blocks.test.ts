/** The newest blocks kept decoded for the reads that follow them (`RecentBlocks`, `BlockStore.remember`). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initHashes } from '../../src/crypto/hash.ts';
import { Executor } from '../../src/execution/executor.ts';
import { BlockStore } from '../../src/ledger/block-store.ts';
import { RecentBlocks } from '../../src/ledger/recent-blocks.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { keccak256 } from '../../src/crypto/index.ts';
import { signTx, testConfig, testKey } from '../helpers/chain.ts';

await initHashes();
const A = testKey(0);
const stranger = '0x00000000000000000000000000000000000000aa';

/** Blocks of `sizes` transfers each, executed on a memory store; the store and what each block was made of. */
async function chain(sizes: readonly number[]) {
  const kv = new MemoryStore();
  const ex = await Executor.open({ kv, config: testConfig() });
  let nonce = 0n;
  const made = [];
  for (const size of sizes) {
    const raws = Array.from({ length: size }, () => signTx(ex.common, A, { nonce: nonce++, to: stranger, value: 1n, gasLimit: 21_000n }).serialize());
    const out = await ex.execute(ex.head.hash(), raws, ex.head.header.timestamp + 1n);
    made.push(out);
  }
  return { kv, ex, made };
}

test('a remembered block is read back as the store has it: block, header, receipts, transaction locations', async () => {
  const { kv, ex, made } = await chain([2, 3]);
  // A second store over the same data: one reads from memory, the other from the store.
  const fromMemory = new BlockStore(kv, ex.common);
  const fromStore = new BlockStore(kv, ex.common);
  for (const m of made) fromMemory.remember(m.block, m.receipts, m.rawTransactions);
  for (const m of made) {
    const hash = m.block.hash();
    const a = await fromMemory.block(hash);
    const b = await fromStore.block(hash);
    assert.ok(a !== undefined && b !== undefined);
    assert.equal(a, m.block, 'the remembered block itself, not decoded again');
    assert.deepEqual(a.serialize(), b.serialize());
    assert.deepEqual(a.transactions.map((t) => t.hash()), b.transactions.map((t) => t.hash()));
    assert.deepEqual((await fromMemory.header(hash))?.serialize(), (await fromStore.header(hash))?.serialize());
    assert.deepEqual(await fromMemory.receipts(hash), await fromStore.receipts(hash));
    assert.deepEqual(await fromMemory.canonicalHash(m.block.header.number), await fromStore.canonicalHash(m.block.header.number));
    for (const raw of m.rawTransactions) assert.deepEqual(await fromMemory.txLocation(keccak256(raw)), await fromStore.txLocation(keccak256(raw)));
  }
  // What is not among the recent blocks still comes from the store.
  assert.deepEqual((await fromMemory.blockByNumber(0n))?.hash(), (await fromStore.blockByNumber(0n))?.hash());
  assert.equal(await fromMemory.txLocation(new Uint8Array(32)), undefined);
});

test('recent blocks are bounded by blocks and by transactions, the oldest going first', async () => {
  const { made } = await chain([1, 2, 3, 4]);
  const byBlocks = new RecentBlocks(2, 100);
  for (const m of made) byBlocks.add(m.block, m.receipts, m.rawTransactions);
  assert.deepEqual(byBlocks.size, { blocks: 2, txs: 7 });
  assert.equal(byBlocks.block(made[1]!.block.hash()), undefined);
  assert.equal(byBlocks.canonicalHash(made[1]!.block.header.number), undefined);
  assert.equal(byBlocks.txLocation(keccak256(made[1]!.rawTransactions[0]!)), undefined);
  assert.ok(byBlocks.block(made[2]!.block.hash()) !== undefined);

  const byTxs = new RecentBlocks(64, 5);
  for (const m of made) byTxs.add(m.block, m.receipts, m.rawTransactions);
  // 4 + 3 > 5: only the newest block stays; one larger than the bound alone is still kept.
  assert.deepEqual(byTxs.size, { blocks: 1, txs: 4 });
  const tiny = new RecentBlocks(64, 2);
  tiny.add(made[3]!.block, made[3]!.receipts, made[3]!.rawTransactions);
  assert.deepEqual(tiny.size, { blocks: 1, txs: 4 });
  assert.deepEqual(tiny.txLocation(keccak256(made[3]!.rawTransactions[3]!)), { blockHash: made[3]!.block.hash(), index: 3 });
});
