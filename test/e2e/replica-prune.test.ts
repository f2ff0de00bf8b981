// `bulwark replica --prune` on real processes: four pruning replicas under load delete old states
// and ordered batches (metrics say so, and old state roots are really gone from the store), reads
// at a recent block still answer, a read at a pruned block is a JSON-RPC error naming STATE_PRUNED
// (not a crash, not "balance 0"), the network keeps committing, and verify-ledger accepts every
// pruned store, saying what it skipped.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { initHashes } from '../../src/crypto/hash.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { BlockStore } from '../../src/ledger/block-store.ts';
import { openRocksStore } from '../../src/storage/rocksdb.ts';
import { PREFIX } from '../../src/storage/prefixes.ts';
import { CHAIN_ID, signTx, testKey } from '../helpers/chain.ts';
import { bulwark } from '../helpers/cli.ts';
import { startNetwork, type TestNetwork } from '../helpers/network.ts';
import { sampleValue } from '../helpers/promql.ts';
import { hexQ, rpcClient, RpcFailure, type Rpc } from '../helpers/rpc.ts';

await initHashes();

const RETAIN = 16;
const common = buildCommon(CHAIN_ID);
const nonces = [0n, 0n, 0n, 0n];
let counter = 0;
let net: TestNetwork;
let rpc: Rpc;

const fresh = () => `0x${(0xc0de0000 + counter++).toString(16).padStart(40, '0')}` as const;

/** One transfer from sender `s` to a new account (the state grows), waited for. */
async function transfer(s: number, to = fresh(), value = 1_000n): Promise<{ to: string; block: number }> {
  const r = await rpc.send(signTx(common, testKey(s), { nonce: nonces[s]!++, to, value, gasLimit: 21_000n }), 30_000);
  return { to, block: Number((r as unknown as { blockNumber: string }).blockNumber) };
}

async function metric(id: number, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(net.metricsUrl(id), { signal: AbortSignal.timeout(5_000) })).text();
  return sampleValue(text, name, labels) ?? 0;
}

/** What the client node answers to a read: the result, or the error's message. */
async function read(method: string, params: unknown[]): Promise<{ result?: string; error?: string }> {
  try {
    return { result: await rpc.call<string>(method, params) };
  } catch (e) {
    if (e instanceof RpcFailure) return { error: e.error.message };
    throw e;
  }
}

before(async () => {
  net = await startNetwork(0x9e, {
    keep: true, // verify-ledger reads the stores after the network stops; removed in `after`
    replicaArgs: ['--prune', '--prune-retain', String(RETAIN), '--prune-every', '16', '--prune-retain-batches', '32'],
    // Every state read goes to the replicas (the client node's own state is an archive).
    clientArgs: ['--no-local-state'],
  });
  rpc = rpcClient(net.url);
});

after(async () => {
  await net?.stop();
  if (net !== undefined) await rm(net.root, { recursive: true, force: true });
});

test('pruning replicas under load: old state gone and refused with STATE_PRUNED, recent state read, the chain goes on, verify-ledger passes', { timeout: 600_000 }, async (t) => {
  const old = await transfer(0, fresh(), 4_242n);
  assert.equal((await read('eth_getBalance', [old.to, hexQ(old.block)])).result, hexQ(4_242n), 'readable before any prune');

  // Load from four senders until every replica has pruned past the old block and dropped old
  // ordered batches (a stable checkpoint comes every 150 sequence numbers).
  const deadline = Date.now() + 480_000;
  const pruned = async () => {
    for (const id of net.replicas) {
      if ((await metric(id, 'bulwark_state_from_block')) <= old.block) return false;
      if ((await metric(id, 'bulwark_prune_deleted_total', { kind: 'ordered_batch' })) === 0) return false;
    }
    return true;
  };
  let rounds = 0;
  while (!(await pruned())) {
    assert.ok(Date.now() < deadline, `no prune on every replica after ${rounds} rounds of load`);
    await Promise.all([0, 1, 2, 3].map(async (s) => {
      for (let i = 0; i < 5; i++) await transfer(s);
    }));
    rounds++;
  }
  t.diagnostic(`${rounds} rounds of 20 transfers; state from block ${await metric(0, 'bulwark_state_from_block')} at replica 0, ${await metric(0, 'bulwark_prune_deleted_total', { kind: 'trie_node' })} trie nodes deleted`);
  for (const id of net.replicas) {
    assert.ok((await metric(id, 'bulwark_prune_deleted_total', { kind: 'trie_node' })) > 0, `replica ${id} deleted trie nodes`);
    assert.ok((await metric(id, 'bulwark_prune_reclaimed_bytes_total')) > 0, `replica ${id} reclaimed bytes`);
    assert.equal(await metric(id, 'bulwark_prune_runs_total', { outcome: 'failed' }), 0, `replica ${id}: no prune failed`);
  }

  // Pruned: a JSON-RPC error that says so, for a balance and for a call.
  const balance = await read('eth_getBalance', [old.to, hexQ(old.block)]);
  assert.equal(balance.result, undefined, 'no answer from a pruned state (it would read as 0)');
  assert.match(balance.error ?? '', new RegExp(`^state of block ${old.block} is pruned \\(STATE_PRUNED\\)`));
  const call = await read('eth_call', [{ to: old.to, data: '0x' }, hexQ(old.block)]);
  assert.match(call.error ?? '', /STATE_PRUNED/);

  // Recent state reads, and the network keeps committing.
  const recent = await transfer(1, fresh(), 777n);
  assert.equal((await read('eth_getBalance', [recent.to, hexQ(recent.block)])).result, hexQ(777n));
  assert.equal((await read('eth_getBalance', [recent.to, 'latest'])).result, hexQ(777n));
  const later = await transfer(2);
  assert.ok(later.block > recent.block);

  await net.stop();
  for (const id of net.replicas) {
    const dir = join(net.root, `replica-${id}`);
    const r = await bulwark(['verify-ledger', '--dir', dir]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const m = /pruned store: states of (\d+) blocks \(below \d+\) and (\d+) ordered batches not kept/.exec(r.stdout);
    assert.ok(m !== null, r.stdout);
    t.diagnostic(`replica ${id}: ${r.stdout.trim()}`);
    assert.ok(Number(m[1]) > old.block && Number(m[2]) > 0, r.stdout);
    // The old state's root node is gone from the store; the head's is there.
    const kv = await openRocksStore(join(dir, 'data'), { createIfMissing: false });
    try {
      const blocks = new BlockStore(kv, common);
      const rootOf = async (n: number) => (await blocks.headerByNumber(BigInt(n)))!.stateRoot;
      assert.equal(await kv.get(Uint8Array.of(PREFIX.stateTrie, ...(await rootOf(old.block)))), undefined, `replica ${id}: block ${old.block}'s state root is deleted`);
      assert.ok((await kv.get(Uint8Array.of(PREFIX.stateTrie, ...(await rootOf(later.block))))) !== undefined, `replica ${id}: the head's state root is kept`);
    } finally {
      await kv.close();
    }
  }
});
