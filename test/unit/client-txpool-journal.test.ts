// The pool's journal: it holds exactly what the pool holds (written before `add` answers, removed
// on inclusion, refusal, replacement, eviction and expiry), and at start offers it to the pool
// again, dropping what is already in a block or refused now.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initHashes } from '../../src/crypto/hash.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { TxPool, type AccountView } from '../../src/client/txpool.ts';
import type { PoolLimits } from '../../src/client/txpool-limits.ts';
import { TxJournal, restoreJournal } from '../../src/client/txpool-journal.ts';
import { MemoryStore, type BatchOp, type KvStore } from '../../src/storage/index.ts';
import { bytesToHex } from '../../src/crypto/index.ts';
import { createTxFromRLP } from '@ethereumjs/tx';
import { addressOf, signTx, testConfig, testKey } from '../helpers/chain.ts';

await initHashes();
const config = testConfig();
const common = buildCommon(config.chainId, config.hardfork);
const A = testKey(0);
const B = testKey(1);
const to = '0x00000000000000000000000000000000000000aa';

class Committed implements AccountView {
  readonly nonces = new Map<string, bigint>();
  /** Reads that fail (a replica read not answered) before they succeed. */
  failing = 0;
  async nonce(a: string) {
    await new Promise((r) => setImmediate(r));
    if (this.failing > 0) {
      this.failing--;
      throw new Error('CLIENT_READ_FAILED: no answer');
    }
    return this.nonces.get(a.toLowerCase()) ?? 0n;
  }
  async balance() {
    return 10n ** 24n;
  }
}

const tx = (key: Uint8Array, nonce: number, fee = 1_000_000_000n) =>
  signTx(common, key, { nonce: BigInt(nonce), to, value: 1n, gasLimit: 21_000n, gasPrice: fee }).serialize();
const hashOf = (raw: Uint8Array) => `0x${bytesToHex(createTxFromRLP(raw, { common }).hash())}`;

function setup(limits: Partial<PoolLimits> = {}, kv: KvStore = new MemoryStore()) {
  const state = new Committed();
  const clock = { now: 0 };
  const journal = new TxJournal({ kv, retryMs: 5 });
  const pool = new TxPool({ config, common, state, journal, limits, now: () => clock.now });
  return { kv, state, clock, journal, pool };
}

/** What a fresh reader of the store finds journaled, as sorted hashes. */
async function onDisk(kv: KvStore): Promise<string[]> {
  return (await new TxJournal({ kv }).load()).map((e) => e.hash).sort();
}

function poolHashes(pool: TxPool): string[] {
  const { pending, queued } = pool.content();
  return [...pending.values(), ...queued.values()].flat().map((t) => t.hash).sort();
}

test('an accepted transaction is on disk when add answers; replaced, ordered and refused ones leave', async () => {
  const { kv, journal, pool } = setup();
  const a0 = tx(A, 0);
  const h0 = await pool.add(a0);
  assert.deepEqual(await onDisk(kv), [h0], 'written before the hash is answered');
  const a1 = tx(A, 1);
  const h1 = await pool.add(a1);
  const b0 = await pool.add(tx(B, 0));
  // Replaced (a 10 % higher fee, not yet in flight): the old one leaves the journal with the pool.
  const b0b = await pool.add(tx(B, 0, 1_100_000_000n));
  assert.deepEqual(await onDisk(kv), [h0, h1, b0b].sort());
  assert.ok(!(await onDisk(kv)).includes(b0));
  pool.takeReady(10);
  // Ordered: a0 included; a1 refused for good (as a duplicate would be: its nonce is used).
  await pool.settle([
    { hash: h0, included: true },
    { hash: h1, included: false, reason: 'TX_NONCE_TOO_LOW' },
  ]);
  await journal.written();
  assert.deepEqual(await onDisk(kv), [b0b]);
  // Refused only because the block was full: it waits again, and stays journaled.
  await pool.settle([{ hash: b0b, included: false, reason: 'TX_BLOCK_GAS_EXHAUSTED' }]);
  await journal.written();
  assert.deepEqual(await onDisk(kv), [b0b]);
  assert.equal(journal.size, 1);
});

test('evicted and expired transactions leave the journal; it never holds more than the pool', async () => {
  const { kv, journal, pool, clock } = setup({ accountQueue: 3, lifetimeMs: 1_000 });
  for (const n of [3, 4, 5]) await pool.add(tx(A, n));
  await pool.add(tx(A, 2)); // a lower nonce takes the place of the highest (5)
  assert.equal(pool.evicted.account_queue, 1);
  assert.deepEqual(await onDisk(kv), poolHashes(pool));
  assert.equal((await onDisk(kv)).length, 3);
  clock.now = 2_000;
  assert.equal(pool.expire(), 3);
  await journal.written();
  assert.deepEqual(await onDisk(kv), []);
  // A burst, settled in parts, with the sender's nonce moved on elsewhere: the journal follows.
  const hashes = await Promise.all([...Array(20).keys()].map((n) => pool.add(tx(B, n))));
  assert.deepEqual(await onDisk(kv), poolHashes(pool));
  pool.takeReady(5);
  await pool.settle(hashes.slice(0, 5).map((hash) => ({ hash, included: true })));
  await journal.written();
  assert.deepEqual(await onDisk(kv), poolHashes(pool));
  assert.equal((await onDisk(kv)).length, 15);
});

test('a transaction removed before its write went out is never written, and nobody waits for it', async () => {
  const kv = new MemoryStore();
  const journal = new TxJournal({ kv });
  const raw = tx(A, 0);
  const hash = hashOf(raw);
  journal.added({ hash, raw } as Parameters<TxJournal['added']>[0]);
  const waiting = journal.written();
  journal.removed(hash); // the same turn: the put is cancelled, no write goes out
  await waiting;
  assert.deepEqual(await onDisk(kv), []);
  assert.equal(journal.size, 0);
});

test('a transaction settled right after it was accepted leaves the journal', async () => {
  const { kv, journal, pool } = setup();
  const raw = tx(A, 0);
  const adding = pool.add(raw);
  const hash = hashOf(raw);
  // Let the add reach the pool, then take and settle it in the same turn as its journal entry.
  while (!pool.has(hash)) await new Promise((r) => setImmediate(r));
  pool.takeReady(1);
  await pool.settle([{ hash, included: true }]);
  assert.equal(await adding, hash, 'the answer is not held up by the cancelled write');
  await journal.written();
  assert.deepEqual(await onDisk(kv), []);
});

test('restore: included and now-refused ones are dropped, the rest accepted in nonce order', async () => {
  const first = setup();
  const included = await first.pool.add(tx(A, 0));
  const stale = await first.pool.add(tx(B, 0)); // B's nonce moves on elsewhere meanwhile
  // A's burst sent out of order: 1, 2, 3 pending behind 0.
  const burst = [];
  for (const n of [1, 3, 2]) burst.push(await first.pool.add(tx(A, n)));
  await first.journal.close();
  await first.kv.write([{ type: 'put', key: Uint8Array.of(0x23, ...new Uint8Array(32).fill(7)), value: Uint8Array.of(1, 2, 3) }]);

  // A restart: a new pool on the same store, its queue too small for any gap the order could make.
  const again = setup({ accountQueue: 1, maxNonceGap: 1 }, first.kv);
  again.state.nonces.set(addressOf(A).toLowerCase(), 1n); // A's 0 is in a block
  again.state.nonces.set(addressOf(B).toLowerCase(), 1n);
  again.state.failing = 1; // the first read is not answered: tried again, not dropped
  const dropped: string[] = [];
  let retries = 0;
  let readied = 0;
  const counts = await restoreJournal({
    journal: again.journal,
    pool: again.pool,
    common,
    ready: async () => void readied++,
    included: async (h) => h === included,
    retryMs: 1,
    onRetry: () => retries++,
    onDrop: (h, why) => dropped.push(`${h === stale ? 'stale' : h === included ? 'included' : 'garbage'}:${why}`),
  });
  assert.deepEqual(counts, { restored: 3, dropped: 3 });
  assert.deepEqual(dropped.sort(), ['garbage:TXPOOL_INVALID', 'included:included', 'stale:TXPOOL_NONCE_TOO_LOW']);
  assert.equal(retries, 1);
  assert.equal(readied, 1);
  assert.deepEqual(poolHashes(again.pool), [...burst].sort());
  assert.deepEqual(again.pool.takeReady(10).map((t) => Number(t.nonce)), [1, 2, 3], 'pending, in order');
  await again.journal.written();
  assert.deepEqual(await onDisk(first.kv), [...burst].sort(), 'the journal holds what the pool holds');

  // Nothing journaled: restoring waits for nothing.
  const empty = setup();
  let waited = false;
  const none = await restoreJournal({ journal: empty.journal, pool: empty.pool, common, ready: async () => void (waited = true), included: async () => false });
  assert.deepEqual([none, waited], [{ restored: 0, dropped: 0 }, false]);
});

test('restore stops when asked; what was not offered stays journaled', async () => {
  const first = setup();
  for (const n of [0, 1]) await first.pool.add(tx(A, n));
  await first.journal.close();
  const again = setup({}, first.kv);
  again.state.failing = 1_000;
  const stop = new AbortController();
  const restoring = restoreJournal({ journal: again.journal, pool: again.pool, common, included: async () => false, signal: stop.signal, retryMs: 60_000, onRetry: () => stop.abort() });
  assert.deepEqual(await restoring, { restored: 0, dropped: 0 });
  await again.journal.close();
  assert.equal((await onDisk(first.kv)).length, 2);
});

test('a write that fails is reported and tried again; the answer is not held up', async () => {
  const store = new MemoryStore();
  let failNext = 1;
  const kv: KvStore = {
    location: null,
    get: (k) => store.get(k),
    getMany: (k) => store.getMany(k),
    iterate: (o) => store.iterate(o),
    close: () => store.close(),
    write: async (ops: readonly BatchOp[]) => {
      if (failNext-- > 0) throw new Error('STORAGE_FULL');
      await store.write(ops);
    },
  };
  const errors: unknown[] = [];
  const journal = new TxJournal({ kv, retryMs: 5, onError: (e) => errors.push(e) });
  const pool = new TxPool({ config, common, state: new Committed(), journal });
  const h = await pool.add(tx(A, 0));
  assert.equal(journal.failures, 1);
  assert.equal(errors.length, 1);
  const deadline = Date.now() + 5_000;
  while ((await onDisk(store)).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(await onDisk(store), [h]);
  await journal.close();
});
