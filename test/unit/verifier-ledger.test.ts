// verify-ledger against a real network in this process (four replicas, a client node, checkpoints
// every 4 sequence numbers): a replica's and the client node's directories pass; a copy with ONE
// byte changed — in a block body, a receipt, a header, a commit certificate, a block certificate's
// notice, the stable checkpoint, the client node's own executed state — fails with the
// inconsistency named, where it is.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uint64Codec } from '../../src/storage/codecs.ts';
import { openRocksStore } from '../../src/storage/rocksdb.ts';
import { PREFIX } from '../../src/storage/prefixes.ts';
import { initHashes } from '../../src/crypto/hash.ts';
import { buildCommon } from '../../src/execution/common.ts';
import { describeInconsistency, verifyLedgerDirectory, type VerifyLedgerResult } from '../../src/verifier/verify-ledger.ts';
import { bytecode, encodeCall } from '../helpers/abi.ts';
import { CHAIN_ID, addressOf, signTx, testKey } from '../helpers/chain.ts';
import { startInProcessNetwork, type InProcessNetwork } from '../helpers/in-process-network.ts';
import { rpcClient, type Rpc } from '../helpers/rpc.ts';

await initHashes();

let net: InProcessNetwork;
let rpc: Rpc;
let scratch: string;
/** The block of the token transfer: one transaction, with one log. */
let transferBlock: bigint;
let copies = 0;

before(async () => {
  net = await startInProcessNetwork(0xc7, { consensus: { checkpointInterval: 4 } });
  rpc = rpcClient(net.url);
  scratch = mkdtempSync(join(tmpdir(), 'bulwark-verify-test-'));
  const common = buildCommon(CHAIN_ID);
  const deploy = await rpc.send(signTx(common, testKey(0), { nonce: 0n, data: bytecode('Token', 1_000n), gasLimit: 1_000_000n }));
  const token = deploy.contractAddress as `0x${string}`;
  const transfer = await rpc.send(signTx(common, testKey(0), { nonce: 1n, to: token, data: encodeCall('transfer(address,uint256)', addressOf(testKey(1)), 7n) }));
  assert.equal(transfer.logs.length, 1);
  transferBlock = BigInt(transfer.blockNumber);
  // One transaction per sequence number: the checkpoints at 4 and 8 become stable.
  for (let nonce = 0n; nonce < 7n; nonce++) {
    await rpc.send(signTx(common, testKey(1), { nonce, to: '0x00000000000000000000000000000000000000c1', value: 1n, gasLimit: 21_000n }));
  }
  // The client node keeps the checkpoints the replicas report in their status answers.
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    await rpc.call('bft_status');
    const cp = await rpc.call<{ seq: string } | null>('bft_getCheckpoint', []);
    if (cp !== null && BigInt(cp.seq) >= 8n) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 300)); // every replica has executed and persisted the last batch
});

after(async () => {
  await net?.stop();
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

function copyOf(node: string): string {
  const to = join(scratch, `${node}-${copies++}`);
  cpSync(join(net.root, node), to, { recursive: true });
  return to;
}

/** Changes one byte of the value under `key` in the copy's database (`at` counts from the end when negative). */
async function flip(dir: string, key: Uint8Array, at: number, store = 'data'): Promise<void> {
  const kv = await openRocksStore(join(dir, store), { createIfMissing: false });
  try {
    const value = await kv.get(key);
    assert.ok(value !== undefined, `the copy holds key ${Buffer.from(key).toString('hex')}`);
    const bytes = value.slice();
    const i = at < 0 ? bytes.length + at : at;
    bytes[i]! ^= 0x01;
    await kv.write([{ type: 'put', key, value: bytes }], { sync: true });
  } finally {
    await kv.close();
  }
}

function keyOf(prefix: number, rest: Uint8Array): Uint8Array {
  return Uint8Array.of(prefix, ...rest);
}

async function blockHash(number: bigint): Promise<Uint8Array> {
  const block = await rpc.call<{ hash: string }>('eth_getBlockByNumber', [`0x${number.toString(16)}`, false]);
  return Buffer.from(block.hash.slice(2), 'hex');
}

function problemOf(r: VerifyLedgerResult) {
  assert.equal(r.ok, false, 'the copy fails');
  if (r.ok) throw new Error('unreachable');
  return r.problem;
}

test('a replica directory passes: blocks, commit certificates, the stable checkpoint', { timeout: 60_000 }, async () => {
  const r = await verifyLedgerDirectory({ dir: copyOf('replica-0'), state: true });
  assert.ok(r.ok, r.ok ? '' : describeInconsistency(r.problem));
  assert.equal(r.role, 'replica');
  assert.ok(r.head.number >= 9n, `head ${r.head.number}`);
  assert.equal(r.counts.blocks, Number(r.head.number) + 1);
  assert.ok(r.counts.transactions >= 9);
  assert.ok(r.counts.commitCertificates >= 9);
  assert.ok((r.counts.stableCheckpoint ?? 0) >= 8, `stable ${r.counts.stableCheckpoint}`);
  assert.ok(r.counts.stateNodes > 1 && r.counts.codes === 1, `state walk: ${r.counts.stateNodes} nodes, ${r.counts.codes} codes`);
  const head = await rpc.call<{ hash: string; number: string }>('eth_getBlockByNumber', ['latest', false]);
  assert.equal(r.head.hash, head.hash);
});

test('the client node directory passes: block certificates and kept checkpoints', { timeout: 60_000 }, async () => {
  const r = await verifyLedgerDirectory({ dir: copyOf('client-4') });
  assert.ok(r.ok, r.ok ? '' : describeInconsistency(r.problem));
  assert.equal(r.role, 'client');
  assert.ok(r.counts.blockCertificates >= 1);
  assert.ok(r.counts.checkpointCertificates >= 1, `checkpoints ${r.counts.checkpointCertificates}`);
  // Its own executed state: every block the certified one.
  assert.ok(r.localState !== undefined && r.localState.number >= transferBlock, `local state ${r.localState?.number}`);
});

test("(g) one byte of a block body in the client node's own executed state: named under local state", async () => {
  const copy = copyOf('client-4');
  await flip(copy, keyOf(PREFIX.blockBodyByHash, await blockHash(transferBlock)), -3, 'state');
  const p = problemOf(await verifyLedgerDirectory({ dir: copy }));
  assert.equal(p.kind, 'transactions-root');
  assert.match(p.where, new RegExp(`^local state: block ${transferBlock} \\(0x`));
});

test('(a) one byte of a block body: the transactions root names the block', async () => {
  const dir = copyOf('replica-1');
  const hash = await blockHash(transferBlock);
  // Body = RLP [transactions, [], []]: three bytes from the end is the last transaction's last byte (its s).
  await flip(dir, keyOf(PREFIX.blockBodyByHash, hash), -3);
  const p = problemOf(await verifyLedgerDirectory({ dir }));
  assert.equal(p.kind, 'transactions-root', describeInconsistency(p));
  assert.equal(p.where, `block ${transferBlock} (0x${Buffer.from(hash).toString('hex')})`);
  assert.match(describeInconsistency(p), /transactions root \(expected 0x[0-9a-f]{64}, found 0x[0-9a-f]{64}\)/);
});

test('(b) one byte of a receipt: the receipts root names the block', async () => {
  const dir = copyOf('replica-2');
  const hash = await blockHash(transferBlock);
  // The last byte of the block's receipts is the last byte of its Transfer log's data (the amount).
  await flip(dir, keyOf(PREFIX.receiptsByBlockHash, hash), -1);
  const p = problemOf(await verifyLedgerDirectory({ dir }));
  assert.equal(p.kind, 'receipts-root', describeInconsistency(p));
  assert.match(p.where, new RegExp(`^block ${transferBlock} `));
});

test('(c) one byte of a header: its hash no longer matches its key', async () => {
  const dir = copyOf('replica-3');
  const hash = await blockHash(3n);
  await flip(dir, keyOf(PREFIX.blockHeaderByHash, hash), 100); // inside the state root
  const p = problemOf(await verifyLedgerDirectory({ dir }));
  assert.equal(p.kind, 'header-hash', describeInconsistency(p));
  assert.match(p.where, /^block 3 /);
  assert.equal(p.expected, `0x${Buffer.from(hash).toString('hex')}`);
  assert.notEqual(p.found, p.expected);
});

test("(d) one byte of a commit certificate's signature: the batch is named", async () => {
  const dir = copyOf('replica-0');
  await flip(dir, keyOf(PREFIX.orderedBatches, uint64Codec.encode(2n)), -1);
  const p = problemOf(await verifyLedgerDirectory({ dir }));
  assert.equal(p.kind, 'commit-certificate', describeInconsistency(p));
  assert.equal(p.where, 'ordered batch 2');
  assert.match(p.what, /commit certificate \(view 0\) does not verify/);
});

test("(e) one byte of a block certificate's notice: the replica and block are named", async () => {
  const dir = copyOf('client-4');
  const kv = await openRocksStore(join(dir, 'data'), { createIfMissing: false });
  let number: bigint | undefined;
  for await (const [key] of kv.iterate({ gte: Uint8Array.of(PREFIX.blockCertificate), lt: Uint8Array.of(PREFIX.blockCertificate + 1), limit: 1 })) {
    number = uint64Codec.decode(key.subarray(1));
  }
  await kv.close();
  assert.ok(number !== undefined, 'the mirror holds a block certificate');
  await flip(dir, keyOf(PREFIX.blockCertificate, uint64Codec.encode(number)), -1); // the last notice's signature
  const p = problemOf(await verifyLedgerDirectory({ dir }));
  assert.equal(p.kind, 'block-certificate', describeInconsistency(p));
  assert.match(p.where, new RegExp(`^block certificate ${number}: replica [0-3]'s notice$`));
  assert.match(p.what, /signature does not verify/);
});

test('(f) one byte of the stable checkpoint: its certificate no longer verifies', async () => {
  const dir = copyOf('replica-1');
  // seq (8) ‖ block number (8) ‖ block hash (32) …: a byte of the block hash.
  await flip(dir, keyOf(PREFIX.consensusState, new TextEncoder().encode('stable')), 20);
  const p = problemOf(await verifyLedgerDirectory({ dir }));
  assert.equal(p.kind, 'stable-checkpoint', describeInconsistency(p));
  assert.match(p.where, /^stable checkpoint \d+ \(block \d+\)$/);
  assert.match(p.what, /does not verify/);
});
