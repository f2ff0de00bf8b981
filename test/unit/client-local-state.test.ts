// The client node's local state: it executes the blocks its mirror holds, in order, into its own
// store and answers state reads from them; a block that does not execute to its certified hash
// stops it (EXEC_DIVERGED) with nothing of that block written, and reads then return undefined
// (the client node sends them to the replicas). A read for a block it has not reached waits a
// little, then gives up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { LocalState } from '../../src/client/local-state.ts';
import { quantityOf } from '../../src/codec/read.ts';
import { initHashes } from '../../src/crypto/hash.ts';
import { hexToBytes } from '../../src/crypto/hex.ts';
import { Executor } from '../../src/execution/executor.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import type { BatchOp } from '../../src/storage/index.ts';
import { storageError } from '../../src/storage/errors.ts';
import { addressOf, signTx, testConfig, testKey } from '../helpers/chain.ts';
import type { Block } from '@ethereumjs/block';
import type { TxReceipt } from '../../src/ledger/receipt.ts';

await initHashes();

const log = pino({ level: 'silent' });
const A = testKey(0);
const SINK = '0x00000000000000000000000000000000000000aa';

/** A chain of `n` blocks, one 1-wei transfer each, made by a replica's executor. */
async function replicaChain(n: number, feeRecipient?: string): Promise<Executor> {
  const ex = await Executor.open({ kv: new MemoryStore(), config: testConfig(feeRecipient === undefined ? {} : { feeRecipient }) });
  for (let i = 0; i < n; i++) {
    const tx = signTx(ex.common, A, { nonce: BigInt(i), to: SINK, value: 1n, gasLimit: 21_000n, gasPrice: 1n });
    await ex.execute(ex.head.hash(), [tx.serialize()], ex.head.header.timestamp + 1n);
  }
  return ex;
}

async function until(cond: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('follows the mirrored blocks and answers reads at each of them', async () => {
  const replica = await replicaChain(5);
  const local = await LocalState.open({ kv: new MemoryStore(), config: testConfig(), blocks: replica.blocks, log });
  local.follow(5n);
  await until(() => local.head === 5n);
  assert.equal(local.executor.head.hash().toString(), replica.head.hash().toString());
  for (const n of [0n, 3n, 5n]) {
    const r = await local.read({ kind: 'balance', address: hexToBytes(SINK) }, n);
    assert.ok(r !== undefined && r.ok);
    assert.equal(quantityOf(r.result), n, `balance at block ${n}`);
  }
  const nonce = await local.read({ kind: 'nonce', address: hexToBytes(addressOf(A)) }, 5n);
  assert.equal(quantityOf(nonce!.result), 5n);
  assert.equal(local.localReads, 4);
  // A block it has not reached, and will not (the mirror has nothing above 5): not answered here.
  assert.equal(await local.read({ kind: 'balance', address: hexToBytes(SINK) }, 6n), undefined);
  assert.equal(local.forwardedReads, 1);
  assert.equal(local.diverged, null);
});

test('a block that does not execute to its certified hash stops it, and nothing of it is written', async () => {
  // The "replicas" credited fees to another address than the network's config says: block 1's
  // state root differs from what this node computes.
  const replica = await replicaChain(3, '0x00000000000000000000000000000000000000fe');
  const local = await LocalState.open({ kv: new MemoryStore(), config: testConfig(), blocks: replica.blocks, log });
  local.follow(3n);
  await until(() => local.diverged !== null);
  assert.equal(local.diverged?.code, 'EXEC_DIVERGED');
  assert.match(local.diverged!.message, /block 1 executed to 0x[0-9a-f]{64}, not the expected/);
  assert.equal(local.head, 0n, 'block 1 was not written');
  // What it did verify (genesis) it still answers; nothing above: those reads go to the replicas.
  assert.equal((await local.read({ kind: 'balance', address: hexToBytes(SINK) }, 0n))?.ok, true);
  assert.equal(await local.read({ kind: 'balance', address: hexToBytes(SINK) }, 1n), undefined);
});

test('disk full: a block that cannot be written is not a divergence; reads go to the replicas, and it is executed again once there is room', async () => {
  const replica = await replicaChain(3);
  const kv = new (class extends MemoryStore {
    full = false;
    override async write(ops: readonly BatchOp[], options?: { readonly sync?: boolean }): Promise<void> {
      if (this.full) throw storageError('STORAGE_IO', 'write failed on database at /state: IO error: No space left on device');
      return super.write(ops, options);
    }
  })();
  const local = await LocalState.open({ kv, config: testConfig(), blocks: replica.blocks, log, waitMs: 50 });
  kv.full = true;
  local.follow(3n);
  await until(() => local.storeFailures >= 1);
  assert.equal(local.diverged, null);
  assert.equal(local.head, 0n);
  assert.equal(await local.read({ kind: 'balance', address: hexToBytes(SINK) }, 1n), undefined, 'sent on to the replicas');
  kv.full = false;
  await until(() => local.head === 3n);
  assert.equal(local.executor.head.hash().toString(), replica.head.hash().toString());
  local.close();
});

test('with prune: old states are deleted, reads below them go to the replicas, recent ones are answered here', async () => {
  const replica = await replicaChain(60);
  const local = await LocalState.open({ kv: new MemoryStore(), config: testConfig(), blocks: replica.blocks, log, prune: { retainBlocks: 16, everyBlocks: 16 } });
  local.follow(60n);
  await until(() => local.head === 60n);
  await until(() => local.executor.stateFrom > 0n);
  await local.idle(); // the prune in progress, if any, finishes
  const floor = local.executor.stateFrom;
  assert.ok(floor > 1n && floor <= 45n, `state kept from block ${floor}`);
  const before = local.forwardedReads;
  assert.equal(await local.read({ kind: 'balance', address: hexToBytes(SINK) }, floor - 1n), undefined, 'a pruned block: the replicas are asked');
  assert.equal(local.forwardedReads, before + 1);
  for (const n of [floor, 60n]) {
    const r = await local.read({ kind: 'balance', address: hexToBytes(SINK) }, n);
    assert.ok(r !== undefined && r.ok);
    assert.equal(quantityOf(r.result), n, `balance at block ${n}`);
  }
  local.close();
  await local.idle();
});

test('blocks offered with their state changes are applied; changes that do not lead to the certified root are refused and the block executed', async () => {
  const replica = await Executor.open({ kv: new MemoryStore(), config: testConfig(), recordChanges: true });
  const offers: { block: Block; receipts: readonly TxReceipt[]; rawTxs: readonly Uint8Array[]; changes: Uint8Array }[] = [];
  for (let i = 0; i < 4; i++) {
    const tx = signTx(replica.common, A, { nonce: BigInt(i), to: SINK, value: 1n, gasLimit: 21_000n, gasPrice: 1n });
    const out = await replica.execute(replica.head.hash(), [tx.serialize()], replica.head.header.timestamp + 1n);
    offers.push({ block: out.block, receipts: out.receipts, rawTxs: out.rawTransactions, changes: out.changes! });
  }
  const local = await LocalState.open({ kv: new MemoryStore(), config: testConfig(), blocks: replica.blocks, log });
  // Block 3's changes altered (one byte of an account record): refused, block 3 executed instead.
  const bad = offers[2]!.changes.slice();
  bad[bad.length - 1] = bad[bad.length - 1]! ^ 1;
  offers.forEach((o, i) => local.offer(BigInt(i + 1), i === 2 ? { ...o, changes: bad } : o));
  local.follow(4n);
  await until(() => local.head === 4n);
  assert.equal(local.executor.head.hash().toString(), replica.head.hash().toString());
  assert.deepEqual({ applied: local.appliedBlocks, executed: local.executedBlocks, refused: local.changesRefused }, { applied: 3, executed: 1, refused: 1 });
  const r = await local.read({ kind: 'balance', address: hexToBytes(SINK) }, 4n);
  assert.equal(quantityOf(r!.result), 4n);
  assert.equal(local.diverged, null);
  local.close();
});
