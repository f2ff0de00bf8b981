// `bulwark replica --prune`'s application wrapper (src/replica/pruning.ts): a prune starts once more
// than retain + every blocks' states are stored, keeps every state from the last stable
// checkpoint's block on when that reaches further back than retain, deletes ordered batches below
// the stable checkpoint less the window, and meters it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { ClientRequest } from '../../src/codec/messages.ts';
import { encodeStable } from '../../src/codec/records.ts';
import { encodeTxPayload } from '../../src/codec/tx-payload.ts';
import { initHashes } from '../../src/crypto/hash.ts';
import { Executor } from '../../src/execution/executor.ts';
import { orderedBatchKey, readBatchesFrom } from '../../src/ledger/retention.ts';
import { EthereumApp } from '../../src/replica/ethereum-app.ts';
import { PruningApp } from '../../src/replica/pruning.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { PREFIX } from '../../src/storage/prefixes.ts';
import { sampleValue } from '../helpers/promql.ts';
import { signTx, testConfig, testKey } from '../helpers/chain.ts';

await initHashes();

const A = testKey(0);
const log = pino({ level: process.env.TEST_LOG ?? 'silent' });

function req(requestSeq: number, payload: Uint8Array): ClientRequest {
  return { clientId: 4, requestSeq, flags: 0, payload, signature: new Uint8Array(64) };
}

async function until(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The stable checkpoint record consensus writes (`ConsensusStore`), at `seq` naming `block`. */
function stableOp(seq: number, block: number) {
  const zero = new Uint8Array(32);
  const cert = { seq, summary: { blockNumber: block, blockHash: zero, stateRoot: zero, reservedDigest: zero }, cert: { signers: new Uint8Array(1), signature: new Uint8Array(96) } };
  return { type: 'put' as const, key: Uint8Array.of(PREFIX.consensusState, ...new TextEncoder().encode('stable')), value: encodeStable(cert) };
}

test('prunes past retain + every blocks, keeps from the stable checkpoint back, drops batches below it less the window', async () => {
  const kv = new MemoryStore();
  const ex = await Executor.open({ kv, config: testConfig() });
  const app = new PruningApp({ inner: await EthereumApp.open(ex, kv), executor: ex, kv, settings: { retainBlocks: 16, everyBlocks: 8, retainBatches: 10 }, log });
  const registry = new Registry();
  app.registerMetrics(registry);
  // Ordered batches as consensus stores them (their bytes do not matter here).
  await kv.write(Array.from({ length: 60 }, (_, i) => ({ type: 'put' as const, key: orderedBatchKey(i + 1), value: Uint8Array.of(1) })));
  // The stable checkpoint at sequence number 20, block 20.
  await kv.write([stableOp(20, 20)]);
  const t0 = Number(ex.head.header.timestamp) + 1;
  const run = async (from: number, to: number) => {
    for (let seq = from; seq <= to; seq++) {
      const tx = signTx(ex.common, A, { nonce: BigInt(seq - 1), to: '0x00000000000000000000000000000000000000aa', value: 1n, gasLimit: 21_000n });
      const r = await app.execute(seq, t0 + seq, [req(seq, encodeTxPayload([tx.serialize()]))]);
      assert.equal(r.block, true);
    }
  };
  await run(1, 30);
  // At head 24, 25 states (0–24) are more than 16 + 8: a prune from min(24 − 16 + 1, 20) = 9; the
  // next would wait for 25 states again (head 33).
  await until(async () => sampleValue(await registry.metrics(), 'bulwark_prune_runs_total', { outcome: 'done' }) === 1);
  assert.equal(ex.stateFrom, 9n);
  const metrics = await registry.metrics();
  assert.equal(sampleValue(metrics, 'bulwark_state_from_block'), 9);
  assert.ok((sampleValue(metrics, 'bulwark_prune_deleted_total', { kind: 'trie_node' }) ?? 0) > 0);
  // Batches below min(stable 20, executed) − 10 = 10 are gone, the rest kept.
  assert.equal(await readBatchesFrom(kv), 10);
  assert.equal(await kv.get(orderedBatchKey(9)), undefined);
  assert.ok((await kv.get(orderedBatchKey(10))) !== undefined);
  assert.equal(sampleValue(metrics, 'bulwark_prune_deleted_total', { kind: 'ordered_batch' }), 9);

  // A stable checkpoint further back than retain: its state is kept however old (head − 16 passes
  // block 30 at head 46; later prunes stop there).
  await kv.write([stableOp(45, 30)]);
  // Prunes start only after a batch: keep the chain going (a prune may span several blocks).
  let seq = 31;
  while (ex.stateFrom < 30n && seq <= 300) {
    await run(seq, seq);
    seq++;
    await new Promise((r) => setTimeout(r, 2));
  }
  await run(seq, seq + 40);
  await app.stop();
  assert.equal(ex.stateFrom, 30n, 'never beyond the stable checkpoint\'s block');
});
