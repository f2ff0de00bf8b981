// The ledger mirror stores a block only when f + 1 replicas certified it and it links to the head;
// a replica that serves something else is skipped and the next one asked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RLP } from '@ethereumjs/rlp';
import { LedgerMirror } from '../../src/client/mirror.ts';
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
import { isBulwarkError } from '../../src/common/errors.ts';
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

test('only certified, linked, root-consistent blocks are stored; a lying source is skipped', async () => {
  // The "replicas'" chain: three blocks.
  const ex = await Executor.open({ kv: new MemoryStore(), config });
  const chain: ExecutionResult[] = [];
  for (let i = 0; i < 3; i++) {
    const tx = signTx(ex.common, testKey(0), { nonce: BigInt(i), to: addressOf(testKey(1)), value: 1n, gasLimit: 21_000n }).serialize();
    chain.push(await ex.execute(ex.head.hash(), [tx], ex.head.header.timestamp + 1n));
  }
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
      setImmediate(() => mirror.onMessage(to, { type: 'BlockData', blocks }));
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

test('a mirror that holds blocks (and no state) reopens at its head; the first notice starts the fetch', async () => {
  const ex = await Executor.open({ kv: new MemoryStore(), config });
  const tx = signTx(ex.common, testKey(0), { nonce: 0n, to: addressOf(testKey(1)), value: 1n, gasLimit: 21_000n }).serialize();
  const block1 = await ex.execute(ex.head.hash(), [tx], ex.head.header.timestamp + 1n);
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
        setImmediate(() => mirror.onMessage(to, { type: 'BlockData', blocks }));
      },
    });
  let mirror = await open();
  mirror.onMessage(2, notice(2, 1, block1));
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
