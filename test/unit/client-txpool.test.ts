// The client node's transaction pool against a committed state (a map standing in for the mirror).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initHashes } from '../../src/crypto/hash.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { PoolError, TxPool, type AccountView } from '../../src/client/txpool.ts';
import { DrainRate, type PoolLimits } from '../../src/client/txpool-limits.ts';
import { addressOf, signTx, testConfig, testKey } from '../helpers/chain.ts';

await initHashes();
const config = testConfig();
const common = buildCommon(config.chainId, config.hardfork);
const A = testKey(0);
const B = testKey(1);
const to = '0x00000000000000000000000000000000000000aa';

class Committed implements AccountView {
  readonly nonces = new Map<string, bigint>();
  readonly balances = new Map<string, bigint>();
  reads = 0;
  async nonce(a: string) {
    this.reads++;
    await new Promise((r) => setImmediate(r)); // reads take a turn, as RocksDB's do
    return this.nonces.get(a.toLowerCase()) ?? 0n;
  }
  async balance(a: string) {
    return this.balances.get(a.toLowerCase()) ?? 10n ** 24n;
  }
}

const tx = (key: Uint8Array, nonce: number, fee = 1_000_000_000n) =>
  signTx(common, key, { nonce: BigInt(nonce), to, value: 1n, gasLimit: 21_000n, gasPrice: fee }).serialize();

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'accepted';
  } catch (e) {
    assert.ok(e instanceof PoolError, String(e));
    return e.message;
  }
}

test('a burst of 20 consecutive nonces sent concurrently all land, in order', async () => {
  const pool = new TxPool({ config, common, state: new Committed() });
  const order = [...Array(20).keys()].sort(() => 0.5 - Math.random());
  await Promise.all(order.map((n) => pool.add(tx(A, n))));
  assert.equal(await pool.pendingNonce(addressOf(A)), 20n);
  const ready = pool.takeReady(100);
  assert.deepEqual(ready.map((t) => Number(t.nonce)), [...Array(20).keys()]);
});

test('a future nonce waits for the gap; pending nonce counts only the consecutive ones', async () => {
  const pool = new TxPool({ config, common, state: new Committed() });
  await pool.add(tx(A, 0));
  await pool.add(tx(A, 2));
  assert.equal(await pool.pendingNonce(addressOf(A)), 1n);
  assert.deepEqual(pool.status(), { pending: 1, queued: 1 });
  assert.deepEqual(pool.takeReady(10).map((t) => Number(t.nonce)), [0]);
  await pool.add(tx(A, 1));
  assert.deepEqual(pool.takeReady(10).map((t) => Number(t.nonce)), [1, 2], 'the gap filled');
});

test('go-ethereum wording for the refusals', async () => {
  const state = new Committed();
  state.nonces.set(addressOf(A).toLowerCase(), 5n);
  state.balances.set(addressOf(B).toLowerCase(), 10n);
  const pool = new TxPool({ config, common, state, limits: { maxNonceGap: 10 } });
  assert.equal(await refusal(pool.add(tx(A, 4))), 'nonce too low');
  assert.equal(await refusal(pool.add(tx(A, 16))), 'nonce too high');
  assert.equal(await refusal(pool.add(tx(B, 0))), 'insufficient funds for gas * price + value');
  const raw = tx(A, 5);
  await pool.add(raw);
  assert.equal(await refusal(pool.add(raw)), 'already known');
  assert.equal(await refusal(pool.add(tx(A, 5, 1_050_000_000n))), 'replacement transaction underpriced', '+5% is not enough');
  assert.equal(await refusal(pool.add(tx(A, 5, 1_100_000_000n))), 'accepted', '+10% replaces');
  assert.equal(pool.size, 1);
  pool.takeReady(10);
  assert.match(await refusal(pool.add(tx(A, 5, 2_000_000_000n))), /already being ordered/);
  const lowGas = signTx(common, A, { nonce: 6n, to, gasLimit: 20_000n, gasPrice: 1n }).serialize();
  assert.equal(await refusal(pool.add(lowGas)), 'intrinsic gas too low');
  assert.equal(await refusal(pool.add(new Uint8Array([0xc0]))), 'rlp: invalid transaction encoding');
});

test('limits per sender and in total, each named in its refusal', async () => {
  const pool = new TxPool({ config, common, state: new Committed(), limits: { accountPending: 3, globalPending: 4, accountSlots: 1 } });
  for (let n = 0; n < 3; n++) await pool.add(tx(A, n));
  assert.match(await refusal(pool.add(tx(A, 3))), /^account limit exceeded: the sender already has 3 pending transactions \(per-account pending limit, --txpool-account-pending\)$/);
  await pool.add(tx(B, 0));
  assert.match(await refusal(pool.add(tx(B, 1))), /^txpool is full: 4 pending transactions \(global pending limit, --txpool-global-pending\)$/);
});

test('settling after ordering drops ordered and stale transactions', async () => {
  const state = new Committed();
  const pool = new TxPool({ config, common, state });
  const hashes = await Promise.all([0, 1, 2].map((n) => pool.add(tx(A, n))));
  const ready = pool.takeReady(2);
  // Included transactions tell the next nonce without a read: the state still says 0.
  await pool.settle(ready.map((t) => ({ hash: t.hash, included: true })));
  assert.deepEqual([pool.has(hashes[0]!), pool.has(hashes[1]!), pool.has(hashes[2]!)], [false, false, true]);
  assert.equal(await pool.pendingNonce(addressOf(A)), 3n);
  assert.equal(await refusal(pool.add(tx(A, 1, 2n))), 'nonce too low');
  pool.release([hashes[2]!]);
  assert.deepEqual(pool.takeReady(5).map((t) => Number(t.nonce)), [2]);
});

test('a refused transaction has its sender\'s nonce read again', async () => {
  const state = new Committed();
  const pool = new TxPool({ config, common, state });
  await Promise.all([0, 1].map((n) => pool.add(tx(A, n))));
  const ready = pool.takeReady(5);
  // Another client node's transactions took nonces 0 to 4: both of ours were refused.
  state.nonces.set(addressOf(A).toLowerCase(), 5n);
  await pool.settle(ready.map((t) => ({ hash: t.hash, included: false })));
  assert.equal(pool.size, 0);
  assert.equal(await pool.pendingNonce(addressOf(A)), 5n);
});

test('a sender the pool knows is admitted without a read; a refusal is always read first', async () => {
  const state = new Committed();
  const cost = 21_000n * 1_000_000_000n + 1n;
  state.balances.set(addressOf(A).toLowerCase(), 2n * cost);
  const pool = new TxPool({ config, common, state });
  await pool.add(tx(A, 0));
  assert.equal(state.reads, 1);
  await pool.settle(pool.takeReady(5).map((t) => ({ hash: t.hash, included: true })));
  await pool.add(tx(A, 1)); // known: nonce 1 next, funds at least one more transfer
  assert.equal(state.reads, 1);
  await pool.settle(pool.takeReady(5).map((t) => ({ hash: t.hash, included: true })));
  // The funds the pool knows of are spent: it asks, and the replicas' answer decides.
  state.balances.set(addressOf(A).toLowerCase(), 0n);
  assert.equal(await refusal(pool.add(tx(A, 2))), 'insufficient funds for gas * price + value');
  assert.equal(state.reads, 2);
  state.balances.set(addressOf(A).toLowerCase(), cost);
  assert.equal(await refusal(pool.add(tx(A, 2))), 'accepted');
  assert.equal(state.reads, 3);
});

test('a transaction refused only because its block was full waits for the next one, with the rest of its sender\'s lane', async () => {
  const pool = new TxPool({ config, common, state: new Committed() });
  const a = await Promise.all([0, 1, 2].map((n) => pool.add(tx(A, n))));
  const b = await pool.add(tx(B, 0));
  const sent = pool.takeReady(10);
  assert.equal(sent.length, 4);
  await pool.settle([
    { hash: a[0]!, included: true },
    { hash: b, included: true },
    { hash: a[1]!, included: false, reason: 'TX_BLOCK_GAS_EXHAUSTED' },
    { hash: a[2]!, included: false, reason: 'TX_NONCE_TOO_HIGH' },
  ]);
  assert.deepEqual(pool.takeReady(10).map((t) => Number(t.nonce)), [1, 2]);
  assert.equal(pool.size, 2);
});

test('a request takes no more gas than a block holds', async () => {
  const pool = new TxPool({ config, common, state: new Committed() });
  await Promise.all([0, 1, 2].map((n) => pool.add(tx(A, n))));
  await pool.add(tx(B, 0));
  // Round robin A0, B0, A1, …: room for three transfers; A's lane closes at the first that does not fit.
  assert.deepEqual(pool.takeReady(10, 3 * 21_000).map((t) => Number(t.nonce)), [0, 0, 1]);
  assert.deepEqual(pool.takeReady(10, 21_000).map((t) => Number(t.nonce)), [2]);
});

test('a nonce that moved on elsewhere drops what waits below it', async () => {
  const state = new Committed();
  const pool = new TxPool({ config, common, state });
  // Nonces 1 and 2 wait for 0, which another client node sends instead of this one.
  await Promise.all([1, 2].map((n) => pool.add(tx(A, n))));
  assert.equal(pool.status().queued, 2);
  state.nonces.set(addressOf(A).toLowerCase(), 2n);
  // Beyond what the pool knows to be admissible (64 above its base of 0): it reads, and learns 2.
  await pool.add(tx(A, 65));
  assert.equal(pool.size, 2, 'nonce 1 is gone; 2 and 65 remain');
  assert.deepEqual(pool.takeReady(5).map((t) => Number(t.nonce)), [2]);
});

// ---------------------------------------------------------------------------------------------
// Hostile input (issue 15): go-ethereum's legacypool limits.

/** A pool on a clock the test moves. */
function clocked(limits: Partial<PoolLimits>, state = new Committed()) {
  const clock = { now: 0 };
  return { pool: new TxPool({ config, common, state, limits, now: () => clock.now }), clock, state };
}

const unfunded = (i: number) => testKey(10_000 + i);
/** A zero-fee, zero-value transaction: free to anyone in free-gas mode, funded or not. */
const free = (key: Uint8Array, nonce: number) => signTx(common, key, { nonce: BigInt(nonce), to, gasLimit: 21_000n, gasPrice: 0n }).serialize();

test('a burst of 500 consecutive nonces is accepted (the gap counts from the pending ones) and all is taken in order', async () => {
  const pool = new TxPool({ config, common, state: new Committed() });
  const raws = [...Array(500).keys()].map((n) => tx(A, n));
  // Sent at once, as a JSON-RPC batch is handled: in order, every add in flight together.
  const hashes = await Promise.all(raws.map((r) => pool.add(r)));
  assert.equal(hashes.length, 500);
  assert.deepEqual(pool.status(), { pending: 500, queued: 0 });
  assert.equal(await pool.pendingNonce(addressOf(A)), 500n);
  const taken = [...pool.takeReady(300), ...pool.takeReady(300)].map((t) => Number(t.nonce));
  assert.deepEqual(taken, [...Array(500).keys()]);
  // One sent out of order lands too: 64 above the next pending nonce still waits.
  assert.equal(await refusal(pool.add(tx(A, 500 + 64))), 'accepted');
  assert.equal(await refusal(pool.add(tx(A, 500 + 66))), 'nonce too high', 'the gap is still bounded');
});

test('a sender beyond its pending limit is refused with the limit named; 1,024 by default', async () => {
  const pool = new TxPool({ config, common, state: new Committed() });
  assert.equal(pool.limits.accountPending, 1_024);
  await Promise.all([...Array(1_024).keys()].map((n) => pool.add(tx(A, n))));
  assert.match(await refusal(pool.add(tx(A, 1_024))), /per-account pending limit, --txpool-account-pending/);
});

test('per-sender queue: 64 by default; lower nonces are kept, the highest gives way', async () => {
  const { pool } = clocked({ accountQueue: 4 });
  for (const n of [3, 4, 5, 6]) await pool.add(tx(A, n));
  assert.deepEqual(pool.status(), { pending: 0, queued: 4 });
  assert.match(await refusal(pool.add(tx(A, 7))), /^account limit exceeded: the sender already has 4 transactions waiting behind a nonce gap \(per-account queue limit, --txpool-account-queue\)$/);
  assert.equal(await refusal(pool.add(tx(A, 2))), 'accepted', 'a lower nonce takes the place of the highest');
  assert.equal(pool.evicted.account_queue, 1);
  assert.deepEqual(pool.content().queued.get(addressOf(A).toLowerCase())?.map((t) => Number(t.nonce)), [2, 3, 4, 5]);
  // Filling the gap makes them pending: the queue counts only what waits.
  await pool.add(tx(A, 0));
  await pool.add(tx(A, 1));
  assert.deepEqual(pool.status(), { pending: 6, queued: 0 });
  assert.equal(new TxPool({ config, common, state: new Committed() }).limits.accountQueue, 64);
});

test('global queue: the sender idle longest gives way; pending transactions are never touched', async () => {
  const { pool, clock } = clocked({ accountQueue: 4, globalQueue: 6 });
  await pool.add(tx(B, 0)); // pending, and stays
  for (const n of [1, 2, 3]) await pool.add(free(unfunded(0), n));
  clock.now = 10;
  for (const n of [1, 2, 3]) await pool.add(free(unfunded(1), n));
  assert.deepEqual(pool.status(), { pending: 1, queued: 6 });
  clock.now = 20;
  await pool.add(free(unfunded(2), 1));
  assert.deepEqual(pool.status(), { pending: 1, queued: 6 });
  assert.equal(pool.evicted.global_queue, 1);
  assert.deepEqual(pool.content().queued.get(addressOf(unfunded(0)).toLowerCase())?.map((t) => Number(t.nonce)), [1, 2], 'the oldest sender lost its highest');
  // Alone in the queue, a sender cannot push itself out: it is refused, with the limit named.
  const alone = clocked({ accountQueue: 10, globalQueue: 2 }).pool;
  await alone.add(free(unfunded(3), 1));
  await alone.add(free(unfunded(3), 2));
  assert.match(await refusal(alone.add(free(unfunded(3), 3))), /^txpool is full: 2 transactions waiting behind nonce gaps \(global queue limit, --txpool-global-queue\)$/);
});

test('queued transactions live for the lifetime (3 h by default) from the sender\'s last progress', async () => {
  const { pool, clock } = clocked({ lifetimeMs: 1_000 });
  assert.equal(new TxPool({ config, common, state: new Committed() }).limits.lifetimeMs, 3 * 3_600_000);
  await pool.add(tx(A, 0));
  await pool.add(tx(A, 2)); // waits for 1
  await pool.add(free(unfunded(0), 5));
  clock.now = 900;
  await pool.add(tx(A, 3)); // queued: no progress, the clock still runs from 0
  assert.equal(pool.expire(), 0);
  clock.now = 1_001;
  assert.equal(pool.expire(), 3, "both senders' queued transactions go");
  assert.deepEqual(pool.status(), { pending: 1, queued: 0 });
  assert.equal(pool.evicted.lifetime, 3);
  // Progress (a transaction becoming pending, or included) restarts the clock.
  await pool.add(tx(A, 2));
  clock.now = 1_500;
  await pool.add(tx(A, 1)); // fills the gap: 0..2 pending
  await pool.add(tx(A, 4));
  clock.now = 2_400;
  assert.equal(pool.expire(), 0);
  assert.equal(pool.size, 4);
});

test("a sender's transactions together must be covered by its balance, queued ones included", async () => {
  const state = new Committed();
  const cost = 21_000n * 1_000_000_000n + 1n;
  state.balances.set(addressOf(A).toLowerCase(), 2n * cost);
  const pool = new TxPool({ config, common, state });
  await pool.add(tx(A, 0));
  await pool.add(tx(A, 5)); // queued, counted
  assert.equal(
    await refusal(pool.add(tx(A, 1))),
    `insufficient funds for gas * price + value: balance ${2n * cost}, queued cost ${2n * cost}, tx cost ${cost}, overshot ${cost}`,
  );
  // A replacement counts instead of the one it replaces.
  assert.equal(await refusal(pool.add(tx(A, 5, 1_100_000_000n))), 'insufficient funds for gas * price + value' + `: balance ${2n * cost}, queued cost ${cost}, tx cost ${21_000n * 1_100_000_000n + 1n}, overshot ${21_000n * 100_000_000n}`);
  state.balances.set(addressOf(A).toLowerCase(), 3n * cost);
  assert.equal(await refusal(pool.add(tx(A, 1))), 'accepted', 'read again, the balance now covers three');
});

test('pending pool full: each sender keeps its guaranteed slots, taken from the sender with the most', async () => {
  const { pool } = clocked({ globalPending: 20, accountSlots: 2 });
  await Promise.all([...Array(20).keys()].map((n) => pool.add(free(unfunded(0), n))));
  assert.equal(await refusal(pool.add(tx(B, 0))), 'accepted');
  assert.equal(await refusal(pool.add(tx(B, 1))), 'accepted');
  assert.equal(pool.evicted.global_pending, 2);
  assert.match(await refusal(pool.add(tx(B, 2))), /^txpool is full: 20 pending/);
  assert.equal(await pool.pendingNonce(addressOf(unfunded(0))), 18n, 'the flooder lost its last two');
  // What is being ordered is never evicted.
  pool.takeReady(100);
  assert.match(await refusal(pool.add(tx(A, 0))), /^txpool is full/);
});

test('flood: 64 senders x 64 gapped zero-fee transactions from unfunded accounts stay within the global queue; honest traffic goes on', async () => {
  const { pool, clock } = clocked({ globalQueue: 256, lifetimeMs: 5_000 });
  let refused = 0;
  for (let s = 0; s < 64; s++) {
    clock.now += 10;
    const outcomes = await Promise.all([...Array(64).keys()].map((n) => refusal(pool.add(free(unfunded(s), n + 1)))));
    refused += outcomes.filter((o) => o !== 'accepted').length;
    assert.ok(pool.status().queued <= 256);
  }
  assert.equal(refused, 0, 'each evicts the longest idle instead');
  assert.equal(pool.status().queued, 256);
  assert.equal(pool.evicted.global_queue, 64 * 64 - 256);
  assert.equal(await refusal(pool.add(tx(A, 0))), 'accepted');
  assert.deepEqual(pool.takeReady(10).map((t) => t.sender), [addressOf(A).toLowerCase()]);
  clock.now += 5_001;
  pool.expire();
  assert.deepEqual(pool.status(), { pending: 1, queued: 0 });
});

// Overload (issue 16): pending transactions bounded in time, by the rate they are being included.

test('the bound in time: beyond --txpool-max-wait seconds of the inclusion rate a sender with pending transactions is refused, one with none is taken', async () => {
  const { pool, clock } = clocked({ maxWaitSeconds: 10, waitFloor: 3 });
  for (let n = 0; n < 3; n++) await pool.add(tx(A, n));
  assert.equal(pool.pendingBound(), 3, 'a cold pool takes its floor');
  assert.match(await refusal(pool.add(tx(A, 3))), /^txpool is full: 3 pending transactions, about 10 s at the 0 transactions\/s being included \(wait limit, --txpool-max-wait\); try again shortly$/);
  assert.equal(await refusal(pool.add(tx(B, 0))), 'accepted', 'a sender with nothing pending is not locked out by another');
  assert.match(await refusal(pool.add(tx(B, 1))), /^txpool is full: 4 pending/);
  assert.equal(pool.status().pending, 4, 'nothing accepted was evicted');
  // The four are included within second 0: over the last 20 s, 0.2/s.
  clock.now = 500;
  await pool.settle(pool.takeReady(10).map((t) => ({ hash: t.hash, included: true })));
  clock.now = 1_500;
  assert.equal(pool.drainRate(), 0.2);
  assert.equal(pool.pendingBound(), 3, '10 s at 0.2/s is under the floor');
  for (let n = 3; n < 6; n++) assert.equal(await refusal(pool.add(tx(A, n))), 'accepted', `A ${n}`);
  await pool.settle(pool.takeReady(10).map((t) => ({ hash: t.hash, included: true })));
  clock.now = 2_000;
  assert.equal(pool.drainRate(), 0.35, '7 in 20 s');
  assert.equal(pool.pendingBound(), 4, '10 s at 0.35/s, rounded up');
  for (let n = 6; n < 10; n++) assert.equal(await refusal(pool.add(tx(A, n))), 'accepted', `A ${n}`);
  assert.match(await refusal(pool.add(tx(A, 10))), /^txpool is full: 4 pending transactions, about 10 s at the 0 transactions\/s/);
  assert.deepEqual(pool.refused, { TXPOOL_FULL: 3 });
  // 20 s later that rate is forgotten: the floor again.
  clock.now = 22_000;
  assert.equal(pool.drainRate(), 0);
  assert.equal(pool.pendingBound(), 3);
});

test('--txpool-max-wait 0: only the global count bounds pending transactions', async () => {
  const { pool } = clocked({ maxWaitSeconds: 0, waitFloor: 1, globalPending: 5 });
  for (let n = 0; n < 5; n++) assert.equal(await refusal(pool.add(tx(A, n))), 'accepted');
  assert.match(await refusal(pool.add(tx(A, 5))), /global pending limit/);
});

test('DrainRate: the mean over the last whole seconds, the current one left out', () => {
  const rate = new DrainRate(2);
  rate.record(10, 0);
  rate.record(30, 1_200);
  rate.record(5, 2_100);
  assert.equal(rate.perSecond(2_500), 20, 'seconds 0 and 1: 40 in 2 s');
  assert.equal(rate.perSecond(3_000), 17.5, 'seconds 1 and 2: 35 in 2 s');
  rate.record(100, 10_000);
  assert.equal(rate.perSecond(10_999), 0, 'second 10 is not over, 8 and 9 were empty');
  assert.equal(rate.perSecond(11_000), 50, 'seconds 9 and 10: 100 in 2 s');
  assert.equal(rate.perSecond(13_000), 0);
  assert.equal(new DrainRate().perSecond(5_000), 0);
  assert.throws(() => new DrainRate(0), RangeError);
});
