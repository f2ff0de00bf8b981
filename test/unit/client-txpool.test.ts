// The client node's transaction pool against a committed state (a map standing in for the mirror).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initHashes } from '../../src/crypto/hash.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { PoolError, TxPool, type AccountView } from '../../src/client/txpool.ts';
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
  async nonce(a: string) {
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

test('limits per sender and in total', async () => {
  const pool = new TxPool({ config, common, state: new Committed(), limits: { perSender: 3, total: 4 } });
  for (let n = 0; n < 3; n++) await pool.add(tx(A, n));
  assert.equal(await refusal(pool.add(tx(A, 3))), 'txpool is full');
  await pool.add(tx(B, 0));
  assert.equal(await refusal(pool.add(tx(B, 1))), 'txpool is full');
});

test('settling after ordering drops ordered and stale transactions', async () => {
  const state = new Committed();
  const pool = new TxPool({ config, common, state });
  const hashes = await Promise.all([0, 1, 2].map((n) => pool.add(tx(A, n))));
  const ready = pool.takeReady(2);
  state.nonces.set(addressOf(A).toLowerCase(), 2n);
  await pool.settle(ready.map((t) => t.hash), [addressOf(A)]);
  assert.deepEqual([pool.has(hashes[0]!), pool.has(hashes[1]!), pool.has(hashes[2]!)], [false, false, true]);
  pool.release([hashes[2]!]);
  assert.deepEqual(pool.takeReady(5).map((t) => Number(t.nonce)), [2]);
});
