// txpool_* over the client node's pool, against a committed state (a map standing in for the
// mirror): ready transactions are "pending", those behind a nonce gap "queued", in go-ethereum's shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTxFromRLP } from '@ethereumjs/tx';
import { toChecksumAddress } from '@ethereumjs/util';
import { TxPool, type AccountView } from '../../src/client/txpool.ts';
import { initHashes } from '../../src/crypto/hash.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { RpcError } from '../../src/rpc/errors.ts';
import { formatTx } from '../../src/rpc/format.ts';
import { txpoolMethods } from '../../src/rpc/namespaces/txpool.ts';
import { addressOf, signTx, testConfig, testKey } from '../helpers/chain.ts';

await initHashes();
const config = testConfig();
const common = buildCommon(config.chainId, config.hardfork);
const A = testKey(0);
const B = testKey(1);
const C = testKey(2);
const to = '0x00000000000000000000000000000000000000aa';

class Committed implements AccountView {
  readonly nonces = new Map<string, bigint>();
  async nonce(a: string) {
    return this.nonces.get(a.toLowerCase()) ?? 0n;
  }
  async balance() {
    return 10n ** 24n;
  }
}

const raw = (key: Uint8Array, nonce: number, type: 0 | 2 = 2) =>
  signTx(common, key, { nonce: BigInt(nonce), to, value: 5n, gasLimit: 21_000n, gasPrice: 1_000_000_000n + BigInt(nonce), type }).serialize();

/** The pending-transaction JSON of a raw transaction: no block, gasPrice the fee cap. */
const pendingJson = (bytes: Uint8Array) => formatTx(createTxFromRLP(bytes, { common }), null, null);

async function call(pool: TxPool, name: string, params: unknown[] = []): Promise<unknown> {
  return txpoolMethods(pool).get(name)!.call(params, { transport: 'http' });
}

test('an empty pool', async () => {
  const pool = new TxPool({ config, common, state: new Committed() });
  assert.deepEqual(await call(pool, 'txpool_status'), { pending: '0x0', queued: '0x0' });
  assert.deepEqual(await call(pool, 'txpool_content'), { pending: {}, queued: {} });
  assert.deepEqual(await call(pool, 'txpool_inspect'), { pending: {}, queued: {} });
  assert.deepEqual(await call(pool, 'txpool_contentFrom', [addressOf(A)]), { pending: {}, queued: {} });
});

test('ready transactions are pending, those behind a gap queued, keyed by checksummed sender and decimal nonce', async () => {
  const state = new Committed();
  state.nonces.set(addressOf(C).toLowerCase(), 9n);
  const pool = new TxPool({ config, common, state });
  const a0 = raw(A, 0);
  const a1 = raw(A, 1, 0);
  const a3 = raw(A, 3);
  const a10 = raw(A, 10);
  const b2 = raw(B, 2);
  const c9 = raw(C, 9);
  for (const r of [a3, a0, b2, a10, a1, c9]) await pool.add(r);
  // In flight still counts as pending, as go-ethereum counts what it has not yet mined.
  pool.takeReady(1);

  assert.deepEqual(await call(pool, 'txpool_status'), { pending: '0x3', queued: '0x3' });
  const content = (await call(pool, 'txpool_content')) as Record<string, Record<string, Record<string, unknown>>>;
  const [sa, sb, sc] = [A, B, C].map((k) => toChecksumAddress(addressOf(k)));
  assert.notEqual(sa, addressOf(A), 'checksummed, as go-ethereum writes map keys');
  assert.deepEqual(content, {
    pending: {
      [sa!]: { '0': pendingJson(a0), '1': pendingJson(a1) },
      [sc!]: { '9': pendingJson(c9) },
    },
    queued: {
      [sa!]: { '3': pendingJson(a3), '10': pendingJson(a10) },
      [sb!]: { '2': pendingJson(b2) },
    },
  });
  assert.deepEqual(Object.keys(content.queued![sa!]!), ['3', '10'], 'nonce order');
  const first = content.pending![sa!]!['0']!;
  assert.equal(first.blockHash, null);
  assert.equal(first.blockNumber, null);
  assert.equal(first.transactionIndex, null);
  assert.equal(first.gasPrice, '0x3b9aca00', 'an EIP-1559 transaction not in a block shows its fee cap');
  assert.equal(first.from, addressOf(A).toLowerCase());
  assert.equal(content.pending![sa!]!['1']!.type, '0x0');

  assert.deepEqual(await call(pool, 'txpool_contentFrom', [addressOf(A)]), {
    pending: { '0': pendingJson(a0), '1': pendingJson(a1) },
    queued: { '3': pendingJson(a3), '10': pendingJson(a10) },
  });
  assert.deepEqual(await call(pool, 'txpool_contentFrom', [addressOf(B).toUpperCase().replace('0X', '0x')]), {
    pending: {},
    queued: { '2': pendingJson(b2) },
  });
  const toSum = toChecksumAddress(to);
  assert.deepEqual(await call(pool, 'txpool_inspect'), {
    pending: {
      [sa!]: { '0': `${toSum}: 5 wei + 21000 gas × 1000000000 wei`, '1': `${toSum}: 5 wei + 21000 gas × 1000000001 wei` },
      [sc!]: { '9': `${toSum}: 5 wei + 21000 gas × 1000000009 wei` },
    },
    queued: {
      [sa!]: { '3': `${toSum}: 5 wei + 21000 gas × 1000000003 wei`, '10': `${toSum}: 5 wei + 21000 gas × 1000000010 wei` },
      [sb!]: { '2': `${toSum}: 5 wei + 21000 gas × 1000000002 wei` },
    },
  });

  // Filling the gap moves A's 3 to pending; including 0 and 1 leaves it there.
  await pool.add(raw(A, 2));
  assert.deepEqual(await call(pool, 'txpool_status'), { pending: '0x5', queued: '0x2' });
  const hashOf = (bytes: Uint8Array) => `0x${Buffer.from(createTxFromRLP(bytes, { common }).hash()).toString('hex')}`;
  await pool.settle([a0, a1].map((r) => ({ hash: hashOf(r), included: true })));
  const after = (await call(pool, 'txpool_content')) as Record<string, Record<string, Record<string, unknown>>>;
  assert.deepEqual(Object.keys(after.pending![sa!]!), ['2', '3']);
  assert.deepEqual(Object.keys(after.queued![sa!]!), ['10']);
  assert.deepEqual(await call(pool, 'txpool_status'), { pending: '0x3', queued: '0x2' });
});

test('parameters: none for status and content, an address for contentFrom', async () => {
  const pool = new TxPool({ config, common, state: new Committed() });
  for (const [name, params, message] of [
    ['txpool_status', [1], /too many arguments/],
    ['txpool_content', ['0x1'], /too many arguments/],
    ['txpool_contentFrom', [], /missing value for required argument 0/],
    ['txpool_contentFrom', ['0x1234'], /invalid argument 0: hex string has length 4, want 40 for common.Address/],
  ] as const) {
    await assert.rejects(call(pool, name, [...params]), (e) => e instanceof RpcError && e.code === -32602 && message.test(e.message));
  }
});
