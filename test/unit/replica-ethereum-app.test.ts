// The application consensus executes: blocks from the transactions in client requests, and the
// reserved pages (client table, progress) in the same atomic batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientRequest } from '../../src/codec/messages.ts';
import { decodeRequestResult, encodeTxPayload } from '../../src/codec/tx-payload.ts';
import { initHashes } from '../../src/crypto/hash.ts';
import { Executor } from '../../src/execution/executor.ts';
import { EthereumApp } from '../../src/replica/ethereum-app.ts';
import { openRocksStore } from '../../src/storage/index.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { verifyBlock } from '../../src/execution/verify-block.ts';
import { signTx, testConfig, testKey } from '../helpers/chain.ts';

await initHashes();
const A = testKey(0);
const stranger = '0x00000000000000000000000000000000000000aa';

function req(clientId: number, requestSeq: number, payload: Uint8Array): ClientRequest {
  return { clientId, requestSeq, flags: 0, payload, signature: new Uint8Array(64) };
}

test('batches become blocks only with a valid transaction; the reserved pages survive a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-app-'));
  try {
    let kv = await openRocksStore(dir, { createIfMissing: true });
    let ex = await Executor.open({ kv, config: testConfig() });
    let app = await EthereumApp.open(ex, kv);
    const c = ex.common;
    const tx = (nonce: number) => signTx(c, A, { nonce: BigInt(nonce), to: stranger, value: 1n, gasLimit: 21_000n }).serialize();
    const t0 = Number(ex.head.header.timestamp) + 10;

    // seq 1: two requests from two clients, three transactions, one of them with a wrong nonce.
    const one = await app.execute(1, t0, [req(4, 1, encodeTxPayload([tx(0), tx(1)])), req(5, 7, encodeTxPayload([tx(5)]))]);
    assert.equal(one.block, true);
    assert.equal(one.summary.blockNumber, 1);
    const r4 = decodeRequestResult(one.results[0]!);
    const r5 = decodeRequestResult(one.results[1]!);
    assert.ok(!r4.malformed && r4.txs.every((t) => t.included));
    assert.ok(!r5.malformed && !r5.txs[0]!.included && r5.txs[0]!.reason === 'TX_NONCE_TOO_HIGH');

    // seq 2: a null batch; seq 3: only an invalid transaction; seq 4: a malformed payload. No blocks.
    const two = await app.execute(2, t0, []);
    const three = await app.execute(3, t0 + 1, [req(4, 2, encodeTxPayload([tx(0)]))]);
    const four = await app.execute(4, t0 + 2, [req(5, 8, new Uint8Array([1, 2, 3]))]);
    assert.deepEqual([two.block, three.block, four.block], [false, false, false]);
    assert.equal(four.summary.blockNumber, 1, 'still block 1');
    assert.deepEqual(decodeRequestResult(four.results[0]!), { malformed: true });
    assert.notDeepEqual(four.summary.reservedDigest, one.summary.reservedDigest, 'the client table moved on');

    const before = app.state();
    assert.deepEqual(before.clients, new Map([[4, 2], [5, 8]]));
    assert.equal(before.lastExecuted, 4);
    assert.equal(before.lastTimestamp, t0 + 2);
    await assert.rejects(app.execute(6, t0, []), (e: Error & { code?: string }) => e.code === 'APP_OUT_OF_ORDER');

    await kv.close();
    kv = await openRocksStore(dir, {});
    ex = await Executor.open({ kv });
    app = await EthereumApp.open(ex, kv);
    assert.deepEqual(app.state(), before);
    const five = await app.execute(5, t0 + 3, [req(4, 3, encodeTxPayload([tx(2)]))]);
    assert.equal(five.summary.blockNumber, 2);
    await kv.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a block is served with its state changes while the replica keeps them; another executor applies them to the same state', async () => {
  const kv = new MemoryStore();
  const ex = await Executor.open({ kv, config: testConfig(), recordChanges: true });
  const app = await EthereumApp.open(ex, kv);
  const tx = (nonce: number) => signTx(ex.common, A, { nonce: BigInt(nonce), to: stranger, value: 1n, gasLimit: 21_000n }).serialize();
  const t0 = Number(ex.head.header.timestamp) + 10;
  await app.execute(1, t0, [req(4, 1, encodeTxPayload([tx(0), tx(1)]))]);
  const served = await app.block(1);
  assert.ok(served?.changes !== undefined && served.changes.length > 0, 'the changes go with the block');
  const follower = await Executor.open({ kv: new MemoryStore(), config: testConfig() });
  const v = await verifyBlock(follower.common, served, ex.head.hash());
  await follower.apply(v.block, v.receipts, v.rawTxs, served.changes);
  assert.deepEqual(follower.head.hash(), ex.head.hash());
  // Without recording (or for a block whose changes are gone), the block goes without.
  const plainKv = new MemoryStore();
  const plain = await EthereumApp.open(await Executor.open({ kv: plainKv, config: testConfig() }), plainKv);
  await plain.execute(1, t0, [req(4, 1, encodeTxPayload([tx(0)]))]);
  assert.equal((await plain.block(1))?.changes, undefined);
});

test('the block just made is served from memory, byte for byte what the ledger holds', async () => {
  const kv = new MemoryStore();
  const ex = await Executor.open({ kv, config: testConfig() });
  const app = await EthereumApp.open(ex, kv);
  const tx = (nonce: number) => signTx(ex.common, A, { nonce: BigInt(nonce), to: stranger, value: 1n, gasLimit: 21_000n }).serialize();
  const same = async (n: number) => {
    const served = await app.block(n);
    const stored = await ex.blocks.rawByNumber(BigInt(n));
    assert.ok(served !== undefined && stored !== undefined, `block ${n}`);
    for (const part of ['header', 'body', 'receipts'] as const) assert.equal(Buffer.compare(served[part], stored[part]), 0, `block ${n}'s ${part}`);
  };
  const t0 = Number(ex.head.header.timestamp) + 10;
  await app.execute(1, t0, [req(4, 1, encodeTxPayload([tx(0), tx(1)]))]);
  await same(1);
  await app.execute(2, t0 + 1, [req(4, 2, encodeTxPayload([tx(2)]))]);
  await same(2);
  await same(1);
  // An empty batch makes no block: the head, still block 2, is served the same.
  await app.execute(3, t0 + 2, []);
  await same(2);
  assert.equal(await app.block(3), undefined);
});
