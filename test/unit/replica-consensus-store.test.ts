// The consensus records on the node store: what a replica wrote during a simulated run with view
// changes, checkpoints and catch-up reads back as exactly the state `foldRecords` builds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { orderedBatchKey } from '../../src/ledger/retention.ts';
import { ConsensusStore } from '../../src/replica/consensus-store.ts';
import { MemoryStore, openRocksStore } from '../../src/storage/index.ts';
import { World } from '../sim/harness/world.ts';
import type { PersistRecord } from '../../src/consensus/records.ts';

async function recordedRun(): Promise<{ log: (readonly PersistRecord[])[]; world: World }> {
  const w = new World({ seed: 81, f: 1, clients: 2, requestsPerClient: 30 });
  for (const r of w.replicas) r.recordLog = [];
  await w.start();
  await w.run(400);
  w.crash(0); // a view change, so view, ViewChange and NewView records exist
  for (const c of w.clients) c.add(10);
  await w.runUntilClientsDone(60_000);
  w.assertSafe();
  return { log: w.replicas[1]!.recordLog!, world: w };
}

test('records written during a run load back as the folded state', async () => {
  const { log, world } = await recordedRun();
  const store = new ConsensusStore(new MemoryStore());
  for (const records of log) await store.persist(records);
  const loaded = await store.load();
  const folded = world.replicas[1]!.persisted;
  assert.ok(folded.stable !== null && folded.view >= 1, 'the run reached a checkpoint and a view change');
  assert.deepEqual(loaded, folded);
});

test('committed batches are kept below the checkpoint and served in order', async () => {
  const { log, world } = await recordedRun();
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-cstore-'));
  try {
    let kv = await openRocksStore(dir, { createIfMissing: true });
    let store = new ConsensusStore(kv);
    for (const records of log) await store.persist(records);
    await kv.close();
    kv = await openRocksStore(dir, {});
    store = new ConsensusStore(kv);
    const ledger = world.replicas[1]!.ledger;
    const all = await store.committed(1, ledger.size + 10);
    assert.equal(all.length, ledger.size);
    for (const e of all) assert.deepEqual(e.commit, ledger.get(e.seq)!.commit);
    assert.deepEqual(await store.load(), world.replicas[1]!.persisted, 'also after reopening RocksDB');
    await kv.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an undecodable record is LEDGER_CORRUPT, not a crash', async () => {
  const kv = new MemoryStore();
  await kv.write([{ type: 'put', key: Uint8Array.of(0x10, ...new TextEncoder().encode('view')), value: Uint8Array.of(1, 2) }]);
  await assert.rejects(new ConsensusStore(kv).load(), (e: Error & { code?: string }) => e.code === 'LEDGER_CORRUPT');
});

test('batches pruned below a window (replica --prune): a peer asking from below gets none, from the window on the rest, and the records still load', async () => {
  const { log, world } = await recordedRun();
  const kv = new MemoryStore();
  const store = new ConsensusStore(kv);
  for (const records of log) await store.persist(records);
  const ledger = world.replicas[1]!.ledger;
  const window = 10;
  await kv.write(Array.from({ length: window - 1 }, (_, i) => ({ type: 'del' as const, key: orderedBatchKey(i + 1) })));
  assert.deepEqual(await store.committed(1, ledger.size), [], 'nothing to serve: the catch-up finds none rather than a gap');
  const rest = await store.committed(window, ledger.size);
  assert.equal(rest.length, ledger.size - window + 1);
  assert.equal(rest[0]!.seq, window);
  assert.deepEqual(await store.load(), world.replicas[1]!.persisted);
});
