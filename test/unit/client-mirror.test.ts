// The ledger mirror stores a block only when f + 1 replicas certified it and it links to the head;
// a replica that serves something else is skipped and the next one asked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RLP } from '@ethereumjs/rlp';
import { LedgerMirror, NOTICES_PER_REPLICA } from '../../src/client/mirror.ts';
import { decodeMessage } from '../../src/codec/message-codec.ts';
import type { BlockNotice, Message } from '../../src/codec/messages.ts';
import { replyBytes } from '../../src/codec/signing.ts';
import { generateNodeAuthKeyPair, signNodeAuth } from '../../src/crypto/node-auth.ts';
import { initHashes } from '../../src/crypto/hash.ts';
import type { ExecutionResult } from '../../src/execution/block-exec.ts';
import { Executor } from '../../src/execution/executor.ts';
import { encodeReceipts } from '../../src/ledger/receipt.ts';
import { MemoryStore } from '../../src/storage/memory.ts';
import { ChainReader } from '../../src/execution/reader.ts';
import { isBulwarkError, type BulwarkError } from '../../src/common/errors.ts';
import type { BatchOp, KvStore } from '../../src/storage/index.ts';
import { storageError } from '../../src/storage/errors.ts';
import { createAddressFromString } from '@ethereumjs/util';
import { addressOf, signTx, testConfig, testKey } from '../helpers/chain.ts';

await initHashes();
const config = testConfig();
const keys = [0, 1, 2, 3].map(() => generateNodeAuthKeyPair('ed25519'));

function partsOf(r: ExecutionResult) {
  const items = r.rawTransactions.map((raw) => ((raw[0] ?? 0) >= 0xc0 ? RLP.decode(raw) : raw));
  return { header: r.block.header.serialize(), body: RLP.encode([items as Uint8Array[], [], []]), receipts: encodeReceipts(r.receipts) };
}

function notice(replica: number, seq: number, r: ExecutionResult): BlockNotice {
  const summary = { blockNumber: Number(r.block.header.number), blockHash: r.block.hash(), stateRoot: r.stateRoot, reservedDigest: new Uint8Array(32) };
  const resultsRoot = new Uint8Array(32);
  return { type: 'BlockNotice', seq, summary, resultsRoot, signature: signNodeAuth(keys[replica]!.privateKey, replyBytes(seq, summary, resultsRoot)) };
}

/** A chain of `count` one-transfer blocks, as the replicas would make it. */
async function chainOf(count: number): Promise<ExecutionResult[]> {
  const ex = await Executor.open({ kv: new MemoryStore(), config });
  const out: ExecutionResult[] = [];
  for (let i = 0; i < count; i++) {
    const tx = signTx(ex.common, testKey(0), { nonce: BigInt(i), to: addressOf(testKey(1)), value: 1n, gasLimit: 21_000n }).serialize();
    out.push(await ex.execute(ex.head.hash(), [tx], ex.head.header.timestamp + 1n));
  }
  return out;
}

test('only certified, linked, root-consistent blocks are stored; a lying source is skipped', async () => {
  // The "replicas'" chain: three blocks.
  const chain = await chainOf(3);
  const asked: number[] = [];
  const mirror = await LedgerMirror.open({
    kv: new MemoryStore(),
    config,
    executionKeys: keys.map((k) => k.publicKey),
    f: 1,
    fetchTimeoutMs: 50,
    send: (to, frame) => {
      const m = decodeMessage(frame) as Extract<Message, { type: 'BlockRequest' }>;
      asked.push(to);
      // Replica 0 lies: it serves the blocks with the second block's receipts emptied.
      const blocks = chain.slice(m.fromNumber - 1, m.toNumber).map(partsOf);
      if (to === 0 && blocks[1] !== undefined) blocks[1] = { ...blocks[1], receipts: encodeReceipts([]) };
      setImmediate(() => mirror.onMessage(to, { type: 'BlockData', fromNumber: m.fromNumber, blocks }));
    },
  });
  // One notice is not enough; a bad signature does not count.
  mirror.onMessage(2, notice(2, 7, chain[2]!));
  mirror.onMessage(3, { ...notice(3, 7, chain[2]!), signature: new Uint8Array(64) });
  await new Promise((r) => setTimeout(r, 20));
  await mirror.settled();
  assert.equal(asked.length, 0, 'nothing fetched before a certificate');
  assert.equal(mirror.head.number, 0n);
  mirror.onMessage(1, notice(1, 7, chain[2]!)); // the second matching notice certifies block 3
  for (let i = 0; i < 50 && mirror.head.number < 3n; i++) {
    await new Promise((r) => setTimeout(r, 20));
    await mirror.settled();
  }
  assert.equal(mirror.head.number, 3n);
  assert.ok(Buffer.from(mirror.head.hash).equals(Buffer.from(chain[2]!.block.hash())));
  assert.equal(asked[0], 0, 'replica 0 was asked first');
  assert.ok(mirror.rejected >= 1, "replica 0's answer was refused");
  assert.deepEqual(await mirror.blocks.receipts(chain[1]!.block.hash()), chain[1]!.receipts, 'the honest receipts were stored');
  // Block, transaction and log reads run on the mirror; state reads are refused with a reason.
  const reader = new ChainReader(mirror.chain());
  assert.equal((await reader.block('latest')).header.number, 3n);
  const found = await reader.transaction(chain[1]!.block.transactions[0]!.hash());
  assert.equal(found?.block.header.number, 2n);
  assert.equal(found?.receipt.status, 1);
  await assert.rejects(reader.balance(createAddressFromString(addressOf(testKey(1))), 'latest'), (e) => isBulwarkError(e, 'READ_NO_STATE'));
  mirror.close();
});

test('a source that lags (answers with nothing) is left for an announcer of the certified block, with no further notice', async () => {
  // Found by the soak: the mirror asked a replica that lagged, got no blocks, and waited for a
  // notice that never came once the load stopped; the head stayed 7 blocks behind the replicas.
  const ex = await Executor.open({ kv: new MemoryStore(), config });
  const chain: ExecutionResult[] = [];
  for (let i = 0; i < 2; i++) {
    const tx = signTx(ex.common, testKey(0), { nonce: BigInt(i), to: addressOf(testKey(1)), value: 1n, gasLimit: 21_000n }).serialize();
    chain.push(await ex.execute(ex.head.hash(), [tx], ex.head.header.timestamp + 1n));
  }
  const asked: number[] = [];
  const held: (() => void)[] = [];
  let holdZero = false;
  const mirror = await LedgerMirror.open({
    kv: new MemoryStore(),
    config,
    executionKeys: keys.map((k) => k.publicKey),
    f: 1,
    fetchTimeoutMs: 10_000, // a timeout must not be what moves it on
    send: (to, frame) => {
      const m = decodeMessage(frame) as Extract<Message, { type: 'BlockRequest' }>;
      asked.push(to);
      // Replica 0 (the mirror's first source) lags: it has no block yet.
      const blocks = to === 0 ? [] : chain.slice(m.fromNumber - 1, m.toNumber).map(partsOf);
      const answer = () => mirror.onMessage(to, { type: 'BlockData', fromNumber: m.fromNumber, blocks });
      if (to === 0 && holdZero) held.push(answer);
      else setImmediate(answer);
    },
  });
  // Replicas 2 and 3 certify block 2; the first notice already started a fetch from replica 2,
  // which is answered; then the mirror is sent to replica 0 (as after a reconnect).
  mirror.onMessage(3, notice(3, 5, chain[1]!));
  mirror.onMessage(2, notice(2, 5, chain[1]!));
  for (let i = 0; i < 100 && mirror.head.number < 2n; i++) {
    await new Promise((r) => setTimeout(r, 5));
    await mirror.settled();
  }
  assert.equal(mirror.head.number, 2n, 'the mirror reached the certified block');
  // Now the mirror's question is with replica 0 when block 3's notices arrive, and its empty
  // answer comes after them: nothing further will arrive to move the mirror on.
  const tx = signTx(ex.common, testKey(0), { nonce: 2n, to: addressOf(testKey(1)), value: 1n, gasLimit: 21_000n }).serialize();
  chain.push(await ex.execute(ex.head.hash(), [tx], ex.head.header.timestamp + 1n));
  asked.length = 0;
  holdZero = true;
  mirror.poke(0);
  mirror.onMessage(1, notice(1, 6, chain[2]!));
  mirror.onMessage(3, notice(3, 6, chain[2]!));
  await mirror.settled();
  assert.deepEqual(asked, [0], 'only replica 0 was asked so far');
  holdZero = false;
  for (const answer of held.splice(0)) answer();
  for (let i = 0; i < 100 && mirror.head.number < 3n; i++) {
    await new Promise((r) => setTimeout(r, 5));
    await mirror.settled();
  }
  assert.equal(mirror.head.number, 3n, 'block 3 was fetched from an announcer, not waited for');
  assert.ok(asked[1] === 1 || asked[1] === 3, 'then an announcer of block 3');
  mirror.close();
});

test('a mirror that holds blocks (and no state) reopens at its head; the first notice starts the fetch', async () => {
  const [block1] = (await chainOf(1)) as [ExecutionResult];
  const kv = new MemoryStore();
  const asked: number[] = [];
  const open = () =>
    LedgerMirror.open({
      kv,
      config,
      executionKeys: keys.map((k) => k.publicKey),
      f: 1,
      send: (to, frame) => {
        const m = decodeMessage(frame) as Extract<Message, { type: 'BlockRequest' }>;
        asked.push(to);
        const blocks = [block1].slice(m.fromNumber - 1, m.toNumber).map(partsOf);
        setImmediate(() => mirror.onMessage(to, { type: 'BlockData', fromNumber: m.fromNumber, blocks }));
      },
    });
  let mirror = await open();
  mirror.onMessage(2, notice(2, 1, block1));
  await mirror.settled();
  assert.deepEqual(asked, [2], 'the announcer is asked at once, before the block is certified');
  await new Promise((r) => setTimeout(r, 20));
  await mirror.settled();
  assert.equal(mirror.head.number, 0n, 'fetched, but not stored before f + 1 notices');
  const moved = mirror.nextBlock(5_000);
  mirror.onMessage(3, notice(3, 1, block1));
  await moved;
  assert.equal(mirror.head.number, 1n);
  mirror.close();
  await mirror.settled();
  mirror = await open();
  assert.equal(mirror.head.number, 1n);
  assert.ok(Buffer.from(mirror.head.hash).equals(Buffer.from(block1.block.hash())));
  mirror.close();
});

test('a mirror restarted behind an idle network certifies the head from the replicas\' latest notices', async () => {
  // Found restoring a client node from a backup: the network had moved on and gone idle, so no
  // notice came; the source answered with the blocks and its latest notice (one of the f + 1
  // needed), was asked again and again, and the mirror stayed at the backup's head.
  const chain = await chainOf(3);
  const asked = new Set<number>();
  const mirror: LedgerMirror = await LedgerMirror.open({
    kv: new MemoryStore(),
    config,
    executionKeys: keys.map((k) => k.publicKey),
    f: 1,
    fetchTimeoutMs: 10_000, // a timeout must not be what moves it on
    send: (to, frame) => {
      const m = decodeMessage(frame) as Extract<Message, { type: 'BlockRequest' }>;
      asked.add(to);
      // As the replica's shell answers: the blocks it has, then its latest notice.
      const blocks = chain.slice(m.fromNumber - 1, m.toNumber).map(partsOf);
      setImmediate(() => {
        mirror.onMessage(to, { type: 'BlockData', fromNumber: m.fromNumber, blocks });
        mirror.onMessage(to, notice(to, 3, chain[2]!));
      });
    },
  });
  // The client node pokes its mirror every second; nothing else arrives.
  for (let i = 0; i < 20 && mirror.head.number < 3n; i++) {
    mirror.poke();
    await new Promise((r) => setTimeout(r, 5));
    await mirror.settled();
  }
  assert.equal(mirror.head.number, 3n, 'the head the replicas are at');
  assert.ok(asked.size >= 2, 'more than one replica was asked');
  mirror.close();
});

// ---------------------------------------------------------------------------------------------
// Hostile input (issue 15)

/** A mirror whose replicas serve `chain`. */
async function mirrorOf(chain: ExecutionResult[], kv: KvStore, extra: Partial<Parameters<typeof LedgerMirror.open>[0]> = {}): Promise<LedgerMirror> {
  const mirror: LedgerMirror = await LedgerMirror.open({
    kv,
    config,
    executionKeys: keys.map((k) => k.publicKey),
    f: 1,
    fetchTimeoutMs: 50,
    send: (to, frame) => {
      const m = decodeMessage(frame) as Extract<Message, { type: 'BlockRequest' }>;
      const blocks = chain.slice(m.fromNumber - 1, m.toNumber).map(partsOf);
      setImmediate(() => mirror.onMessage(to, { type: 'BlockData', fromNumber: m.fromNumber, blocks }));
    },
    ...extra,
  });
  return mirror;
}

/** A notice for a block that does not exist, properly signed by `replica`. */
function forged(replica: number, number: number, salt: number): BlockNotice {
  const summary = { blockNumber: number, blockHash: new Uint8Array(32).fill(salt & 0xff).map((b, i) => (i < 4 ? (salt >> (8 * i)) & 0xff : b)), stateRoot: new Uint8Array(32), reservedDigest: new Uint8Array(32) };
  const resultsRoot = new Uint8Array(32);
  return { type: 'BlockNotice', seq: number, summary, resultsRoot, signature: signNodeAuth(keys[replica]!.privateKey, replyBytes(number, summary, resultsRoot)) };
}

test('a Byzantine replica cannot grow the notices held: a window above the head, one hash per number, its latest few numbers', async () => {
  const chain = await chainOf(2);
  const mirror = await mirrorOf(chain, new MemoryStore());
  // 20,000 validly signed notices for far-future blocks, and many hashes for the next ones.
  for (let i = 0; i < 10_000; i++) mirror.onMessage(3, forged(3, 2_000 + i, i));
  assert.equal(mirror.noticesHeld, 0, 'beyond head + 1,024: refused');
  assert.equal(mirror.noticesRefused, 10_000);
  for (let i = 0; i < 10_000; i++) mirror.onMessage(3, forged(3, 3 + (i % 1_000), i));
  assert.ok(mirror.noticesHeld <= NOTICES_PER_REPLICA, `${mirror.noticesHeld} held`);
  assert.ok(mirror.rejected >= 10_000);
  // The honest replicas' notices still certify the real blocks, which are stored.
  for (const r of [0, 1, 2]) for (const [i, b] of chain.entries()) mirror.onMessage(r, notice(r, i + 1, b));
  for (let i = 0; i < 100 && mirror.head.number < 2n; i++) await mirror.nextBlock(20);
  assert.equal(mirror.head.number, 2n);
  assert.ok(mirror.noticesHeld <= NOTICES_PER_REPLICA, 'what is at or below the head is forgotten');
  mirror.close();
});

/** The memory store whose writes fail like a full disk while `full` is set. */
class FullDisk extends MemoryStore {
  full = false;
  override async write(ops: readonly BatchOp[], options?: { readonly sync?: boolean }): Promise<void> {
    if (this.full) throw storageError('STORAGE_IO', 'write failed on database at /data: IO error: No space left on device', { location: '/data' });
    return super.write(ops, options);
  }
}

test('disk full: a failed write is a named error with its storage code, counted; reads go on; the write is retried and nothing is lost', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const chain = await chainOf(3);
    const kv = new FullDisk();
    const errors: BulwarkError[] = [];
    const mirror = await mirrorOf(chain, kv, { storeRetryMs: 30, onStoreError: (e) => errors.push(e) });
    for (const r of [0, 1]) mirror.onMessage(r, notice(r, 1, chain[0]!));
    for (let i = 0; i < 100 && mirror.head.number < 1n; i++) await mirror.nextBlock(20);
    assert.equal(mirror.head.number, 1n);
    kv.full = true;
    for (const r of [0, 1]) for (const i of [1, 2]) mirror.onMessage(r, notice(r, i + 1, chain[i]!));
    for (let i = 0; i < 50 && errors.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(errors.length >= 3, 'tried again, and again');
    assert.equal(errors[0]!.code, 'MIRROR_STORE_FAILED');
    assert.equal(errors[0]!.details.storageCode, 'STORAGE_IO');
    assert.match(errors[0]!.message, /^the mirror could not store blocks 2\.\.3: .*No space left on device/);
    assert.equal(mirror.storeFailures, errors.length);
    assert.equal(mirror.head.number, 1n);
    // Reads are answered from what is stored.
    const reader = new ChainReader(mirror.chain());
    assert.equal((await reader.block('latest')).header.number, 1n);
    kv.full = false;
    for (let i = 0; i < 100 && mirror.head.number < 3n; i++) await mirror.nextBlock(20);
    assert.equal(mirror.head.number, 3n, 'stored once the disk has room');
    assert.deepEqual(await mirror.blocks.receipts(chain[2]!.block.hash()), chain[2]!.receipts);
    assert.equal((await mirror.certificate(3n))?.length, 2, 'with its certificate');
    mirror.close();
    await mirror.settled();
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('an answer that comes after the fetch timeout is still used when nobody else answers (replicas slowed by load)', async () => {
  // Found by the soak (ERC-20, 10 minutes): behind by a few blocks, the mirror asked for up to 64
  // at a time; every replica, busy executing, answered after the 2 s timeout, each answer was
  // dropped, and the head stood still for 40 s while the replicas went on.
  const chain = await chainOf(3);
  const asked: { to: number; at: number }[] = [];
  const start = Date.now();
  const mirror = await LedgerMirror.open({
    kv: new MemoryStore(),
    config,
    executionKeys: keys.map((k) => k.publicKey),
    f: 1,
    fetchTimeoutMs: 30,
    send: (to, frame) => {
      const m = decodeMessage(frame) as Extract<Message, { type: 'BlockRequest' }>;
      asked.push({ to, at: Date.now() - start });
      // Only the first question is ever answered, 100 ms later: after three timeouts.
      if (asked.length > 1) return;
      const blocks = chain.slice(m.fromNumber - 1, m.toNumber).map(partsOf);
      setTimeout(() => mirror.onMessage(to, { type: 'BlockData', fromNumber: m.fromNumber, blocks }), 100);
    },
  });
  try {
    mirror.onMessage(1, notice(1, 9, chain[2]!));
    mirror.onMessage(2, notice(2, 9, chain[2]!));
    for (let i = 0; i < 100 && mirror.head.number < 3n; i++) {
      await new Promise((r) => setTimeout(r, 10));
      await mirror.settled();
    }
    assert.equal(mirror.head.number, 3n, 'the late answer was used');
    // Each timeout doubled the next one (30, 60, 120 ms...): the replicas were not asked every 30 ms.
    assert.ok(asked.length <= 4, `asked ${asked.length} times: ${JSON.stringify(asked)}`);
  } finally {
    mirror.close();
  }
});

test('a small block a replica sends with its notice is stored without a question; blocks that start elsewhere are ignored', async () => {
  const chain = await chainOf(2);
  const asked: number[] = [];
  const mirror = await mirrorOf(chain, new MemoryStore(), {
    fetchTimeoutMs: 10_000,
    send: (to) => {
      asked.push(to);
    },
  });
  try {
    // As a replica's shell sends a small block: its BlockData, then its notice, on one link.
    const pushed = (r: number, i: number) => ({ type: 'BlockData' as const, fromNumber: i + 1, blocks: [partsOf(chain[i]!)] });
    // Block 2 before block 1 is of no use (the mirror needs block 1 first), and nothing is asked for it.
    mirror.onMessage(2, pushed(2, 1));
    mirror.onMessage(2, pushed(2, 0));
    mirror.onMessage(2, notice(2, 1, chain[0]!));
    mirror.onMessage(3, pushed(3, 0));
    mirror.onMessage(3, notice(3, 1, chain[0]!));
    for (let i = 0; i < 100 && mirror.head.number < 1n; i++) await mirror.nextBlock(20);
    assert.equal(mirror.head.number, 1n, 'stored on its certificate');
    assert.deepEqual(asked, [], 'no replica was asked for it');
    for (const r of [0, 1]) {
      mirror.onMessage(r, pushed(r, 1));
      mirror.onMessage(r, notice(r, 2, chain[1]!));
    }
    for (let i = 0; i < 100 && mirror.head.number < 2n; i++) await mirror.nextBlock(20);
    assert.equal(mirror.head.number, 2n);
    assert.deepEqual(asked, []);
    assert.deepEqual(await mirror.blocks.receipts(chain[1]!.block.hash()), chain[1]!.receipts);
    assert.equal(mirror.rejected, 0);
  } finally {
    mirror.close();
  }
});

test('blocks sent unasked: only the next one, alone; a false one costs a fetch, never a block', async () => {
  const chain = await chainOf(2);
  const asked: number[] = [];
  // The replicas answer each question with the one block asked for first.
  const mirror: LedgerMirror = await mirrorOf(chain, new MemoryStore(), {
    send: (to, frame) => {
      const m = decodeMessage(frame) as Extract<Message, { type: 'BlockRequest' }>;
      asked.push(m.fromNumber);
      setImmediate(() => mirror.onMessage(to, { type: 'BlockData', fromNumber: m.fromNumber, blocks: chain.slice(m.fromNumber - 1, m.fromNumber).map(partsOf) }));
    },
  });
  try {
    const honest = chain.map(partsOf);
    const falseBlock = { ...honest[1]!, receipts: encodeReceipts([]) };
    // Replica 3 sends blocks 1 and 2 unasked in one message, the second false: not taken (had it
    // been, its run would fail the certificate and count as rejected).
    mirror.onMessage(3, { type: 'BlockData', fromNumber: 1, blocks: [honest[0]!, falseBlock] });
    for (const r of [0, 1]) mirror.onMessage(r, notice(r, 1, chain[0]!));
    for (let i = 0; i < 100 && mirror.head.number < 1n; i++) await mirror.nextBlock(20);
    assert.equal(mirror.head.number, 1n);
    assert.equal(mirror.rejected, 0, 'the two-block message was not taken');
    assert.deepEqual(asked, [1], 'block 1 was fetched');
    // Replica 3 sends a false block 2 alone, first: taken, then refused on the certificate; the
    // honest block is fetched and stored.
    mirror.onMessage(3, { type: 'BlockData', fromNumber: 2, blocks: [falseBlock] });
    for (const r of [0, 1]) mirror.onMessage(r, notice(r, 2, chain[1]!));
    for (let i = 0; i < 100 && mirror.head.number < 2n; i++) await mirror.nextBlock(20);
    assert.equal(mirror.head.number, 2n);
    assert.equal(mirror.rejected, 1, 'the false block was refused once');
    assert.deepEqual(asked, [1, 2], 'then block 2 was fetched');
    assert.deepEqual(await mirror.blocks.receipts(chain[1]!.block.hash()), chain[1]!.receipts, 'the honest receipts were stored');
  } finally {
    mirror.close();
  }
});
